package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/headroom/headroom/result"
)

// WriteFindings prints diagnose findings, one ranked line each, most costly to the P99 first.
func WriteFindings(w io.Writer, f *result.Findings) error {
	if len(f.Findings) == 0 {
		_, err := fmt.Fprintln(w, "no findings: no detector fired on these traces")
		return err
	}
	for i, x := range f.Findings {
		ids := make([]string, len(x.Evidence.TraceIDs))
		for j, id := range x.Evidence.TraceIDs {
			ids[j] = shortID(id)
		}
		if _, err := fmt.Fprintf(w, "%d. %s: %s; %s — est. P99 −%.0f ms; evidence: traces %s\n",
			i+1, x.Endpoint, x.Summary, x.Remedy, x.EstimatedSavingMS, strings.Join(ids, ", ")); err != nil {
			return err
		}
	}
	return nil
}

func shortID(id string) string {
	if len(id) > 4 {
		return id[:4] + "…"
	}
	return id
}
