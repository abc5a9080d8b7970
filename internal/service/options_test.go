package service

import (
	"testing"
	"time"

	"github.com/lector-ocr/lector/internal/errcode"
	"github.com/lector-ocr/lector/internal/store"
)

func TestOptions(t *testing.T) {
	t.Parallel()
	s := &Service{cfg: Config{Devices: []string{"cpu", "cuda:0"}, SyncTimeout: time.Minute}}
	o, err := s.options(Fields{}, "pdf")
	if err != nil || o.Model != "tesseract:eng" || o.Pipeline != "ocr" || o.Priority != "normal" || o.Device != "auto" ||
		len(o.Formats) != 5 || o.Formats[4] != "pdf" || o.KeepAlive != nil || o.Timeout != time.Minute {
		t.Fatalf("defaults for a PDF: %+v %v", o, err)
	}
	if o, _ := s.options(Fields{}, "png"); len(o.Formats) != 4 {
		t.Fatalf("an image gets no PDF by default: %v", o.Formats)
	}
	o, err = s.options(Fields{Lang: "chi_sim+eng", Formats: " TXT, txt,pdf", KeepAlive: "30", Timeout: "2h", Device: "cuda:0"}, "png")
	if err != nil || o.Model != "tesseract:chi_sim+eng" || len(o.Formats) != 2 || *o.KeepAlive != 30*time.Second || o.Timeout != time.Minute {
		t.Fatalf("%+v %v", o, err)
	}
	if o, _ := s.options(Fields{Pipeline: "structure"}, ""); o.Model != "structure:default" || len(o.Formats) != 4 || o.Formats[3] != "html" {
		t.Fatalf("structure model %q, formats %v", o.Model, o.Formats)
	}
	if o, _ := s.options(Fields{Pipeline: "structure", Lang: "chi_sim+eng"}, ""); o.Model != "structure:chi_sim+eng" {
		t.Fatalf("structure model with languages %q", o.Model)
	}
	if o, err := s.options(Fields{PDFText: " Redo"}, "pdf"); err != nil || o.PDFText != "redo" {
		t.Fatalf("pdf_text redo: %q %v", o.PDFText, err)
	}
	if o, _ := s.options(Fields{}, "pdf"); o.PDFText != "" {
		t.Fatalf("pdf_text unset is %q, want the pipeline's default (empty)", o.PDFText)
	}
	for _, f := range []Fields{{Pipeline: "tables"}, {Formats: "docx"}, {Priority: "now"}, {KeepAlive: "x"}, {Timeout: "-1s"},
		{Pipeline: "structure", Model: "tesseract:eng"}, {Pipeline: "ocr", Model: "structure:ppocr"}, {PDFText: "sometimes"}} {
		if _, err := s.options(f, ""); errcode.Of(err) != errcode.InvalidArgument {
			t.Errorf("%+v: %v, want invalid_argument", f, err)
		}
	}
	// A structure model with no pipeline named runs as structure, as before.
	if o, err := s.options(Fields{Model: "structure:ppocr"}, ""); err != nil || o.Model != "structure:ppocr" {
		t.Errorf("structure:ppocr with no pipeline: %+v %v", o, err)
	}
	if _, err := s.options(Fields{Device: "cuda:1"}, ""); errcode.Of(err) != errcode.DeviceUnavailable {
		t.Errorf("a device that is not here: %v, want device_unavailable", err)
	}
}

func TestCursorRoundTrip(t *testing.T) {
	t.Parallel()
	c := &store.Cursor{CreatedAt: time.Unix(0, 1234567890123), ID: "abc/def"}
	got, err := decodeCursor(encodeCursor(c))
	if err != nil || !got.CreatedAt.Equal(c.CreatedAt) || got.ID != c.ID {
		t.Fatalf("%+v %v", got, err)
	}
	if _, err := decodeCursor("!!!"); errcode.Of(err) != errcode.InvalidArgument {
		t.Fatalf("bad cursor: %v", err)
	}
}
