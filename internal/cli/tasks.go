package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/lector-ocr/lector"
	"github.com/lector-ocr/lector/internal/api"
	"github.com/lector-ocr/lector/internal/auth"
	"github.com/lector-ocr/lector/internal/server"
)

// defaultServer is where client commands look for a server.
const defaultServer = "http://127.0.0.1:8080"

// clientFlags registers --server on fs and returns the client builder.
func clientFlags(fs *flag.FlagSet) func() *api.Client {
	server := fs.String("server", defaultServer, "address of the lector server")
	token := fs.String("token", "", "bearer token, for a server with --auth-tokens")
	return func() *api.Client {
		c := api.NewClient(*server)
		c.Token = *token
		return c
	}
}

// runTasks is `lector tasks submit|get|list|result|cancel`.
func runTasks(ctx context.Context, io IO, args []string) error {
	subs := map[string]func(context.Context, IO, []string) error{
		"submit": tasksSubmit, "get": tasksGet, "list": tasksList, "result": tasksResult, "cancel": tasksCancel,
	}
	if len(args) == 0 || subs[args[0]] == nil {
		fmt.Fprintln(io.Stderr, "Usage: lector tasks submit|get|list|result|cancel [flags] …")
		return &UsageError{"tasks: name a subcommand: submit, get, list, result or cancel"}
	}
	return subs[args[0]](ctx, io, args[1:])
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func tasksSubmit(ctx context.Context, io IO, args []string) error {
	fs := flag.NewFlagSet("tasks submit", flag.ContinueOnError)
	client := clientFlags(fs)
	var o api.Options
	fs.StringVar(&o.Pipeline, "pipeline", "", "ocr (default) or structure")
	fs.StringVar(&o.Model, "model", "", "model (default tesseract:<lang>)")
	fs.StringVar(&o.Lang, "lang", "", "Tesseract languages, e.g. eng or chi_sim+eng")
	fs.StringVar(&o.Formats, "formats", "", "result formats, comma-separated (default json,txt,md,hocr; +pdf for a PDF)")
	fs.StringVar(&o.Priority, "priority", "", "interactive, normal or batch")
	fs.StringVar(&o.Device, "device", "", "auto, cpu or cuda:N")
	fs.StringVar(&o.KeepAlive, "keep-alive", "", "how long the model stays loaded after the task")
	fs.StringVar(&o.PDFText, "pdf-text", "", "PDF pages with text of their own: skip (the default), redo or force")
	wait := fs.Bool("wait", false, "follow each task until it ends, showing progress")
	if err := parse(fs, io, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return &UsageError{"tasks submit: no input files"}
	}
	c := client()
	var failed int
	for _, f := range fs.Args() {
		t, err := c.SubmitFile(ctx, f, o)
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		if !*wait {
			fmt.Fprintln(io.Stdout, t.ID)
			continue
		}
		err = c.Events(ctx, t.ID, func(ev api.Event) bool {
			switch {
			case ev.Progress != nil:
				fmt.Fprintf(io.Stderr, "%s: page %d/%d\n", t.ID, ev.Progress.Done, ev.Progress.Total)
			case ev.Task != nil:
				t = ev.Task
				fmt.Fprintf(io.Stderr, "%s: %s\n", t.ID, t.Status)
			}
			return true
		})
		if err != nil {
			return err
		}
		fmt.Fprintln(io.Stdout, t.ID)
		if t.Status != lector.Succeeded {
			failed++
			if t.Error != nil {
				fmt.Fprintf(io.Stderr, "%s: %s: %s\n", f, t.Error.Code, t.Error.Message)
			}
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d tasks did not succeed", failed, fs.NArg())
	}
	return nil
}

func oneID(fs *flag.FlagSet, what string) (string, error) {
	if fs.NArg() != 1 {
		return "", &UsageError{what + ": give one task id"}
	}
	return fs.Arg(0), nil
}

func tasksGet(ctx context.Context, io IO, args []string) error {
	fs := flag.NewFlagSet("tasks get", flag.ContinueOnError)
	client := clientFlags(fs)
	if err := parse(fs, io, args); err != nil {
		return err
	}
	id, err := oneID(fs, "tasks get")
	if err != nil {
		return err
	}
	t, err := client().Get(ctx, id)
	if err != nil {
		return err
	}
	return printJSON(io.Stdout, t)
}

func tasksList(ctx context.Context, io IO, args []string) error {
	fs := flag.NewFlagSet("tasks list", flag.ContinueOnError)
	client := clientFlags(fs)
	limit := fs.Int("limit", 20, "tasks per page")
	cursor := fs.String("cursor", "", "continue after this cursor (printed after a full page)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, io, args); err != nil {
		return err
	}
	l, err := client().List(ctx, *limit, *cursor)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(io.Stdout, l)
	}
	tw := tabwriter.NewWriter(io.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATUS\tMODEL\tPAGES\tFILE\tCREATED\tERROR")
	for _, t := range l.Tasks {
		errText := ""
		if t.Error != nil {
			errText = t.Error.Code
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%s\t%s\t%s\n", t.ID, t.Status, t.Model, t.Pages.Done, t.Pages.Total, t.Filename,
			t.CreatedAt.Local().Format(time.DateTime), errText)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if l.Next != "" {
		fmt.Fprintf(io.Stderr, "more: lector tasks list --cursor %s\n", l.Next)
	}
	return nil
}

func tasksResult(ctx context.Context, io IO, args []string) error {
	fs := flag.NewFlagSet("tasks result", flag.ContinueOnError)
	client := clientFlags(fs)
	format := fs.String("format", "", "json, txt, md, html, hocr or pdf (default: from -o's extension, else txt)")
	out := fs.String("o", "", "output file (default standard output)")
	if err := parse(fs, io, args); err != nil {
		return err
	}
	id, err := oneID(fs, "tasks result")
	if err != nil {
		return err
	}
	if *format == "" {
		*format = "txt"
		if f := formatFromExt(*out); f != "" {
			*format = f
		}
	}
	if *out == "" {
		return client().Result(ctx, id, *format, io.Stdout)
	}
	f, err := os.CreateTemp(dirOf(*out), ".lector-result-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := client().Result(ctx, id, *format, f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), *out)
}

func dirOf(path string) string {
	if i := strings.LastIndex(path, "/"); i >= 0 {
		return path[:i+1]
	}
	return "."
}

func tasksCancel(ctx context.Context, io IO, args []string) error {
	fs := flag.NewFlagSet("tasks cancel", flag.ContinueOnError)
	client := clientFlags(fs)
	if err := parse(fs, io, args); err != nil {
		return err
	}
	id, err := oneID(fs, "tasks cancel")
	if err != nil {
		return err
	}
	t, err := client().Cancel(ctx, id)
	if err != nil {
		return err
	}
	if t == nil {
		fmt.Fprintf(io.Stdout, "%s deleted\n", id)
		return nil
	}
	state := t.Status
	if t.CancelRequested && !t.Final() {
		state = "canceling"
	}
	fmt.Fprintf(io.Stdout, "%s %s\n", id, state)
	return nil
}

// runPs is `lector ps`: the loaded instances of a running server.
func runPs(ctx context.Context, io IO, args []string) error {
	fs := flag.NewFlagSet("ps", flag.ContinueOnError)
	client := clientFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, io, args); err != nil {
		return err
	}
	c := client()
	var sys server.SystemView
	if err := c.System(ctx, &sys); err != nil {
		return err
	}
	if *asJSON { // the whole view: the node's, its loaded instances, the cluster's nodes or cluster_error
		return printJSON(io.Stdout, sys)
	}
	m, err := c.Models(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(io.Stdout, 0, 4, 2, ' ', 0)
	if len(sys.Nodes) > 0 {
		// The cluster: every node of the database, as of its heartbeat.
		fmt.Fprintln(tw, "NODE\tADDR\tSTATE\tHEARTBEAT\tDEVICES\tLOADED\tQUEUED")
		for _, n := range sys.Nodes {
			name := n.ID
			if n.ID == sys.Node {
				name += " (answered)"
			}
			devs, loaded, queued := "-", "-", "-"
			if n.System != nil && n.State == "live" { // a gone node's figures are stale
				var ds []string
				q := 0
				for _, d := range n.System.Devices {
					ds = append(ds, fmt.Sprintf("%s:%s", d.ID, d.Level))
					if d.Service != nil {
						q += d.Service.Queued
					}
				}
				devs, loaded, queued = strings.Join(ds, ","), strconv.Itoa(len(n.System.Loaded)), strconv.Itoa(q)
			}
			ago := time.Since(n.HeartbeatAt).Round(time.Second).String() + " ago"
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", name, n.Addr, n.State, ago, devs, loaded, queued)
		}
		fmt.Fprintln(tw)
	}
	fmt.Fprintln(tw, "MODEL\tDEVICE\tSTATE\tREFS\tMEMORY\tPID\tEXPIRES")
	for _, in := range m.Loaded {
		mem := in.CPUBytes + in.GPUBytes
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%d\t%s\n", in.Model, in.Device, in.State, in.Refs, FormatBytes(mem), in.Pid, expires(in))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if sys.ClusterError != "" { // the node answered for itself; the cluster's view is missing
		return fmt.Errorf("the cluster's nodes cannot be listed: %s", sys.ClusterError)
	}
	return nil
}

func expires(in api.Instance) string {
	switch {
	case in.Pinned:
		return "never"
	case in.Refs > 0:
		return "in use"
	case in.ExpiresAt.IsZero():
		return "-"
	}
	d := time.Until(in.ExpiresAt).Round(time.Second)
	if d < 0 {
		return "now"
	}
	return d.String() + " from now"
}

// isUnreachable reports whether err means no server answered.
func isUnreachable(err error) bool {
	var se *api.StatusError
	return err != nil && !errors.As(err, &se)
}

// runToken is `lector token SUBJECT`: a new random token, and the line that
// grants it in an --auth-tokens file (only its hash: the file holds no
// secret).
func runToken(_ context.Context, io IO, args []string) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	if err := parse(fs, io, args); err != nil {
		return err
	}
	if fs.NArg() != 1 || strings.ContainsAny(fs.Arg(0), ": \t") {
		return &UsageError{"token: give one subject name (no colons or spaces)"}
	}
	token, line, err := auth.NewToken(fs.Arg(0))
	if err != nil {
		return err
	}
	fmt.Fprintf(io.Stdout, "token: %s\nline for the --auth-tokens file: %s\n", token, line)
	return nil
}
