package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/lector-ocr/lector/internal/api"
	"github.com/lector-ocr/lector/internal/pgtest"
	"github.com/lector-ocr/lector/internal/server"
)

// clusterArgs make a node of a test cluster: a short heartbeat and node
// timeout, so that a killed node's tasks come back within seconds.
var clusterArgs = []string{"--heartbeat-interval", "200ms", "--node-timeout", "2s", "--workers", "2", "--shutdown-timeout", "1s"}

func startNode(t *testing.T, database string) *serverProcess {
	t.Helper()
	return startProcess(t, t.TempDir(), append([]string{"--database", database}, clusterArgs...)...)
}

// nodeID is the ID a node logged at start.
func nodeID(t *testing.T, p *serverProcess) string {
	t.Helper()
	line, _ := p.logs.waitFor(t, 0, `msg="lector serving"`)
	m := regexp.MustCompile(` node=(\S+)`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("no node in %q", line)
	}
	return m[1]
}

// followToEnd opens task id's event stream on c and returns the last
// status event's task: the stream itself must carry the task to its end.
func followToEnd(ctx context.Context, c *api.Client, id string) (*api.Task, error) {
	var last *api.Task
	err := c.Events(ctx, id, func(ev api.Event) bool {
		if ev.Task != nil {
			last = ev.Task
		}
		return true
	})
	if err == nil && (last == nil || !last.Final()) {
		err = fmt.Errorf("the event stream of %s ended before the task did (last %+v)", id, last)
	}
	return last, err
}

