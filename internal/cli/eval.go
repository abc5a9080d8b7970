package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
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

	"github.com/lector-ocr/lector/internal/document"
	"github.com/lector-ocr/lector/internal/engine"
	"github.com/lector-ocr/lector/internal/engine/structure"
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
	Rows      int     `json:"rows"`       // rows found
	TruthRows int     `json:"truth_rows"` // rows annotated
	Error     string  `json:"error,omitempty"`
}

// TableEval is the result of `lector eval tables`.
type TableEval struct {
	Images        []TableScore `json:"images"`
	MeanTEDS      float64      `json:"mean_teds"`
	MeanStructure float64      `json:"mean_teds_structure"`
	PagesPerSec   float64      `json:"pages_per_second"`
}

// runEval is `lector eval tables DIR`: the structure pipeline on each image
// of a PubTabNet-style directory (images and PubTabNet_Examples.jsonl),
// scored with TEDS and structure-only TEDS against the annotations.
func runEval(ctx context.Context, io IO, args []string) error {
	if len(args) == 0 || args[0] != "tables" {
		return &UsageError{"eval: lector eval tables DIR [--json]"}
	}
	fs := flag.NewFlagSet("eval tables", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON")
	modelName := fs.String("model", "structure:default", "structure model")
	htmlDir := fs.String("html", "", "also write each table as read to DIR/IMAGE.html, the annotation's text beside it")
	cfg, err := parseConfig(fs, io, args[1:])
	if err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return &UsageError{"eval tables: give the directory"}
	}
	dir := fs.Arg(0)
	type annotation struct {
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
	f, err := os.Open(filepath.Join(dir, "PubTabNet_Examples.jsonl"))
	if err != nil {
		return err
	}
	defer f.Close()
	var anns []annotation
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var a annotation
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			return fmt.Errorf("annotations: %w", err)
		}
		if _, err := os.Stat(filepath.Join(dir, a.Filename)); err == nil {
			anns = append(anns, a)
		}
	}
	if len(anns) == 0 {
		return errors.New("eval tables: no annotated image found")
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
	out := TableEval{Images: make([]TableScore, len(anns))}
	lim := docLimits(cfg)
	sem := make(chan struct{}, cfg.Pool.CPULanes)
	var wg sync.WaitGroup
	start := time.Now()
	for i, a := range anns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			score := TableScore{File: a.Filename}
			t0 := time.Now()
			defer func() { score.Seconds = time.Since(t0).Seconds(); out.Images[i] = score }()
			cells := make([][]string, len(a.HTML.Cells))
			for j, c := range a.HTML.Cells {
				cells[j] = c.Tokens
			}
			truth, err := eval.PubTabNetTree(a.HTML.Structure.Tokens, cells)
			if err != nil {
				score.Error = err.Error()
				return
			}
			data, err := os.ReadFile(filepath.Join(dir, a.Filename))
			if err != nil {
				score.Error = err.Error()
				return
			}
			doc, err := document.Open(ctx, data, lim, work)
			if err != nil {
				score.Error = err.Error()
				return
			}
			defer doc.Close()
			res, err := st.rt.Run(ctx, doc, task.Options{Model: *modelName, Pipeline: "structure", Device: "cpu",
				EngineOptions: engine.Options{Params: map[string]string{structure.OptWholePageTable: "1"}}})
			if err != nil {
				score.Error = err.Error()
				return
			}
			pred := &eval.Node{Tag: "table"}
			var read *result.Table
			for _, b := range res.Pages[0].Blocks {
				if b.Table != nil {
					read = b.Table
					pred = TableTree(b.Table)
					score.Rows = b.Table.Rows
					break
				}
			}
			if *htmlDir != "" {
				if err := writeEvalHTML(*htmlDir, a.Filename, read, cells); err != nil {
					score.Error = err.Error()
					return
				}
			}
			score.TruthRows = countTag(truth, "tr")
			score.TEDS = eval.TEDS(pred, truth, false)
			score.Structure = eval.TEDS(pred, truth, true)
		}()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	for _, s := range out.Images {
		out.MeanTEDS += s.TEDS / float64(len(out.Images))
		out.MeanStructure += s.Structure / float64(len(out.Images))
	}
	out.PagesPerSec = float64(len(out.Images)) / secs
	if *asJSON {
		return json.NewEncoder(io.Stdout).Encode(out)
	}
	sort.Slice(out.Images, func(i, j int) bool { return out.Images[i].File < out.Images[j].File })
	fmt.Fprintf(io.Stdout, "%-26s %6s %6s %9s %6s\n", "IMAGE", "TEDS", "STRUCT", "ROWS/GT", "SEC")
	for _, s := range out.Images {
		fmt.Fprintf(io.Stdout, "%-26s %6.3f %6.3f %4d/%-4d %6.1f %s\n", s.File, s.TEDS, s.Structure, s.Rows, s.TruthRows, s.Seconds, s.Error)
	}
	fmt.Fprintf(io.Stdout, "%-26s %6.3f %6.3f  (%d images, %.2f images/s)\n", "MEAN", out.MeanTEDS, out.MeanStructure, len(out.Images), out.PagesPerSec)
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

// TableTree is a recognised table as a TEDS tree: the header rows in
// thead, the rest in tbody, cell text as characters.
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
			rows[c.Row].Children = append(rows[c.Row].Children, &eval.Node{Tag: "td", Colspan: max(c.ColSpan, 1), Rowspan: max(c.RowSpan, 1), Content: eval.Chars(c.Text)})
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
