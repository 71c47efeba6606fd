package grafanatest

import (
	"github.com/grafana/grafana-foundation-sdk/go/common"
)

// datasourceProblems returns every panel with queries, query and query variable of d whose
// datasource is not one that ok accepts (want says which). Import and Provisioned check the
// datasources a dashboard names; this catches the ones it leaves out (no datasource is
// Grafana's default, which need not be a Prometheus).
func datasourceProblems(d *Dashboard, want string, ok func(*common.DataSourceRef) bool) []string {
	var p problems
	for _, panel := range d.Panels {
		if panel.Panel == nil || len(panel.Queries) == 0 {
			continue
		}
		if !ok(panel.Panel.Datasource) {
			p.addf("%s (%q): datasource %s, want %s", panel.Path, panel.Title(), show(panel.Panel.Datasource), want)
		}
		for i, q := range panel.Queries {
			if q.Datasource != nil && !ok(q.Datasource) {
				p.addf("%s (%q) targets[%d]: datasource %s, want %s", panel.Path, panel.Title(), i, show(q.Datasource), want)
			}
		}
	}
	for i, v := range d.Dashboard.Templating.List {
		if v.Type == "query" && !ok(v.Datasource) {
			p.addf("templating.list[%d] (%s): datasource %s, want %s", i, v.Name, show(v.Datasource), want)
		}
	}
	return p
}

// isPrometheus accepts a reference to a Prometheus datasource with a uid uidOK accepts.
func isPrometheus(uidOK func(string) bool) func(*common.DataSourceRef) bool {
	return func(ref *common.DataSourceRef) bool {
		return ref != nil && ref.Type != nil && *ref.Type == "prometheus" && ref.Uid != nil && uidOK(*ref.Uid)
	}
}

func show(ref *common.DataSourceRef) string {
	if ref == nil {
		return "none (the default datasource)"
	}
	return string(mustMarshal(ref))
}
