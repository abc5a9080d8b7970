package render

import (
	"bytes"
	"errors"
	"strconv"
)

// Invisible text in a page's own content streams (an OCR layer that
// Tesseract's PDF renderer, and older tools, draw in the page's content
// rather than in a Form XObject of its own).
//
// pdfcpu parses content streams only privately (for resource names) and
// qpdf's command line has no content filter, so the lexer here is the
// smallest one that finds operators with their operands' byte span: PDF
// 32000-1 §7.2 (lexical conventions: white space, delimiters, comments),
// §7.3.4 (literal strings with nested parentheses and backslash escapes,
// hexadecimal strings), §7.8.2 (content streams: operands then operator)
// and §8.9.7 (inline images: BI … ID data EI, the data skipped up to an EI
// between white space). The text render mode (Tr, §9.3.6) is part of the
// graphics state (§8.4): q saves it, Q restores it, and it carries from
// one content stream of a page to the next (§7.8.2: they are one stream).

// isSpace is PDF white space (§7.2.3, Table 1).
func isSpace(c byte) bool {
	return c == 0 || c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == ' '
}

// isDelim is a PDF delimiter (§7.2.3, Table 2).
func isDelim(c byte) bool {
	switch c {
	case '(', ')', '<', '>', '[', ']', '{', '}', '/', '%':
		return true
	}
	return false
}

var errContent = errors.New("render: a content stream the lexer cannot read")

// textState is the part of the graphics state that decides whether text
// shows: the text render mode, saved and restored with q and Q.
type textState struct {
	mode  int
	saved []int
}

// withoutInvisibleText returns content with every text-showing operator
// drawn in text render mode 3 (neither fill nor stroke nor clip: invisible
// text) taken out, and whether it took any: "s Tj" and "a TJ" go, "s '"
// becomes "T*" and "aw ac s \"" becomes "aw Tw ac Tc T*" (their line moves
// and spacings stay, §9.4.3). Everything else — visible text, mode 7
// (invisible but clipping), paths, images — is kept byte for byte. st
// carries the text render mode from the page's previous content stream
// and is left as this one ends. An error (an unterminated string, array
// or inline image) means the stream is to be kept as it is.
func withoutInvisibleText(content []byte, st *textState) ([]byte, bool, error) {
	var out bytes.Buffer
	last := 0          // content[last:] is not yet copied to out
	start := -1        // where the current operator's operands began
	depth := 0         // of arrays and dictionaries
	var operand []byte // the last operand token (for Tr)
	removed := false
	n := len(content)
	for i := 0; i < n; {
		c := content[i]
		switch {
		case isSpace(c):
			i++
			continue
		case c == '%':
			for i < n && content[i] != '\n' && content[i] != '\r' {
				i++
			}
			continue
		}
		tok := i
		switch c {
		case '(':
			i++
			for nest := 1; nest > 0; i++ {
				if i >= n {
					return nil, false, errContent
				}
				switch content[i] {
				case '\\':
					i++
				case '(':
					nest++
				case ')':
					nest--
				}
			}
		case '<':
			if i+1 < n && content[i+1] == '<' {
				depth++
				i += 2
				break
			}
			j := bytes.IndexByte(content[i:], '>')
			if j < 0 {
				return nil, false, errContent
			}
			i += j + 1
		case '>':
			if i+1 >= n || content[i+1] != '>' || depth == 0 {
				return nil, false, errContent
			}
			depth--
			i += 2
		case '[':
			depth++
			i++
		case ']':
			if depth == 0 {
				return nil, false, errContent
			}
			depth--
			i++
		case '{', '}', ')':
			return nil, false, errContent
		case '/':
			i++
			for i < n && !isSpace(content[i]) && !isDelim(content[i]) {
				i++
			}
		default:
			for i < n && !isSpace(content[i]) && !isDelim(content[i]) {
				i++
			}
			word := content[tok:i]
			if depth > 0 || isOperand(word) {
				break
			}
			// An operator: content[start or tok : i] is its whole group.
			from := tok
			if start >= 0 {
				from = start
			}
			op := string(word)
			switch op {
			case "BI": // an inline image: skip to its EI
				end, err := inlineImageEnd(content, i)
				if err != nil {
					return nil, false, err
				}
				i = end
			case "q":
				st.saved = append(st.saved, st.mode)
			case "Q":
				if k := len(st.saved); k > 0 {
					st.mode, st.saved = st.saved[k-1], st.saved[:k-1]
				}
			case "Tr":
				if m, err := strconv.Atoi(string(operand)); err == nil {
					st.mode = m
				}
			case "Tj", "TJ", "'", "\"":
				if st.mode != 3 {
					break
				}
				out.Write(content[last:from])
				switch op {
				case "'":
					out.WriteString("T*")
				case "\"":
					// aw ac string ": keep the spacings it sets.
					ops := fields(content[from:tok])
					if len(ops) >= 3 {
						out.Write(ops[0])
						out.WriteString(" Tw ")
						out.Write(ops[1])
						out.WriteString(" Tc T*")
					} else {
						out.WriteString("T*")
					}
				}
				last = i
				removed = true
			}
			start, operand = -1, nil
			continue
		}
		if start < 0 {
			start = tok
		}
		operand = content[tok:i]
	}
	if depth != 0 {
		return nil, false, errContent
	}
	if !removed {
		return content, false, nil
	}
	out.Write(content[last:])
	return out.Bytes(), true, nil
}

// isOperand reports whether a regular token is an operand (a number or
// true, false, null) rather than an operator.
func isOperand(w []byte) bool {
	switch string(w) {
	case "true", "false", "null":
		return true
	}
	c := w[0]
	return c == '+' || c == '-' || c == '.' || (c >= '0' && c <= '9')
}

// inlineImageEnd returns the offset just past the EI that ends the inline
// image whose BI ends at i: its dictionary runs to ID, one white-space
// byte, then the data, ended by EI with white space (or the end) on both
// sides (§8.9.7; the data's length is not given, so EI inside the data
// could end it early — the same limit every reader has).
func inlineImageEnd(content []byte, i int) (int, error) {
	id := bytes.Index(content[i:], []byte("ID"))
	for id >= 0 {
		p := i + id
		if isSpace(content[p-1]) && (p+2 >= len(content) || isSpace(content[p+2])) {
			break
		}
		next := bytes.Index(content[p+2:], []byte("ID"))
		if next < 0 {
			id = -1
			break
		}
		id = p + 2 + next - i
	}
	if id < 0 {
		return 0, errContent
	}
	p := i + id + 3
	for p < len(content) {
		e := bytes.Index(content[p:], []byte("EI"))
		if e < 0 {
			return 0, errContent
		}
		q := p + e
		if q > 0 && isSpace(content[q-1]) && (q+2 == len(content) || isSpace(content[q+2])) {
			return q + 2, nil
		}
		p = q + 2
	}
	return 0, errContent
}

// fields splits an operator's operands at white space (numbers only).
func fields(b []byte) [][]byte {
	return bytes.FieldsFunc(b, func(r rune) bool { return r < 0x80 && isSpace(byte(r)) })
}
