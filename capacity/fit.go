package capacity

import (
	"errors"
	"fmt"
	"math"
)

// ErrTooFewPoints is returned (wrapped) by a fit given fewer points than it needs.
var ErrTooFewPoints = errors.New("too few points")

// ln100 is −ln(0.01): the P99 of an exponential distribution in units of its mean.
var ln100 = math.Log(100)

// QueueFit is an M/M/c queue fitted to (rate, P99) points: Poisson arrivals at rate λ, C servers
// with exponential service times of mean S seconds. C is 1 for M/M/1, where the response time is
// exponential and P99 = ln(100)·S/(1−λS). For C > 1 the P99 of the response time (waiting, with
// the Erlang C probability of waiting, plus service) is solved numerically. The capacity is C/S.
type QueueFit struct {
	S float64 // mean service time, seconds
	C int     // servers
	// R2 is the coefficient of determination of log P99; RMSE the root mean square error of P99
	// in seconds; Points the number of points fitted.
	R2, RMSE float64
	Points   int
}

// Capacity is the rate at which the queue saturates, in requests per second.
func (f QueueFit) Capacity() float64 { return float64(f.C) / f.S }

// P99 is the model's P99 latency in seconds at arrival rate lambda; +Inf at or past capacity.
func (f QueueFit) P99(lambda float64) float64 { return mmcP99(lambda, f.S, f.C) }

// Formula states the model for people.
func (f QueueFit) Formula() string {
	if f.C == 1 {
		return "M/M/1: p99 = ln(100)·S/(1−λS)"
	}
	return "M/M/c: p99 of wait (Erlang C) + exponential service S, c servers, ρ = λS/c"
}

// erlangC is the probability that an arrival waits in an M/M/c queue with offered load a = λS.
func erlangC(c int, a float64) float64 {
	b := 1.0 // Erlang B by recursion, stable for large c
	for k := 1; k <= c; k++ {
		b = a * b / (float64(k) + a*b)
	}
	return float64(c) * b / (float64(c) - a*(1-b))
}

// mmcP99 is the P99 response time of an M/M/c queue.
func mmcP99(lambda, s float64, c int) float64 {
	mu := 1 / s
	a := float64(c)*mu - lambda // decay rate of the waiting time's tail
	if !(a > 0) {
		return math.Inf(1)
	}
	if c == 1 {
		return ln100 / a
	}
	pw := erlangC(c, lambda*s)
	tail := func(t float64) float64 {
		// Service alone, or an exponential wait plus service (hypoexponential sum).
		var sum float64
		if math.Abs(a-mu) < 1e-9*mu {
			sum = (1 + mu*t) * math.Exp(-mu*t)
		} else {
			sum = (a*math.Exp(-mu*t) - mu*math.Exp(-a*t)) / (a - mu)
		}
		return (1-pw)*math.Exp(-mu*t) + pw*sum
	}
	lo, hi := 0.0, ln100/min(a, mu)
	for tail(hi) > 0.01 {
		hi *= 2
	}
	for range 60 {
		m := (lo + hi) / 2
		if tail(m) > 0.01 {
			lo = m
		} else {
			hi = m
		}
	}
	return (lo + hi) / 2
}

// FitMM1 fits an M/M/1 queue to points (X: arrival rate, req/s; Y: P99, seconds) by least squares
// on log P99. It needs 2 points with positive values.
func FitMM1(points []XY) (QueueFit, error) { return fitQueue(points, []int{1}) }

// FitMMc fits an M/M/c queue, estimating S and c, by least squares on log P99. It needs 3 points.
func FitMMc(points []XY) (QueueFit, error) {
	var cs []int
	for c := 1; c <= 1024; {
		cs = append(cs, c)
		if c < 16 {
			c++
		} else {
			c = int(math.Ceil(float64(c) * 1.2))
		}
	}
	return fitQueue(points, cs)
}

func fitQueue(points []XY, cs []int) (QueueFit, error) {
	pts := positive(points)
	need := 2
	if len(cs) > 1 {
		need = 3
	}
	if len(pts) < need {
		return QueueFit{}, fmt.Errorf("%w: %d usable points, want at least %d", ErrTooFewPoints, len(pts), need)
	}
	var lmax float64
	for _, p := range pts {
		lmax = max(lmax, p.X)
	}
	cost := func(s float64, c int) float64 {
		var sum float64
		for _, p := range pts {
			m := mmcP99(p.X, s, c)
			if math.IsInf(m, 1) {
				return math.Inf(1)
			}
			d := math.Log(m) - math.Log(p.Y)
			sum += d * d
		}
		return sum
	}
	best := QueueFit{}
	bestCost := math.Inf(1)
	for _, c := range cs {
		sMax := float64(c) / lmax * (1 - 1e-9)
		// Grid over log S, then golden-section refinement around the best grid point.
		const n = 60
		lo, hi := math.Log(sMax*1e-5), math.Log(sMax)
		step := (hi - lo) / n
		bi, bc := 0, math.Inf(1)
		for i := 0; i <= n; i++ {
			if v := cost(math.Exp(lo+float64(i)*step), c); v < bc {
				bi, bc = i, v
			}
		}
		a, b := lo+float64(max(bi-1, 0))*step, lo+float64(min(bi+1, n))*step
		g := (math.Sqrt(5) - 1) / 2
		for range 40 {
			x1, x2 := b-g*(b-a), a+g*(b-a)
			if cost(math.Exp(x1), c) < cost(math.Exp(x2), c) {
				b = x2
			} else {
				a = x1
			}
		}
		s := math.Exp((a + b) / 2)
		if v := cost(s, c); v < bestCost {
			bestCost, best = v, QueueFit{S: s, C: c}
		}
	}
	if math.IsInf(bestCost, 1) {
		return QueueFit{}, errors.New("no queue fits the points")
	}
	best.Points = len(pts)
	obs, model := make([]float64, len(pts)), make([]float64, len(pts))
	var se float64
	for i, p := range pts {
		obs[i], model[i] = math.Log(p.Y), math.Log(best.P99(p.X))
		d := best.P99(p.X) - p.Y
		se += d * d
	}
	best.R2 = r2(obs, model)
	best.RMSE = math.Sqrt(se / float64(len(pts)))
	return best, nil
}