// TestClusterOnPostgres: three real `lector serve` processes on one private
// PostgreSQL server. 60 tasks are submitted round-robin to all three; one
// node is killed with SIGKILL while it runs tasks; every accepted task ends
// succeeded exactly once (across the three logs), with its result, the
// killed node's tasks on a second attempt; each task is followed to its end
// by an event stream opened on a node other than the one it ran on; the
// cluster view shows the killed node gone; a cancel sent to one node stops
// a task running on another, whose runtime then holds nothing.
func TestClusterOnPostgres(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t).NewDatabase(t)
	ctx := t.Context()
	nodes := []*serverProcess{startNode(t, db), startNode(t, db), startNode(t, db)}
	ids := make([]string, len(nodes))
	created := 0
	for i, n := range nodes {
		ids[i] = nodeID(t, n)
		created += strings.Count(n.logs.String(), `msg="database schema created"`)
	}
	if created != 1 {
		t.Errorf("%d nodes logged creating the schema, want 1", created)
	}
	const model = "synthetic:8MiB,t=400ms"
	img := grayPNG(t, 1000, 1000) // one megapixel: synthetic t= is per megapixel
	var tasks []string
	for i := range 60 {
		tk, err := nodes[i%3].client.Submit(ctx, "p.png", bytes.NewReader(img), api.Options{Model: model})
		if err != nil {
			t.Fatalf("submission %d to node %d: %v", i, i%3, err)
		}
		tasks = append(tasks, tk.ID)
	}
	// Kill node 1 while it runs tasks.
	victim := nodes[1]
	victim.logs.waitFor(t, 0, `msg="task working"`)
	if err := victim.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = victim.wait()
	survivors := []*serverProcess{nodes[0], nodes[2]}
	survivorIDs := []string{ids[0], ids[2]}

	// Follow every task to its end on a surviving node: the one it did not
	// run on when that is known at the end (checked below).
	var mu sync.Mutex
	final := map[string]*api.Task{}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i, id := range tasks {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			c := survivors[i%2].client
			tk, err := followToEnd(ctx, c, id)
			if err != nil {
				t.Errorf("task %s on node %s: %v", id, survivorIDs[i%2], err)
				return
			}
			mu.Lock()
			final[id] = tk
			mu.Unlock()
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	crossNode, rescued := 0, 0
	for i, id := range tasks {
		tk := final[id]
		if tk.Status != "succeeded" {
			t.Errorf("task %s ended %s (%+v)", id, tk.Status, tk.Error)
			continue
		}
		if tk.Node != survivorIDs[i%2] {
			crossNode++
		}
		if tk.Attempts > 1 {
			rescued++
		}
		var out bytes.Buffer
		if err := survivors[(i+1)%2].client.Result(ctx, id, "txt", &out); err != nil || out.Len() == 0 {
			t.Errorf("result of %s from another node: %v", id, err)
		}
	}
	if crossNode == 0 {
		t.Error("no event stream followed a task that ran on another node")
	}
	if rescued == 0 {
		t.Error("no task of the killed node ran a second time")
	}
	all := nodes[0].logs.String() + "\n" + nodes[1].logs.String() + "\n" + nodes[2].logs.String()
	for _, id := range tasks {
		if n := len(regexp.MustCompile(`msg="task succeeded" task=`+id).FindAllString(all, -1)); n != 1 {
			t.Errorf("task %s succeeded %d times", id, n)
		}
	}
	if !strings.Contains(nodes[0].logs.String()+nodes[2].logs.String(), "nodes stopped heartbeating") {
		t.Error("no surviving node logged the rescue")
	}
	t.Logf("%d tasks followed across nodes, %d ran again after the kill", crossNode, rescued)

	// The cluster view: both survivors live, the killed node gone; the
	// answering node says who it is.
	var sys server.SystemView
	if err := nodes[0].client.System(ctx, &sys); err != nil {
		t.Fatal(err)
	}
	states := map[string]string{}
	for _, n := range sys.Nodes {
		states[n.ID] = n.State
		if n.State == "live" && (n.System == nil || len(n.System.Devices) == 0) {
			t.Errorf("live node %s has no system view", n.ID)
		}
	}
	if sys.Node != ids[0] || states[ids[0]] != "live" || states[ids[2]] != "live" || states[ids[1]] != "gone" {
		t.Errorf("cluster view answered by %s: %v", sys.Node, states)
	}
	line, _ := nodes[2].logs.waitFor(t, 0, `msg="lector serving"`)
	addr := regexp.MustCompile(` addr=(\S+)`).FindStringSubmatch(line)[1]
	out, stderr, err := run(t, testEnv(), "ps", "--server", "http://"+addr)
	if err != nil {
		t.Fatalf("ps: %v %s", err, stderr)
	}
	for _, want := range []string{ids[2] + " (answered)", ids[0], ids[1], "gone", "live"} {
		if !strings.Contains(out, want) {
			t.Errorf("lector ps does not show %q:\n%s", want, out)
		}
	}
	// ps --json is the whole view, nodes included.
	out, stderr, err = run(t, testEnv(), "ps", "--json", "--server", "http://"+addr)
	var psView server.SystemView
	if err != nil || json.Unmarshal([]byte(out), &psView) != nil || psView.Node != ids[2] || len(psView.Nodes) != 3 || len(psView.Devices) == 0 {
		t.Errorf("ps --json: %v %s\n%s", err, stderr, out)
	}
	// The web page's system page shows the same cluster.
	bctx := newBrowser(t)
	browse(t, bctx, "opening the system page", chromedp.Navigate(nodes[0].client.Base+"/#/system"))
	waitJS(t, bctx, "the three nodes", `document.querySelectorAll('#node-rows tr').length === 3 &&
		document.querySelector('#node-rows tr[data-node="`+ids[1]+`"]').textContent.includes('gone') &&
		document.querySelector('#node-rows tr[data-node="`+ids[0]+`"]').textContent.includes('(this one)')`)

	// Cancel across nodes: a long task, found running on one survivor, is
	// cancelled through the other.
	long, err := nodes[0].client.Submit(ctx, "p.png", bytes.NewReader(img), api.Options{Model: "synthetic:8MiB,t=60s"})
	if err != nil {
		t.Fatal(err)
	}
	var runner, other *serverProcess
	err = nodes[2].client.Events(ctx, long.ID, func(ev api.Event) bool {
		return ev.Task == nil || ev.Task.Status != "running"
	})
	if err != nil {
		t.Fatal(err)
	}
	tk, err := nodes[2].client.Get(ctx, long.ID)
	if err != nil || tk.Status != "running" {
		t.Fatalf("long task: %+v %v", tk, err)
	}
	switch tk.Node {
	case ids[0]:
		runner, other = nodes[0], nodes[2]
	case ids[2]:
		runner, other = nodes[2], nodes[0]
	default:
		t.Fatalf("the long task runs on %q, not a live node", tk.Node)
	}
	runner.logs.waitFor(t, 0, `msg="task working" task=`+long.ID)
	sent := time.Now()
	if _, err := other.client.Cancel(ctx, long.ID); err != nil {
		t.Fatal(err)
	}
	end, err := followToEnd(ctx, other.client, long.ID)
	if err != nil || end.Status != "canceled" {
		t.Fatalf("the cancelled task: %+v %v", end, err)
	}
	t.Logf("a cancel sent to one node ended the task on another in %s", time.Since(sent).Round(time.Millisecond))
	runner.logs.waitFor(t, 0, `msg="task canceled" task=`+long.ID)
	if err := runner.client.System(ctx, &sys); err != nil {
		t.Fatal(err)
	}
	for _, d := range sys.Devices {
		if d.ReservedBytes != 0 || (d.Service != nil && d.Service.Busy != 0) {
			t.Errorf("after the cancel, %s on the running node holds %d bytes and %d busy lanes", d.ID, d.ReservedBytes, d.Service.Busy)
		}
	}
}

