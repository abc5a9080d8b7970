package service

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lector-ocr/lector/internal/admission"
	"github.com/lector-ocr/lector/internal/errcode"
	"github.com/lector-ocr/lector/internal/render"
)

// Fields are a submission's options as the client sent them (form fields or
// flags); Options checks and completes them.
type Fields struct {
	Pipeline  string // ocr (default) or structure
	Model     string // a model name; wins over Lang
	Lang      string // Tesseract languages, e.g. eng or chi_sim+eng (default eng)
	Formats   string // comma-separated; default json,txt,md,hocr (+pdf for a PDF input)
	Priority  string // interactive, normal (default), batch
	Device    string // auto (default), cpu, cuda:N
	KeepAlive string // a duration ("5m", "0", "-1s") or seconds; default the server's
	Timeout   string // synchronous calls: a duration, capped by the server's limit
}

// Options are checked, complete task options.
type Options struct {
	Pipeline  string
	Model     string
	Formats   []string
	Priority  admission.Priority
	Device    string
	KeepAlive *time.Duration
	Timeout   time.Duration
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
	switch o.Pipeline = strings.TrimSpace(f.Pipeline); o.Pipeline {
	case "":
		o.Pipeline = "ocr"
	case "ocr", "structure":
	default:
		return o, invalid("pipeline %q is not ocr or structure", f.Pipeline)
	}
	switch {
	case f.Model != "":
		o.Model = strings.TrimSpace(f.Model)
	case o.Pipeline == "structure" && f.Lang != "":
		o.Model = "structure:" + strings.TrimSpace(f.Lang)
	case o.Pipeline == "structure":
		o.Model = "structure:default"
	case f.Lang != "":
		o.Model = "tesseract:" + strings.TrimSpace(f.Lang)
	default:
		o.Model = "tesseract:eng"
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
		if o.Pipeline == "structure" {
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
	switch p := admission.Priority(strings.TrimSpace(f.Priority)); p {
	case "":
		o.Priority = admission.Normal
	case admission.Interactive, admission.Normal, admission.Batch:
		o.Priority = p
	default:
		return o, invalid("priority %q is not interactive, normal or batch", f.Priority)
	}
	o.Device = strings.TrimSpace(f.Device)
	if o.Device == "" {
		o.Device = "auto"
	}
	if o.Device != "auto" && !slices.Contains(s.cfg.Devices, o.Device) {
		return o, invalid("device %q is not auto or one of %s", f.Device, strings.Join(s.cfg.Devices, ", "))
	}
	if s.cfg.Runtime != nil {
		// A device that cannot serve the model (a turned-off GPU, a
		// CPU-only model on a GPU) is refused now, not after queueing.
		if _, _, err := s.cfg.Runtime.Place(o.Model, o.Device); err != nil {
			return o, err
		}
	}
	if f.KeepAlive != "" {
		d, err := parseDuration(f.KeepAlive)
		if err != nil {
			return o, invalid("keep_alive %q is not a duration (5m, 0, -1) or a number of seconds", f.KeepAlive)
		}
		o.KeepAlive = &d
	}
	o.Timeout = s.cfg.SyncTimeout
	if f.Timeout != "" {
		d, err := parseDuration(f.Timeout)
		if err != nil || d <= 0 {
			return o, invalid("timeout %q is not a positive duration or number of seconds", f.Timeout)
		}
		o.Timeout = min(d, s.cfg.SyncTimeout)
	}
	return o, nil
}

// parseDuration reads a Go duration or a number of seconds.
func parseDuration(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		return time.Duration(secs * float64(time.Second)), nil
	}
	return time.ParseDuration(v)
}
