package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/headroom/headroom/flame"
	"github.com/headroom/headroom/internal/cliexit"
	"github.com/headroom/headroom/internal/complete"
	"github.com/headroom/headroom/report"
	"github.com/headroom/headroom/result"
	"github.com/headroom/headroom/slo"
)

// reportSchemas are the results report renders, in the order its messages list them.
var reportSchemas = []string{result.LoadSchema, result.SweepSchema, result.FindingsSchema, result.DoctorSchema}

// maxResultBytes bounds the result file report reads: a doctor report with its findings is a few
// MB at most; a file far larger is not one headroom wrote.
const maxResultBytes = 256 << 20

func newReportCmd() *cobra.Command {
	var sloExpr, htmlOut, traceURL string
	cmd := &cobra.Command{
		Use:   "report FILE.json [--html out.html]",
		Short: "Print a saved result again: a load run, a sweep, findings or a doctor report",
		Long: `report re-renders any result headroom writes, recognized by its "schema" key: a load run
(headroom load --out, headroom merge; --slo checks an SLO against it), a sweep (headroom sweep
--out), findings (headroom diagnose --out) or a doctor report (report.json in doctor's --out
directory). --html writes the page of a sweep or of a doctor report (whose steady runs and flame
graphs are read from the files next to it).

Exit codes: 0 done; 1 the --slo failed; 2 bad usage, an unreadable file or one of another schema;
3 writing the output failed.`,
		Example: `  headroom report run.json
  headroom report run.json --slo 'p99<100ms'
  headroom report sweep.json --html sweep.html
  headroom report headroom-doctor/report.json --html again.html --trace-url 'http://localhost:16686/trace/{trace_id}'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := args[0]
			links, err := report.ParseTraceURL(traceURL)
			if err != nil {
				return cliexit.Usagef("--trace-url %w", err)
			}
			sio := stdioOf(cmd)
			b, schema, err := readResult(sio, path)
			if err != nil {
				return err
			}
			if sloExpr != "" && schema != result.LoadSchema {
				return cliexit.Usagef("--slo checks a load result (%s); %s is a %s", result.LoadSchema, displayName(path), schema)
			}
			if htmlOut != "" && schema != result.SweepSchema && schema != result.DoctorSchema {
				return cliexit.Usagef("--html renders a sweep (%s) or a doctor report (%s); %s is a %s", result.SweepSchema, result.DoctorSchema, displayName(path), schema)
			}
			stdout := sio.text()
			o := report.Options{Color: isTerminal(stdout), TraceURL: links}
			switch schema {
			case result.LoadSchema:
				return reportLoad(stdout, path, b, sloExpr, o)
			case result.SweepSchema:
				s, err := result.ReadSweep(bytes.NewReader(b))
				if err != nil {
					return cliexit.Usagef("%s: %w", displayName(path), err)
				}
				if err := writeHTML(sio, htmlOut, func(w io.Writer) error { return report.WriteSweepHTML(w, s) }); err != nil {
					return err
				}
				return runFailed(report.WriteSweep(stdout, s, o))
			case result.FindingsSchema:
				var f result.Findings
				if err := json.Unmarshal(b, &f); err != nil {
					return cliexit.Usagef("%s: decode findings: %w", displayName(path), err)
				}
				return runFailed(report.WriteDiagnosis(stdout, &f, links))
			default: // result.DoctorSchema
				var d result.Doctor
				if err := json.Unmarshal(b, &d); err != nil {
					return cliexit.Usagef("%s: decode doctor report: %w", displayName(path), err)
				}
				if htmlOut != "" {
					page, err := doctorPage(sio, path, &d, links)
					if err != nil {
						return err
					}
					if err := writeHTML(sio, htmlOut, func(w io.Writer) error { return report.WriteDoctorHTML(w, page) }); err != nil {
						return err
					}
				}
				return runFailed(writeDoctorText(stdout, &d, o, links))
			}
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&sloExpr, "slo", "", "check this SLO against a load result; exit 1 when it fails")
	fl.StringVar(&htmlOut, "html", "", "also write the HTML page of a sweep or a doctor report to this file (- for standard output)")
	fl.StringVar(&traceURL, "trace-url", "", "link trace ids to a trace viewer, {trace_id} standing for the id, e.g. http://localhost:16686/trace/{trace_id}")
	complete.Flags(cmd, complete.Files("html"), "html")
	complete.Flags(cmd, complete.None, "slo", "trace-url")
	cmd.ValidArgsFunction = complete.Files("json")
	return cmd
}

// readResult reads a result file and its schema, as a usage error naming the schema found and the
// ones report renders when it is none of them.
func readResult(sio *stdio, path string) ([]byte, string, error) {
	f, err := sio.open("report", path)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxResultBytes+1))
	if err != nil {
		return nil, "", cliexit.Usagef("%s: %w", displayName(path), err)
	}
	if len(b) > maxResultBytes {
		return nil, "", cliexit.Usagef("%s: larger than %d MiB: not a result headroom writes", displayName(path), maxResultBytes>>20)
	}
	want := strings.Join(reportSchemas, ", ")
	var head struct {
		Schema string `json:"schema"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return nil, "", cliexit.Usagef("%s: not a headroom result (want JSON with a schema of %s): %w", displayName(path), want, err)
	}
	for _, s := range reportSchemas {
		if head.Schema == s {
			return b, s, nil
		}
	}
	return nil, "", cliexit.Usagef("%s: schema %q is none that report renders: want %s", displayName(path), head.Schema, want)
}

