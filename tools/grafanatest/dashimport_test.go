package grafanatest

import (
	"encoding/json"
	"strings"
	"testing"
)

// exportedBase is a small exported dashboard that imports and decodes cleanly: the cases below
// break it one way each.
const exportedBase = `{
  "__inputs": [{"name": "DS_PROM", "label": "Prometheus", "description": "", "type": "datasource", "pluginId": "prometheus", "pluginName": "Prometheus"}],
  "__elements": {},
  "__requires": [
    {"type": "grafana", "id": "grafana", "name": "Grafana", "version": "10.0.0"},
    {"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": ""},
    {"type": "panel", "id": "timeseries", "name": "Time series", "version": ""}
  ],
  "uid": "base", "title": "base", "schemaVersion": 39,
  "annotations": {"list": [{"builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"}, "enable": true, "hide": true, "iconColor": "rgba(0, 211, 255, 1)", "name": "Annotations & Alerts", "type": "dashboard"}]},
  "templating": {"list": [
    {"name": "DS_PROM", "type": "datasource", "query": "prometheus", "current": {}},
    {"name": "job", "type": "query", "datasource": {"type": "prometheus", "uid": "${DS_PROM}"}, "query": {"query": "label_values(up, job)", "refId": "job"}, "definition": "label_values(up, job)"}
  ]},
  "panels": [
    {"id": 1, "type": "row", "title": "row", "collapsed": false, "gridPos": {"x": 0, "y": 0, "w": 24, "h": 1}, "panels": []},
    {"id": 2, "type": "timeseries", "title": "up", "datasource": {"type": "prometheus", "uid": "${DS_PROM}"}, "gridPos": {"x": 0, "y": 1, "w": 12, "h": 8},
     "targets": [{"refId": "A", "datasource": {"type": "prometheus", "uid": "${DS_PROM}"}, "expr": "sum by (job) (rate(up{job=~\"$job\"}[$__rate_interval]))", "legendFormat": "{{job}}"}],
     "fieldConfig": {"defaults": {"unit": "s"}, "overrides": []}, "options": {}}
  ]
}`

// picked is the import's choice in these tests.
var picked = map[string]string{"prometheus": "prom-uid"}

// variant returns exportedBase with its first old replaced by new (which must occur).
func variant(t testing.TB, old, new string) []byte {
	t.Helper()
	if !strings.Contains(exportedBase, old) {
		t.Fatalf("the base dashboard has no %q", old)
	}
	return []byte(strings.Replace(exportedBase, old, new, 1))
}

func TestImportSubstitutesAndDropsTheEnvelope(t *testing.T) {
	t.Parallel()
	out, err := Import([]byte(exportedBase), picked)
	if err != nil {
		t.Fatal(err)
	}
	var d map[string]any
	if err := json.Unmarshal(out, &d); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"__inputs", "__requires", "__elements"} {
		if _, ok := d[k]; ok {
			t.Errorf("%s kept", k)
		}
	}
	s := string(out)
	if strings.Contains(s, "${DS_PROM}") || strings.Count(s, `"uid":"prom-uid"`) != 3 {
		t.Errorf("not every ${DS_PROM} became the picked uid:\n%s", s)
	}
	for _, kept := range []string{`"uid":"-- Grafana --"`, `"name":"DS_PROM"`, `$job`, `$__rate_interval`} {
		if !strings.Contains(s, kept) {
			t.Errorf("%s lost in the import:\n%s", kept, s)
		}
	}
}

