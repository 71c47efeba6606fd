package app_test

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/headroom/headroom/lab"
	"github.com/headroom/headroom/lab/app"
	"github.com/headroom/headroom/lab/deps"
	"github.com/headroom/headroom/lab/seed"
)

// eventually polls check every 20ms until it returns nil, failing the test after 30s.
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func send(t *testing.T, method, url, body string, out any) int {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, url, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

func mailServer(t *testing.T, latency string) *deps.MailServer {
	t.Helper()
	lat, err := deps.ParseLatency(latency)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := deps.StartMailServer(t.Context(), deps.MailServerConfig{Latency: lat})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ms.Close(context.Background()) })
	return ms
}

// TestAsyncInviteAnswersBeforeTheMail: with sync_email off the invite is answered once its row
// and outbox job commit, before the mail server (300 ms per message) has the email; the email
// then goes out from a worker, once, and the job's spans join the request's trace.
func TestAsyncInviteAnswersBeforeTheMail(t *testing.T) {
	t.Parallel()
	ms := mailServer(t, "300ms")
	a, rec := startRecorded(t, app.Config{SMTPAddr: ms.Addr()})
	url := a.Info().URL

	var inv lab.Invite
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, url+"/api/invites", strings.NewReader(`{"inviter_id":1,"email":"f@example.com"}`))
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	delivered := ms.Delivered() // right when the answer arrived
	_ = json.NewDecoder(resp.Body).Decode(&inv)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || inv.ID == 0 || inv.SentAt != nil {
		t.Fatalf("POST /api/invites = %d %+v, want 202 with the invite not yet sent", resp.StatusCode, inv)
	}
	if delivered != 0 {
		t.Errorf("the mail server had %d messages when the answer arrived, want 0 (the email is sent after)", delivered)
	}
	eventually(t, "email sent by the worker", func() error {
		if ms.Delivered() != 1 {
			return fmt.Errorf("%d emails delivered", ms.Delivered())
		}
		return nil
	})
	msgs := ms.Messages()
	if len(msgs) != 1 || msgs[0].To[0] != "f@example.com" || !bytes.Contains(msgs[0].Data, []byte(inv.Token)) {
		t.Errorf("mail = %+v, want one invite email to f@example.com with the token", msgs)
	}
	eventually(t, "job span in the request's trace", func() error {
		spans := spansOf(rec, "4bf92f3577b34da6a3ce929d0e0e4736")
		if !has(spans, "process email consumer") || !has(spans, "smtp send client") || !has(spans, "INSERT outbox client") {
			return fmt.Errorf("spans %v", spans)
		}
		return nil
	})
	var jv struct {
		Queues []struct {
			Queue string `json:"queue"`
			Done  int64  `json:"done"`
			Depth int64  `json:"depth"`
		} `json:"queues"`
		Outbox struct {
			Pending int64 `json:"pending"`
		} `json:"outbox"`
	}
	eventually(t, "admin/jobs counts the email job", func() error {
		if code := send(t, "GET", url+"/admin/jobs", "", &jv); code != 200 {
			return fmt.Errorf("GET /admin/jobs = %d", code)
		}
		for _, q := range jv.Queues {
			if q.Queue == "email" && q.Done == 1 && q.Depth == 0 && jv.Outbox.Pending == 0 {
				return nil
			}
		}
		return fmt.Errorf("%+v", jv)
	})
	_, metrics := get(t, a.Info().Metrics)
	for _, m := range []string{"lab_jobs_wait_seconds_bucket", "lab_jobs_run_seconds_bucket", `lab_jobs_finished_total{outcome="done",queue="email"} 1`, "lab_outbox_published_total 1", `lab_jobs_queue_depth{queue="email"} 0`} {
		if !strings.Contains(metrics, m) {
			t.Errorf("metrics lack %s:\n%s", m, labLines(metrics))
		}
	}
}

