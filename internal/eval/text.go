// Package eval measures recognition quality against ground truth: character
// and word error rates (edit distance over the reference length, after
// normalising whitespace) and, for tables, TEDS.
package eval

import (
	"strings"
	"unicode/utf8"
)

// Normalize collapses every run of whitespace to one space and trims.
func Normalize(s string) string { return strings.Join(strings.Fields(s), " ") }

// CER is the character error rate of got against want, both normalised.
func CER(got, want string) float64 {
	g, w := []rune(Normalize(got)), []rune(Normalize(want))
	if len(w) == 0 {
		if len(g) == 0 {
			return 0
		}
		return 1
	}
	return float64(distance(g, w)) / float64(len(w))
}

// WER is the word error rate of got against want.
func WER(got, want string) float64 {
	g, w := strings.Fields(got), strings.Fields(want)
	if len(w) == 0 {
		if len(g) == 0 {
			return 0
		}
		return 1
	}
	return float64(distance(g, w)) / float64(len(w))
}

// Errors returns the character edit distance and the reference length, for
// rates pooled over many samples.
func Errors(got, want string) (edits, length int) {
	g, w := []rune(Normalize(got)), []rune(Normalize(want))
	return distance(g, w), utf8.RuneCountInString(Normalize(want))
}

// WordErrors is Errors over words.
func WordErrors(got, want string) (edits, length int) {
	g, w := strings.Fields(got), strings.Fields(want)
	return distance(g, w), len(w)
}

// distance is the Levenshtein distance, in O(len(b)) memory.
func distance[T comparable](a, b []T) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// BagErrors compares got and want as multisets of words, ignoring order:
// missed is how many of want's words got lacks, length is len(want). For
// pages whose reading order is ambiguous (tables, forms), where CER and WER
// mostly measure order.
func BagErrors(got, want string) (missed, length int) {
	have := map[string]int{}
	for _, w := range strings.Fields(got) {
		have[w]++
	}
	ws := strings.Fields(want)
	for _, w := range ws {
		if have[w] > 0 {
			have[w]--
		} else {
			missed++
		}
	}
	return missed, len(ws)
}
