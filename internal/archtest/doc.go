// Package archtest holds the test that enforces headroom's dependency direction transitively
// (golangci-lint's depguard sees direct imports only). It has no code of its own.
package archtest
