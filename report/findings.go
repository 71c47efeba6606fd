package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/headroom/headroom/result"
)

// WriteFindings prints diagnose findings, most costly to the P99 first: one ranked line each, then
// its evidence's trace ids whole, or as links to a trace viewer with a TraceURL.
func WriteFindings(w io.Writer, f *result.Findings, t TraceURL) error {
	if len(f.Findings) == 0 {
		_, err := fmt.Fprintln(w, "no findings: no detector fired on these traces")
		return err
	}
	for i, x := range f.Findings {
		sev := ""
		if x.Severity != "" {
			sev = "[" + string(x.Severity) + "] "
		}
		if _, err := fmt.Fprintf(w, "%d. %s%s: %s; %s — est. P99 −%.0f ms\n",
			i+1, sev, x.Endpoint, x.Summary, x.Remedy, x.EstimatedSavingMS); err != nil {
			return err
		}
		if len(x.Evidence.TraceIDs) == 0 {
			continue
		}
		refs := make([]string, len(x.Evidence.TraceIDs))
		for j, id := range x.Evidence.TraceIDs {
			refs[j] = t.Ref(id)
		}
		if _, err := fmt.Fprintf(w, "   evidence: traces %s\n", strings.Join(refs, " ")); err != nil {
			return err
		}
	}
	return nil
}
