// Command textdiff compares two directories of text files with the same
// names, file by file: the character error rate of GOT against WANT
// (whitespace normalised, as internal/eval measures), the share of WANT's
// words GOT lacks in any order, and the pooled figures. For the bench
// scripts: Lector's text against a peer's on the same images.
//
//	go run ./bench/textdiff WANT_DIR GOT_DIR
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/lector-ocr/lector/internal/eval"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: textdiff WANT_DIR GOT_DIR")
		os.Exit(2)
	}
	want, got := os.Args[1], os.Args[2]
	names, err := filepath.Glob(filepath.Join(want, "*.txt"))
	if err != nil || len(names) == 0 {
		fmt.Fprintln(os.Stderr, "textdiff: no .txt files in", want)
		os.Exit(1)
	}
	sort.Strings(names)
	var edits, length, missed, words int
	for _, w := range names {
		name := filepath.Base(w)
		wb, err := os.ReadFile(w)
		if err != nil {
			fmt.Fprintln(os.Stderr, "textdiff:", err)
			os.Exit(1)
		}
		gb, err := os.ReadFile(filepath.Join(got, name))
		if err != nil {
			fmt.Fprintln(os.Stderr, "textdiff:", err)
			os.Exit(1)
		}
		e, l := eval.Errors(string(gb), string(wb))
		m, n := eval.BagErrors(string(gb), string(wb))
		edits, length, missed, words = edits+e, length+l, missed+m, words+n
		fmt.Printf("%-28s cer=%.4f words_missed=%.4f chars=%d\n", strings.TrimSuffix(name, ".txt"), rate(e, l), rate(m, n), l)
	}
	fmt.Printf("%-28s cer=%.4f words_missed=%.4f chars=%d\n", "pooled", rate(edits, length), rate(missed, words), length)
}

func rate(e, n int) float64 {
	if n == 0 {
		if e == 0 {
			return 0
		}
		return 1
	}
	return float64(e) / float64(n)
}
