// Command jobs measures the queue engines on this machine: no-op jobs per second (publish N,
// then consume them with C workers) and enqueue→start latency P50/P99 at a fixed arrival rate,
// the issue 6 bars (≥ 20k no-op jobs/s on embedded JetStream, P99 ≤ 10 ms at 1,000 jobs/s).
//
//	go run ./bench/jobs [-engines nats,redis,rabbitmq] [-n 50000] [-c 64] [-rate 1000] [-duration 5s]
//
// "nats" is the embedded server (in-process connection, file storage in a temporary directory).
// Each run uses a prefix of its own and removes its keys and queues afterwards. Latency is measured from each job's due time on the
// arrival schedule (its EnqueuedAt), so a late publisher is charged, not hidden.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"

	"github.com/headroom/headroom/hist"
	"github.com/headroom/headroom/lab/jobs"
	"github.com/headroom/headroom/lab/jobs/natsq"
	"github.com/headroom/headroom/lab/jobs/rabbitq"
	"github.com/headroom/headroom/lab/jobs/redisq"
)

type config struct {
	n, c, subs, publishers int
	rate                   int
	duration               time.Duration
	redisURL, amqpURL      string
}

func main() {
	var cfg config
	engines := flag.String("engines", "nats,redis,rabbitmq", "comma-separated: nats (embedded), redis, rabbitmq")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.IntVar(&cfg.n, "n", 50000, "jobs in the throughput run")
	flag.IntVar(&cfg.c, "c", 64, "worker goroutines")
	flag.IntVar(&cfg.subs, "subs", 4, "subscriptions the workers share")
	flag.IntVar(&cfg.publishers, "publishers", 32, "publisher goroutines in the throughput run")
	flag.IntVar(&cfg.rate, "rate", 1000, "arrival rate of the latency run, jobs/s")
	flag.DurationVar(&cfg.duration, "duration", 5*time.Second, "length of the latency run")
	flag.StringVar(&cfg.redisURL, "redis", env("HEADROOM_TEST_REDIS", "redis://127.0.0.1:6379/0"), "Redis URL")
	flag.StringVar(&cfg.amqpURL, "amqp", env("HEADROOM_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672/"), "RabbitMQ URL")
	flag.Parse()
	if cfg.n < 1 || cfg.c < 1 || cfg.subs < 1 || cfg.subs > cfg.c || cfg.publishers < 1 || cfg.rate < 1 || cfg.duration <= 0 {
		fmt.Fprintln(os.Stderr, "jobs: want -n, -c, -publishers, -rate ≥ 1, 1 ≤ -subs ≤ -c and -duration > 0")
		os.Exit(2)
	}
	names := strings.Split(*engines, ",")
	for _, name := range names {
		switch name {
		case "nats", "redis", "rabbitmq":
		default:
			fmt.Fprintf(os.Stderr, "jobs: engine %q: want nats, redis or rabbitmq\n", name)
			os.Exit(2)
		}
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintf(os.Stderr, "jobs: -cpuprofile: %v\n", err)
			os.Exit(2)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(os.Stderr, "jobs: -cpuprofile: %v\n", err)
			os.Exit(2)
		}
		defer pprof.StopCPUProfile()
	}
	fmt.Printf("%-14s %12s %14s %12s %10s %10s %8s\n", "engine", "publish/s", "no-op jobs/s", "cpu/job", "p50", "p99", "samples")
	failed := false
	for _, name := range names {
		if err := run(name, cfg); err != nil {
			fmt.Fprintf(os.Stderr, "jobs: %s: %v\n", name, err)
			failed = true
		}
	}
	if failed {
		os.Exit(3)
	}
}

// cpuTime is this process's user+system CPU time: with the embedded NATS server it includes the
// broker, with Redis and RabbitMQ only the client side.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func env(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func run(name string, cfg config) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	prefix := "hrbench-" + hex.EncodeToString(b)
	e, cleanup, err := open(ctx, name, prefix, cfg)
	if err != nil {
		return err
	}
	defer cleanup()
	defer e.Close()

	q := "throughput"
	pubRate, err := publishN(ctx, e, q, cfg)
	if err != nil {
		return err
	}
	cpu0 := cpuTime()
	consRate, err := consumeN(ctx, e, q, cfg)
	if err != nil {
		return err
	}
	cpuPerJob := (cpuTime() - cpu0) / time.Duration(cfg.n)
	h, err := latency(ctx, e, "latency", cfg)
	if err != nil {
		return err
	}
	fmt.Printf("%-14s %12.0f %14.0f %12v %10v %10v %8d\n", name, pubRate, consRate, cpuPerJob.Round(100*time.Nanosecond),
		h.Quantile(0.50).Round(10*time.Microsecond), h.Quantile(0.99).Round(10*time.Microsecond), h.Count())
	return nil
}

