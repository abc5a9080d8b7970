// Command replay replays admission's learner over the tasks of a
// bench/calibrate.sh run, offline: each task's estimate is what the fit of
// the tasks before it gives (the documented footprint first), set against
// the peak the task used. It prints the calibration summary (median,
// lowest and highest estimate ÷ peak of the tasks that used 16 MiB or
// more; after the first 5 too), so a change to the fit can be measured on
// the same observations instead of a new run's (whose peaks vary with the
// runner's state).
//
//	go run ./bench/replay -model ppocr:v4 /tmp/ocr-ppocr_v4.log
//	go run ./bench/replay -model ppocr:v4 -quantile 0.75 /tmp/ocr-ppocr_v4.log
//
// The log is `lector serve`'s (calibrate.sh keeps it next to its TSV):
// every "task resources" line of the model, in order. The documented
// footprint comes from `lector models --local --json` (-bin).
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"

	"github.com/lector-ocr/lector/internal/admission"
	"github.com/lector-ocr/lector/internal/device"
)

type task struct {
	class   string // the page class the task was sized by (page_class)
	mp      float64
	pages   int
	working float64
	loaded  bool
	start   float64
}

func (t task) actual() float64 {
	if t.loaded {
		return t.working + t.start
	}
	return t.working
}

func main() {
	model := flag.String("model", "", "model whose tasks to replay (e.g. ppocr:v4)")
	bin := flag.String("bin", "bin/lector", "lector binary, for the documented footprint")
	window := flag.Int("window", admission.DefaultWindow, "observations a fit uses")
	minBytes := flag.Float64("min", 16<<20, "the summary counts tasks whose peak is at least this many bytes")
	quantile := flag.Float64("quantile", admission.DefaultQuantile, "the fit's quantile of fixed parts and loads")
	perPage := flag.Float64("perpage", -1, "documented fixed part per page in MiB (-1: the model's)")
	perMP := flag.Float64("permp", -1, "documented part per work megapixel in MiB (-1: the model's)")
	quiet := flag.Bool("q", false, "print the summary only")
	wmpFile := flag.String("wmp", "", "file of lines 'TASK WORK_MEGAPIXELS' (1-based; negative keeps the log's): the tasks' work megapixels as another Sizer would give them")
	classDoc := flag.String("classdoc", "", "documented fixed part and part per work megapixel of page classes, in MiB: 'CLASS=PERPAGE,PERMP;…' (e.g. 'enlarged=8,46'); a class not given has the catalog's (the binary's classes), else the model's")
	slopeFloor := flag.String("slopefloor", "", "page classes whose documented slope is the least the fit learns, comma-separated, '-' for the model's own (engine.Cost.FloorPerMegapixel, which the catalog does not show: tesseract:* '-,colour', structure:default '-,colour')")
	fromFloor := flag.Bool("floor", false, "measure each working set from the runner's floor (its lowest resident size at a task's start) instead of its size at the task's start")
	flag.Parse()
	if *model == "" || flag.NArg() == 0 {
		log.Fatal("usage: replay -model MODEL LOG...")
	}
	doc, classes, err := documented(*bin, *model)
	if err != nil {
		log.Fatal(err)
	}
	var tasks []task
	for _, f := range flag.Args() {
		ts, err := read(f, *model)
		if err != nil {
			log.Fatal(err)
		}
		tasks = append(tasks, ts...)
	}
	if *perPage >= 0 {
		doc.PerPage = *perPage * (1 << 20)
	}
	if *perMP >= 0 {
		doc.PerMegapixel = *perMP * (1 << 20)
	}
	if *wmpFile != "" {
		b, err := os.ReadFile(*wmpFile)
		if err != nil {
			log.Fatal(err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			var i int
			var mp float64
			if n, _ := fmt.Sscan(l, &i, &mp); n == 2 && i >= 1 && i <= len(tasks) && mp >= 0 {
				tasks[i-1].mp = mp
			}
		}
	}
	if *fromFloor {
		floor := 0.0
		for i, t := range tasks {
			if t.loaded || floor == 0 || t.start < floor {
				floor = t.start
			}
			tasks[i].working = t.start + t.working - floor
		}
	}
	docs := map[string]admission.Coefficients{"": doc}
	for class, c := range classes {
		docs[class] = c
	}
	for _, d := range strings.Split(*classDoc, ";") {
		class, v, ok := strings.Cut(d, "=")
		var pp, pm float64
		if n, _ := fmt.Sscanf(v, "%g,%g", &pp, &pm); !ok || n != 2 {
			continue
		}
		docs[class] = admission.Coefficients{Load: doc.Load, PerPage: pp * (1 << 20), PerMegapixel: pm * (1 << 20)}
	}
	for _, class := range strings.Split(*slopeFloor, ",") {
		if class == "-" {
			class = ""
		}
		if c, ok := docs[class]; ok && *slopeFloor != "" {
			c.MinPerMegapixel = c.PerMegapixel
			docs[class] = c
		}
	}
	docOf := func(class string) admission.Footprint {
		if c, ok := docs[class]; ok {
			return admission.Footprint{Host: c}
		}
		return admission.Footprint{Host: doc}
	}
	// As admission.Estimator fits: the pages under their class, the load
	// under the model's name.
	est := admission.Estimator{
		Documented:      func(string, device.Kind) (admission.Footprint, error) { return docOf(""), nil },
		DocumentedClass: func(_, class string, _ device.Kind) (admission.Footprint, error) { return docOf(class), nil },
	}
	fit := &admission.Fitter{Window: *window, Quantile: *quantile}
	est.Learner = fit
	var ratios []float64
	for i, t := range tasks {
		f, err := est.ClassFootprint(*model, t.class, "cpu")
		if err != nil {
			log.Fatal(err)
		}
		c := f.Host
		est := (c.PerPage + c.PerMegapixel*t.mp) * float64(max(t.pages, 1))
		if t.loaded {
			est += c.Load
		}
		a := t.actual()
		if !*quiet {
			fmt.Printf("%3d mp %6.3f x%d est %7.1f peak %7.1f r %5.2f\n", i+1, t.mp, t.pages, est/(1<<20), a/(1<<20), est/a)
		}
		if a >= *minBytes {
			ratios = append(ratios, est/a)
		} else {
			ratios = append(ratios, -1)
		}
		o := admission.Observation{Host: admission.Sample{Working: t.working, Pages: t.pages, Megapixels: t.mp}}
		switch {
		case t.loaded && t.class == "":
			o.Host.Load = t.start
		case t.loaded:
			fit.Observe(*model, "cpu", admission.Observation{Host: admission.Sample{Load: t.start}})
		}
		fit.Observe(admission.LearnKey(*model, t.class), "cpu", o)
	}
	if f, ok := fit.Fit(*model, "cpu", admission.Footprint{Host: doc}); ok {
		fmt.Printf("fit after the last task: load %.1f MiB, fixed part %.1f MiB a page, %.1f MiB a work megapixel\n",
			f.Host.Load/(1<<20), f.Host.PerPage/(1<<20), f.Host.PerMegapixel/(1<<20))
	}
	// As bench/calibrate.sh counts: the tasks of min bytes or more, and of
	// those all but the first 5.
	var counted []float64
	for _, r := range ratios {
		if r >= 0 {
			counted = append(counted, r)
		}
	}
	fmt.Printf("all: %s\nafter 5: %s\n", summary(counted), summary(counted[min(5, len(counted)):]))
}

func summary(rs []float64) string {
	var v []float64
	for _, r := range rs {
		if r >= 0 {
			v = append(v, r)
		}
	}
	if len(v) == 0 {
		return "-"
	}
	slices.Sort(v)
	m := v[len(v)/2]
	if len(v)%2 == 0 {
		m = (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return fmt.Sprintf("median %.2f, lowest %.2f, highest %.2f (%d tasks)", m, v[0], v[len(v)-1], len(v))
}

func documented(bin, model string) (admission.Coefficients, map[string]admission.Coefficients, error) {
	out, err := exec.Command(bin, "models", "--local", "--json").Output()
	if err != nil {
		return admission.Coefficients{}, nil, fmt.Errorf("%s models: %w", bin, err)
	}
	var ms []struct {
		Name    string  `json:"name"`
		Load    float64 `json:"estimated_load_bytes"`
		PerPage float64 `json:"estimated_bytes_per_page"`
		PerMP   float64 `json:"estimated_bytes_per_megapixel"`
		Classes []struct {
			Class   string  `json:"class"`
			PerPage float64 `json:"estimated_bytes_per_page"`
			PerMP   float64 `json:"estimated_bytes_per_megapixel"`
		} `json:"classes"`
	}
	if err := json.Unmarshal(out, &ms); err != nil {
		return admission.Coefficients{}, nil, err
	}
	for _, m := range ms {
		if m.Name == model {
			classes := map[string]admission.Coefficients{}
			for _, c := range m.Classes {
				classes[c.Class] = admission.Coefficients{Load: m.Load, PerPage: c.PerPage, PerMegapixel: c.PerMP}
			}
			return admission.Coefficients{Load: m.Load, PerPage: m.PerPage, PerMegapixel: m.PerMP}, classes, nil
		}
	}
	return admission.Coefficients{}, nil, fmt.Errorf("no model %s", model)
}

// read returns the model's "task resources" lines of a slog text log.
func read(path, model string) ([]task, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []task
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if !strings.Contains(l, `msg="task resources"`) {
			continue
		}
		kv := map[string]string{}
		for _, f := range strings.Fields(l) {
			if k, v, ok := strings.Cut(f, "="); ok {
				kv[k] = strings.Trim(v, `"`)
			}
		}
		if kv["model"] != model || kv["work_megapixels"] == "" {
			continue
		}
		num := func(k string) float64 { v, _ := strconv.ParseFloat(kv[k], 64); return v }
		out = append(out, task{class: kv["page_class"], mp: num("work_megapixels"), pages: int(num("pages_at_once")), working: num("working_bytes"),
			loaded: kv["loaded"] == "true", start: num("start_rss_bytes")})
	}
	return out, sc.Err()
}