// TestClusterSurvivesPostgresRestart: PostgreSQL is stopped while two
// nodes run tasks: submissions answer 503 unavailable with Retry-After
// meanwhile; once it is back the nodes reconnect by themselves, and every
// accepted task ends succeeded exactly once.
func TestClusterSurvivesPostgresRestart(t *testing.T) {
	t.Parallel()
	pg := pgtest.New(t)
	const password = "pw-never-printed" // the server trusts the socket; the URL carries one all the same
	db := strings.Replace(pg.NewDatabase(t), pgtest.User+"@", pgtest.User+":"+password+"@", 1)
	ctx := t.Context()
	nodes := []*serverProcess{startNode(t, db), startNode(t, db)}
	img := grayPNG(t, 1000, 1000) // one megapixel: synthetic t= is per megapixel
	var tasks []string
	for i := range 12 {
		tk, err := nodes[i%2].client.Submit(ctx, "p.png", bytes.NewReader(img), api.Options{Model: "synthetic:8MiB,t=700ms"})
		if err != nil {
			t.Fatal(err)
		}
		tasks = append(tasks, tk.ID)
	}
	nodes[0].logs.waitFor(t, 0, `msg="task working"`)
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	for i, n := range nodes {
		_, err := n.client.Submit(ctx, "p.png", bytes.NewReader(img), api.Options{Model: "synthetic:8MiB,t=10ms"})
		var se *api.StatusError
		if !errors.As(err, &se) || se.Status != http.StatusServiceUnavailable || se.Code != "unavailable" {
			t.Errorf("node %d: a submission while the database is down: %v, want 503 unavailable", i, err)
		} else if se.RetryAfter != "5" || strings.Contains(se.Message, "postgres://") || strings.Contains(se.Message, pgtest.User) {
			t.Errorf("node %d: Retry-After %q, message %q: want 5 and no database host or user", i, se.RetryAfter, se.Message)
		}
	}
	for _, n := range nodes { // the outage spans a heartbeat of each node
		n.logs.waitFor(t, 0, `msg="node heartbeat failed"`)
	}
	// lector ps: the node's own table, and the cluster's error (exit 1).
	out, stderr, err := run(t, testEnv(), "ps", "--server", nodes[0].client.Base)
	if err == nil || !strings.Contains(out, "MODEL") || !strings.Contains(err.Error(), "the cluster's nodes cannot be listed") {
		t.Errorf("ps during the outage: %v\n%s\n%s", err, out, stderr)
	}
	if err := pg.Start(); err != nil {
		t.Fatal(err)
	}
	for i, id := range tasks {
		var tk *api.Task
		var err error
		// The first request after the restart may meet a pooled connection
		// the server closed: it answers unavailable, and a retry gets a new one.
		for range 5 {
			if tk, err = followToEnd(ctx, nodes[i%2].client, id); err == nil {
				break
			}
		}
		if err != nil || tk.Status != "succeeded" {
			t.Fatalf("task %s after the restart: %+v %v", id, tk, err)
		}
	}
	tk, err := nodes[1].client.Submit(ctx, "p.png", bytes.NewReader(img), api.Options{Model: "synthetic:8MiB,t=10ms"})
	if err != nil {
		t.Fatalf("a submission after the restart: %v", err)
	}
	if end, err := followToEnd(ctx, nodes[0].client, tk.ID); err != nil || end.Status != "succeeded" {
		t.Fatalf("a task submitted after the restart: %+v %v", end, err)
	}
	all := nodes[0].logs.String() + "\n" + nodes[1].logs.String()
	for _, id := range tasks {
		if n := len(regexp.MustCompile(`msg="task succeeded" task=`+id).FindAllString(all, -1)); n != 1 {
			t.Errorf("task %s succeeded %d times", id, n)
		}
	}
	if !strings.Contains(all, "heartbeat failed") || !strings.Contains(all, `database="postgres://lector@/`) {
		t.Errorf("the logs do not show the outage and the database (the test would not see a password printed there):\n%s", all)
	}
	if strings.Contains(all, password) {
		t.Errorf("a node printed the database password:\n%s", all)
	}
}

