package table

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// entityRe matches a CommonMark entity or numeric character reference
// (CommonMark 0.31 §6.5) at the start of a string.
var entityRe = regexp.MustCompile(`^&([A-Za-z][A-Za-z0-9]{0,31}|#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6});`)

// EscapeMarkdown returns text (one line: recognised text, a paragraph's or
// a cell's) with a backslash before each character that CommonMark would
// read as markup there, so that it renders as the same text. Characters
// are escaped as CommonMark 0.31 §2.4 allows (any ASCII punctuation may be
// backslash-escaped), only where they would be markup, to keep the text
// readable:
//   - always \ ` * [ ] < > ~ (escapes, code spans, emphasis, links,
//     autolinks and raw HTML, GFM strikethrough) and | (GFM table cells);
//   - _ unless it sits between two letters or digits (§6.2: intraword _
//     opens no emphasis, so snake_case stays as it is);
//   - & when it opens an entity or numeric character reference (§6.5:
//     &name; &#123; &#x1F;), not in "&&", "A & B" or "x&y";
//   - at the line's start: # (ATX heading), - + = (list item, thematic
//     break, setext underline) and the . or ) after 1–9 digits (ordered
//     list item);
//   - a trailing # (an ATX heading's closing sequence would drop it).
//
// Newlines are not expected (callers join lines); any become spaces.
func EscapeMarkdown(text string) string {
	text = strings.ReplaceAll(text, "\n", " ")
	var b strings.Builder
	b.Grow(len(text) + 8)
	lead := len(text) - len(strings.TrimLeft(text, " "))
	// The line start's ordered-list marker: digits then . or ).
	olEnd := -1
	if i := lead; i < len(text) {
		j := i
		for j < len(text) && j-i < 9 && text[j] >= '0' && text[j] <= '9' {
			j++
		}
		if j > i && j < len(text) && (text[j] == '.' || text[j] == ')') {
			olEnd = j
		}
	}
	last := strings.TrimRight(text, " ")
	for i, r := range text {
		esc := false
		switch r {
		case '\\', '`', '*', '[', ']', '<', '>', '~', '|':
			esc = true
		case '_':
			prev, _ := utf8.DecodeLastRuneInString(text[:i])
			next, _ := utf8.DecodeRuneInString(text[i+1:])
			esc = !(isWordRune(prev) && isWordRune(next))
		case '&':
			esc = entityRe.MatchString(text[i:])
		case '#':
			esc = i == lead || i == len(last)-1
		case '-', '+', '=':
			esc = i == lead
		case '.', ')':
			esc = i == olEnd
		}
		if esc {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func isWordRune(r rune) bool {
	return r != utf8.RuneError && (unicode.IsLetter(r) || unicode.IsDigit(r))
}