func TestImportRefuses(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, old, new, want string
	}{
		{"a constant input", `"type": "datasource", "pluginId"`, `"type": "constant", "pluginId"`, `type "constant"; only datasource inputs`},
		{"an input of another plugin", `"pluginId": "prometheus"`, `"pluginId": "loki"`, "wants a loki datasource; none picked"},
		{"an unknown input field", `"pluginName"`, `"plugin"`, `__inputs: json: unknown field "plugin"`},
		{"a panel type missing from __requires", `"id": "timeseries"`, `"id": "stat"`, "panel plugins [stat], but the dashboard uses [timeseries]"},
		{"no Grafana in __requires", `"type": "grafana", "id"`, `"type": "panel", "id"`, "0 grafana entries"},
		{"a datasource missing from __requires", `{"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": ""},`, ``, "datasource plugins [], but the dashboard uses [prometheus]"},
		{"a library panel", `"__elements": {}`, `"__elements": {"lib": {}}`, "library panels [lib]"},
		{"a hard-coded uid", `"uid": "${DS_PROM}"}, "gridPos"`, `"uid": "P1809F7CD0C75ACF3"}, "gridPos"`, `panels[1].datasource: uid "P1809F7CD0C75ACF3" is neither a datasource the import picked`},
		{"an unknown input", `"expr": "sum`, `"datasource": {"type": "prometheus", "uid": "${DS_OTHER}"}, "expr": "sum`, `"${DS_OTHER}" still refers to a DS_ input`},
		{"the datasource variable without braces", `"uid": "${DS_PROM}"}, "query"`, `"uid": "$DS_PROM"}, "query"`, `templating.list[1].datasource.uid: "$DS_PROM" still refers`},
		{"a datasource by name", `"datasource": {"type": "prometheus", "uid": "${DS_PROM}"}, "expr"`, `"datasource": "Prometheus", "expr"`, `targets[0].datasource: "Prometheus", not a {type, uid} reference`},
		{"the default datasource", `"datasource": {"type": "prometheus", "uid": "${DS_PROM}"}, "expr"`, `"datasource": null, "expr"`, "datasource: null, not a {type, uid} reference"},
		{"the input's uid with another type", `"type": "prometheus", "uid": "${DS_PROM}"}, "gridPos"`, `"type": "loki", "uid": "${DS_PROM}"}, "gridPos"`, `type "loki", but uid "prom-uid" is the picked prometheus datasource`},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := Import(variant(t, c.old, c.new), picked)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
		})
	}
	for _, bad := range []string{``, `null`, `[]`, `{"__inputs": 1}`} {
		if _, err := Import([]byte(bad), picked); err == nil {
			t.Errorf("Import(%q) succeeded", bad)
		}
	}
}

func TestProvisioned(t *testing.T) {
	t.Parallel()
	out, err := Provisioned([]byte(exportedBase))
	if err != nil {
		t.Fatal(err)
	}
	if s := string(out); strings.Contains(s, "__inputs") || strings.Count(s, `"uid":"${DS_PROM}"`) != 3 {
		t.Errorf("the envelope kept or a datasource reference changed:\n%s", s)
	}
	if _, err := Provisioned(variant(t, `"uid": "${DS_PROM}"}, "query"`, `"uid": "$DS_PROM"}, "query"`)); err != nil {
		t.Errorf("$DS_PROM, the variable without braces: %v", err)
	}
	for _, c := range []struct {
		name, old, new, want string
	}{
		{"a hard-coded uid", `"uid": "${DS_PROM}"}, "gridPos"`, `"uid": "P1809F7CD0C75ACF3"}, "gridPos"`, `panels[1].datasource: uid "P1809F7CD0C75ACF3" is neither a datasource variable`},
		{"an input without its variable", `{"name": "DS_PROM", "type": "datasource", "query": "prometheus", "current": {}},`, ``, `uid "${DS_PROM}": DS_PROM is not a datasource variable`},
		{"a variable of another plugin", `"query": "prometheus"`, `"query": "loki"`, `type "prometheus", but DS_PROM is a variable of loki datasources`},
		{"a datasource by name", `"datasource": {"type": "prometheus", "uid": "${DS_PROM}"}, "expr"`, `"datasource": "Prometheus", "expr"`, `targets[0].datasource: "Prometheus", not a {type, uid} reference`},
		{"a library panel", `"__elements": {}`, `"__elements": {"lib": {}}`, "library panels [lib]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := Provisioned(variant(t, c.old, c.new))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestDecodeStrictRefuses(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, old, new, want string
	}{
		{"an unknown dashboard field", `"uid": "base"`, `"uid": "base", "colour": 1`, "Dashboard: unexpected field 'colour'"},
		{"a mistyped dashboard field", `"schemaVersion": 39`, `"schemaVersion": "39"`, "schemaVersion: json: cannot unmarshal string"},
		{"an unknown query field", `"legendFormat"`, `"legend"`, "panels[1].targets[0].Dataquery: unexpected field 'legend'"},
		{"a query without its expression", `"expr"`, `"expression"`, "panels[1].targets[0].expr: required field is missing"},
		{"an unknown fieldConfig field", `"unit": "s"`, `"units": "s"`, "panels[1].fieldConfig.defaults.FieldConfig: unexpected field 'units'"},
		{"an unknown custom field config", `"unit": "s"`, `"custom": {"lineWidht": 1}`, "panels[1].fieldConfig.defaults.custom.GraphFieldConfig: unexpected field 'lineWidht'"},
		{"an unknown option", `"options": {}`, `"options": {"legend": {"show": true}}`, "panels[1].options.legend.VizLegendOptions: unexpected field 'show'"},
		{"a mistyped option", `"options": {}`, `"options": {"tooltip": {"mode": 1}}`, "panels[1].options.tooltip.mode"},
		{"an unknown row field", `"collapsed": false`, `"collapsed": false, "repeatFor": "job"`, "panels[0].RowPanel: unexpected field 'repeatFor'"},
		{"a variable without a name", `"name": "job", `, ``, "templating.list[1].name: required field is missing"},
		{"a query variable without a current value's text", `"definition"`, `"current": {"value": "x"}, "definition"`, "templating.list[1].current.text: required field is missing"},
		{"an unknown variable field", `"definition"`, `"definitions"`, "templating.list[1].VariableModel: unexpected field 'definitions'"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			imported, err := Import(variant(t, c.old, c.new), picked)
			if err != nil {
				t.Fatal(err)
			}
			_, err = DecodeStrict(imported)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
		})
	}
	// A panel type the SDK has no schema for (with __requires to match, so that the import passes).
	exported := strings.ReplaceAll(exportedBase, `"timeseries"`, `"timeserie"`)
	imported, err := Import([]byte(exported), picked)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeStrict(imported); err == nil || !strings.Contains(err.Error(), `panel type "timeserie" has no schema in the SDK`) {
		t.Errorf("error %v, want one naming the unknown panel type", err)
	}
}

