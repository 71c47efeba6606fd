// Package flame fetches and parses pprof profiles (CPU from net/http/pprof, wall clock from
// fgprof), folds their stacks, builds flame graph trees and renders them as self-contained SVG:
// one profile, one profile per endpoint (pprof label), or the difference between two profiles.
// It also turns a CPU hot spot into a cpu_hotspot finding.
//
// flame is the only package that imports github.com/google/pprof/profile; everything it returns
// is its own types. It never imports the lab: it reaches a target over HTTP only.
package flame
