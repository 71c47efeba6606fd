package flame

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"text/tabwriter"
)

// WriteTop writes the n functions with the most self value of f as a table (flat, flat %, cum,
// cum %, function), like `go tool pprof -top`.
func WriteTop(w io.Writer, f *Folded, n int) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "flat\tflat%%\tcum\tcum%%\t  function\n")
	for _, fn := range f.Top(n) {
		fmt.Fprintf(tw, "%s\t%.1f%%\t%s\t%.1f%%\t  %s\n", formatValue(fn.Flat, f.Unit), 100*fn.FlatShare, formatValue(fn.Cum, f.Unit), 100*fn.CumShare, fn.Name)
	}
	return tw.Flush()
}

// FuncDelta is the change of one function's flat share between two profiles.
type FuncDelta struct {
	Name string
	// BaseShare and NextShare are the function's flat shares (0..1) of each profile's total;
	// Delta is NextShare − BaseShare.
	BaseShare, NextShare, Delta float64
}

// DiffTop returns the n functions whose flat share changed most between base and next, by the
// size of the change (all changed functions when n ≤ 0).
func DiffTop(base, next *Folded, n int) []FuncDelta {
	m := map[string]*FuncDelta{}
	get := func(name string) *FuncDelta {
		d := m[name]
		if d == nil {
			d = &FuncDelta{Name: name}
			m[name] = d
		}
		return d
	}
	for _, fn := range base.Top(0) {
		get(fn.Name).BaseShare = fn.FlatShare
	}
	for _, fn := range next.Top(0) {
		get(fn.Name).NextShare = fn.FlatShare
	}
	out := make([]FuncDelta, 0, len(m))
	for _, d := range m {
		d.Delta = d.NextShare - d.BaseShare
		if d.Delta != 0 {
			out = append(out, *d)
		}
	}
	slices.SortFunc(out, func(a, b FuncDelta) int {
		if c := cmp.Compare(math.Abs(b.Delta), math.Abs(a.Delta)); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	if n > 0 && len(out) > n {
		out = out[:n]
	}
	return out
}
