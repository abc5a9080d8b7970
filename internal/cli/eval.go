package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"html"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/lector-ocr/lector"
	"github.com/lector-ocr/lector/internal/document"
	"github.com/lector-ocr/lector/internal/errcode"
	"github.com/lector-ocr/lector/internal/eval"
	"github.com/lector-ocr/lector/internal/result"
	"github.com/lector-ocr/lector/internal/table"
	"github.com/lector-ocr/lector/internal/task"
)

// TableScore is one image's TEDS.
type TableScore struct {
	File      string  `json:"file"`
	TEDS      float64 `json:"teds"`
	Structure float64 `json:"teds_structure"`
	Seconds   float64 `json:"seconds"`
	Found     bool    `json:"found"`      // a table was found
	Rows      int     `json:"rows"`       // rows found
	TruthRows int     `json:"truth_rows"` // rows annotated
	Error     string  `json:"error,omitempty"`
}

// TableEval is `lector eval tables`'s result for one set (directory).
type TableEval struct {
	Set            string       `json:"set"`
	Images         []TableScore `json:"images"`
	MeanTEDS       float64      `json:"mean_teds"`
	MeanStructure  float64      `json:"mean_teds_structure"`
	TablesFound    int          `json:"tables_found"`    // images in which a table was found
	TablesExpected int          `json:"tables_expected"` // images annotated (one table each)
	RowsFound      int          `json:"rows_found"`      // rows of the tables found
	RowsExpected   int          `json:"rows_expected"`   // rows annotated
	PagesPerSec    float64      `json:"pages_per_second"`
}

// tableAnnotation is one line of PubTabNet_Examples.jsonl.
type tableAnnotation struct {
	Filename string `json:"filename"`
	HTML     struct {
		Cells []struct {
			Tokens []string `json:"tokens"`
		} `json:"cells"`
		Structure struct {
			Tokens []string `json:"tokens"`
		} `json:"structure"`
	} `json:"html"`
}

// runEval is `lector eval tables DIR…`: each image of each PubTabNet-style
// directory (images and PubTabNet_Examples.jsonl) through exactly what
// `lector ocr --pipeline structure` runs (ocrOptions, ocrFile: no hint
// that the image is a table), its first table in reading order (the first
// <table> of --format html) scored with TEDS and structure-only TEDS
// against the annotation; an image in which no table is found scores 0.
// Each directory is a set, reported on its own.
func runEval(ctx context.Context, io IO, args []string) error {
	if len(args) == 0 || args[0] != "tables" {
		return &UsageError{"eval: lector eval tables DIR… [--json]"}
	}
	fs := flag.NewFlagSet("eval tables", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON, one object a set")
	modelName := fs.String("model", "structure:default", "structure model")
	htmlDir := fs.String("html", "", "also write each table as read to DIR/IMAGE.html, the annotation's text beside it")
	jobs := fs.Int("jobs", 0, "images read at once (default: the CPU lanes)")
	every := fs.Int("every", 1, "score every Nth annotated image of each set (the 1st, N+1th, …): a smaller sample, for the tests")
	cfg, err := parseConfig(fs, io, args[1:])
	if err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return &UsageError{"eval tables: give the directory"}
	}
	if *every < 1 {
		return &UsageError{"eval tables: --every must be at least 1"}
	}
	if *jobs <= 0 {
		*jobs = max(cfg.Pool.CPULanes, 1)
	}
	sets := make([][]tableAnnotation, fs.NArg())
	for i, dir := range fs.Args() {
		anns, err := readTableAnnotations(dir)
		if err != nil {
			return err
		}
		for j := 0; j < len(anns); j += *every {
			sets[i] = append(sets[i], anns[j])
		}
	}
	work, err := os.MkdirTemp("", "lector-eval-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	st, err := buildStack(ctx, cfg, io, "", work, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		return err
	}
	defer st.close(ctx)
	opts := ocrOptions(*modelName, lector.PipelineStructure, "auto", lector.Normal, "", false)
	if err := st.registry.CheckFormats(*modelName, []string{"html"}); err != nil {
		return err
	}
	lim := docLimits(cfg)
	for i, dir := range fs.Args() {
		out := evalTableSet(ctx, st.rt, dir, sets[i], work, lim, opts, *jobs, *htmlDir)
		if *asJSON {
			if err := json.NewEncoder(io.Stdout).Encode(out); err != nil {
				return err
			}
			continue
		}
		fmt.Fprintf(io.Stdout, "%-26s %6s %6s %9s %6s\n", "IMAGE", "TEDS", "STRUCT", "ROWS/GT", "SEC")
		for _, s := range out.Images {
			fmt.Fprintf(io.Stdout, "%-26s %6.3f %6.3f %4d/%-4d %6.1f %s\n", s.File, s.TEDS, s.Structure, s.Rows, s.TruthRows, s.Seconds, s.Error)
		}
		fmt.Fprintf(io.Stdout, "%s: TEDS %.3f, structure-only %.3f, tables %d/%d, rows %d/%d, %d images, %.2f images/s\n\n",
			out.Set, out.MeanTEDS, out.MeanStructure, out.TablesFound, out.TablesExpected, out.RowsFound, out.RowsExpected, len(out.Images), out.PagesPerSec)
	}
	return nil
}

