package grafanatest

import (
	"os"
	"path/filepath"
	"testing"
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

// TestShippedDashboardsImport imports each dashboard of docs/grafana as Grafana's UI does with
// a Prometheus datasource picked for its input, decodes the result strictly into Grafana's
// schema types, and checks that every panel has queries, that every panel query and query
// variable goes to the picked Prometheus, and that every template variable a query refers to is
// defined and every selector variable is used.
func TestShippedDashboardsImport(t *testing.T) {
	t.Parallel()
	for _, file := range shippedDashboards(t) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			t.Parallel()
			exported, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			imported, err := Import(exported, map[string]string{"prometheus": pickedUID})
			if err != nil {
				t.Fatalf("the import fails:\n%v", err)
			}
			d, err := DecodeStrict(imported)
			if err != nil {
				t.Fatalf("the imported dashboard does not decode strictly into the SDK's types:\n%v", err)
			}
			for _, panel := range d.Panels {
				if panel.Panel != nil && len(panel.Queries) == 0 {
					t.Errorf("%s (%q): no query", panel.Path, panel.Title())
				}
			}
			for _, problem := range datasourceProblems(d, pickedUID) {
				t.Error(problem)
			}
			for _, problem := range VariableProblems(d) {
				t.Error(problem)
			}
		})
	}
}
