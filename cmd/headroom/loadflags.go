package main

import (
	"errors"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/headroom/headroom/internal/cliexit"
	"github.com/headroom/headroom/internal/complete"
	"github.com/headroom/headroom/internal/fielderr"
	"github.com/headroom/headroom/loadgen"
)

// targetFlags are the flags that say what load and sweep send: the request (--method, --header,
// --body), --steps, a list of rates, and whether the results keep its credentials.
type targetFlags struct {
	method      string
	headers     []string
	body        string
	steps       string
	keepSecrets bool
}

// register adds the flags to cmd; stepsUsage is --steps's help, which differs by command.
func (t *targetFlags) register(cmd *cobra.Command, stepsUsage string) {
	fl := cmd.Flags()
	fl.StringVarP(&t.method, "method", "X", "GET", "HTTP method")
	fl.StringArrayVarP(&t.headers, "header", "H", nil, "request header 'Name: value' (repeatable)")
	fl.StringVar(&t.body, "body", "", "request body")
	fl.StringVar(&t.steps, "steps", "", stepsUsage)
	fl.BoolVar(&t.keepSecrets, "keep-secrets", false, "write credentials (user:password@ in URLs, Authorization, Cookie, X-Api-Key... values) into the results; by default they read REDACTED")
	complete.Flags(cmd, complete.None, "method", "header", "body", "steps")
}

// target returns the request to send to url.
func (t *targetFlags) target(url string) (loadgen.Target, error) {
	tg := loadgen.Target{Method: strings.ToUpper(t.method), URL: url, Body: t.body, Weight: loadgen.WeightDefault}
	h, err := parseHeaders(t.headers)
	tg.Headers = h
	return tg, err
}

// parseHeaders reads repeated --header 'Name: value' flags; nil for none.
func parseHeaders(hs []string) (map[string]string, error) {
	var out map[string]string
	for _, h := range hs {
		k, v, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, cliexit.Usagef("--header %q: want 'Name: value'", h)
		}
		if out == nil {
			out = map[string]string{}
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return out, nil
}

// rates returns the rates of --steps, nil when it is not set.
func (t *targetFlags) rates() ([]float64, error) {
	if t.steps == "" {
		return nil, nil
	}
	var rates []float64
	for s := range strings.SplitSeq(t.steps, ",") {
		r, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return nil, cliexit.Usagef("--steps %q: %q is not a number: want rates such as 100,200,400", t.steps, s)
		}
		rates = append(rates, r)
	}
	return rates, nil
}

// samplesFlags are --samples and --samples-format, which load and sweep share.
type samplesFlags struct {
	path string
}

// register adds the flags to cmd, --samples-format setting format; what says which requests a
// sample file holds and their fields, for --samples's help.
func (s *samplesFlags) register(cmd *cobra.Command, format *loadgen.SamplesFormat, what string) {
	fl := cmd.Flags()
	fl.StringVar(&s.path, "samples", "", "write "+what+" to this file as it runs (- for standard output)")
	fl.StringVar((*string)(format), "samples-format", "", "format of --samples: "+loadgen.SamplesFormatList()+" (default by the file's extension: .jsonl, .ndjson or .json for jsonl, else csv)")
	complete.Flags(cmd, complete.Files(slices.Sorted(maps.Keys(samplesExts))...), "samples")
	complete.Flags(cmd, complete.Values(loadgen.SamplesFormats, nil), "samples-format")
}

// samplesExts are the file extensions that say a --samples format.
var samplesExts = map[string]loadgen.SamplesFormat{
	"csv": loadgen.SamplesCSV, "jsonl": loadgen.SamplesJSONL, "ndjson": loadgen.SamplesJSONL, "json": loadgen.SamplesJSONL,
}

// open creates the --samples output and makes cfg write to it, in the format --samples-format
// or the file's extension says; nil without --samples. The samples are written while the run
// goes: once it is done the caller commits the file (commit with nothing more to write), and
// aborts it otherwise.
func (s *samplesFlags) open(fl *pflag.FlagSet, sio *stdio, cfg *loadgen.Config) (*outFile, error) {
	out, err := sio.create("--samples", s.path)
	if err != nil {
		return nil, err
	}
	if out == nil {
		if fl.Changed("samples-format") {
			return nil, cliexit.Usagef("--samples-format belongs to --samples FILE")
		}
		return nil, nil
	}
	cfg.Samples = out.stream()
	if cfg.SamplesFormat == "" {
		cfg.SamplesFormat = samplesFormatOf(s.path)
	}
	return out, nil
}

// samplesFormatOf is the --samples format a file's extension says (samplesExts): JSON lines
// for .jsonl, .ndjson and .json, CSV otherwise.
func samplesFormatOf(path string) loadgen.SamplesFormat {
	if f, ok := samplesExts[strings.ToLower(strings.TrimPrefix(filepath.Ext(path), "."))]; ok {
		return f
	}
	return loadgen.SamplesCSV
}

// configUsage turns an error of loadgen.Config's validation into a usage error (exit 2). An
// error about one field names the flag flagOf gives for it (by its path in Config, such as
// "Arrival.Rate"); other errors, and fields without a flag, keep loadgen's text.
func configUsage(err error, flagOf func(field string) string) error {
	if fe, ok := errors.AsType[*fielderr.Error](err); ok {
		if name := flagOf(fe.Field); name != "" {
			return cliexit.Usagef("--%s %s", name, fe.Problem)
		}
	}
	return cliexit.Usagef("%w", err)
}
