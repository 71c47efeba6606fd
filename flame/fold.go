package flame

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// Stack is one distinct call stack, root first, with the sum of its samples' values.
type Stack struct {
	Frames []string
	Value  int64
}

// Folded is a profile folded into distinct stacks (Brendan Gregg's folded format: one line
// `root;caller;leaf VALUE` per stack), sorted by stack so the output is deterministic.
type Folded struct {
	// Unit is the unit of the values: "nanoseconds" for CPU and wall profiles.
	Unit string
	// Total is the sum of every stack's value.
	Total  int64
	Stacks []Stack
}

// FoldOptions selects the samples to fold. The zero value folds every sample.
type FoldOptions struct {
	// LabelKey and LabelValue, when LabelKey is set, keep only samples whose string label
	// LabelKey has value LabelValue (a per-endpoint profile: key "http.route").
	LabelKey, LabelValue string
}

// Fold folds the profile's samples (their default value; see Unit) into distinct stacks. Inlined
// calls are frames of their own, as in pprof's own views.
func (p *Profile) Fold(opt FoldOptions) *Folded {
	idx := p.sampleIndex()
	sums := map[string]int64{}
	var frames []string
	for _, s := range p.p.Sample {
		if opt.LabelKey != "" && !s.HasLabel(opt.LabelKey, opt.LabelValue) {
			continue
		}
		v := s.Value[idx]
		if v == 0 {
			continue
		}
		frames = frames[:0]
		// Locations are leaf first, and so are the lines of one location (innermost inline first).
		for i := len(s.Location) - 1; i >= 0; i-- {
			loc := s.Location[i]
			if len(loc.Line) == 0 {
				frames = append(frames, fmt.Sprintf("0x%x", loc.Address))
				continue
			}
			for j := len(loc.Line) - 1; j >= 0; j-- {
				name := "?"
				if fn := loc.Line[j].Function; fn != nil && fn.Name != "" {
					name = fn.Name
				}
				frames = append(frames, frameName(name))
			}
		}
		if len(frames) == 0 {
			frames = append(frames, "?")
		}
		sums[strings.Join(frames, ";")] += v
	}
	return foldedFromSums(p.Unit(), sums)
}

// frameName keeps a name from breaking the folded format: ';' separates frames and a line ends a
// stack.
var frameReplacer = strings.NewReplacer(";", ":", "\n", " ", "\r", " ")

func frameName(s string) string { return frameReplacer.Replace(s) }

func foldedFromSums(unit string, sums map[string]int64) *Folded {
	f := &Folded{Unit: unit, Stacks: make([]Stack, 0, len(sums))}
	keys := make([]string, 0, len(sums))
	for k := range sums {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		f.Stacks = append(f.Stacks, Stack{Frames: strings.Split(k, ";"), Value: sums[k]})
		f.Total += sums[k]
	}
	return f
}

// WriteFolded writes the stacks in the folded format, one `a;b;c VALUE` line per stack: the input
// of flamegraph.pl, speedscope and inferno.
func (f *Folded) WriteFolded(w io.Writer) error {
	bw := bufio.NewWriter(w)
	for _, s := range f.Stacks {
		for i, fr := range s.Frames {
			if i > 0 {
				_ = bw.WriteByte(';')
			}
			_, _ = bw.WriteString(fr)
		}
		_ = bw.WriteByte(' ')
		_, _ = bw.WriteString(strconv.FormatInt(s.Value, 10))
		_ = bw.WriteByte('\n')
	}
	return bw.Flush()
}

// ParseFolded reads stacks in the folded format (`a;b;c VALUE` per line; blank lines skipped),
// summing repeated stacks. unit names the values' unit. A line without a non-negative integer
// value after its last space is an error naming the line.
func ParseFolded(r io.Reader, unit string) (*Folded, error) {
	sums := map[string]int64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i <= 0 {
			return nil, fmt.Errorf("folded line %d: want `frame;frame VALUE`, got %q", n, clip(line))
		}
		v, err := strconv.ParseInt(line[i+1:], 10, 64)
		if err != nil || v < 0 {
			return nil, fmt.Errorf("folded line %d: value %q is not a non-negative integer", n, clip(line[i+1:]))
		}
		stack := strings.TrimSpace(line[:i])
		if stack == "" || strings.Contains(stack, ";;") || strings.HasPrefix(stack, ";") || strings.HasSuffix(stack, ";") {
			return nil, fmt.Errorf("folded line %d: empty frame in %q", n, clip(stack))
		}
		if sums[stack] > (1<<63-1)-v {
			return nil, fmt.Errorf("folded line %d: values overflow", n)
		}
		sums[stack] += v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("folded input: %w", err)
	}
	f := foldedFromSums(unit, sums)
	if f.Total < 0 {
		return nil, fmt.Errorf("folded input: values overflow")
	}
	return f, nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// TrimLeaves returns a copy of f in which leaf frames starting with any of prefixes (e.g. "runtime.") are
// charged to their nearest caller that does not, so a wall-clock profile's parked goroutines
// (runtime.gopark, runtime.selectgo …) show as the code that waits. A stack made only of such
// frames keeps its root.
func (f *Folded) TrimLeaves(prefixes ...string) *Folded {
	sums := map[string]int64{}
	trim := func(fr string) bool {
		for _, p := range prefixes {
			if strings.HasPrefix(fr, p) {
				return true
			}
		}
		return false
	}
	for _, s := range f.Stacks {
		n := len(s.Frames)
		for n > 1 && trim(s.Frames[n-1]) {
			n--
		}
		sums[strings.Join(s.Frames[:n], ";")] += s.Value
	}
	return foldedFromSums(f.Unit, sums)
}

// Func is one function's share of a profile.
type Func struct {
	Name string
	// Flat is the value of samples in which the function is the leaf (self time).
	Flat int64
	// Cum is the value of samples in which the function is anywhere on the stack.
	Cum int64
	// FlatShare and CumShare are Flat and Cum as fractions (0..1) of the profile's total.
	FlatShare, CumShare float64
}

// Top returns the n functions with the most flat value (all when n ≤ 0), by flat then cum
// value, then name.
func (f *Folded) Top(n int) []Func {
	idx := map[string]*Func{}
	var order []*Func
	get := func(name string) *Func {
		fn := idx[name]
		if fn == nil {
			fn = &Func{Name: name}
			idx[name] = fn
			order = append(order, fn)
		}
		return fn
	}
	seen := map[string]bool{}
	for _, s := range f.Stacks {
		get(s.Frames[len(s.Frames)-1]).Flat += s.Value
		clear(seen)
		for _, fr := range s.Frames {
			if !seen[fr] { // a recursive function counts once per stack
				seen[fr] = true
				get(fr).Cum += s.Value
			}
		}
	}
	out := make([]Func, 0, len(order))
	for _, fn := range order {
		if f.Total > 0 {
			fn.FlatShare = float64(fn.Flat) / float64(f.Total)
			fn.CumShare = float64(fn.Cum) / float64(f.Total)
		}
		out = append(out, *fn)
	}
	slices.SortFunc(out, func(a, b Func) int {
		switch {
		case a.Flat != b.Flat:
			return cmpDesc(a.Flat, b.Flat)
		case a.Cum != b.Cum:
			return cmpDesc(a.Cum, b.Cum)
		}
		return strings.Compare(a.Name, b.Name)
	})
	if n > 0 && len(out) > n {
		out = out[:n]
	}
	return out
}

func cmpDesc(a, b int64) int {
	if a > b {
		return -1
	}
	return 1
}
