package faas

import (
	"cmp"
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/headroom/headroom/lab/faas/guest"
)

// The two cold-start remedies: provisioned concurrency (instances started in advance, kept
// for good) and a keep-warm pinger (pings that use instances before they are reclaimed).

// A provisioned instance that fails to start is retried after provisionBackoff, doubling up to
// provisionBackoffMax, provisionAttempts times in all (about 3 s of waiting); then its slot is
// given up (logged as an error) and serves on-demand instances instead: an init that keeps
// failing is a broken function, not a slow one. Lambda marks such an allocation FAILED.
const (
	provisionAttempts   = 6
	provisionBackoff    = 100 * time.Millisecond
	provisionBackoffMax = 5 * time.Second
)

// provision starts n provisioned instances in the background, counted at once as live and
// busy (starting); f.mu is held. Nothing starts once the platform is closing.
func (f *function) provision(n int) {
	if f.closed {
		return
	}
	f.live += n
	f.busy += n
	f.p.wg.Add(n)
	for range n {
		go f.startProvisioned()
	}
}

// startProvisioned starts one provisioned instance, retrying as the provision… constants say,
// and puts it on the provisioned idle stack; it gives the slot up when the attempts are spent
// or the platform closes. Not a cold start: no invocation waits for it (its init is in what
// provisioned concurrency is billed).
func (f *function) startProvisioned() {
	defer f.p.wg.Done()
	log := f.p.cfg.Logger.With("function", f.cfg.Name)
	wait := provisionBackoff
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(f.p.ctx, f.cfg.StartTimeout)
		proc, _, err := startInstance(ctx, f.rt)
		cancel()
		if err == nil {
			f.provisioned(proc)
			return
		}
		if f.p.ctx.Err() != nil {
			f.release(nil, false)
			return
		}
		if attempt == provisionAttempts {
			log.Error("provisioned instance did not start; giving its slot up", "attempts", attempt, "err", err)
			f.release(nil, false)
			return
		}
		log.Warn("provisioned instance did not start; retrying", "attempt", attempt, "retry_in", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-f.p.stop:
			t.Stop()
			f.release(nil, false)
			return
		case <-t.C:
		}
		wait = min(2*wait, provisionBackoffMax)
	}
}

// provisioned adds a started provisioned instance to the pool, or closes it if the platform
// closed meanwhile.
func (f *function) provisioned(proc *instance) {
	f.mu.Lock()
	if f.closed {
		f.busy--
		f.live--
		f.gauges()
		f.mu.Unlock()
		proc.close()
		return
	}
	f.provReady++
	f.mu.Unlock()
	f.release(&pooled{proc: proc, provisioned: true}, true)
}

// pinger is the keep-warm pinger: a round of KeepWarm pings every KeepWarmEvery until the
// platform closes. A round still running when the next is due delays it (the ticker drops
// ticks), so rounds never overlap.
func (f *function) pinger() {
	defer f.p.wg.Done()
	tick := time.NewTicker(f.cfg.KeepWarmEvery)
	defer tick.Stop()
	for {
		select {
		case <-f.p.stop:
			return
		case at := <-tick.C:
			f.ping(at)
		}
	}
}

// ping invokes the function KeepWarm times at once with warm-up requests, and waits for them.
//
// The K pings must hold K instances at the same moment: a ping is answered in microseconds, and
// K pings one after the other would keep one instance warm, K times over. Warm-up plugins
// overlap them by a short delay in the handler (serverless-plugin-warmup's advice when its
// concurrency is above 1), a guess that is billed as duration; here each ping, once it has an
// instance (or has failed to get one), waits until all K have: the overlap is certain, takes no
// longer than the slowest of them to start (StartTimeout bounds it), and is not billed, since a
// ping holds its instance before its request reaches it. What it shares with the plugins:
// while a round holds its instances, an invocation finding none idle starts one.
func (f *function) ping(at time.Time) {
	k := f.cfg.KeepWarm
	var acquired, done sync.WaitGroup
	acquired.Add(k)
	hold := func() {
		acquired.Done()
		acquired.Wait()
	}
	when := attribute.String("faas.time", at.UTC().Format(time.RFC3339Nano))
	errs := make([]error, k)
	for i := range k {
		done.Go(func() {
			_, _, errs[i] = f.run(f.p.ctx, guest.Request{Warmup: true}, TriggerTimer, hold, when)
		})
	}
	done.Wait()
	failed := 0
	var first error
	for _, err := range errs {
		if err != nil {
			failed++
			first = cmp.Or(first, err)
		}
	}
	if failed > 0 && f.p.ctx.Err() == nil {
		f.p.cfg.Logger.Warn("keep-warm pings failed", "function", f.cfg.Name, "failed", failed, "of", k, "err", first)
	}
}
