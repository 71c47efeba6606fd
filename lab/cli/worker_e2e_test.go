package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/headroom/headroom/lab/app"
	"github.com/headroom/headroom/lab/deps"
	"github.com/headroom/headroom/lab/jobs"
	"github.com/headroom/headroom/lab/jobs/natsq"
	"github.com/headroom/headroom/lab/seed"
	"github.com/headroom/headroom/lab/store/sqlite"
	"github.com/headroom/headroom/lab/tasks"
)

// buildLab builds headroom-lab for a test that needs it as a real child process (the go build
// cache makes the second build a link).
func buildLab(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "headroom-lab")
	cmd := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "github.com/headroom/headroom/cmd/headroom-lab")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// testLab starts the lab in this process on a fresh SQLite file with a mail server of the given
// latency; with external set it runs no workers, leaving the jobs to worker processes. It returns
// the lab's info, its database file and the mail server.
func testLab(t *testing.T, mailLatency string, external bool) (app.Info, string, *deps.MailServer) {
	t.Helper()
	lat, err := deps.ParseLatency(mailLatency)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := deps.StartMailServer(t.Context(), deps.MailServerConfig{Latency: lat, Keep: 1000})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ms.Close(context.Background()) })
	db := filepath.Join(t.TempDir(), "lab.db")
	a, err := app.Start(t.Context(), app.Config{
		Addr: "127.0.0.1:0", DB: "sqlite:" + db, ExternalWorkers: external, SMTPAddr: ms.Addr(),
		Seed: seed.Config{Users: 5, PostsPerUser: 1}, LogLatency: &deps.Latency{}, PaymentLatency: &deps.Latency{}, Log: io.Discard,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Shutdown(context.Background()) })
	return a.Info(), db, ms
}

// workerProc is a `headroom-lab worker` child process.
type workerProc struct {
	cmd     *exec.Cmd
	metrics string // its /metrics URL
}

func startWorker(t *testing.T, bin string, args ...string) *workerProc {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"worker", "--addr", "127.0.0.1:0", "--log-level", "error"}, args...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w := &workerProc{cmd: cmd}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if m, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "metrics "); ok {
			w.metrics = m
			break
		}
	}
	if w.metrics == "" {
		t.Fatal("the worker did not report its metrics URL")
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	return w
}

func (w *workerProc) kill(t *testing.T) {
	t.Helper()
	if err := w.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = w.cmd.Wait()
}

// scrape returns the sum of a metric's samples on a /metrics page.
func scrape(t *testing.T, url, name string) float64 {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	re := regexp.MustCompile(`(?m)^` + name + `(?:\{[^}]*\})? (\S+)$`)
	sum := 0.0
	for _, m := range re.FindAllStringSubmatch(string(b), -1) {
		v, _ := strconv.ParseFloat(m[1], 64)
		sum += v
	}
	return sum
}