// open starts the engine and returns how to remove what the run left on a shared server.
func open(ctx context.Context, name, prefix string, cfg config) (jobs.Engine, func(), error) {
	switch name {
	case "nats":
		e, err := natsq.New(ctx, natsq.Config{})
		return e, func() {}, err
	case "redis":
		e, err := redisq.New(ctx, redisq.Config{URL: cfg.redisURL, Prefix: prefix})
		return e, func() {
			opts, err := redis.ParseURL(cfg.redisURL)
			if err != nil {
				return
			}
			rdb := redis.NewClient(opts)
			defer rdb.Close()
			iter := rdb.Scan(ctx, 0, "{"+prefix+":*", 1000).Iterator()
			for iter.Next(ctx) {
				rdb.Del(ctx, iter.Val())
			}
		}, err
	default:
		e, err := rabbitq.New(ctx, rabbitq.Config{URL: cfg.amqpURL, Prefix: prefix})
		return e, func() {
			conn, err := amqp.Dial(cfg.amqpURL)
			if err != nil {
				return
			}
			defer conn.Close()
			ch, err := conn.Channel()
			if err != nil {
				return
			}
			for _, q := range []string{"throughput", "latency"} {
				_, _ = ch.QueueDelete(prefix+"."+q, false, false, false)
				_, _ = ch.QueueDelete(prefix+"."+q+"~dead", false, false, false)
			}
		}, err
	}
}

func publishN(ctx context.Context, e jobs.Engine, q string, cfg config) (float64, error) {
	var next atomic.Int64
	errs := make(chan error, cfg.publishers)
	start := time.Now()
	var wg sync.WaitGroup
	for range cfg.publishers {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(cfg.n) {
					return
				}
				m := jobs.Message{ID: strconv.FormatInt(i, 10), Queue: q, EnqueuedAt: time.Now()}
				if err := e.Publish(ctx, m); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return 0, err
	}
	return float64(cfg.n) / time.Since(start).Seconds(), nil
}

// workers runs cfg.c goroutines over cfg.subs subscriptions of q, calling job for each delivery
// and acking it, until ctx ends.
func workers(ctx context.Context, e jobs.Engine, q string, cfg config, job func(jobs.Message)) (func() error, error) {
	subs := make([]jobs.Subscription, cfg.subs)
	for i := range subs {
		s, err := e.Subscribe(ctx, q, jobs.SubscribeOptions{Prefetch: 256})
		if err != nil {
			return nil, err
		}
		subs[i] = s
	}
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for i := range cfg.c {
		s := subs[i%len(subs)]
		wg.Go(func() {
			for {
				d, err := s.Next(ctx)
				if err != nil {
					if ctx.Err() == nil && !errors.Is(err, jobs.ErrClosed) {
						firstErr.CompareAndSwap(nil, err)
					}
					return
				}
				job(d.Message())
				if err := d.Ack(ctx); err != nil && ctx.Err() == nil {
					firstErr.CompareAndSwap(nil, err)
				}
			}
		})
	}
	return func() error {
		wg.Wait()
		for _, s := range subs {
			_ = s.Close()
		}
		if err, ok := firstErr.Load().(error); ok {
			return err
		}
		return nil
	}, nil
}

func consumeN(ctx context.Context, e jobs.Engine, q string, cfg config) (float64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var done atomic.Int64
	finished := make(chan struct{})
	start := time.Now()
	wait, err := workers(ctx, e, q, cfg, func(jobs.Message) {
		if done.Add(1) == int64(cfg.n) {
			close(finished)
		}
	})
	if err != nil {
		return 0, err
	}
	select {
	case <-finished:
	case <-ctx.Done():
	}
	el := time.Since(start)
	cancel()
	if err := wait(); err != nil {
		return 0, err
	}
	if done.Load() < int64(cfg.n) {
		return 0, fmt.Errorf("consumed %d of %d jobs before the time limit", done.Load(), cfg.n)
	}
	return float64(cfg.n) / el.Seconds(), nil
}

// latency publishes at cfg.rate for cfg.duration, each job stamped with its due time, and
// records due→start at the workers.
func latency(ctx context.Context, e jobs.Engine, q string, cfg config) (*hist.Histogram, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	h := hist.New()
	var mu sync.Mutex
	total := int(float64(cfg.rate) * cfg.duration.Seconds())
	var seen atomic.Int64
	finished := make(chan struct{})
	wait, err := workers(ctx, e, q, cfg, func(m jobs.Message) {
		d := time.Since(m.EnqueuedAt)
		mu.Lock()
		h.Record(d)
		mu.Unlock()
		if seen.Add(1) == int64(total) {
			close(finished)
		}
	})
	if err != nil {
		return nil, err
	}
	// Publishers take the next due time from the schedule and wait for it, so a slow publish
	// (a confirm's fsync) does not delay the jobs behind it unless every publisher is busy, and
	// then the lateness is charged: EnqueuedAt is the due time.
	interval := time.Second / time.Duration(cfg.rate)
	start := time.Now()
	var ticket atomic.Int64
	pubErr := make(chan error, cfg.publishers)
	var pubs sync.WaitGroup
	for range cfg.publishers {
		pubs.Go(func() {
			timer := time.NewTimer(0)
			defer timer.Stop()
			for {
				i := ticket.Add(1) - 1
				if i >= int64(total) {
					return
				}
				due := start.Add(time.Duration(i) * interval)
				if w := time.Until(due); w > 0 {
					timer.Reset(w)
					select {
					case <-timer.C:
					case <-ctx.Done():
						return
					}
				}
				if err := e.Publish(ctx, jobs.Message{ID: strconv.FormatInt(i, 10), Queue: q, EnqueuedAt: due}); err != nil {
					pubErr <- err
					cancel()
					return
				}
			}
		})
	}
	pubs.Wait()
	close(pubErr)
	if err := <-pubErr; err != nil {
		return nil, err
	}
	select {
	case <-finished:
	case <-ctx.Done():
	}
	cancel()
	if err := wait(); err != nil {
		return nil, err
	}
	return h, nil
}
