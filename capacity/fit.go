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

// QueueFit is a queueing model fitted to (arrival rate, P99) points.
//
// M/M/1 (C = 1, Base = 0): Poisson arrivals at rate λ, one server with exponential service of
// mean S seconds; the response time is exponential and P99 = ln(100)·S/(1−λS).
//
// M/M/c: C servers of mean service time S; an arrival waits with the Erlang C probability
// P(wait), and the wait's tail is exponential with rate C/S − λ, so the P99 of the wait is
// ln(100·P(wait))/(C/S − λ) when P(wait) > 1 %, else 0. Real services are rarely exponential,
// so the P99 is modelled as Base (the service's own P99, measured at low load) plus that wait:
// the queueing comes from the model, the service's shape from the measurement. S and C are
// estimated (S within 25 % of the mean service time measured at low load). The capacity is C/S.
type QueueFit struct {
	S    float64 // mean service time, seconds
	C    int     // servers
	Base float64 // M/M/c: the service's own P99 without queueing, seconds
	// R2 is the coefficient of determination of P99; RMSE the root mean square error of P99 in
	// seconds; Points the number of points fitted.
	R2, RMSE float64
	Points   int
	mmc      bool
}

// Capacity is the rate at which the queue saturates, in requests per second.
func (f QueueFit) Capacity() float64 { return float64(f.C) / f.S }

// P99 is the model's P99 latency in seconds at arrival rate lambda; +Inf at or past capacity.
func (f QueueFit) P99(lambda float64) float64 {
	if f.mmc {
		return f.Base + mmcWaitP99(lambda, f.S, f.C)
	}
	return mm1P99(lambda, f.S)
}

// Formula states the model for people.
func (f QueueFit) Formula() string {
	if f.mmc {
		return "M/M/c: p99 = base + ln(100·C(c,λS))/(c/S − λ), Erlang C wait over the measured service p99"
	}
	return "M/M/1: p99 = ln(100)·S/(1−λS)"
}

// erlangC is the probability that an arrival waits in an M/M/c queue with offered load a = λS.
func erlangC(c int, a float64) float64 {
	b := 1.0 // Erlang B by recursion, stable for large c
	for k := 1; k <= c; k++ {
		b = a * b / (float64(k) + a*b)
	}
	return float64(c) * b / (float64(c) - a*(1-b))
}

// mm1P99 is the P99 response time of an M/M/1 queue.
func mm1P99(lambda, s float64) float64 {
	if !(lambda*s < 1) {
		return math.Inf(1)
	}
	return ln100 * s / (1 - lambda*s)
}

// mmcWaitP99 is the P99 of the waiting time in an M/M/c queue.
func mmcWaitP99(lambda, s float64, c int) float64 {
	a := float64(c)/s - lambda
	if !(a > 0) {
		return math.Inf(1)
	}
	pw := erlangC(c, lambda*s)
	if pw <= 0.01 {
		return 0
	}
	return math.Log(100*pw) / a
}

// FitMM1 fits an M/M/1 queue to points (X: arrival rate, req/s; Y: P99, seconds) by least squares
// on P99. It needs 2 points with positive values.
func FitMM1(points []XY) (QueueFit, error) {
	return fitQueue(points, []int{1}, false, 0, 0)
}

// FitMMc fits an M/M/c queue over a measured base P99 (seconds) by least squares on P99: S and c
// are estimated, S within
// 25 % of serviceMean (seconds), the mean service time measured at low load, when it is
// positive. It needs 3 points.
func FitMMc(points []XY, base, serviceMean float64) (QueueFit, error) {
	var cs []int
	for c := 1; c <= 1024; {
		cs = append(cs, c)
		if c < 16 {
			c++
		} else {
			c = int(math.Ceil(float64(c) * 1.2))
		}
	}
	return fitQueue(points, cs, true, base, serviceMean)
}

func fitQueue(points []XY, cs []int, mmc bool, base, serviceMean float64) (QueueFit, error) {
	pts := positive(points)
	need := 2
	if mmc {
		need = 3
	}
	if len(pts) < need {
		return QueueFit{}, fmt.Errorf("%w: %d usable points, want at least %d", ErrTooFewPoints, len(pts), need)
	}
	var lmax float64
	for _, p := range pts {
		lmax = max(lmax, p.X)
	}
	model := func(s float64, c int) QueueFit { return QueueFit{S: s, C: c, Base: base, mmc: mmc} }
	cost := func(s float64, c int) float64 {
		f := model(s, c)
		var sum float64
		for _, p := range pts {
			m := f.P99(p.X)
			if math.IsInf(m, 1) || !(m > 0) {
				return math.Inf(1)
			}
			// Squared error in P99 itself, not its log: the points near saturation, where
			// the queue shows, weigh most; flat low-load points mostly carry noise.
			d := m - p.Y
			sum += d * d
		}
		return sum
	}
	best := QueueFit{}
	bestCost := math.Inf(1)
	for _, c := range cs {
		sMax := float64(c) / lmax * (1 - 1e-9)
		lo, hi := math.Log(sMax*1e-5), math.Log(sMax)
		if serviceMean > 0 {
			lo, hi = math.Log(serviceMean*0.8), math.Min(hi, math.Log(serviceMean*1.25))
			if hi <= lo {
				continue // c servers of this service time cannot carry the rates measured
			}
		}
		// Grid over log S, then golden-section refinement around the best grid point.
		const n = 60
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
		if v := cost(s, c); v < bestCost*(1-1e-9) {
			bestCost, best = v, model(s, c)
		}
	}
	if math.IsInf(bestCost, 1) {
		return QueueFit{}, errors.New("no queue fits the points")
	}
	best.Points = len(pts)
	obs, fitted := make([]float64, len(pts)), make([]float64, len(pts))
	var se float64
	for i, p := range pts {
		obs[i], fitted[i] = p.Y, best.P99(p.X)
		d := best.P99(p.X) - p.Y
		se += d * d
	}
	best.R2 = r2(obs, fitted)
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
