package result

import (
	"encoding/json"
	"io"
)

// FindingsSchema identifies a diagnose result.
const FindingsSchema = "headroom.findings/v1"

// Findings is the result of diagnose: bottlenecks found in traces, ranked by share of P99 time.
type Findings struct {
	Schema   string    `json:"schema"`
	Findings []Finding `json:"findings"`
}

// Finding is one bottleneck on one endpoint. Kind is one of n_plus_one_db, n_plus_one_http,
// consecutive_db, consecutive_http, slow_query, sync_remote_call, pool_wait, large_payload,
// cpu_hotspot, cold_start: add kinds, never rename them.
type Finding struct {
	Kind     string   `json:"kind"`
	Endpoint string   `json:"endpoint"`
	Summary  string   `json:"summary"`
	Evidence Evidence `json:"evidence"`
	// ShareOfP99 is the finding's time as a fraction (0..1) of the endpoint's P99 latency.
	ShareOfP99        float64 `json:"share_of_p99"`
	EstimatedSavingMS float64 `json:"estimated_saving_ms"`
	Remedy            string  `json:"remedy"`
}

// Evidence says where a finding was seen.
type Evidence struct {
	TraceIDs  []string `json:"trace_ids"`
	Count     int      `json:"count,omitempty"`
	Statement string   `json:"statement,omitempty"`
	TotalMS   float64  `json:"total_ms,omitempty"`
	// CPUShare is a cpu_hotspot's flat (self) share of the CPU samples, 0..1.
	CPUShare float64 `json:"cpu_share,omitempty"`
}

// Write writes f as indented JSON.
func (f *Findings) Write(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(f)
}
