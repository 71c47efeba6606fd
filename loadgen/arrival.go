package loadgen

import (
	"math"
	"time"
)

// Shape is an arrival rate as a pure function of the time elapsed since the start of the run.
// Implementations must be safe for concurrent use and deterministic.
type Shape interface {
	// Rate returns the arrival rate at t, in requests per second (≥ 0).
	Rate(t time.Duration) float64
	// Count returns the expected number of arrivals in [0, t): the integral of Rate. It is
	// non-decreasing in t.
	Count(t time.Duration) float64
}

// The arrival shapes; Constant also inverts its Count in closed form.
var (
	_ Shape    = Constant{}
	_ Shape    = Ramp{}
	_ Shape    = Steps{}
	_ Shape    = Bursts{}
	_ Shape    = Sine{}
	_ inverter = Constant{}
)

// Constant is a fixed rate.
type Constant struct{ RPS float64 }

func (c Constant) Rate(time.Duration) float64     { return c.RPS }
func (c Constant) Count(t time.Duration) float64  { return c.RPS * t.Seconds() }
func (c Constant) invert(n float64) time.Duration { return seconds(n / c.RPS) }

// Ramp goes linearly from From to To requests per second over Over, then stays at To.
type Ramp struct {
	From, To float64
	Over     time.Duration
}

func (r Ramp) Rate(t time.Duration) float64 {
	if t >= r.Over || r.Over <= 0 {
		return r.To
	}
	return r.From + (r.To-r.From)*t.Seconds()/r.Over.Seconds()
}

func (r Ramp) Count(t time.Duration) float64 {
	if r.Over <= 0 {
		return r.To * t.Seconds()
	}
	in := min(t, r.Over).Seconds()
	n := (r.From + r.Rate(min(t, r.Over))) / 2 * in
	if t > r.Over {
		n += r.To * (t - r.Over).Seconds()
	}
	return n
}

// Steps holds Rates[i] during the i-th period of length Every; the last rate holds after that.
type Steps struct {
	Rates []float64
	Every time.Duration
}

func (s Steps) Rate(t time.Duration) float64 {
	i := min(int(t/s.Every), len(s.Rates)-1)
	return s.Rates[max(i, 0)]
}

func (s Steps) Count(t time.Duration) float64 {
	var n float64
	for i, r := range s.Rates {
		start := time.Duration(i) * s.Every
		if t <= start {
			break
		}
		end := t
		if i < len(s.Rates)-1 {
			end = min(t, start+s.Every)
		}
		n += r * (end - start).Seconds()
	}
	return n
}

// Bursts is Base requests per second with spikes of Factor × Base lasting Length at the start of
// every Period: the notes' email-campaign and viral-post traffic.
type Bursts struct {
	Base, Factor   float64
	Length, Period time.Duration
}

func (b Bursts) Rate(t time.Duration) float64 {
	if t%b.Period < b.Length {
		return b.Base * b.Factor
	}
	return b.Base
}

func (b Bursts) Count(t time.Duration) float64 {
	full := t / b.Period
	into := t % b.Period
	extra := float64(full)*b.Length.Seconds() + min(into, b.Length).Seconds()
	return b.Base*t.Seconds() + b.Base*(b.Factor-1)*extra
}

// Sine oscillates around Mean with Amplitude (≤ Mean) and Period, starting at Mean and rising.
type Sine struct {
	Mean, Amplitude float64
	Period          time.Duration
}

func (s Sine) Rate(t time.Duration) float64 {
	return s.Mean + s.Amplitude*math.Sin(2*math.Pi*t.Seconds()/s.Period.Seconds())
}

func (s Sine) Count(t time.Duration) float64 {
	w := 2 * math.Pi / s.Period.Seconds()
	return s.Mean*t.Seconds() + s.Amplitude/w*(1-math.Cos(w*t.Seconds()))
}

// seconds converts float seconds to a Duration, saturating instead of overflowing.
func seconds(s float64) time.Duration {
	if s >= float64(math.MaxInt64)/float64(time.Second) || math.IsNaN(s) {
		return math.MaxInt64
	}
	return time.Duration(s * float64(time.Second))
}

// inverter is implemented by shapes whose Count has a closed-form inverse.
type inverter interface{ invert(n float64) time.Duration }

// DueTime returns the earliest t ≥ after at which shape.Count(t) reaches n, or ok == false if
// that does not happen before limit. It is exact for shapes with a closed-form inverse and found
// by bisection to the nanosecond otherwise: the earliest nanosecond whatever after is, so that
// the shards of a schedule (see NewShardSchedule), which bisect from different points, find the
// due times of the whole schedule exactly.
func DueTime(shape Shape, n float64, after, limit time.Duration) (t time.Duration, ok bool) {
	if inv, isInv := shape.(inverter); isInv {
		t = max(inv.invert(n), after)
		return t, t < limit
	}
	if shape.Count(limit) < n {
		return 0, false
	}
	lo, hi := after, limit
	if shape.Count(lo) >= n {
		return lo, true
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if shape.Count(mid) >= n {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi, hi < limit
}