// readTableAnnotations reads dir/PubTabNet_Examples.jsonl, keeping the
// annotations whose image is in dir.
func readTableAnnotations(dir string) ([]tableAnnotation, error) {
	f, err := os.Open(filepath.Join(dir, "PubTabNet_Examples.jsonl"))
	if err != nil {
		return nil, errcode.Wrap(errcode.InvalidArgument, err, "eval tables: %s has no annotations", dir)
	}
	defer f.Close()
	var anns []tableAnnotation
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var a tableAnnotation
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			return nil, errcode.Wrap(errcode.InvalidArgument, err, "eval tables: %s: annotations", dir)
		}
		if _, err := os.Stat(filepath.Join(dir, a.Filename)); err == nil {
			anns = append(anns, a)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, errcode.Wrap(errcode.InvalidArgument, err, "eval tables: %s: annotations", dir)
	}
	if len(anns) == 0 {
		return nil, errcode.New(errcode.InvalidArgument, "eval tables: %s: no annotated image found", dir)
	}
	return anns, nil
}

// evalTableSet reads and scores one set, jobs images at once.
func evalTableSet(ctx context.Context, rt *task.Runtime, dir string, anns []tableAnnotation, work string, lim document.Limits, opts task.Options, jobs int, htmlDir string) TableEval {
	out := TableEval{Set: filepath.Base(filepath.Clean(dir)), Images: make([]TableScore, len(anns))}
	sem := make(chan struct{}, jobs)
	var wg sync.WaitGroup
	start := time.Now()
	for i, a := range anns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out.Images[i] = scoreTable(ctx, rt, dir, a, work, lim, opts, htmlDir)
		}()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	for _, s := range out.Images {
		out.MeanTEDS += s.TEDS / float64(len(out.Images))
		out.MeanStructure += s.Structure / float64(len(out.Images))
		out.TablesExpected++
		if s.Found {
			out.TablesFound++
		}
		out.RowsFound += s.Rows
		out.RowsExpected += s.TruthRows
	}
	out.PagesPerSec = float64(len(out.Images)) / secs
	sort.Slice(out.Images, func(i, j int) bool { return out.Images[i].File < out.Images[j].File })
	return out
}

