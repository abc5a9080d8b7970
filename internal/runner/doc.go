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

// ReadyPrefix starts the line a runner prints on stdout once its model is
// loaded and its socket is listening.
const ReadyPrefix = "LECTOR-RUNNER-READY"

// SocketName is the socket's file name inside the runner's directory.
const SocketName = "runner.sock"

// Header names of a /process request.
const (
	hdrNumber  = "X-Lector-Page"
	hdrWidth   = "X-Lector-Width"
	hdrHeight  = "X-Lector-Height"
	hdrFormat  = "X-Lector-Format"
	hdrOptions = "X-Lector-Options"
)

// wireError is the JSON body of a failed request.
type wireError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}
