package main

import (
	"bytes"
	"os"
	"testing"

	"github.com/headroom/headroom/diagnose"
)

// streamMatches checks that diagnosing the lab's traces one at a time, as headroom diagnose does
// (diagnose.Stream with its default bounds), gives the findings of the whole-slice analysis of
// everything diagnose.Read returned, byte for byte.
func streamMatches(t *testing.T, path string, cfg diagnose.Config) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	in, err := diagnose.Read(bytes.NewReader(raw), diagnose.ReadConfig{})
	if err != nil {
		t.Fatal(err)
	}
	s := diagnose.NewStream(cfg)
	if _, err := s.ReadTraces(bytes.NewReader(raw), diagnose.ReadConfig{}, nil); err != nil {
		t.Fatal(err)
	}
	var want, got bytes.Buffer
	if err := diagnose.Analyze(in, cfg).Write(&want); err != nil {
		t.Fatal(err)
	}
	if err := s.Findings().Write(&got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(want.Bytes(), got.Bytes()) {
		t.Errorf("the stream's findings over %s differ from the whole-slice analysis:\n%s\nwant\n%s", path, got.String(), want.String())
	}
}