// scoreTable reads one image as `lector ocr` does and scores its first
// table.
func scoreTable(ctx context.Context, rt *task.Runtime, dir string, a tableAnnotation, work string, lim document.Limits, opts task.Options, htmlDir string) (score TableScore) {
	score.File = a.Filename
	t0 := time.Now()
	defer func() { score.Seconds = time.Since(t0).Seconds() }()
	cells := make([][]string, len(a.HTML.Cells))
	for j, c := range a.HTML.Cells {
		cells[j] = c.Tokens
	}
	truth, err := eval.PubTabNetTree(a.HTML.Structure.Tokens, cells)
	if err != nil {
		score.Error = err.Error()
		return score
	}
	score.TruthRows = countTag(truth, "tr")
	res := ocrFile(ctx, rt, filepath.Join(dir, a.Filename), work, lim, opts)
	if res.Error != nil {
		score.Error = res.Error.Code + ": " + res.Error.Message
		return score
	}
	read := firstTable(res.Pages)
	pred := &eval.Node{Tag: "table"} // no table: scores 0 against any annotation
	if read != nil {
		score.Found, score.Rows = true, read.Rows
		pred = TableTree(read)
	}
	if htmlDir != "" {
		if err := writeEvalHTML(htmlDir, a.Filename, read, cells); err != nil {
			score.Error = err.Error()
			return score
		}
	}
	if read != nil {
		score.TEDS = eval.TEDS(pred, truth, false)
		score.Structure = eval.TEDS(pred, truth, true)
	}
	return score
}

// firstTable is the first recognised table in reading order: the first
// <table> the html format writes.
func firstTable(pages []*result.Page) *result.Table {
	for _, p := range pages {
		bs := append([]result.Block(nil), p.Blocks...)
		sort.SliceStable(bs, func(i, j int) bool { return bs[i].Order < bs[j].Order })
		for _, b := range bs {
			if b.Type == result.BlockTable && b.Table != nil {
				return b.Table
			}
		}
	}
	return nil
}

// writeEvalHTML writes the table as read, and the annotation's cell texts
// in order, to dir/image.html.
func writeEvalHTML(dir, image string, t *result.Table, truth [][]string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("<!doctype html><meta charset=utf-8><title>" + html.EscapeString(image) + "</title>\n<h1>read</h1>\n")
	if t != nil {
		b.WriteString(table.HTML(t))
	} else {
		b.WriteString("<p>no table found</p>")
	}
	b.WriteString("\n<h1>annotated cells</h1>\n<ol>\n")
	for _, c := range truth {
		b.WriteString("<li>" + html.EscapeString(strings.Join(c, "")) + "</li>\n")
	}
	b.WriteString("</ol>\n")
	return os.WriteFile(filepath.Join(dir, image+".html"), []byte(b.String()), 0o644)
}

func countTag(n *eval.Node, tag string) int {
	c := 0
	if n.Tag == tag {
		c++
	}
	for _, ch := range n.Children {
		c += countTag(ch, tag)
	}
	return c
}

// TableTree is a recognised table as a TEDS tree, as table.HTML writes it:
// the header rows in thead, their cells th, the rest in tbody, cell text
// as characters.
func TableTree(t *result.Table) *eval.Node {
	root := &eval.Node{Tag: "table"}
	rows := make([]*eval.Node, t.Rows)
	for i := range rows {
		rows[i] = &eval.Node{Tag: "tr"}
	}
	cells := append([]result.Cell(nil), t.Cells...)
	sort.SliceStable(cells, func(i, j int) bool {
		if cells[i].Row != cells[j].Row {
			return cells[i].Row < cells[j].Row
		}
		return cells[i].Col < cells[j].Col
	})
	for _, c := range cells {
		if c.Row < t.Rows {
			tag := "td"
			if c.Row < t.HeaderRows {
				tag = "th" // as table.HTML writes it
			}
			rows[c.Row].Children = append(rows[c.Row].Children, &eval.Node{Tag: tag, Colspan: max(c.ColSpan, 1), Rowspan: max(c.RowSpan, 1), Content: eval.Chars(c.Text)})
		}
	}
	head, body := &eval.Node{Tag: "thead"}, &eval.Node{Tag: "tbody"}
	for i, r := range rows {
		if i < t.HeaderRows {
			head.Children = append(head.Children, r)
		} else {
			body.Children = append(body.Children, r)
		}
	}
	if len(head.Children) > 0 {
		root.Children = append(root.Children, head)
	}
	if len(body.Children) > 0 {
		root.Children = append(root.Children, body)
	}
	return root
}
