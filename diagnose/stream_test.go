package diagnose

import (
	"testing"
)

// recordedInputs are the inputs whose findings were recorded (testdata/stream) with the
// whole-slice analysis before diagnose streamed: the stream must reproduce them.
func recordedInputs() map[string][]*Trace {
	var mixed []*Trace
	for _, c := range goldenCases {
		mixed = append(mixed, c.tr...)
	}
	for _, c := range edgeGoldenCases {
		mixed = append(mixed, c.tr...)
	}
	for _, c := range svcGoldenCases {
		mixed = append(mixed, c.tr...)
	}
	mixed = append(mixed, lambdaInvocations(100, []int{0, 31, 64, 97}, 300, nil, 0)...)
	mixed = append(mixed, labInvocations(100, []int{0, 40, 80}, 30, 45)...)
	mixed = append(mixed, checkouts(300, 4, 5000)...)
	mixed = append(mixed, mixedEdge()...)
	return map[string][]*Trace{"bench_3000": benchTraces(3000), "mixed": mixed, "checkouts_2000": checkouts(2000, 30, 400)}
}

func TestRecord(t *testing.T) {
	for name, trs := range recordedInputs() {
		golden(t, "stream/"+name, Diagnose(trs, Config{}))
	}
}