// TestVideoPipeline: the upload is answered with its id; thumbnail, encode and subtitles run in
// parallel and write real files, then finalize marks the video ready.
func TestVideoPipeline(t *testing.T) {
	t.Parallel()
	media := t.TempDir()
	a, _ := startRecorded(t, app.Config{Jobs: app.JobsConfig{MediaDir: media}})
	url := a.Info().URL
	const size = 300_000
	var v lab.Video
	if code := send(t, "POST", url+"/api/videos", fmt.Sprintf(`{"owner_id":2,"title":"cats","size_bytes":%d}`, size), &v); code != http.StatusAccepted || v.Status != lab.VideoProcessing {
		t.Fatalf("POST /api/videos = %d %+v, want 202 processing", code, v)
	}
	eventually(t, "video ready", func() error {
		if code := send(t, "GET", fmt.Sprintf("%s/api/videos/%d", url, v.ID), "", &v); code != 200 || v.Status != lab.VideoReady {
			return fmt.Errorf("GET video = %d %+v", code, v)
		}
		return nil
	})
	if len(v.Stages) != 3 || v.Checksum == "" {
		t.Errorf("ready video = %+v, want 3 stages and a checksum", v)
	}
	f, err := os.Open(filepath.Join(media, fmt.Sprintf("video-%d-thumb.png", v.ID)))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil || img.Bounds().Dx() != 160 || img.Bounds().Dy() != 90 {
		t.Errorf("thumbnail: %v, %v; want a 160x90 PNG", err, img.Bounds())
	}
	enc, err := os.ReadFile(filepath.Join(media, fmt.Sprintf("video-%d.deflate", v.ID)))
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, flate.NewReader(bytes.NewReader(enc)))
	if err != nil || n != size || len(enc) >= size {
		t.Errorf("encoded video inflates to %d bytes (%v) from %d, want %d from fewer", n, err, len(enc), size)
	}
	vtt, err := os.ReadFile(filepath.Join(media, fmt.Sprintf("video-%d.vtt", v.ID)))
	if err != nil {
		t.Fatal(err)
	}
	// 300 kB at 500 kB/s: 0.6 s, rounded up to one second: one cue.
	if !bytes.HasPrefix(vtt, []byte("WEBVTT")) || !bytes.Contains(vtt, []byte("00:00:00.000 --> 00:00:01.000")) {
		t.Errorf("subtitles:\n%s", vtt)
	}
	if code := send(t, "GET", url+"/api/videos/999999", "", nil); code != 404 {
		t.Errorf("GET unknown video = %d, want 404", code)
	}
}

// TestAccountDeletionInChunks: DELETE /api/account answers 202 with the deletion; the workers
// delete in chunks with visible progress, and the user is gone at the end.
func TestAccountDeletionInChunks(t *testing.T) {
	t.Parallel()
	a, _ := startRecorded(t, app.Config{Jobs: app.JobsConfig{DeleteChunk: 3}})
	url := a.Info().URL
	var d lab.Deletion
	if code := send(t, "DELETE", url+"/api/account?user_id=3", "", &d); code != http.StatusAccepted || d.ID == 0 || d.Total < 5 {
		t.Fatalf("DELETE /api/account = %d %+v, want 202 with a deletion of several rows", code, d)
	}
	eventually(t, "deletion done", func() error {
		if code := send(t, "GET", fmt.Sprintf("%s/api/account/deletions/%d", url, d.ID), "", &d); code != 200 || d.Status != lab.DeletionDone {
			return fmt.Errorf("GET deletion = %d %+v", code, d)
		}
		return nil
	})
	if d.Deleted != d.Total || d.Chunks < d.Total/3 {
		t.Errorf("deletion = %+v, want all rows in chunks of at most 3", d)
	}
	if code := send(t, "DELETE", url+"/api/account?user_id=3", "", nil); code != 404 {
		t.Errorf("deleting the deleted user again = %d, want 404", code)
	}
	// Canceling a finished deletion changes nothing.
	var c lab.Deletion
	if code := send(t, "DELETE", fmt.Sprintf("%s/api/account/deletions/%d", url, d.ID), "", &c); code != 200 || c.Status != lab.DeletionDone {
		t.Errorf("cancel a done deletion = %d %+v", code, c)
	}
}