// TestKillWorkerMidJob runs the email jobs on `headroom lab worker` processes and kills them
// (SIGKILL) mid-job, repeatedly. Every invite's email goes out exactly once (none lost; a send
// repeated after a kill mid-send is dropped by its Message-ID), and jobs that run again after
// having been done are absorbed by the idempotency check and counted.
func TestKillWorkerMidJob(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the CLI and kills worker processes")
	}
	bin := buildLab(t)
	info, db, ms := testLab(t, "150ms", true)
	args := []string{"--queue", info.QueueURL, "--db", "sqlite:" + db, "--smtp", ms.Addr(), "--job-ack-wait", "1s"}

	const n = 60
	for i := range n {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, info.URL+"/api/invites", strings.NewReader(fmt.Sprintf(`{"inviter_id":%d,"email":"u%d@example.com"}`, 1+i%5, i)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("invite %d = %d", i, resp.StatusCode)
		}
	}

	const kills = 4
	for k := range kills {
		w := startWorker(t, bin, args...)
		before := ms.Delivered()
		deadline := time.Now().Add(30 * time.Second)
		for ms.Delivered() < before+3 && time.Now().Before(deadline) { // mid-run: some sent, more running
			time.Sleep(10 * time.Millisecond)
		}
		w.kill(t)
		t.Logf("kill %d: %d emails delivered so far", k+1, ms.Delivered())
	}
	last := startWorker(t, bin, args...)

	store, err := sqlite.Open(t.Context(), sqlite.Config{Path: db})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	deadline := time.Now().Add(90 * time.Second)
	var unsent []int64
	for {
		unsent = unsent[:0]
		for id := int64(1); id <= n; id++ {
			inv, err := store.GetInvite(t.Context(), id)
			if err != nil {
				t.Fatal(err)
			}
			if inv.SentAt == nil {
				unsent = append(unsent, id)
			}
		}
		if len(unsent) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(unsent) > 0 {
		t.Fatalf("invites never sent after %d worker kills: %v", kills, unsent)
	}
	got := map[string]int{}
	for _, m := range ms.Messages() {
		got[m.To[0]]++
	}
	for i := range n {
		if c := got[fmt.Sprintf("u%d@example.com", i)]; c != 1 {
			t.Errorf("u%d@example.com got %d emails, want exactly 1", i, c)
		}
	}
	// At least once underneath: a worker killed while the mail server held a message sends it
	// again on redelivery, with the same Message-ID, which the mail server drops and counts; each
	// kill can repeat at most the jobs running then (16 at once).
	if d := ms.Duplicates(); d > kills*16 {
		t.Errorf("%d repeated sends after %d kills, want at most %d", d, kills, kills*16)
	}
	t.Logf("%d emails for %d invites after %d kills; %d repeated sends by kills mid-send dropped by Message-ID", ms.Delivered(), n, kills, ms.Duplicates())

	// Jobs that run again after their email went out are absorbed and counted: publish every
	// email job once more under new ids, as a broker's redelivery would hand them out.
	eng, err := natsq.New(t.Context(), natsq.Config{URL: info.QueueURL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close() })
	sent := ms.Delivered()
	for id := int64(1); id <= n; id++ {
		m := tasks.EmailJob(nil)(id)
		if err := eng.Publish(t.Context(), jobs.Message{ID: fmt.Sprint("again-", id), Queue: m.Queue, Payload: m.Payload, EnqueuedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	deadline = time.Now().Add(30 * time.Second)
	for scrape(t, last.metrics, "lab_jobs_duplicates_total") < n && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if d := scrape(t, last.metrics, "lab_jobs_duplicates_total"); d < n {
		t.Errorf("lab_jobs_duplicates_total = %v, want ≥ %d (every repeated job absorbed)", d, n)
	}
	if ms.Delivered() != sent {
		t.Errorf("repeated jobs sent %d more emails, want none", ms.Delivered()-sent)
	}
	// The lab reports the separate worker's counts (shared through its database every second).
	var email app.QueueView
	for deadline = time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if email = fetchJobs(t, info.URL)[0]; email.Duplicates >= n {
			break
		}
	}
	if email.Duplicates < n || email.Done < n {
		t.Errorf("lab jobs, email: %+v; want the separate workers' ≥ %d done and ≥ %d duplicates", email, n, n)
	}
}

// fetchJobs runs `headroom lab jobs --json` against the lab at url and returns its queues.
func fetchJobs(t *testing.T, url string) []app.QueueView {
	t.Helper()
	var stdout, stderr strings.Builder
	if code := Run([]string{"jobs", "--lab", url, "--json"}, &stdout, &stderr); code != 0 {
		t.Fatal(stderr.String())
	}
	var jv app.JobsView
	if err := json.Unmarshal([]byte(stdout.String()), &jv); err != nil {
		t.Fatal(err)
	}
	if len(jv.Queues) == 0 || jv.Queues[0].Queue != "email" {
		t.Fatalf("lab jobs: %s, want the email queue first", stdout.String())
	}
	return jv.Queues
}

// TestLabJobsTable: `headroom lab jobs` prints the running lab's queues with the job counts.
func TestLabJobsTable(t *testing.T) {
	t.Parallel()
	info, _, ms := testLab(t, "0s", false)
	url := info.URL
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, url+"/api/invites", strings.NewReader(`{"inviter_id":1,"email":"f@example.com"}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	deadline := time.Now().Add(20 * time.Second)
	for ms.Delivered() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	var stdout, stderr strings.Builder
	var out string
	emailDone := regexp.MustCompile(`(?m)^\s*email\s+0\s+0\s+1\s+0\s+0\s+0\s+-\s*$`)
	// The worker counts the job just after the mail server has it, and the relay marks the
	// outbox row as sent only after the broker acknowledged it, which can be after the job ran.
	for time.Now().Before(deadline) {
		stdout.Reset()
		if code := Run([]string{"jobs", "--lab", url}, &stdout, &stderr); code != 0 {
			t.Fatalf("lab jobs exited %d: %s", code, stderr.String())
		}
		if out = stdout.String(); emailDone.MatchString(out) && strings.Contains(out, "outbox: 0 rows waiting") {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, want := range []string{"queue engine nats", "outbox: 0 rows waiting", "video.thumbnail", "account.delete"} {
		if !strings.Contains(out, want) {
			t.Errorf("lab jobs output lacks %q:\n%s", want, out)
		}
	}
	if !emailDone.MatchString(out) {
		t.Errorf("lab jobs: want the email queue with depth 0, in flight 0, done 1:\n%s", out)
	}
	stdout.Reset()
	if code := Run([]string{"jobs", "--lab", url, "--json"}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), `"queues"`) {
		t.Errorf("lab jobs --json: %d %s", code, stdout.String())
	}
}

// TestWorkerSIGTERMFinishesRunningJobs: a worker process told to stop (SIGTERM) finishes the
// job it is running, then exits 0; nothing is left for the next worker.
func TestWorkerSIGTERMFinishesRunningJobs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the CLI and runs worker processes")
	}
	bin := buildLab(t)
	info, db, ms := testLab(t, "1s", true)
	w := startWorker(t, bin, "--queue", info.QueueURL, "--db", "sqlite:"+db, "--smtp", ms.Addr())
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, info.URL+"/api/invites", strings.NewReader(`{"inviter_id":1,"email":"f@example.com"}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	deadline := time.Now().Add(20 * time.Second)
	for scrape(t, w.metrics, "lab_jobs_running") < 1 && time.Now().Before(deadline) { // the 1 s send has begun
		time.Sleep(10 * time.Millisecond)
	}
	if err := w.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := w.cmd.Wait(); err != nil {
		t.Fatalf("worker after SIGTERM: %v, want exit 0", err)
	}
	if ms.Delivered() != 1 {
		t.Errorf("%d emails delivered when the stopped worker exited, want its running job finished (1)", ms.Delivered())
	}
	var email app.QueueView
	for time.Now().Before(deadline) { // the broker applies the ack asynchronously
		// The worker's last job counts although it stopped right after: it shares its counts
		// once more on the way out.
		if email = fetchJobs(t, info.URL)[0]; email.Depth == 0 && email.InFlight == 0 && email.Done == 1 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("email queue after the graceful stop: %+v, want nothing left and 1 done", email)
}
