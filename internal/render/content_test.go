package render

import (
	"testing"
)

func TestWithoutInvisibleText(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, in, want string
	}{
		{"mode 3 Tj goes", "BT 3 Tr /F1 12 Tf 1 0 0 1 10 10 Tm (hidden) Tj ET", "BT 3 Tr /F1 12 Tf 1 0 0 1 10 10 Tm  ET"},
		{"visible text stays", "BT /F1 12 Tf 10 10 Td (shown) Tj ET", ""},
		{"mode 7 clips: stays", "BT 7 Tr /F1 12 Tf (clip) Tj ET", ""},
		{"TJ with an array", "BT 3 Tr [(a) -20 (b\\)c)] TJ 0 Tr (seen) Tj ET", "BT 3 Tr  0 Tr (seen) Tj ET"},
		{"Q restores the mode", "q BT 3 Tr (x) Tj ET Q BT (y) Tj ET", "q BT 3 Tr  ET Q BT (y) Tj ET"},
		{"' keeps its line move", "BT 3 Tr 14 TL (a) ' ET", "BT 3 Tr 14 TL T* ET"},
		{"\" keeps spacings", "BT 3 Tr 1 2 (a b) \" ET", "BT 3 Tr 1 Tw 2 Tc T* ET"},
		{"nested parentheses and hex", "BT 3 Tr (a (b) c) Tj <0041 0042> Tj ET", "BT 3 Tr   ET"},
		{"comment and dictionary", "% (Tj\n/P <</MCID 0>> BDC BT 3 Tr (x)Tj ET EMC", "% (Tj\n/P <</MCID 0>> BDC BT 3 Tr  ET EMC"},
		{"inline image data is skipped", "BI /W 2 /H 1 /BPC 8 /CS /G ID \x00Tj EI BT 3 Tr (x) Tj ET", "BI /W 2 /H 1 /BPC 8 /CS /G ID \x00Tj EI BT 3 Tr  ET"},
	} {
		var st textState
		got, removed, err := withoutInvisibleText([]byte(c.in), &st)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		want := c.want
		if want == "" {
			want = c.in
		}
		if string(got) != want || removed != (c.want != "") {
			t.Errorf("%s:\n got %q (removed %v)\nwant %q", c.name, got, removed, want)
		}
	}
}

// The mode carries from one content stream of a page to the next.
func TestInvisibleTextModeCarriesAcrossStreams(t *testing.T) {
	t.Parallel()
	var st textState
	if _, removed, err := withoutInvisibleText([]byte("BT 3 Tr"), &st); err != nil || removed {
		t.Fatal(err, removed)
	}
	got, removed, err := withoutInvisibleText([]byte("(x) Tj ET"), &st)
	if err != nil || !removed || string(got) != " ET" {
		t.Fatalf("%q %v %v", got, removed, err)
	}
}

func TestWithoutInvisibleTextRefusesWhatItCannotRead(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"BT 3 Tr (unterminated Tj ET", "[ (a) TJ", "BI /W 1 ID xx", "a ) b"} {
		var st textState
		if _, _, err := withoutInvisibleText([]byte(in), &st); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}
