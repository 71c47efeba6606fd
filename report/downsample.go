package report

import "math"

// lttb keeps at most n of the points (xs[i], ys[i]) by largest-triangle-three-buckets
// (Steinarsson 2013): the first and last points stay, and each bucket in between keeps the point
// that spans the largest triangle with its neighbours' picks, so peaks survive where a plain
// stride would drop them (tsenart/vegeta#131: plotting every point hangs the browser). xs must
// be increasing. It returns the indexes kept, in order.
func lttb(xs, ys []float64, n int) []int {
	if n >= len(xs) || n < 3 {
		idx := make([]int, len(xs))
		for i := range idx {
			idx[i] = i
		}
		return idx
	}
	out := make([]int, 0, n)
	out = append(out, 0)
	every := float64(len(xs)-2) / float64(n-2)
	a := 0
	for i := range n - 2 {
		lo, hi := int(float64(i)*every)+1, int(float64(i+1)*every)+1
		// The next bucket's mean is the third corner of the triangle.
		nlo, nhi := hi, min(int(float64(i+2)*every)+1, len(xs))
		var mx, my float64
		for j := nlo; j < nhi; j++ {
			mx, my = mx+xs[j], my+ys[j]
		}
		if cnt := float64(nhi - nlo); cnt > 0 {
			mx, my = mx/cnt, my/cnt
		} else {
			mx, my = xs[len(xs)-1], ys[len(ys)-1]
		}
		best, bestArea := lo, -1.0
		for j := lo; j < hi; j++ {
			area := math.Abs((xs[a]-mx)*(ys[j]-ys[a]) - (xs[a]-xs[j])*(my-ys[a]))
			if area > bestArea {
				best, bestArea = j, area
			}
		}
		out = append(out, best)
		a = best
	}
	return append(out, len(xs)-1)
}
