//go:build wasip1

// Command filter is the edge function that blocks, limits and routes requests:
//
//   - rules (variable "rules", separated by ';' or newlines, default DefaultRules): "method=M"
//     blocks a method, "path=/p" a path prefix, "header=Name" any request carrying that header,
//     "header=Name:text" one whose value contains text (case-insensitive); a match is answered
//     403 here;
//   - a token bucket per client address (variables "rate", tokens per second, default 50, and
//     "burst", default 100); an empty bucket is answered 429 with Retry-After. The buckets live
//     in this instance's memory: each isolate of the node counts on its own (a node with four
//     idle instances lets a client through up to four times faster), as Workers' in-isolate
//     state does; a node-wide limit belongs on the host;
//   - A/B routing: a path under "b_prefix", or the share "b_percent" of users (by a hash of the
//     cookie "b_cookie", default "uid", else of the client address), goes to origin pool "b".
package main

import (
	"hash/fnv"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/headroom/headroom/lab/edge/functions/guest"
	"github.com/headroom/headroom/lab/isolate/abi"
)

// DefaultRules block methods the lab never serves and well-known probes.
const DefaultRules = "method=TRACE;method=CONNECT;path=/.env;path=/.git;header=User-Agent:sqlmap"

func init() { guest.Handle(handle) }

func main() {}

type rule struct {
	kind, name, value string // kind: method, path, header
	text              string // as written, for the answer
}

type config struct {
	rules       []rule
	rate, burst float64
	bPrefix     string
	bPercent    uint32
	bCookie     string
}

var cfg *config

func setup() *config {
	c := &config{bCookie: guest.Var("b_cookie", "uid"), bPrefix: guest.Var("b_prefix", "")}
	for line := range strings.FieldsFuncSeq(guest.Var("rules", DefaultRules), func(r rune) bool { return r == ';' || r == '\n' }) {
		line = strings.TrimSpace(line)
		kind, arg, ok := strings.Cut(line, "=")
		if !ok {
			guest.Log("filter: rule " + strconv.Quote(line) + " ignored: want kind=value")
			continue
		}
		r := rule{kind: kind, text: line}
		switch kind {
		case "method", "path":
			r.value = arg
		case "header":
			r.name, r.value, _ = strings.Cut(arg, ":")
			r.value = strings.ToLower(r.value)
		default:
			guest.Log("filter: rule " + strconv.Quote(line) + " ignored: kind is method, path or header")
			continue
		}
		c.rules = append(c.rules, r)
	}
	c.rate = number("rate", 50)
	c.burst = number("burst", 100)
	c.bPercent = uint32(min(number("b_percent", 0), 100))
	return c
}

func number(name string, def float64) float64 {
	s := guest.Var(name, "")
	if s == "" {
		return def
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		guest.Log("filter: " + name + "=" + strconv.Quote(s) + " ignored: want a number ≥ 0")
		return def
	}
	return v
}

func handle(r *abi.Request) abi.Decision {
	if r.Phase != abi.PhaseRequest {
		return guest.Continue()
	}
	if cfg == nil {
		cfg = setup()
	}
	for _, ru := range cfg.rules {
		if ru.match(r) {
			d := guest.Respond(403, "application/json",
				[]byte(`{"error":"blocked at the edge","rule":`+guest.JSONString(ru.text)+`}`))
			guest.SetResponseHeader(&d, "Cache-Control", "no-store")
			return d
		}
	}
	client := host(r.ClientAddr)
	if cfg.rate > 0 {
		if wait := take(client, guest.Now()); wait > 0 {
			d := guest.Error(429, "rate limit at the edge")
			guest.SetResponseHeader(&d, "Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			guest.SetResponseHeader(&d, "Cache-Control", "no-store")
			return d
		}
	}
	d := guest.Continue()
	if cfg.bPrefix != "" && strings.HasPrefix(r.Path, cfg.bPrefix) || cfg.bPercent > 0 && bucketOf(r, client) < cfg.bPercent {
		d.Pool = "b"
	}
	return d
}

func (ru *rule) match(r *abi.Request) bool {
	switch ru.kind {
	case "method":
		return strings.EqualFold(r.Method, ru.value)
	case "path":
		return strings.HasPrefix(r.Path, ru.value)
	}
	for _, h := range r.Headers {
		if strings.EqualFold(h.Name, ru.name) && strings.Contains(strings.ToLower(h.Value), ru.value) {
			return true
		}
	}
	return false
}

// host drops the port of host:port or [v6]:port (package net would add half a megabyte).
func host(addr string) string {
	if i := strings.LastIndexByte(addr, ':'); i >= 0 && !strings.Contains(addr[i:], "]") {
		addr = addr[:i]
	}
	return strings.TrimSuffix(strings.TrimPrefix(addr, "["), "]")
}

// bucketOf places a user in 0–99, stable across requests and instances.
func bucketOf(r *abi.Request, client string) uint32 {
	key := guest.Cookie(r, cfg.bCookie)
	if key == "" {
		key = client
	}
	h := fnv.New32a()
	h.Write([]byte(key))
	return h.Sum32() % 100
}

type bucket struct {
	tokens float64
	at     time.Time
}

// maxClients bounds the buckets kept; past it the full ones (clients quiet long enough to
// have refilled) are dropped.
const maxClients = 10000

var buckets = map[string]*bucket{}

// take takes a token from client's bucket, or says how long until one is there.
func take(client string, now time.Time) time.Duration {
	b := buckets[client]
	if b == nil {
		if len(buckets) >= maxClients {
			for k, o := range buckets {
				if o.tokens+now.Sub(o.at).Seconds()*cfg.rate >= cfg.burst {
					delete(buckets, k)
				}
			}
		}
		b = &bucket{tokens: cfg.burst, at: now}
		buckets[client] = b
	}
	b.tokens = min(cfg.burst, b.tokens+now.Sub(b.at).Seconds()*cfg.rate)
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return 0
	}
	return time.Duration((1 - b.tokens) / cfg.rate * float64(time.Second))
}