// TestDeletionLeavesWritesUnblocked: on SQLite, where a write transaction holds the whole
// database, a large account's deletion runs in short transactions (200 rows), so API writes go
// through between them, not after the deletion. After each write's answer the test reads the
// deletion's progress: writes that interleave with the chunks see many different progress
// points (a deletion in one transaction per table would show at most 6).
func TestDeletionLeavesWritesUnblocked(t *testing.T) {
	t.Parallel()
	a, err := app.Start(t.Context(), app.Config{
		Addr: "127.0.0.1:0", DB: "sqlite:" + filepath.Join(t.TempDir(), "lab.db"), Log: io.Discard,
		Seed:        seed.Config{Users: 2, PostsPerUser: 4000, CommentsPerPost: 2},
		MailLatency: fast(), LogLatency: fast(), PaymentLatency: fast(),
		Jobs: app.JobsConfig{DeleteChunk: 200},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Shutdown(context.Background()) })
	url := a.Info().URL
	var d lab.Deletion
	if code := send(t, "DELETE", url+"/api/account?user_id=1", "", &d); code != http.StatusAccepted || d.Total < 4000 {
		t.Fatalf("DELETE /api/account = %d %+v, want 202 with a deletion of thousands of rows", code, d)
	}
	seen := map[int64]bool{} // progress points seen after a write, the deletion still running
	writes := 0
	var slowest time.Duration
	for d.Status == lab.DeletionRunning {
		start := time.Now()
		if code := send(t, "POST", url+"/api/checkout", `{"user_id":2,"amount_cents":5}`, nil); code >= 300 {
			t.Fatalf("POST /api/checkout during the deletion = %d", code)
		}
		slowest = max(slowest, time.Since(start))
		writes++
		if code := send(t, "GET", fmt.Sprintf("%s/api/account/deletions/%d", url, d.ID), "", &d); code != 200 {
			t.Fatalf("GET deletion = %d", code)
		}
		if d.Status == lab.DeletionRunning && d.Deleted > 0 && d.Deleted < d.Total {
			seen[d.Deleted] = true
		}
	}
	if d.Status != lab.DeletionDone || d.Deleted != d.Total {
		t.Fatalf("deletion ended %+v, want done with every row", d)
	}
	if len(seen) < 10 {
		t.Errorf("%d writes saw the deletion of %d rows (%d chunks) at %d progress points, want at least 10", writes, d.Total, d.Chunks, len(seen))
	}
	t.Logf("%d writes saw a deletion of %d rows in %d chunks at %d progress points; slowest write %v", writes, d.Total, d.Chunks, len(seen), slowest)
}

// TestSyncSwitchesKeepTheOldBehaviour: with sync_email, sync_video and sync_delete on, the
// three endpoints do their work inside the request, as before the queue existed.
func TestSyncSwitchesKeepTheOldBehaviour(t *testing.T) {
	t.Parallel()
	ms := mailServer(t, "0s")
	a, _ := startRecorded(t, app.Config{SMTPAddr: ms.Addr(), Antipatterns: lab.AntipatternSet{lab.SyncEmail: true, lab.SyncVideo: true, lab.SyncDelete: true}})
	url := a.Info().URL
	var inv lab.Invite
	if code := send(t, "POST", url+"/api/invites", `{"inviter_id":1,"email":"f@example.com"}`, &inv); code != 201 || inv.SentAt == nil || ms.Delivered() != 1 {
		t.Errorf("sync invite = %d %+v, %d delivered; want 201, sent, 1", code, inv, ms.Delivered())
	}
	var v lab.Video
	if code := send(t, "POST", url+"/api/videos", `{"owner_id":2,"title":"t","size_bytes":1000}`, &v); code != 201 || v.Status != lab.VideoReady {
		t.Errorf("sync video = %d %+v, want 201 ready", code, v)
	}
	var del map[string]any
	if code := send(t, "DELETE", url+"/api/account?user_id=4", "", &del); code != 200 || del["deleted_user"] != 4.0 {
		t.Errorf("sync delete = %d %v, want 200", code, del)
	}
}

