package grafanatest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/common"
)

// pickedUID is the uid of the Prometheus datasource "picked" in the import; any uid would do.
const pickedUID = "picked-prometheus"

// shippedDashboards returns the dashboards in docs/grafana.
func shippedDashboards(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "docs", "grafana", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards in docs/grafana (%v)", err)
	}
	return files
}

// TestShippedDashboards takes each dashboard of docs/grafana both ways into Grafana: imported
// through the UI with a Prometheus datasource picked for its input, and provisioned as a file.
// Each result must decode strictly into Grafana's schema types, every panel must have queries,
// every panel query and query variable must go to the picked Prometheus (imported) or through
// a Prometheus datasource variable (provisioned), and every template variable a query refers
// to must be defined and every selector variable used.
func TestShippedDashboards(t *testing.T) {
	t.Parallel()
	for _, file := range shippedDashboards(t) {
		exported, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(filepath.Base(file)+"/imported", func(t *testing.T) {
			t.Parallel()
			imported, err := Import(exported, map[string]string{"prometheus": pickedUID})
			if err != nil {
				t.Fatalf("the import fails:\n%v", err)
			}
			checkDashboard(t, imported, "the picked Prometheus "+pickedUID, isPrometheus(func(uid string) bool { return uid == pickedUID }))
		})
		t.Run(filepath.Base(file)+"/provisioned", func(t *testing.T) {
			t.Parallel()
			provisioned, err := Provisioned(exported)
			if err != nil {
				t.Fatalf("provisioned, it names datasources no Grafana has:\n%v", err)
			}
			// Provisioned checked every uid it names is a Prometheus datasource variable's.
			checkDashboard(t, provisioned, "a Prometheus datasource variable", isPrometheus(func(string) bool { return true }))
		})
	}
}

func checkDashboard(t *testing.T, dashboard []byte, want string, ok func(*common.DataSourceRef) bool) {
	t.Helper()
	d, err := DecodeStrict(dashboard)
	if err != nil {
		t.Fatalf("the dashboard does not decode strictly into the SDK's types:\n%v", err)
	}
	for _, panel := range d.Panels {
		if panel.Panel != nil && len(panel.Queries) == 0 {
			t.Errorf("%s (%q): no query", panel.Path, panel.Title())
		}
	}
	for _, problem := range datasourceProblems(d, want, ok) {
		t.Error(problem)
	}
	for _, problem := range VariableProblems(d) {
		t.Error(problem)
	}
}
