package capacity

import (
	"cmp"
	"slices"
)

// XY is one measured point: X an offered or achieved rate, Y a latency or throughput.
type XY struct{ X, Y float64 }

// kneeMinRise is how much the normalized curve must bend below the diagonal to have an elbow.
const kneeMinRise = 0.1

// Knee returns the elbow of an increasing, convex curve such as P99 over the offered rate, by
// Kneedle (Satopää et al., 2011, elbow mode): both axes are scaled to [0, 1] and the elbow is the
// point farthest below the diagonal. Noise is tamed by taking the running maximum of Y first
// (latency does not fall as the rate grows). ok is false with fewer than 3 points, a flat curve
// (Y less than doubles across the range: short steps' P99 wobbles that much by noise alone), or
// no bend of at least kneeMinRise.
func Knee(points []XY) (x float64, ok bool) {
	if len(points) < 3 {
		return 0, false
	}
	p := slices.Clone(points)
	slices.SortStableFunc(p, func(a, b XY) int { return cmp.Compare(a.X, b.X) })
	for i := 1; i < len(p); i++ {
		p[i].Y = max(p[i].Y, p[i-1].Y)
	}
	x0, x1, y0, y1 := p[0].X, p[len(p)-1].X, p[0].Y, p[len(p)-1].Y
	if x1 <= x0 || !(y1 >= 2*y0) || y1 <= 0 {
		return 0, false
	}
	best, at := 0.0, -1
	for i, q := range p {
		d := (q.X-x0)/(x1-x0) - (q.Y-y0)/(y1-y0)
		if d > best {
			best, at = d, i
		}
	}
	if at < 0 || best < kneeMinRise {
		return 0, false
	}
	return p[at].X, true
}

// Saturation returns the lowest offered rate at which achieved fell below minRatio of offered:
// where the target stopped keeping up. points are (offered, achieved); ok is false when it
// always kept up.
func Saturation(points []XY, minRatio float64) (offered float64, ok bool) {
	p := slices.Clone(points)
	slices.SortStableFunc(p, func(a, b XY) int { return cmp.Compare(a.X, b.X) })
	for _, q := range p {
		if q.X > 0 && q.Y < minRatio*q.X {
			return q.X, true
		}
	}
	return 0, false
}
