package hist

import (
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Range and precision of every Histogram. Values outside the range are clamped to it, so a
// recording never fails; Lowest is also the unit of the encoded values (microseconds).
const (
	Lowest            = time.Microsecond
	Highest           = time.Hour
	SignificantDigits = 3
)

// ErrDecode is returned (wrapped) by Decode for input that is not an encoded Histogram.
var ErrDecode = errors.New("not an encoded HDR histogram")

// Histogram counts durations between Lowest and Highest with SignificantDigits of precision.
// The zero value is not usable; call New. A Histogram is not safe for concurrent use.
type Histogram struct {
	h *hdr.Histogram
}

// New returns an empty Histogram.
func New() *Histogram {
	return &Histogram{h: hdr.New(1, int64(Highest/Lowest), SignificantDigits)}
}

// Record counts one duration. Durations below Lowest count as Lowest, above Highest as Highest.
func (h *Histogram) Record(d time.Duration) { h.RecordN(d, 1) }

// RecordN counts n occurrences of duration d.
func (h *Histogram) RecordN(d time.Duration, n int64) { h.recordMicros(int64(d/Lowest), n) }

func (h *Histogram) recordMicros(v, n int64) {
	v = max(v, 1)
	v = min(v, int64(Highest/Lowest))
	// Cannot fail: v is inside the trackable range by construction.
	_ = h.h.RecordValues(v, n)
}

// Count returns the number of recorded durations.
func (h *Histogram) Count() int64 { return h.h.TotalCount() }

// Quantile returns the duration below or at which the fraction q (0 ≤ q ≤ 1) of the recorded
// durations lie, within the histogram's precision. It returns 0 for an empty histogram.
func (h *Histogram) Quantile(q float64) time.Duration {
	return time.Duration(h.h.ValueAtQuantile(q*100)) * Lowest
}

// Min returns the smallest recorded duration, 0 when empty.
func (h *Histogram) Min() time.Duration {
	if h.Count() == 0 {
		return 0
	}
	return time.Duration(h.h.Min()) * Lowest
}

// Max returns the largest recorded duration (within precision), 0 when empty.
func (h *Histogram) Max() time.Duration { return time.Duration(h.h.Max()) * Lowest }

// Mean returns the mean of the recorded durations, 0 when empty.
func (h *Histogram) Mean() time.Duration { return time.Duration(h.h.Mean() * float64(Lowest)) }

// Merge adds every count of o to h. o is unchanged.
func (h *Histogram) Merge(o *Histogram) { h.h.Merge(o.h) }

// Reset empties h, keeping its memory.
func (h *Histogram) Reset() { h.h.Reset() }

// Clone returns an independent copy of h.
func (h *Histogram) Clone() *Histogram { return &Histogram{h: h.h.Clone()} }

// Equal reports whether h and o hold the same counts.
func (h *Histogram) Equal(o *Histogram) bool { return h.h.Equals(o.h) }

// Bucket is one bar of a Distribution: Count durations between From and To (inclusive).
type Bucket struct {
	From, To time.Duration
	Count    int64
}

// Distribution returns the non-empty buckets of h in increasing order.
func (h *Histogram) Distribution() []Bucket {
	var out []Bucket
	for _, b := range h.h.Distribution() {
		if b.Count == 0 {
			continue
		}
		out = append(out, Bucket{From: time.Duration(b.From) * Lowest, To: time.Duration(b.To) * Lowest, Count: b.Count})
	}
	return out
}

// Encode returns h in the standard compressed HDR format (V2, base64), the form HdrHistogram's
// tools in every language read. Values are in microseconds.
func (h *Histogram) Encode() (string, error) {
	b, err := h.h.Encode(hdr.V2CompressedEncodingCookieBase)
	if err != nil {
		return "", fmt.Errorf("encode histogram: %w", err)
	}
	return string(b), nil
}

// Decode parses a histogram produced by Encode. Counts outside this package's range are clamped
// into it, so a decoded histogram always merges with the ones New returns.
func Decode(s string) (*Histogram, error) {
	if s == "" {
		return nil, fmt.Errorf("%w: empty string", ErrDecode)
	}
	if _, err := base64.StdEncoding.DecodeString(s); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDecode, err)
	}
	d, err := hdr.Decode([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDecode, err)
	}
	out := New()
	for _, b := range d.Distribution() {
		if b.Count < 0 {
			return nil, fmt.Errorf("%w: negative count", ErrDecode)
		}
		if b.Count > 0 {
			out.recordMicros(b.To, b.Count)
		}
	}
	return out, nil
}
