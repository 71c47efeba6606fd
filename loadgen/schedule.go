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
	stride  float64 // expected count between arrivals: the shard count
	last    time.Duration
	done    bool
}

// NewSchedule returns a Schedule of shape's arrivals in [0, limit).
func NewSchedule(shape Shape, poisson bool, seed uint64, limit time.Duration) *Schedule {
	return NewShardSchedule(shape, poisson, seed, limit, Shard{})
}

// NewShardSchedule returns shard's part of the Schedule of shape's arrivals in [0, limit). Evenly
// spaced, shard I of N takes arrivals I, I+N, I+2N... so the union of the N shards is exactly
// the whole schedule. Poisson, each shard is an independent Poisson process of 1/N of the shape
// (gaps of N times the expected count) from a seed of its own: superposed, they make a Poisson
// process of the whole shape. The zero Shard is the whole schedule.
func NewShardSchedule(shape Shape, poisson bool, seed uint64, limit time.Duration, shard Shard) *Schedule {
	n := max(shard.Count, 1)
	if poisson {
		seed = shardSeed(seed, shard.Index)
	}
	s := &Schedule{shape: shape, poisson: poisson, limit: limit, stride: float64(n), rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	s.n = float64(shard.Index) + 0.5
	if poisson {
		s.n = s.rng.ExpFloat64() * s.stride
	}
	return s
}

// shardSeed is the Poisson seed of shard index: the seed itself for shard 0 (so an unsharded
// run's schedule is unchanged), a splitmix64 step away for the others, so that neighbouring
// seeds of different shards do not collide.
func shardSeed(seed uint64, index int) uint64 {
	if index == 0 {
		return seed
	}
	z := seed + uint64(index)*0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
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
		s.n += s.rng.ExpFloat64() * s.stride
	} else {
		s.n += s.stride
	}
	return due, true
}
