package experiments

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/headroom/headroom/result"
)

// The notes' other two examples of asynchronous processing (seeds/004), beside the invite: a
// video's processing and an account's deletion, each inside the request (the lab's sync_video,
// sync_delete) or queued for the workers (the default). The user's wait is measured, and so is
// the work's completion: queued work that never finished would be a faster lie.

// videoStages are the queues of a video's processing; finalize runs last, once per video.
var videoStages = []string{"video.thumbnail", "video.encode", "video.subtitles", "video.finalize"}

var asyncVideo = Definition{
	Name:   "async-video",
	Title:  "Asynchronous processing: the upload answers before the video is processed",
	Claim:  "Upload completes; Background tasks: Thumbnail generation, Encoding, Subtitles; User does not wait for processing",
	Source: Seed004 + ":102-111 (Example: Video Processing)",
	Expected: "with the processing queued, the upload's P50 is at most a third of the P50 with the processing inside " +
		"the request (the lab's sync_video); and the work still completes: every queued video is ready " +
		"(thumbnail, encoding, subtitles, then finalize) within `within` of the last upload",
	Params: []Param{
		{Name: "size", Default: "4194304", Help: "bytes of each uploaded video", Valid: whole(1)},
		// The queued pipeline costs seconds of CPU per 4 MiB video (thumbnail, DEFLATE, subtitles): at 4
		// uploads a second its workers took the 2 cores from the API (queued P50 190 ms, inline 50 ms).
		// Below the machine's processing capacity, the comparison is of the user's wait alone.
		{Name: "rate", Default: "0.5", Help: "uploads per second (keep it below the machine's processing capacity)", Valid: positive},
		{Name: "within", Default: "60s", Help: "how long the queued videos may take to be ready after the last upload"},
	},
	Measure: func(ctx context.Context, e *Env) error {
		if _, err := e.StartLab(ctx); err != nil {
			return err
		}
		body := fmt.Sprintf(`{"owner_id":1,"title":"talk","size_bytes":%s}`, e.Param("size"))
		d := e.Length(24*time.Second, 10*time.Second)
		var before videoCounts
		for _, c := range []struct{ name, switches, setup string }{
			{"inline", "sync_video", "sync_video on: the upload is processed inside the request"},
			{"queued", "none", "the processing queued: thumbnail, encode and subtitles jobs, then finalize"},
		} {
			if err := e.Switch(ctx, c.switches); err != nil {
				return err
			}
			var err error
			if before, err = countVideos(ctx, e); err != nil {
				return err
			}
			if _, err := e.Load(ctx, Load{Name: c.name, Setup: c.setup, Method: http.MethodPost, Path: "/api/videos",
				Body: body, Rate: e.Float("rate"), Duration: d, Warmup: time.Second}); err != nil {
				return err
			}
		}
		// Every upload of the queued run answered 202 was queued, the warm-up's included: all
		// must be ready.
		var now videoCounts
		took, err := e.Poll(ctx, "the queued videos", 200*time.Millisecond, e.Duration("within"), func(ctx context.Context) (bool, error) {
			var err error
			now, err = countVideos(ctx, e)
			return now.ready-before.ready >= now.uploads-before.uploads, err
		})
		if err != nil && !errors.Is(err, errPollTimeout) {
			return err
		}
		videos, ready := now.uploads-before.uploads, now.ready-before.ready
		m := result.ExperimentMeasurement{Name: "completion", Setup: "the queued videos' processing, after the last upload",
			Values: map[string]float64{"videos": videos, "ready": ready, "processing_ms_per_video": 1e3 * (now.work - before.work) / max(ready, 1)}}
		if ready >= videos {
			m.Values["completion_s"] = took.Seconds()
		}
		e.Record(m)
		return nil
	},
	Check: func(m Measured) (result.Outcome, string) {
		s, q := m.Latency("inline"), m.Latency("queued")
		videos, ready := m.Value("completion", "videos"), m.Value("completion", "ready")
		why := fmt.Sprintf("upload P50 %.1f ms inline, %.1f ms queued (P99 %.1f vs %.1f ms); %.0f of %.0f queued videos ready",
			s.P50, q.P50, s.P99, q.P99, ready, videos)
		if ready < videos {
			return result.OutcomeDidNotHold, why + " within " + m.Param("within") + ": the work did not complete"
		}
		why += fmt.Sprintf(" %.1f s after the last upload (%.0f ms of job time per video)",
			m.Value("completion", "completion_s"), m.Value("completion", "processing_ms_per_video"))
		if q.P50*3 <= s.P50 {
			return result.OutcomeHeld, why
		}
		return result.OutcomeDidNotHold, why
	},
}

// videoCounts are the lab's counters of the video pipeline: counted since it started (or
// before, on a lab given by URL), so a run's share is their growth over it.
type videoCounts struct {
	// uploads answered 202 (queued), videos finalized, seconds of the stages' job runs.
	uploads, ready, work float64
}

func countVideos(ctx context.Context, e *Env) (videoCounts, error) {
	var c videoCounts
	var err error
	if c.uploads, err = e.Metric(ctx, "", "lab_http_request_duration_seconds_count", map[string]string{"route": "POST /api/videos", "code": "202"}); err != nil {
		return c, err
	}
	if c.ready, err = e.Metric(ctx, "", "lab_jobs_finished_total", map[string]string{"queue": "video.finalize", "outcome": "done"}); err != nil {
		return c, err
	}
	for _, q := range videoStages {
		s, err := e.Metric(ctx, "", "lab_jobs_run_seconds_sum", map[string]string{"queue": q})
		if err != nil {
			return c, err
		}
		c.work += s
	}
	return c, nil
}

