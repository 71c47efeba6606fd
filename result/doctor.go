package result

// DoctorSchema identifies a doctor report.
const DoctorSchema = "headroom.doctor/v1"

// Doctor is what `headroom doctor` measured: each endpoint under one or more conditions.
type Doctor struct {
	Schema string `json:"schema"`
	Target string `json:"target"`
	// Lab describes the lab doctor started in process; nil for an outside URL.
	Lab          *DoctorLab    `json:"lab,omitempty"`
	Measurements []Measurement `json:"measurements"`
}

// DoctorLab describes the lab a doctor run started.
type DoctorLab struct {
	URL          string `json:"url"`
	DB           string `json:"db"`
	Antipatterns string `json:"antipatterns"`
	Users        int64  `json:"users"`
	Posts        int64  `json:"posts"`
}

// Measurement is one endpoint measured under one condition; File is its full load result.
type Measurement struct {
	Endpoint string `json:"endpoint"`
	// Condition is "as is", or on the lab "antipatterns on" / "antipatterns off".
	Condition   string  `json:"condition"`
	File        string  `json:"file"`
	OfferedRPS  float64 `json:"offered_rps"`
	AchievedRPS float64 `json:"achieved_rps"`
	Requests    int64   `json:"requests"`
	Errors      int64   `json:"errors"`
	LatencyMS   Summary `json:"latency_ms"`
	Valid       bool    `json:"valid"`
}