// TestServeRefusesAnUnreachableDatabase: a PostgreSQL URL nobody answers
// is a clear error that names the database without its password (nowhere:
// neither the error nor the log) and a non-zero exit.
func TestServeRefusesAnUnreachableDatabase(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	url := "postgres://lector:s3cret-pw@/lector?host=" + dir + "&port=5432&connect_timeout=2"
	cmd := exec.Command(os.Args[0], "serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--database", url)
	cmd.Env = append(os.Environ(), TestMainEnv+"=1")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() == 0 {
		t.Fatalf("serve with an unreachable database: %v\n%s", err, out)
	}
	if bytes.Contains(out, []byte("s3cret-pw")) {
		t.Fatalf("the password was printed:\n%s", out)
	}
	if !bytes.Contains(out, []byte("postgres://lector@/lector")) || !bytes.Contains(out, []byte("cannot reach the database")) {
		t.Fatalf("the error does not name the database:\n%s", out)
	}
}

// TestClusterQueueBoundsAcrossNodes: with every worker of three nodes busy,
// 30 submissions at once, spread over the three, against a bound of 10
// queued tasks: exactly 10 are accepted, the rest answer 503 queue_full
// with Retry-After.
func TestClusterQueueBoundsAcrossNodes(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t).NewDatabase(t)
	ctx := t.Context()
	var nodes []*serverProcess
	for range 3 {
		nodes = append(nodes, startProcess(t, t.TempDir(), "--database", db, "--workers", "1", "--max-queued-tasks", "10"))
	}
	img := grayPNG(t, 1000, 1000)
	for i := range 3 { // one long task per worker
		tk, err := nodes[i].client.Submit(ctx, "p.png", bytes.NewReader(img), api.Options{Model: "synthetic:8MiB,t=60s"})
		if err != nil {
			t.Fatal(err)
		}
		if err := nodes[i].client.Events(ctx, tk.ID, func(ev api.Event) bool { return ev.Task == nil || ev.Task.Status != "running" }); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	accepted, full := 0, 0
	for i := range 30 {
		wg.Go(func() {
			_, err := nodes[i%3].client.Submit(ctx, "p.png", bytes.NewReader(img), api.Options{Model: "synthetic:8MiB,t=10ms"})
			var se *api.StatusError
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				accepted++
			case errors.As(err, &se) && se.Status == http.StatusServiceUnavailable && se.Code == "queue_full" && se.RetryAfter != "":
				full++
			default:
				t.Errorf("submission %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if accepted != 10 || full != 20 {
		t.Fatalf("%d accepted and %d refused queue_full, want 10 and 20", accepted, full)
	}
}

// TestServeRefusesBadClusterSettings: a key=value connection string (taken
// for a SQLite file name before: a file named after it, password and all,
// in the working directory), a mysql:// URL and a node timeout under three
// heartbeat intervals are usage errors (exit 2) that say what to do, print
// no password, and create nothing.
func TestServeRefusesBadClusterSettings(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--database", "host=db user=lector password=s3cret-pw dbname=lector"}, "use the postgres:// URL form"},
		{[]string{"--database", "mysql://lector:s3cret-pw@db/lector"}, "scheme mysql:// is not supported"},
		{[]string{"--heartbeat-interval", "2s", "--node-timeout", "3s"}, "must be at least 3 × --heartbeat-interval"},
	} {
		wd := t.TempDir()
		cmd := exec.Command(os.Args[0], append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", filepath.Join(wd, "data")}, c.args...)...)
		cmd.Dir = wd
		cmd.Env = append(os.Environ(), TestMainEnv+"=1")
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Errorf("serve %v: %v, want exit 2\n%s", c.args, err, out)
		}
		if !bytes.Contains(out, []byte(c.want)) || bytes.Contains(out, []byte("s3cret-pw")) {
			t.Errorf("serve %v printed:\n%s\nwant %q and no password", c.args, out, c.want)
		}
		if entries, _ := os.ReadDir(wd); len(entries) != 0 {
			t.Errorf("serve %v created %v in the working directory", c.args, entries)
		}
	}
}