// TestDeadLettersInspectAndReplay: an email job that keeps failing (the mail server is down)
// ends in the dead-letter queue with its error, visible over the admin API; once the mail server
// is back, replaying it sends the email.
func TestDeadLettersInspectAndReplay(t *testing.T) {
	t.Parallel()
	down := newDownListener(t)
	addr := down.Addr().String()
	a, _ := startRecorded(t, app.Config{SMTPAddr: addr, Jobs: app.JobsConfig{MaxAttempts: 2, BackoffMin: 10 * time.Millisecond}})
	url := a.Info().URL
	if code := send(t, "POST", url+"/api/invites", `{"inviter_id":1,"email":"f@example.com"}`, nil); code != http.StatusAccepted {
		t.Fatalf("invite = %d", code)
	}
	var dead struct {
		Dead []struct {
			ID      string `json:"id"`
			Attempt int    `json:"attempt"`
			Reason  string `json:"reason"`
			Payload string `json:"payload"`
		} `json:"dead"`
	}
	eventually(t, "email job dead-lettered", func() error {
		if code := send(t, "GET", url+"/admin/jobs/email/dead", "", &dead); code != 200 || len(dead.Dead) != 1 {
			return fmt.Errorf("GET dead = %d %+v", code, dead)
		}
		return nil
	})
	d := dead.Dead[0]
	if !strings.Contains(d.Reason, "attempt 2 of 2") || !strings.Contains(d.Reason, "send invite") || d.Payload != `{"invite_id":1}` {
		t.Errorf("dead letter = %+v, want the last send error after 2 attempts", d)
	}
	lat, _ := deps.ParseLatency("0s")
	back, err := deps.StartMailServer(t.Context(), deps.MailServerConfig{Listener: down.takeOver(t), Latency: lat})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = back.Close(context.Background()) })
	if code := send(t, "POST", url+"/admin/jobs/email/dead/"+d.ID+"/replay", "", nil); code != 200 {
		t.Fatalf("replay = %d", code)
	}
	eventually(t, "replayed email sent", func() error {
		if back.Delivered() != 1 {
			return fmt.Errorf("%d delivered", back.Delivered())
		}
		return nil
	})
	var jv app.JobsView
	if code := send(t, "GET", url+"/admin/jobs", "", &jv); code != 200 {
		t.Fatalf("GET /admin/jobs = %d", code)
	}
	i := slices.IndexFunc(jv.Queues, func(q app.QueueView) bool { return q.Queue == "email" })
	if i < 0 {
		t.Fatalf("GET /admin/jobs has no email queue: %+v", jv.Queues)
	}
	if q := jv.Queues[i]; q.DeadLettered != 1 || q.Dead != 0 {
		t.Errorf("email queue: dead_lettered %d, dead %d; want 1 ever dead-lettered, none left after the replay", q.DeadLettered, q.Dead)
	}
	if code := send(t, "POST", url+"/admin/jobs/email/dead/nope/replay", "", nil); code != 404 {
		t.Errorf("replay of an unknown id = %d, want 404", code)
	}
	if code := send(t, "GET", url+"/admin/jobs/Bad%20Queue/dead", "", nil); code != 400 {
		t.Errorf("dead letters of a bad queue name = %d, want 400", code)
	}
}

// downListener holds a loopback port for a mail server that is down: it hangs up on every
// connection. takeOver hands the same socket to the server that comes back, so no other socket
// (another test's outgoing connection, say) can take the port in between.
type downListener struct {
	*net.TCPListener
	done chan struct{}
}

func newDownListener(t *testing.T) *downListener {
	t.Helper()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() }) // a no-op once the mail server has taken it and closed it
	d := &downListener{TCPListener: ln, done: make(chan struct{})}
	go func() {
		defer close(d.done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	return d
}

// takeOver stops hanging up (an Accept deadline in the past ends the loop) and returns the
// listener, ready to serve.
func (d *downListener) takeOver(t *testing.T) net.Listener {
	t.Helper()
	if err := d.SetDeadline(time.Unix(1, 0)); err != nil {
		t.Fatal(err)
	}
	<-d.done
	if err := d.SetDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	return d.TCPListener
}
