package edge

import (
	"errors"
	"time"

	"github.com/headroom/headroom/internal/fielderr"
	"github.com/headroom/headroom/lab/netem"
)

// The defaults of [Geography]'s fields (docs/lab.md gives the sources).
const (
	// UserRTTDefault is a user in the same metro as the edge node's point of presence: CDNs
	// place PoPs so that most users are a few milliseconds away.
	UserRTTDefault = 2 * time.Millisecond
	// UserJitterDefault is the spread of that round trip on an uncongested access network.
	UserJitterDefault = 200 * time.Microsecond
	// OriginRTTDefault is an origin on another continent: Europe ↔ US East is 80–95 ms.
	OriginRTTDefault = 80 * time.Millisecond
	// OriginJitterDefault is the spread of a long-haul round trip.
	OriginJitterDefault = 2 * time.Millisecond
)

// Geography is the network around the edge node: how far users are from it and how far it is
// from the origin. A direct path from users to the origin crosses both distances, so the same
// request can be measured with and without the edge.
type Geography struct {
	// UserRTT is the round trip between a user and the edge node. Default [UserRTTDefault].
	UserRTT time.Duration
	// UserJitter is the most the user round trip varies either way. Default [UserJitterDefault].
	UserJitter time.Duration
	// OriginRTT is the round trip between the edge node and the origin. Default [OriginRTTDefault].
	OriginRTT time.Duration
	// OriginJitter is the most the origin round trip varies either way. Default [OriginJitterDefault].
	OriginJitter time.Duration
	// Bare, when set, means exactly the values given: zeros stay zero (no distance), so the
	// edge's own cost can be measured alone. Default false: zero fields take their defaults.
	Bare bool
}

// WithDefaults returns g with each zero field set to its default, unless g is Bare.
func (g Geography) WithDefaults() Geography {
	if g.Bare {
		return g
	}
	if g.UserRTT == 0 {
		g.UserRTT = UserRTTDefault
	}
	if g.UserJitter == 0 {
		g.UserJitter = UserJitterDefault
	}
	if g.OriginRTT == 0 {
		g.OriginRTT = OriginRTTDefault
	}
	if g.OriginJitter == 0 {
		g.OriginJitter = OriginJitterDefault
	}
	return g
}

func (g Geography) validate() error {
	var errs []error
	for _, l := range []struct {
		rtt, jitter         time.Duration
		rttName, jitterName string
	}{{g.UserRTT, g.UserJitter, "UserRTT", "UserJitter"}, {g.OriginRTT, g.OriginJitter, "OriginRTT", "OriginJitter"}} {
		switch {
		case l.rtt < 0 || l.rtt > time.Minute:
			errs = append(errs, fielderr.New(ErrConfig, l.rttName, "%v: want 0 to 1m", l.rtt))
		case l.jitter < 0 || l.jitter > l.rtt:
			errs = append(errs, fielderr.New(ErrConfig, l.jitterName, "%v: want 0 to the round trip, %v", l.jitter, l.rtt))
		}
	}
	return errors.Join(errs...)
}

// oneWay is half a round trip and half its spread: each direction of a link pays one.
func oneWay(rtt, jitter time.Duration) netem.Delay {
	return netem.Delay{Latency: rtt / 2, Jitter: jitter / 2}
}

// direct is the user → origin path without the edge: both distances summed. Jitters add too:
// the two paths vary independently, and their sum can spread as far as both together.
func (g Geography) direct() netem.Delay {
	return oneWay(g.UserRTT+g.OriginRTT, g.UserJitter+g.OriginJitter)
}