// USLFit is the Universal Scalability Law fitted to (concurrency N, throughput X) points:
// X(N) = λN / (1 + σ(N−1) + κN(N−1)). N comes from Little's law, N = X·R.
type USLFit struct {
	Lambda, Sigma, Kappa float64
	// R2 is the coefficient of determination of X; RMSE its root mean square error in req/s.
	R2, RMSE float64
	Points   int
}

// MinUSLPoints is the fewest points a USL fit is attempted with.
const MinUSLPoints = 6

// X is the modelled throughput at concurrency n.
func (u USLFit) X(n float64) float64 {
	return u.Lambda * n / (1 + u.Sigma*(n-1) + u.Kappa*n*(n-1))
}

// Peak returns the concurrency at which throughput peaks and the peak throughput. Without
// coherency cost (κ = 0) throughput approaches λ/σ and n is +Inf; with neither cost it grows
// without bound and both are +Inf.
func (u USLFit) Peak() (n, x float64) {
	switch {
	case u.Kappa > 0:
		n = math.Sqrt((1 - u.Sigma) / u.Kappa)
		return n, u.X(max(n, 1))
	case u.Sigma > 0:
		return math.Inf(1), u.Lambda / u.Sigma
	}
	return math.Inf(1), math.Inf(1)
}

// FitUSL fits the USL by least squares on throughput: λ in closed form for each (σ, κ) of a
// grid refined three times. It needs MinUSLPoints points.
func FitUSL(points []XY) (USLFit, error) {
	pts := positive(points)
	if len(pts) < MinUSLPoints {
		return USLFit{}, fmt.Errorf("%w: %d usable points, want at least %d for the USL", ErrTooFewPoints, len(pts), MinUSLPoints)
	}
	eval := func(sigma, kappa float64) (lambda, sse float64) {
		var xg, gg float64
		for _, p := range pts {
			g := p.X / (1 + sigma*(p.X-1) + kappa*p.X*(p.X-1))
			xg += p.Y * g
			gg += g * g
		}
		lambda = xg / gg
		for _, p := range pts {
			d := p.Y - lambda*p.X/(1+sigma*(p.X-1)+kappa*p.X*(p.X-1))
			sse += d * d
		}
		return lambda, sse
	}
	// κ on a log scale (with 0), σ on a linear one.
	kOf := func(i float64) float64 {
		if i <= 0 {
			return 0
		}
		return math.Pow(10, -8+i)
	}
	sLo, sHi, kLo, kHi := 0.0, 1.0, 0.0, 8.0
	var bs, bk, bl float64
	best := math.Inf(1)
	for range 4 {
		const n = 40
		for i := 0; i <= n; i++ {
			sigma := sLo + (sHi-sLo)*float64(i)/n
			for j := 0; j <= n; j++ {
				ki := kLo + (kHi-kLo)*float64(j)/n
				l, sse := eval(sigma, kOf(ki))
				if sse < best {
					best, bs, bk, bl = sse, sigma, ki, l
				}
			}
		}
		ds, dk := (sHi-sLo)/n*2, (kHi-kLo)/n*2
		sLo, sHi = max(0, bs-ds), min(1, bs+ds)
		kLo, kHi = max(0, bk-dk), min(8, bk+dk)
	}
	u := USLFit{Lambda: bl, Sigma: bs, Kappa: kOf(bk), Points: len(pts)}
	obs, model := make([]float64, len(pts)), make([]float64, len(pts))
	for i, p := range pts {
		obs[i], model[i] = p.Y, u.X(p.X)
	}
	u.R2 = r2(obs, model)
	u.RMSE = math.Sqrt(best / float64(len(pts)))
	return u, nil
}

// positive keeps the points with positive, finite coordinates.
func positive(points []XY) []XY {
	var out []XY
	for _, p := range points {
		if p.X > 0 && p.Y > 0 && !math.IsInf(p.X, 0) && !math.IsInf(p.Y, 0) {
			out = append(out, p)
		}
	}
	return out
}

// r2 is the coefficient of determination of model against obs.
func r2(obs, model []float64) float64 {
	var mean float64
	for _, o := range obs {
		mean += o
	}
	mean /= float64(len(obs))
	var res, tot float64
	for i, o := range obs {
		res += (o - model[i]) * (o - model[i])
		tot += (o - mean) * (o - mean)
	}
	if tot == 0 {
		if res == 0 {
			return 1
		}
		return 0
	}
	return 1 - res/tot
}
