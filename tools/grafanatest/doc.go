// Package grafanatest checks the Grafana dashboards in docs/grafana the way Grafana would take
// them through its UI import, without a running Grafana: Import does what the import does with an
// exported ("shared externally") dashboard, and DecodeStrict decodes the result into Grafana's
// own schema types, published as github.com/grafana/grafana-foundation-sdk/go (Apache-2.0).
//
// Grafana itself (github.com/grafana/grafana) is AGPL and must not be used by this project, so
// no real Grafana runs here; what a running Grafana adds (panel plugins' defaults and
// migrations, the datasource picker, rendering) is out of reach. It is a module of its own so
// that headroom does not depend on the SDK.
package grafanatest
