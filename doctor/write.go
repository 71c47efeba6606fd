package doctor

import (
	"encoding/json"
	"io"
	"path/filepath"

	"github.com/headroom/headroom/internal/atomicfile"
	"github.com/headroom/headroom/report"
)

// write writes report.json and report.html, each whole or not at all.
func (r *run) write() error {
	if err := writeJSON(filepath.Join(r.cfg.OutDir, "report.json"), r.rep); err != nil {
		return err
	}
	page := report.DoctorPage{Doctor: r.rep, Steady: r.steady, Flames: r.flames, TraceURL: r.cfg.TraceURL}
	return atomicfile.Write(filepath.Join(r.cfg.OutDir, "report.html"), func(w io.Writer) error { return report.WriteDoctorHTML(w, page) })
}

// writeJSON writes v to path whole or not at all, with SLOs such as p99<1s left readable.
func writeJSON(path string, v any) error {
	return atomicfile.Write(path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(v)
	})
}
