package experiments

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/headroom/headroom/result"
)

// Seed004 is the file name of the notes on architecture.
const Seed004 = "seeds/004_984d1a49453979c6.txt"

// asyncInvite is the notes' invite: the email sent inside the request (the lab's sync_email) or
// queued for a worker (the lab's outbox and queue, the default).
var asyncInvite = Definition{
	Name:  "async-invite",
	Title: "Asynchronous processing: the invite answers before the email is sent",
	Claim: "Invite user → DB update + Email → Response (~400 ms); Request → DB update → Immediate Response (~100 ms); " +
		"Task pushed to queue; Worker processes it later",
	Source: Seed004 + ":72-84 (Synchronous Processing, Asynchronous Processing)",
	Expected: "with the email queued, the invite's P50 is at most 100 ms and at most a third of the synchronous " +
		"P50, which carries the mail server's latency (the lab's --mail-latency, 300 ms by default)",
	Params: []Param{
		{Name: "mail-latency", Default: "300ms", Help: "the mail server's latency per message (the lab's --mail-latency)"},
		{Name: "rate", Default: "10", Help: "invites per second", Valid: positive},
	},
	Quick: true,
	Measure: func(ctx context.Context, e *Env) error {
		if _, err := e.StartLab(ctx, "--mail-latency", e.Param("mail-latency")); err != nil {
			return err
		}
		d := e.Length(15*time.Second, 10*time.Second)
		for _, c := range []struct{ name, switches, setup string }{
			{"sync", "sync_email", "sync_email on: the email is sent inside the request"},
			{"queued", "none", "the email queued (outbox, queue, worker)"},
		} {
			if err := e.Switch(ctx, c.switches); err != nil {
				return err
			}
			if _, err := e.Load(ctx, Load{Name: c.name, Setup: c.setup, Method: http.MethodPost, Path: "/api/invites",
				Body: `{"inviter_id":1,"email":"friend@example.com"}`, Rate: e.Float("rate"), Duration: d, Warmup: time.Second}); err != nil {
				return err
			}
		}
		return nil
	},
	Check: func(m Measured) (result.Outcome, string) {
		s, q := m.Latency("sync"), m.Latency("queued")
		why := fmt.Sprintf("P50 %.1f ms synchronous, %.1f ms queued (%.0f× faster); P99 %.1f vs %.1f ms", s.P50, q.P50, s.P50/q.P50, s.P99, q.P99)
		if q.P50 <= 100 && q.P50*3 <= s.P50 {
			return result.OutcomeHeld, why
		}
		return result.OutcomeDidNotHold, why
	},
}
