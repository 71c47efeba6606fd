package flame

import (
	"bufio"
	"fmt"
	"hash/fnv"
	"html"
	"io"
	"math"
	"strings"
	"time"
)

// SVGOptions set how WriteSVG draws. The zero value draws a 1200 px wide CPU-style graph.
type SVGOptions struct {
	// Title is drawn on top; default "Flame graph".
	Title string
	// Subtitle is drawn under the title (e.g. target, duration, sample count); default none.
	Subtitle string
	// Width is the image width in pixels; default 1200.
	Width int
	// Unit is the unit of the node values, for the tooltips: "nanoseconds" shows durations,
	// anything else plain numbers followed by the unit. Default "samples".
	Unit string
	// Diff colours each frame by its Delta (red grew, blue shrank) instead of by name: for trees
	// from Diff.
	Diff bool
}

const (
	frameHeight = 16
	fontSize    = 11
	// charWidth is the advance of one character of the monospace font at fontSize, to fit labels.
	charWidth = 6.6
	// minFrameWidth: narrower frames are not drawn (and not their children), which bounds the
	// size of the SVG for profiles with thousands of tiny stacks.
	minFrameWidth = 0.5
	padX          = 10
	headerHeight  = 44
)

// WriteSVG renders root as a flame graph: a self-contained SVG (no script, no stylesheet, no
// external reference, no ids), so several can be inlined in one HTML page or opened offline. Root is
// at the bottom, callees above their callers, widths proportional to Total; each frame has a
// tooltip (<title>) with the full name, value and share.
func WriteSVG(w io.Writer, root *Node, opt SVGOptions) error {
	if opt.Title == "" {
		opt.Title = "Flame graph"
	}
	if opt.Width <= 0 {
		opt.Width = 1200
	}
	if opt.Unit == "" {
		opt.Unit = "samples"
	}
	scale := 0.0
	if root.Total > 0 {
		scale = float64(opt.Width-2*padX) / float64(root.Total)
	}
	depth := drawnDepth(root, scale)
	maxDelta := 0.0
	if opt.Diff {
		maxDelta = maxAbsDelta(root, scale)
	}
	height := headerHeight + depth*frameHeight + 10
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="ui-monospace,Menlo,Consolas,monospace" font-size="%d">`+"\n",
		opt.Width, height, opt.Width, height, fontSize)
	fmt.Fprintf(bw, `<rect width="100%%" height="100%%" fill="#fdfdf6"/>`+"\n")
	fmt.Fprintf(bw, `<text x="%d" y="18" font-size="15" text-anchor="middle">%s</text>`+"\n", opt.Width/2, html.EscapeString(opt.Title))
	if opt.Subtitle != "" {
		fmt.Fprintf(bw, `<text x="%d" y="34" fill="#555" text-anchor="middle">%s</text>`+"\n", opt.Width/2, html.EscapeString(opt.Subtitle))
	}
	if root.Total == 0 {
		fmt.Fprintf(bw, `<text x="%d" y="%d" text-anchor="middle">no samples</text>`+"\n", opt.Width/2, headerHeight+8)
	}
	r := svgRenderer{w: bw, opt: opt, scale: scale, total: root.Total, maxDelta: maxDelta, bottom: height - 10}
	if root.Total > 0 {
		r.node(root, padX, 0)
	}
	fmt.Fprintln(bw, "</svg>")
	return bw.Flush()
}

type svgRenderer struct {
	w        *bufio.Writer
	opt      SVGOptions
	scale    float64
	total    int64
	maxDelta float64
	bottom   int
}

func (r *svgRenderer) node(n *Node, x float64, level int) {
	wd := float64(n.Total) * r.scale
	y := r.bottom - (level+1)*frameHeight
	title := r.title(n)
	fmt.Fprintf(r.w, `<g><title>%s</title><rect x="%.1f" y="%d" width="%.1f" height="%d" rx="2" fill="%s"/>`,
		html.EscapeString(title), x, y, math.Max(wd-0.5, 0.1), frameHeight-1, r.fill(n))
	if label := fitLabel(shortName(n.Name), wd); label != "" {
		fmt.Fprintf(r.w, `<text x="%.1f" y="%d">%s</text>`, x+3, y+frameHeight-4, html.EscapeString(label))
	}
	fmt.Fprintln(r.w, "</g>")
	cx := x
	for _, c := range n.Children {
		if float64(c.Total)*r.scale >= minFrameWidth {
			r.node(c, cx, level+1)
		}
		cx += float64(c.Total) * r.scale
	}
}

func (r *svgRenderer) title(n *Node) string {
	s := fmt.Sprintf("%s: %s, %.2f %%", n.Name, formatValue(n.Total, r.opt.Unit), 100*share(n.Total, r.total))
	if n.Self > 0 {
		s += fmt.Sprintf(" (self %s)", formatValue(n.Self, r.opt.Unit))
	}
	if r.opt.Diff {
		s += fmt.Sprintf("; share %+.2f points vs base (base %s)", 100*n.Delta, formatValue(n.BaseTotal, r.opt.Unit))
	}
	return s
}

func (r *svgRenderer) fill(n *Node) string {
	if r.opt.Diff {
		if r.maxDelta == 0 || n.Delta == 0 {
			return "rgb(235,235,235)"
		}
		// Saturation by the change relative to the largest change drawn, so the strongest change
		// is always fully red or blue.
		s := int(math.Round(200 * math.Min(1, math.Abs(n.Delta)/r.maxDelta)))
		if n.Delta > 0 {
			return fmt.Sprintf("rgb(255,%d,%d)", 235-s, 235-s)
		}
		return fmt.Sprintf("rgb(%d,%d,255)", 235-s, 235-s)
	}
	// The classic warm palette, chosen by a hash of the name so a function keeps its colour
	// across graphs.
	h := fnv.New32a()
	_, _ = h.Write([]byte(n.Name))
	v := h.Sum32()
	return fmt.Sprintf("rgb(%d,%d,%d)", 205+int(v%50), int((v>>8)%200), int((v>>16)%55))
}

// drawnDepth is the number of levels drawn: the deepest node at least minFrameWidth wide.
func drawnDepth(n *Node, scale float64) int {
	d := 0
	for _, c := range n.Children {
		if float64(c.Total)*scale >= minFrameWidth {
			d = max(d, drawnDepth(c, scale))
		}
	}
	return d + 1
}

func maxAbsDelta(n *Node, scale float64) float64 {
	m := math.Abs(n.Delta)
	for _, c := range n.Children {
		if float64(c.Total)*scale >= minFrameWidth {
			m = math.Max(m, maxAbsDelta(c, scale))
		}
	}
	return m
}

// shortName drops the import path of a Go function name (github.com/x/y/pkg.F → pkg.F); a
// frame's tooltip keeps the full name.
func shortName(name string) string {
	// The path ends at the last '/' before the first '(' or the function's own name, so
	// receiver types such as (*T) containing no '/' are kept.
	paren := strings.IndexByte(name, '(')
	head := name
	if paren >= 0 {
		head = name[:paren]
	}
	if i := strings.LastIndexByte(head, '/'); i >= 0 {
		return name[i+1:]
	}
	return name
}

// fitLabel returns name cut to fit a frame width wide pixels, "" when not even a few characters fit.
func fitLabel(name string, width float64) string {
	n := int((width - 6) / charWidth)
	r := []rune(name)
	switch {
	case n < 3:
		return ""
	case len(r) <= n:
		return name
	}
	return string(r[:n-2]) + ".."
}

// formatValue shows v in unit: nanoseconds as a duration, other units as a count with the unit.
func formatValue(v int64, unit string) string {
	if unit == "nanoseconds" {
		d := time.Duration(v)
		switch {
		case v == 0:
			return "0"
		case d >= time.Second-50*time.Microsecond: // what would print as 1000.0 ms
			return fmt.Sprintf("%.2f s", d.Seconds())
		case d >= time.Millisecond:
			return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
		}
		return fmt.Sprintf("%.1f µs", float64(d)/float64(time.Microsecond))
	}
	return fmt.Sprintf("%d %s", v, unit)
}
