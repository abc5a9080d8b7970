// Package runner runs model instances in child processes.
//
// The child side (Serve) loads one model on one device through an engine,
// makes one engine handle per slot — each on its own locked OS thread —
// listens for HTTP/1.1 on a Unix socket in a private 0700 directory, prints
// one ready line on stdout, and serves POST /process, GET /health and POST
// /shutdown until asked to stop or its parent dies.
//
// The parent side (Launcher, Process) starts `lector runner …` with the
// child's own environment, logs the child's output with its model and pid,
// owns cmd.Wait in one goroutine that records the exit and removes the socket
// directory, talks to the child over the socket, and stops it gracefully:
// ask, wait until a deadline, kill. A child dies with its parent
// (Pdeathsig), and also exits on its own if it finds itself orphaned.
package runner

import "github.com/lector-ocr/lector/internal/engine"

// ReadyPrefix starts the line a runner prints on stdout once its model is
// loaded and its socket is listening.
const ReadyPrefix = "LECTOR-RUNNER-READY"

// SocketName is the socket's file name inside the runner's directory.
const SocketName = "runner.sock"

// ErrorPrefix starts the line a runner prints on stdout when its model
// cannot be loaded, followed by the error's code and message as JSON
// (wireError), so the parent reports the engine's own code
// (device_unavailable, unknown_model) instead of a bare exit.
const ErrorPrefix = "LECTOR-RUNNER-ERROR"

// hdrRequest names the header of a /process request that carries
// wireRequest as JSON; the body is the page's encoded image.
const hdrRequest = "X-Lector-Request"

// wireRequest is what a /process request says besides the image bytes: the
// page's facts and the options. It is the runner protocol's own type,
// separate from engine.Image so that the protocol changes only here.
type wireRequest struct {
	Number      int                `json:"number"`
	Width       int                `json:"width"`
	Height      int                `json:"height"`
	Format      string             `json:"format"`
	DPI         int                `json:"dpi,omitempty"`
	Orientation engine.Orientation `json:"orientation"`
	TIFFPage    int                `json:"tiff_page,omitempty"`
	PDFPage     int                `json:"pdf_page,omitempty"`
	Options     engine.Options     `json:"options"`
	// TextBytes is the length of engine.Image.Text, gob-encoded, at the
	// end of the body after the image's bytes (0: no text). It travels in
	// the body because a dense page's words can outgrow a header.
	TextBytes int `json:"text_bytes,omitempty"`
}

// A /process answer's body is the page, gob-encoded: the runner's wire is
// not the public JSON schema (lector.ocr/v1, internal/render), carries
// binary parts (a page's PDF, figure images) as bytes, and decodes in a
// fraction of JSON's time.

// wireError is the JSON body of a failed request.
type wireError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}