// reportLoad prints a load result, after checking sloExpr against it when given.
func reportLoad(w io.Writer, path string, b []byte, sloExpr string, o report.Options) error {
	l, err := result.ReadLoad(bytes.NewReader(b))
	if err != nil {
		return cliexit.Usagef("%s: %w", displayName(path), err)
	}
	if sloExpr != "" {
		obj, err := slo.Parse(sloExpr)
		if err != nil {
			return cliexit.Usagef("--slo: %w", err)
		}
		l.SLO = obj.Check(l)
	}
	if err := report.WriteLoad(w, l, o); err != nil {
		return cliexit.RunFailed(err)
	}
	if l.SLO != nil && !l.SLO.Pass {
		return cliexit.CheckFailed(errors.New("SLO failed"))
	}
	return nil
}

// writeDoctorText prints a doctor report as doctor did: the measurements, then every finding and
// the notes.
func writeDoctorText(w io.Writer, d *result.Doctor, o report.Options, links report.TraceURL) error {
	if err := report.WriteDoctor(w, d, o); err != nil {
		return err
	}
	if len(d.Findings) > 0 {
		fmt.Fprintf(w, "\n  findings (%d):\n", len(d.Findings))
		if err := report.WriteFindings(w, &result.Findings{Schema: result.FindingsSchema, Findings: d.Findings}, links); err != nil {
			return err
		}
	}
	for _, n := range d.Notes {
		if _, err := fmt.Fprintf(w, "\n  note: %s\n", n); err != nil {
			return err
		}
	}
	return nil
}

// doctorPage gathers what a doctor report's page inlines from the files next to report.json: the
// steady runs and the flame graphs. A missing one leaves its charts out, as doctor would; a report
// read from standard input has no files next to it.
func doctorPage(sio *stdio, path string, d *result.Doctor, links report.TraceURL) (report.DoctorPage, error) {
	dir := filepath.Dir(path)
	page := report.DoctorPage{Doctor: d, Steady: map[string]*result.Load{}, TraceURL: links}
	if path == dash {
		return page, nil
	}
	for _, e := range d.Endpoints {
		if e.SteadyFile == "" {
			continue
		}
		steady := filepath.Join(dir, filepath.Base(e.SteadyFile))
		if _, err := os.Stat(steady); errors.Is(err, os.ErrNotExist) {
			continue
		}
		l, err := readLoadFile(sio, "report", steady)
		if err != nil {
			return page, err
		}
		page.Steady[e.Endpoint] = l
	}
	for _, p := range d.Profiles {
		svg, err := os.ReadFile(filepath.Join(dir, filepath.Base(p.File)))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return page, cliexit.Usagef("%v", err)
		}
		page.Flames = append(page.Flames, report.Flame{Title: flame.Kind(p.Kind).Title(), SVG: svg})
	}
	return page, nil
}

// writeHTML writes a page to path ("" for none) whole or not at all, "-" to standard output.
func writeHTML(sio *stdio, path string, write func(io.Writer) error) error {
	o, err := sio.create("--html", path)
	if err != nil || o == nil {
		return err
	}
	defer o.abort()
	return o.commit(write)
}

func runFailed(err error) error {
	if err != nil {
		return cliexit.RunFailed(err)
	}
	return nil
}
