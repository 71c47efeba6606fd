package capacity

import (
	"fmt"
	"math"

	"github.com/headroom/headroom/result"
)

// Judge decides whether a step passes: its SLO holds, achieved kept up with offered (at least
// MinAchieved of it, less the count's noise for Poisson arrivals), errors stayed within the
// budget, and the load generator's verdict is valid. A step whose generator was the limit fails
// with an "invalid" reason: it says nothing certain about the target. cfg must be validated.
// Judge also records the SLO outcome in l.SLO.
func Judge(l *result.Load, cfg Config) (pass bool, reasons []string) {
	reasons = []string{}
	l.SLO = cfg.Objective.Check(l)
	for _, c := range l.SLO.Checks {
		if !c.Pass {
			reasons = append(reasons, fmt.Sprintf("SLO %s failed (actual %.4g %s)", c.Expr, c.Actual, c.Unit))
		}
	}
	if l.OfferedRPS > 0 {
		need := achievedNeed(cfg, l.OfferedRPS, l.DurationS)
		if ratio := l.AchievedRPS / l.OfferedRPS; ratio < need {
			reasons = append(reasons, fmt.Sprintf("achieved %.1f of %.1f req/s offered (%.1f%%, want ≥ %.1f%%)",
				l.AchievedRPS, l.OfferedRPS, 100*ratio, 100*need))
		}
	}
	if !hasErrorsClause(cfg.Objective) && l.Requests > 0 {
		if pct := 100 * float64(l.Errors) / float64(l.Requests); pct > cfg.ErrorBudget {
			reasons = append(reasons, fmt.Sprintf("errors %.3g%% over the %.3g%% budget", pct, cfg.ErrorBudget))
		}
	}
	if l.Requests == 0 {
		reasons = append(reasons, "no request was measured")
	}
	if !l.Verdict.Valid {
		why := "the generator, not the target, was the limit"
		if len(l.Verdict.Reasons) > 0 {
			why = l.Verdict.Reasons[0]
		}
		reasons = append(reasons, "invalid: "+why)
	}
	return len(reasons) == 0, reasons
}

// achievedNeed is the least achieved/offered ratio of a step that kept up: MinAchieved, less
// three standard deviations of the count for Poisson arrivals (a Poisson count of mean n has
// standard deviation √n).
func achievedNeed(cfg Config, offered, durationS float64) float64 {
	need := cfg.MinAchieved
	if n := offered * durationS; cfg.Poisson && n > 0 {
		need -= 3 / math.Sqrt(n)
	}
	return need
}
