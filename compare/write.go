package compare

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
)

// FormatChange shows a row's change: "−71.2 %" (a true minus sign), or "3.40×" for ratios;
// "new" when the base was 0 and "=" when nothing changed.
func FormatChange(r Row) string {
	switch {
	case r.New == r.Base:
		return "="
	case r.Base == 0:
		return "new"
	case r.Ratio:
		return fmt.Sprintf("%.2f×", r.New/r.Base)
	case r.New/r.Base >= 2:
		// Past a doubling a factor reads better than a four-digit percentage.
		return signed(100*r.Change, "%.0f") + fmt.Sprintf(" %% (%.1f×)", r.New/r.Base)
	}
	return signed(100*r.Change, "%.1f") + " %"
}

func signed(v float64, format string) string {
	s := fmt.Sprintf(format, math.Abs(v))
	if v < 0 {
		return "−" + s
	}
	return "+" + s
}

func formatValue(v float64, unit string) string {
	switch unit {
	case "ms":
		return fmt.Sprintf("%.2f ms", v)
	case "%":
		return fmt.Sprintf("%.3f %%", v)
	}
	return fmt.Sprintf("%.0f %s", v, unit)
}

func valueWithCI(v float64, unit string, ci *[2]float64) string {
	s := formatValue(v, unit)
	if ci != nil {
		s += fmt.Sprintf(" [%.2f–%.2f]", ci[0], ci[1])
	}
	return s
}

func judgement(r Row) string {
	s := FormatChange(r)
	if s == "=" {
		return s
	}
	s += " (" + string(r.Significance) + ")"
	if r.Regression {
		s += " REGRESSION"
	}
	return s
}

// Headline is the comparison in one line: "p99 −71.2 % (significant)" for loads, "max rate
// under SLO 3.40× (significant)" for sweeps, the p99 of each endpoint for doctor runs.
func (c *Comparison) Headline() string {
	var parts []string
	for _, r := range c.Rows {
		if r.Metric == "p99" || r.Metric == "max rate under SLO" {
			p := r.Metric + " " + FormatChange(r) + " (" + string(r.Significance) + ")"
			if r.Group != "" {
				p = r.Group + " " + p
			}
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, ", ")
}

func (c *Comparison) verdict() string {
	regs := c.Regressions()
	if len(regs) == 0 {
		v := fmt.Sprintf("no significant regression beyond %.0f %%", 100*c.Threshold)
		if len(c.Warnings) > 0 {
			v += " — but the results may not be comparable (see the warnings)"
		}
		return v
	}
	var names []string
	for _, r := range regs {
		n := r.Metric + " " + FormatChange(r)
		if r.Group != "" {
			n = r.Group + " " + n
		}
		names = append(names, n)
	}
	return fmt.Sprintf("%d significant regression(s) beyond %.0f %%: %s", len(regs), 100*c.Threshold, strings.Join(names, ", "))
}

func (c *Comparison) grouped() bool {
	for _, r := range c.Rows {
		if r.Group != "" {
			return true
		}
	}
	return false
}

// WriteText writes the comparison as an aligned table for a terminal.
func (c *Comparison) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "compare %s results\n  base  %s: %s\n  new   %s: %s\n\n", c.Kind, c.Base, c.BaseDesc, c.New, c.NewDesc)
	for _, wn := range c.Warnings {
		fmt.Fprintf(w, "WARNING: %s\n", wn)
	}
	if len(c.Warnings) > 0 {
		fmt.Fprintln(w)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	g := c.grouped()
	if g {
		fmt.Fprint(tw, "endpoint\t")
	}
	fmt.Fprintln(tw, "metric\tbase\tnew\tchange")
	for _, r := range c.Rows {
		if g {
			fmt.Fprintf(tw, "%s\t", r.Group)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Metric, valueWithCI(r.Base, r.Unit, r.BaseCI), valueWithCI(r.New, r.Unit, r.NewCI), judgement(r))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if c.hasCI() {
		fmt.Fprintln(w, "[low–high]: 95 % confidence interval of the percentile (order statistics of the HDR histogram); significant = the intervals do not overlap")
	}
	for _, n := range c.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	if h := c.Headline(); h != "" {
		fmt.Fprintf(w, "summary: %s\n", h)
	}
	_, err := fmt.Fprintf(w, "verdict: %s\n", c.verdict())
	return err
}

func (c *Comparison) hasCI() bool {
	for _, r := range c.Rows {
		if r.BaseCI != nil {
			return true
		}
	}
	return false
}

// WriteMarkdown writes the comparison as a GitHub-flavoured Markdown table, for a pull request.
func (c *Comparison) WriteMarkdown(w io.Writer) error {
	fmt.Fprintf(w, "### headroom compare: `%s` → `%s`\n\n", mdEscape(c.Base), mdEscape(c.New))
	fmt.Fprintf(w, "%s\n\n", mdEscape(c.Headline()))
	for _, wn := range c.Warnings {
		fmt.Fprintf(w, "> **Warning:** %s\n\n", mdEscape(wn))
	}
	g := c.grouped()
	if g {
		fmt.Fprint(w, "| endpoint ")
	}
	fmt.Fprintln(w, "| metric | base | new | change |")
	if g {
		fmt.Fprint(w, "|---")
	}
	fmt.Fprintln(w, "|---|---:|---:|---|")
	for _, r := range c.Rows {
		if g {
			fmt.Fprintf(w, "| %s ", mdEscape(r.Group))
		}
		ch := judgement(r)
		if r.Regression {
			ch = "**" + strings.TrimSuffix(ch, " REGRESSION") + " regression**"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", r.Metric, valueWithCI(r.Base, r.Unit, r.BaseCI), valueWithCI(r.New, r.Unit, r.NewCI), ch)
	}
	fmt.Fprintln(w)
	if c.hasCI() {
		fmt.Fprintln(w, "Brackets: 95 % confidence interval of the percentile from the HDR histogram (order statistics); significant when the intervals do not overlap.")
		fmt.Fprintln(w)
	}
	for _, n := range c.Notes {
		fmt.Fprintf(w, "> %s\n", mdEscape(n))
	}
	if len(c.Notes) > 0 {
		fmt.Fprintln(w)
	}
	_, err := fmt.Fprintf(w, "**Verdict:** %s.\n", mdEscape(c.verdict()))
	return err
}

var mdReplacer = strings.NewReplacer("|", `\|`, "<", "&lt;", ">", "&gt;")

func mdEscape(s string) string { return mdReplacer.Replace(s) }
