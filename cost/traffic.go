package cost

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Traffic is a month's traffic as the bills need it: how many requests, and the peak rate the
// servers must carry.
type Traffic struct {
	// Source says where the numbers came from ("steady 50 req/s", "load result run.json", …).
	Source string `json:"source"`
	// MeanRPS is the month's average rate; RequestsPerMonth = MeanRPS × 3600 × HoursPerMonth.
	MeanRPS          float64 `json:"mean_rps"`
	RequestsPerMonth float64 `json:"requests_per_month"`
	// PeakRPS is the highest rate, bursts included: what the always-on servers are sized for.
	PeakRPS float64 `json:"peak_rps"`
}

// Steady is traffic at one rate all month.
func Steady(rps float64, source string) Traffic {
	return Traffic{Source: source, MeanRPS: rps, RequestsPerMonth: rps * 3600 * HoursPerMonth, PeakRPS: rps}
}

// Hour is one hour of a daily profile.
type Hour struct {
	Requests float64 `json:"requests"`
	// PeakRPS is the highest rate within the hour (a burst); Requests/3600 when the profile does
	// not say.
	PeakRPS float64 `json:"peak_rps"`
}

// Profile is a day of traffic, hour by hour, repeated every day of the month.
type Profile [24]Hour

// Traffic is the month the profile describes: every day alike, HoursPerMonth/24 days.
func (p *Profile) Traffic(source string) Traffic {
	var day, peak float64
	for _, h := range p {
		day += h.Requests
		peak = math.Max(peak, h.PeakRPS)
	}
	return Traffic{Source: source, MeanRPS: day / 86400, RequestsPerMonth: day * HoursPerMonth / 24, PeakRPS: peak}
}

// maxProfileLine bounds a profile line: the longest valid one is a few dozen bytes.
const maxProfileLine = 256

// ErrProfile is wrapped by every error of ParseProfile.
var ErrProfile = errors.New("bad traffic profile")

// ParseProfile reads a daily profile: 24 lines "HOUR,REQUESTS" or "HOUR,REQUESTS,PEAK_RPS",
// hours 0 to 23 in order, REQUESTS the requests in that hour (a whole number ≥ 0), PEAK_RPS the
// highest rate within it (≥ REQUESTS/3600, for a burst). Blank lines and lines starting with #
// are ignored; so is one header line "hour,requests[,peak_rps]". Anything else is an error naming
// the line and what is valid.
func ParseProfile(r io.Reader) (*Profile, error) {
	var p Profile
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, maxProfileLine), maxProfileLine)
	next, lineNo := 0, 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if next == 0 && (line == "hour,requests" || line == "hour,requests,peak_rps") {
			continue
		}
		fail := func(format string, args ...any) error {
			return fmt.Errorf("%w: line %d %q: %s", ErrProfile, lineNo, line, fmt.Sprintf(format, args...))
		}
		if next == 24 {
			return nil, fail("more than 24 hours: want exactly one line per hour 0–23")
		}
		fields := strings.Split(line, ",")
		if len(fields) < 2 || len(fields) > 3 {
			return nil, fail("want HOUR,REQUESTS or HOUR,REQUESTS,PEAK_RPS")
		}
		hour, err := strconv.Atoi(strings.TrimSpace(fields[0]))
		if err != nil || hour != next {
			return nil, fail("hour %q: want %d (hours 0–23, in order, each once)", fields[0], next)
		}
		n, err := strconv.ParseUint(strings.TrimSpace(fields[1]), 10, 53)
		if err != nil {
			return nil, fail("requests %q: want a whole number ≥ 0 (below 2^53)", fields[1])
		}
		h := Hour{Requests: float64(n), PeakRPS: float64(n) / 3600}
		if len(fields) == 3 {
			peak, err := strconv.ParseFloat(strings.TrimSpace(fields[2]), 64)
			if err != nil || math.IsNaN(peak) || math.IsInf(peak, 0) || peak < h.PeakRPS {
				return nil, fail("peak_rps %q: want a number ≥ the hour's mean rate %.4g req/s", fields[2], h.PeakRPS)
			}
			h.PeakRPS = peak
		}
		p[next] = h
		next++
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: line %d: %w (lines are at most %d bytes)", ErrProfile, lineNo+1, err, maxProfileLine)
	}
	if next != 24 {
		return nil, fmt.Errorf("%w: %d hours: want 24 (one line per hour 0–23)", ErrProfile, next)
	}
	return &p, nil
}