func TestDecodeStrictKeepsEveryPanelAndQuery(t *testing.T) {
	t.Parallel()
	// A collapsed row holding a stat panel, and the stat panel in __requires.
	exported := strings.Replace(exportedBase, `{"type": "panel", "id": "timeseries"`, `{"type": "panel", "id": "stat", "name": "Stat", "version": ""}, {"type": "panel", "id": "timeseries"`, 1)
	exported = strings.Replace(exported, `"collapsed": false, "gridPos": {"x": 0, "y": 0, "w": 24, "h": 1}, "panels": []`,
		`"collapsed": true, "gridPos": {"x": 0, "y": 0, "w": 24, "h": 1}, "panels": [{"id": 3, "type": "stat", "title": "nested", "datasource": {"type": "prometheus", "uid": "${DS_PROM}"}, "targets": [{"refId": "A", "expr": "up", "instant": true}]}]`, 1)
	imported, err := Import([]byte(exported), picked)
	if err != nil {
		t.Fatal(err)
	}
	d, err := DecodeStrict(imported)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range d.Panels {
		got = append(got, p.Path+" "+p.Title())
		if (p.Row == nil) == (p.Panel == nil) {
			t.Errorf("%s: row %v, panel %v: want exactly one", p.Path, p.Row, p.Panel)
		}
	}
	if want := "panels[0] row,panels[0].panels[0] nested,panels[1] up"; strings.Join(got, ",") != want {
		t.Errorf("panels %q, want %q", got, want)
	}
	if q := d.Panels[1].Queries; len(q) != 1 || q[0].Expr != "up" || q[0].Instant == nil || !*q[0].Instant {
		t.Errorf("the nested panel's queries %+v, want one instant query of up", q)
	}
	if n := len(d.Dashboard.Templating.List); n != 2 {
		t.Errorf("%d template variables, want 2", n)
	}
}

