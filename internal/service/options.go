package service

import (
	"slices"
	"strings"
	"time"

	"github.com/lector-ocr/lector"
	"github.com/lector-ocr/lector/internal/errcode"
	"github.com/lector-ocr/lector/internal/render"
)

// Fields are a submission's options as the client sent them (form fields or
// flags); Options checks and completes them.
type Fields = lector.Fields

// Options are checked, complete task options.
type Options struct {
	Pipeline  lector.Pipeline
	Model     string
	Formats   []string
	Priority  lector.Priority
	Device    string
	KeepAlive *time.Duration
	Timeout   time.Duration
	PDFText   lector.PDFText
}

// DefaultFormats are made when a submission names none; a PDF input also
// gets a searchable PDF.
var DefaultFormats = []string{"json", "txt", "md", "hocr"}

func invalid(format string, args ...any) error {
	return errcode.New(errcode.InvalidArgument, format, args...)
}

// options checks f. mediaType is the sniffed input type ("" before the
// input is known: the PDF default then does not apply).
func (s *Service) options(f Fields, mediaType string) (Options, error) {
	var o Options
	var err error
	if o.Pipeline, err = lector.ParsePipeline(f.Pipeline); err != nil {
		return o, err
	}
	switch {
	case f.Model != "":
		o.Model = strings.TrimSpace(f.Model)
	case o.Pipeline == lector.PipelineStructure && f.Lang != "":
		o.Model = "structure:" + strings.TrimSpace(f.Lang)
	case o.Pipeline == lector.PipelineStructure:
		o.Model = "structure:default"
	case f.Lang != "":
		o.Model = "tesseract:" + strings.TrimSpace(f.Lang)
	default:
		o.Model = "tesseract:eng"
	}
	if err := o.Pipeline.CheckModel(o.Model, strings.TrimSpace(f.Pipeline) != ""); err != nil {
		return o, err
	}
	if s.cfg.Validate != nil {
		if err := s.cfg.Validate(o.Model); err != nil {
			return o, err
		}
	}
	var can []string // the formats the model makes; nil: all
	if s.cfg.Formats != nil {
		var err error
		if can, err = s.cfg.Formats(o.Model); err != nil {
			return o, err
		}
	}
	if strings.TrimSpace(f.Formats) == "" {
		o.Formats = slices.Clone(DefaultFormats)
		if o.Pipeline == lector.PipelineStructure {
			o.Formats = []string{"json", "txt", "md", "html"}
		}
		if mediaType == "pdf" && (can == nil || slices.Contains(can, "pdf")) {
			o.Formats = append(o.Formats, "pdf")
		}
	} else {
		for _, name := range strings.Split(f.Formats, ",") {
			name = strings.ToLower(strings.TrimSpace(name))
			if _, ok := render.Formats[name]; !ok {
				return o, invalid("format %q is not one of json, txt, md, html, hocr, pdf", name)
			}
			if can != nil && !slices.Contains(can, name) {
				return o, invalid("model %s cannot make %s (it makes %s)", o.Model, name, strings.Join(can, ", "))
			}
			if !slices.Contains(o.Formats, name) {
				o.Formats = append(o.Formats, name)
			}
		}
	}
	if o.PDFText, err = lector.ParsePDFText(f.PDFText); err != nil {
		return o, err
	}
	if o.Priority, err = lector.ParsePriority(f.Priority); err != nil {
		return o, err
	}
	o.Device = strings.TrimSpace(f.Device)
	if o.Device == "" {
		o.Device = lector.DeviceAuto
	}
	if s.cfg.Runtime == nil && o.Device != lector.DeviceAuto && !slices.Contains(s.cfg.Devices, o.Device) {
		return o, errcode.New(errcode.DeviceUnavailable, "no device %q here (devices: %s)", f.Device, strings.Join(s.cfg.Devices, ", "))
	}
	if s.cfg.Runtime != nil {
		// A device that cannot serve the model (a turned-off GPU, a
		// CPU-only model on a GPU) is refused now, not after queueing.
		if _, _, err := s.cfg.Runtime.Place(o.Model, o.Device); err != nil {
			return o, err
		}
	}
	if f.KeepAlive != "" {
		d, err := lector.ParseDuration(f.KeepAlive)
		if err != nil {
			return o, invalid("keep_alive %q is not a duration (5m, 0, -1) or a number of seconds", f.KeepAlive)
		}
		o.KeepAlive = &d
	}
	o.Timeout = s.cfg.SyncTimeout
	if f.Timeout != "" {
		d, err := lector.ParseDuration(f.Timeout)
		if err != nil || d <= 0 {
			return o, invalid("timeout %q is not a positive duration or number of seconds", f.Timeout)
		}
		o.Timeout = min(d, s.cfg.SyncTimeout)
	}
	return o, nil
}
