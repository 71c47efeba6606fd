package grafanatest

import (
	"github.com/grafana/grafana-foundation-sdk/go/common"
)

// datasourceProblems returns every panel with queries, query and query variable of d that does
// not name the Prometheus datasource uid: Import checks the datasources a dashboard names, this
// the ones it leaves out (a missing datasource is Grafana's default, which need not be that
// Prometheus).
func datasourceProblems(d *Dashboard, uid string) []string {
	var p problems
	is := func(ref *common.DataSourceRef) bool {
		return ref != nil && ref.Uid != nil && *ref.Uid == uid && ref.Type != nil && *ref.Type == "prometheus"
	}
	for _, panel := range d.Panels {
		if panel.Panel == nil || len(panel.Queries) == 0 {
			continue
		}
		if !is(panel.Panel.Datasource) {
			p.addf("%s (%q): datasource %s, want the picked Prometheus %q", panel.Path, panel.Title(), show(panel.Panel.Datasource), uid)
		}
		for i, q := range panel.Queries {
			if q.Datasource != nil && !is(q.Datasource) {
				p.addf("%s (%q) targets[%d]: datasource %s, want the picked Prometheus %q", panel.Path, panel.Title(), i, show(q.Datasource), uid)
			}
		}
	}
	for i, v := range d.Dashboard.Templating.List {
		if v.Type == "query" && !is(v.Datasource) {
			p.addf("templating.list[%d] (%s): datasource %s, want the picked Prometheus %q", i, v.Name, show(v.Datasource), uid)
		}
	}
	return p
}

func show(ref *common.DataSourceRef) string {
	if ref == nil {
		return "none (the default datasource)"
	}
	return string(mustMarshal(ref))
}
