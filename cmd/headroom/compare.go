package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/headroom/headroom/compare"
	"github.com/headroom/headroom/internal/cliexit"
	"github.com/headroom/headroom/internal/complete"
)

func newCompareCmd() *cobra.Command {
	var (
		markdown  bool
		threshold string
	)
	cmd := &cobra.Command{
		Use:   "compare BASE.json NEW.json",
		Short: "Compare two results (load, sweep or doctor) and judge each change's significance",
		Long: `compare sets two results of one kind side by side — load runs, sweeps or doctor reports, told
apart by their schema — and judges each change instead of printing a bare delta. A percentile
change is significant when the 95 % confidence intervals of the two percentiles, from the order
statistics of the HDR histograms, do not overlap; an error-rate change by a two-proportion
z-test; a sweep's maximum when it moved more than the search precision. A regression is a
significant change for the worse beyond --threshold.

Exit codes: 0 no regression; 1 a significant regression beyond the threshold; 2 bad usage, an
unreadable file, or results of different kinds.`,
		Example: `  headroom compare before.json after.json
  headroom compare before.json after.json --markdown --threshold 5%   # a table for a pull request`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			th, err := parseThreshold(threshold)
			if err != nil {
				return cliexit.Usagef("--threshold %w", err)
			}
			sio := stdioOf(cmd)
			if err := sio.reserve(argPairs("compare", args)...); err != nil {
				return err
			}
			var in [2]*compare.Input
			for i, p := range args {
				if in[i], err = readCompared(sio, p); err != nil {
					return err
				}
			}
			c, err := compare.Compare(in[0], in[1], compare.Config{Threshold: th})
			if err != nil {
				return cliexit.Usagef("%w", err)
			}
			w := cmd.OutOrStdout()
			if markdown {
				err = c.WriteMarkdown(w)
			} else {
				err = c.WriteText(w)
			}
			if err != nil {
				return cliexit.RunFailed(err)
			}
			if regs := c.Regressions(); len(regs) > 0 {
				return cliexit.CheckFailed(errors.New("significant regression beyond the threshold"))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&markdown, "markdown", false, "print a GitHub Markdown table (for a pull request)")
	cmd.Flags().StringVar(&threshold, "threshold", fmt.Sprintf("%g%%", 100*compare.ThresholdDefault), "a significant change for the worse beyond this is a regression (exit 1): a percentage such as 10%")
	complete.Flags(cmd, complete.None, "threshold")
	cmd.ValidArgsFunction = complete.Files("json")
	return cmd
}

// parseThreshold reads "10%" (or "10") as 0.10.
func parseThreshold(s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "%")), 64)
	if err != nil || v <= 0 || v >= 1000 {
		return 0, fmt.Errorf("%q: want a percentage above 0, such as 10%%", s)
	}
	return v / 100, nil
}

// readCompared reads a result to compare, "-" standard input (a doctor report read from it has no
// load results beside it), as a usage error when it cannot.
func readCompared(sio *stdio, path string) (*compare.Input, error) {
	if path != dash {
		in, err := compare.ReadFile(path)
		if err != nil {
			return nil, cliexit.Usagef("%w", err)
		}
		return in, nil
	}
	f, err := sio.open("compare", path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxResultBytes+1))
	if err != nil {
		return nil, cliexit.Usagef("standard input: %v", err)
	}
	if len(b) > maxResultBytes {
		return nil, cliexit.Usagef("standard input: larger than %d MiB: not a result headroom writes", maxResultBytes>>20)
	}
	in, err := compare.Decode(displayName(path), b)
	if err != nil {
		return nil, cliexit.Usagef("%w", err)
	}
	return in, nil
}