// deletion is the lab's account deletion (GET /api/account/deletions/{id}).
type deletion struct {
	ID      int64  `json:"id"`
	Status  string `json:"status"`
	Total   int64  `json:"total_rows"`
	Deleted int64  `json:"deleted_rows"`
	Chunks  int64  `json:"chunks"`
}

var asyncDelete = Definition{
	Name:  "async-delete",
	Title: "Asynchronous processing: deleting a large account answers at once",
	Claim: "Delete Account: Synchronous: Delete millions of records → ~8 seconds delay; Asynchronous: Respond immediately; " +
		"Perform deletion in background",
	Source: Seed004 + ":112-119 (Example: Delete Account)",
	Expected: "the queued deletion answers within 100 ms, and the synchronous one (the lab's sync_delete: one " +
		"transaction inside the request) takes at least 5 times as long; the background deletion completes " +
		"(status done, every row deleted) within `within`. Two seeded accounts of `posts` posts each (a quarter " +
		"with --quick), the queued one deleted first, so the synchronous one is not the larger; the time per " +
		"million rows is reported beside the notes' ~8 s",
	Params: []Param{
		{Name: "posts", Default: "20000", Help: "posts of each of the two seeded accounts (comments come with them)", Valid: whole(1)},
		{Name: "comments", Default: "5", Help: "average comments per post", Valid: whole(0)},
		{Name: "within", Default: "60s", Help: "how long the background deletion may take"},
	},
	Measure: func(ctx context.Context, e *Env) error {
		posts := int(e.Float("posts"))
		if e.Quick() {
			posts /= 4
		}
		if _, err := e.StartLab(ctx, "--seed-users", "2", "--seed-posts-per-user", strconv.Itoa(posts),
			"--seed-comments-per-post", e.Param("comments")); err != nil {
			return err
		}
		// Queued first, on user 1.
		r, err := e.Call(ctx, http.MethodDelete, "/api/account?user_id=1", "")
		if err != nil {
			return err
		}
		var del deletion
		if err := json.Unmarshal(r.Body, &del); r.Status != http.StatusAccepted || err != nil {
			return fmt.Errorf("DELETE /api/account?user_id=1: status %d, want 202 with a deletion: %.200s", r.Status, r.Body)
		}
		bg := result.ExperimentMeasurement{Name: "background", Setup: "the deletion queued: chunks of 500 rows on a worker",
			Target: "DELETE /api/account?user_id=1", Values: map[string]float64{"answer_ms": ms(r.Elapsed), "rows": float64(del.Total)}}
		took, err := e.Poll(ctx, "the background deletion", 100*time.Millisecond, e.Duration("within"), func(ctx context.Context) (bool, error) {
			err := e.GetJSON(ctx, fmt.Sprintf("/api/account/deletions/%d", del.ID), &del)
			return del.Status != "running", err
		})
		if err != nil && !errors.Is(err, errPollTimeout) {
			return err
		}
		bg.Values["deleted_rows"], bg.Values["chunks"] = float64(del.Deleted), float64(del.Chunks)
		if del.Status == "done" && del.Deleted == del.Total {
			bg.Values["completion_s"] = took.Seconds()
		}
		e.Record(bg)

		if err := e.Switch(ctx, "sync_delete"); err != nil {
			return err
		}
		r, err = e.Call(ctx, http.MethodDelete, "/api/account?user_id=2", "")
		if err != nil {
			return err
		}
		var gone struct{ Posts, Comments int64 }
		if err := json.Unmarshal(r.Body, &gone); r.Status != http.StatusOK || err != nil {
			return fmt.Errorf("DELETE /api/account?user_id=2 with sync_delete: status %d, want 200: %.200s", r.Status, r.Body)
		}
		rows := float64(1 + gone.Posts + gone.Comments)
		e.Record(result.ExperimentMeasurement{Name: "sync", Setup: "sync_delete on: one transaction inside the request",
			Target: "DELETE /api/account?user_id=2", Values: map[string]float64{"answer_ms": ms(r.Elapsed), "rows": rows,
				"s_per_million_rows": r.Elapsed.Seconds() / rows * 1e6}})
		return nil
	},
	Check: func(m Measured) (result.Outcome, string) {
		a, s := m.Value("background", "answer_ms"), m.Value("sync", "answer_ms")
		why := fmt.Sprintf("queued: answered in %.1f ms (%.0f rows); synchronous: %.0f ms for %.0f rows (%.1f s per million rows; the notes: ~8 s for millions)",
			a, m.Value("background", "rows"), s, m.Value("sync", "rows"), m.Value("sync", "s_per_million_rows"))
		c := m.Value("background", "completion_s")
		if c == 0 {
			return result.OutcomeDidNotHold, fmt.Sprintf("%s; the background deletion did not complete within %s (%.0f of %.0f rows)",
				why, m.Param("within"), m.Value("background", "deleted_rows"), m.Value("background", "rows"))
		}
		why += fmt.Sprintf("; the background deletion completed in %.1f s (%.0f chunks)", c, m.Value("background", "chunks"))
		if a <= 100 && s >= 5*a {
			return result.OutcomeHeld, why
		}
		return result.OutcomeDidNotHold, why
	},
}

// ms is d in milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