func TestVariableProblems(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, old, new string
		want           []string
	}{
		{"none", `"title": "up"`, `"title": "up"`, nil},
		{"an undefined variable", `$job`, `$jobs`, []string{
			`panels[1] ("up") targets[0]: $jobs is not a template variable (defined: [DS_PROM job])`,
			"template variable job: no query refers to it",
		}},
		{"an undefined variable in a legend", `{{job}}`, `${instance}`, []string{`panels[1] ("up") targets[0]: $instance is not a template variable`}},
		{"an undefined variable in a variable's query", `"label_values(up, job)", "refId"`, `"label_values(up{env=\"$env\"}, job)", "refId"`, []string{`templating.list[1] (job): $env is not a template variable`}},
		{"a misspelt global variable", `$__rate_interval`, `$__rate_intervall`, []string{`$__rate_intervall is not a template variable`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			imported, err := Import(variant(t, c.old, c.new), picked)
			if err != nil {
				t.Fatal(err)
			}
			d, err := DecodeStrict(imported)
			if err != nil {
				t.Fatal(err)
			}
			got := VariableProblems(d)
			if len(got) != len(c.want) {
				t.Fatalf("problems %q, want %d: %q", got, len(c.want), c.want)
			}
			for i := range got {
				if !strings.Contains(got[i], c.want[i]) {
					t.Errorf("problem %q, want one containing %q", got[i], c.want[i])
				}
			}
		})
	}
}

func TestReferences(t *testing.T) {
	t.Parallel()
	got := strings.Join(References(`$a ${b} ${c:csv} ${d.text} [[e]] [[f:regex]] label_replace(x, "y", "$1", "z", "(.*)") $__range "^/api$"`), " ")
	if want := "a b c d e f __range"; got != want {
		t.Errorf("References = %q, want %q", got, want)
	}
}

// FuzzExport checks that Import and Provisioned never panic, and that what they accept comes
// out without the envelope and, imported, without an unresolved DS_ reference.
func FuzzExport(f *testing.F) {
	// Small seeds only: the fuzzer minimizes each new input it finds, slowly for a large one,
	// and TestShippedDashboardsImport takes the shipped dashboards through Import already.
	f.Add([]byte(exportedBase))
	f.Add([]byte(`{"__inputs": [{"name": "DS_X", "type": "datasource", "pluginId": "prometheus"}], "panels": [{"type": "row", "panels": [{"type": "x"}]}], "a": "${DS_X}${DS_X}$"}`))
	f.Fuzz(func(t *testing.T, exported []byte) {
		if out, err := Provisioned(exported); err == nil {
			noEnvelope(t, out)
		}
		out, err := Import(exported, picked)
		if err != nil {
			return
		}
		noEnvelope(t, out)
		if leftoverDS.Match(out) {
			t.Errorf("an unresolved DS_ reference in the output: %s", out)
		}
	})
}

func noEnvelope(t *testing.T, out []byte) {
	t.Helper()
	var d map[string]any
	if err := json.Unmarshal(out, &d); err != nil {
		t.Fatalf("the output is not a JSON object: %v", err)
	}
	for _, k := range []string{keyInputs, keyRequires, keyElements} {
		if _, ok := d[k]; ok {
			t.Errorf("%s kept", k)
		}
	}
}

// FuzzDecodeStrict checks that DecodeStrict never panics (the SDK's decoders included) and that
// each panel it returns is a row or a panel.
func FuzzDecodeStrict(f *testing.F) {
	if imported, err := Import([]byte(exportedBase), picked); err == nil {
		f.Add(imported)
	}
	f.Add([]byte(`{"title": "t", "schemaVersion": 1, "templating": {"list": []}, "annotations": {"list": []}, "panels": [{"type": "row", "panels": [{"type": "row"}, {"type": "heatmap", "options": {"tooltip": {}}}]}]}`))
	f.Fuzz(func(t *testing.T, imported []byte) {
		d, err := DecodeStrict(imported)
		if err != nil {
			return
		}
		for _, p := range d.Panels {
			if (p.Row == nil) == (p.Panel == nil) {
				t.Errorf("%s: row %v, panel %v: want exactly one", p.Path, p.Row, p.Panel)
			}
		}
		VariableProblems(d)
	})
}

// FuzzReferences checks that every name References returns is a word that occurs in the text.
func FuzzReferences(f *testing.F) {
	f.Add(`$a ${b} ${c:csv} ${d.text} [[e]] [[f:regex]] "$1" $__range`)
	f.Fuzz(func(t *testing.T, text string) {
		for _, name := range References(text) {
			if name == "" || !strings.Contains(text, name) {
				t.Errorf("References(%q) returned %q", text, name)
			}
		}
	})
}
