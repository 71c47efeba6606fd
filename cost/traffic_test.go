package cost

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
)

// dayProfile is a day at 3,600 requests an hour (1 req/s) with a burst of 50 req/s at noon.
func dayProfile() string {
	var b strings.Builder
	b.WriteString("# a quiet day with a burst at noon\nhour,requests,peak_rps\n")
	for h := range 24 {
		if h == 12 {
			b.WriteString("12,36000,50\n")
			continue
		}
		fmt.Fprintf(&b, "%d,3600\n", h)
	}
	return b.String()
}

func TestParseProfile(t *testing.T) {
	t.Parallel()
	p, err := ParseProfile(strings.NewReader(dayProfile()))
	if err != nil {
		t.Fatal(err)
	}
	tr := p.Traffic("day.csv")
	// 23 × 3,600 + 36,000 = 118,800 a day × 730/24 days = 3,613,500 a month; peak 50 req/s.
	if tr.RequestsPerMonth != 3613500 || tr.PeakRPS != 50 || math.Abs(tr.MeanRPS-118800.0/86400) > 1e-12 {
		t.Errorf("%+v", tr)
	}
	for _, c := range []struct{ in, want string }{
		{"", "0 hours"},
		{strings.Replace(dayProfile(), "5,3600\n", "", 1), "want 5"},
		{strings.Replace(dayProfile(), "5,3600\n", "5,-1\n", 1), "requests"},
		{strings.Replace(dayProfile(), "5,3600\n", "5,1.5\n", 1), "requests"},
		{strings.Replace(dayProfile(), "12,36000,50", "12,36000,5", 1), "peak_rps"},
		{strings.Replace(dayProfile(), "12,36000,50", "12,36000,NaN", 1), "peak_rps"},
		{strings.Replace(dayProfile(), "5,3600\n", "5,3600,1,2\n", 1), "HOUR,REQUESTS"},
		{dayProfile() + "24,1\n", "more than 24"},
		{strings.Repeat("#", 300) + "\n", "at most"},
	} {
		_, err := ParseProfile(strings.NewReader(c.in))
		if !errors.Is(err, ErrProfile) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%.40q: %v, want an error containing %q", c.in, err, c.want)
		}
	}
}

// FuzzParseProfile: any input parses or fails with ErrProfile, never panics; what parses has 24
// hours whose peaks cover their means and prints back to the same profile.
func FuzzParseProfile(f *testing.F) {
	f.Add(dayProfile())
	f.Add("0,1\n")
	f.Add("hour,requests\n0,1,2\n")
	f.Fuzz(func(t *testing.T, in string) {
		p, err := ParseProfile(strings.NewReader(in))
		if err != nil {
			if !errors.Is(err, ErrProfile) {
				t.Fatalf("error %v does not wrap ErrProfile", err)
			}
			return
		}
		var b strings.Builder
		for h, hr := range p {
			if hr.Requests < 0 || hr.PeakRPS < hr.Requests/3600 {
				t.Fatalf("hour %d: %+v", h, hr)
			}
			fmt.Fprintf(&b, "%d,%.0f,%v\n", h, hr.Requests, hr.PeakRPS)
		}
		q, err := ParseProfile(strings.NewReader(b.String()))
		if err != nil || *q != *p {
			t.Fatalf("printed profile does not parse back: %v\n%s", err, b.String())
		}
	})
}
