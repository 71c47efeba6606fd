package loadgen

import (
	"math/rand/v2"
	"time"
)

// Schedule yields the due times of successive arrivals of a Shape before a limit: evenly spaced
// in expected count (arrival n = 0, 1, ... is due when Count reaches n + ½, so each second of a
// rate r holds exactly r arrivals, even at a step's edge), or, when Poisson, with
// exponentially distributed gaps in expected count — a non-homogeneous Poisson process by time
// rescaling, reproducible from its seed. A Schedule is not safe for concurrent use.
type Schedule struct {
	shape   Shape
	poisson bool
	rng     *rand.Rand
	limit   time.Duration
	n       float64
	last    time.Duration
	done    bool
}

// NewSchedule returns a Schedule of shape's arrivals in [0, limit).
func NewSchedule(shape Shape, poisson bool, seed uint64, limit time.Duration) *Schedule {
	s := &Schedule{shape: shape, poisson: poisson, limit: limit, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	s.n = 0.5
	if poisson {
		s.n = s.rng.ExpFloat64()
	}
	return s
}

// Next returns the due time of the next arrival, or ok == false when none is due before the limit.
func (s *Schedule) Next() (due time.Duration, ok bool) {
	if s.done {
		return 0, false
	}
	due, ok = DueTime(s.shape, s.n, s.last, s.limit)
	if !ok {
		s.done = true
		return 0, false
	}
	s.last = due
	if s.poisson {
		s.n += s.rng.ExpFloat64()
	} else {
		s.n++
	}
	return due, true
}
