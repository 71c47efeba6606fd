package result

import "time"

// ExperimentSchema identifies an experiment's result.
const ExperimentSchema = "headroom.experiment/v1"

// Outcome is what an experiment concluded about its claim.
type Outcome string

// The outcomes, from the best to the worst news for the claim's measurement.
const (
	// OutcomeHeld: the measurements went the way the notes say, past the stated thresholds.
	OutcomeHeld Outcome = "held"
	// OutcomeDidNotHold: valid measurements went against the claim (or not far enough).
	OutcomeDidNotHold Outcome = "did not hold"
	// OutcomeInconclusive: a measurement was invalid (the generator was the limit), or too few
	// samples to judge; Why says which.
	OutcomeInconclusive Outcome = "inconclusive"
	// OutcomeSkipped: not run, Why says why (its tier is not there, it needs its own lab).
	OutcomeSkipped Outcome = "skipped"
)

// Experiment is one claim of the course notes, measured on the lab (`headroom experiments run`).
type Experiment struct {
	Schema string `json:"schema"`
	// Name identifies the experiment (`headroom experiments run NAME`).
	Name  string `json:"name"`
	Title string `json:"title"`
	// Claim is the notes' sentence, quoted; Source where it is (seed file and line).
	Claim  string `json:"claim"`
	Source string `json:"source"`
	// Setup is the lab's configuration and the parameters, as run.
	Setup ExperimentSetup `json:"setup"`
	// Expected is the direction or range the claim predicts, with the thresholds the check
	// applies, stated before any run.
	Expected string `json:"expected"`
	// Measurements are every run and figure the check read, in the order they were made.
	Measurements []ExperimentMeasurement `json:"measurements"`
	Outcome      Outcome                 `json:"outcome"`
	// Why says what the figures showed against the expectation, or why there is no verdict.
	Why       string    `json:"why"`
	StartedAt time.Time `json:"started_at"`
	DurationS float64   `json:"duration_s"`
}

// ExperimentSetup is how an experiment ran.
type ExperimentSetup struct {
	// Lab is the lab's URL when the experiment was given a running one, else "" (it started its own).
	Lab string `json:"lab,omitempty"`
	// LabArgs are the arguments of every lab the experiment started, one list per lab.
	LabArgs [][]string `json:"lab_args,omitempty"`
	// Params are the experiment's parameters, defaults filled in.
	Params map[string]string `json:"params,omitempty"`
	// Quick is whether it ran the short variant (fewer seconds per load).
	Quick bool `json:"quick,omitempty"`
}

// ExperimentMeasurement is one load run of an experiment, or one figure it read elsewhere (then
// only Values is set).
type ExperimentMeasurement struct {
	// Name identifies it for the check, e.g. "sync" or "n=20".
	Name string `json:"name"`
	// Setup says what differs in this measurement, e.g. "sync_email on".
	Setup string `json:"setup,omitempty"`
	// Target is the request, e.g. "POST /api/invites".
	Target      string  `json:"target,omitempty"`
	OfferedRPS  float64 `json:"offered_rps,omitempty"`
	AchievedRPS float64 `json:"achieved_rps,omitempty"`
	Requests    int64   `json:"requests,omitempty"`
	Errors      int64   `json:"errors,omitempty"`
	// LatencyMS summarises the run's latency (coordinated omission corrected, as `load`'s).
	LatencyMS *Summary `json:"latency_ms,omitempty"`
	// Valid is the load generator's verdict on the run; a figure not from a run is valid.
	Valid          bool     `json:"valid"`
	InvalidReasons []string `json:"invalid_reasons,omitempty"`
	// Values are other figures of the measurement: CPU per request, queries per request,
	// requests over a threshold…, each named with its unit.
	Values map[string]float64 `json:"values,omitempty"`
	// File is the full result (headroom.load/v1 or headroom.sweep/v1) written beside the
	// experiment's, when there is one.
	File string `json:"file,omitempty"`
}
