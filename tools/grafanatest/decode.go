package grafanatest

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"sync"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
)

// Dashboard is an imported dashboard decoded strictly into the SDK's types.
type Dashboard struct {
	// Dashboard is everything but the panels (its Panels is empty: see Panels). The SDK marks
	// it deprecated for dashboardv2, Grafana 12's new resource schema; the files are in the
	// classic JSON model, the one Grafana 10 and 11 import.
	Dashboard dashboard.Dashboard //nolint:staticcheck // see above

	// Panels are the dashboard's panels in order, each row followed by the panels nested in it.
	Panels []Panel
}

// Panel is one panel of a Dashboard: a row or a panel with its Prometheus queries.
type Panel struct {
	Path    string              // where it is in the dashboard, such as "panels[3]"
	Row     *dashboard.RowPanel // set for a row
	Panel   *dashboard.Panel    // set for any other panel; its Targets are left empty
	Queries []prometheus.Dataquery
}

// Title returns the panel's title, or its Path when it has none.
func (p Panel) Title() string {
	if p.Row != nil && p.Row.Title != nil {
		return *p.Row.Title
	}
	if p.Panel != nil && p.Panel.Title != nil {
		return *p.Panel.Title
	}
	return p.Path
}

// registerPlugins makes the SDK's strict decoders decode each core panel type's options and
// field config into that type's own Options and FieldConfig.
var registerPlugins = sync.OnceFunc(plugins.RegisterDefaultPlugins)

// DecodeStrict decodes an imported dashboard (see Import) into Grafana's schema types: the
// dashboard into dashboard.Dashboard with its UnmarshalJSONStrict, each panel into
// dashboard.Panel or dashboard.RowPanel with its options (and fieldConfig.defaults.custom) into
// the panel type's Options (and FieldConfig), each panel's fieldConfig into
// dashboard.FieldConfigSource, and each query into prometheus.Dataquery, all strictly: an
// unknown field, a value of the wrong type or a missing required field is an error. The SDK's
// strict panel decoding alone would let through what this adds: queries of an unknown
// datasource type, fieldConfig outside custom, and panel types it has no schema for.
//
// Two kinds of missing required field are not errors, because Grafana fills them in itself: a
// panel's options and custom field config (the panel plugin's defaults), and the current value
// of a datasource variable (Grafana's own export empties it).
//
// The error lists every problem found, one per line, each with its path.
func DecodeStrict(imported []byte) (*Dashboard, error) {
	registerPlugins()
	var top map[string]json.RawMessage
	if err := json.Unmarshal(imported, &top); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	if top == nil {
		return nil, errors.New("not a JSON object: null")
	}
	var p problems
	var rawPanels []json.RawMessage
	if err := json.Unmarshal(orNull(top["panels"]), &rawPanels); err != nil {
		p.addf("panels: %v", err)
	}
	delete(top, "panels")
	d := &Dashboard{}
	addBuildErrors(&p, "", d.Dashboard.UnmarshalJSONStrict(mustMarshal(top)), datasourceVariables(top["templating"]))
	for i, raw := range rawPanels {
		d.decodePanel(&p, "panels["+strconv.Itoa(i)+"]", raw, true)
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	return d, nil
}

// decodePanel decodes one panel and, for a row, the panels nested in it.
func (d *Dashboard) decodePanel(p *problems, path string, raw json.RawMessage, top bool) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		p.addf("%s: not a JSON object", path)
		return
	}
	var typ string
	if err := json.Unmarshal(orNull(fields["type"]), &typ); err != nil || typ == "" {
		p.addf("%s: type %s, want a panel type", path, orNull(fields["type"]))
		return
	}
	if typ == "row" {
		if !top {
			p.addf("%s: a row inside a row", path)
			return
		}
		var nested []json.RawMessage
		if err := json.Unmarshal(orNull(fields["panels"]), &nested); err != nil {
			p.addf("%s.panels: %v", path, err)
		}
		if fields["panels"] != nil {
			fields["panels"] = json.RawMessage("[]") // decoded below, each with its path
		}
		row := &dashboard.RowPanel{}
		addBuildErrors(p, path, row.UnmarshalJSONStrict(mustMarshal(fields)), nil)
		d.Panels = append(d.Panels, Panel{Path: path, Row: row})
		for i, raw := range nested {
			d.decodePanel(p, path+".panels["+strconv.Itoa(i)+"]", raw, false)
		}
		return
	}
	if _, ok := cog.ConfigForPanelcfgVariant(typ); !ok {
		p.addf("%s: panel type %q has no schema in the SDK (not a core panel type: a plugin's, or a typo)", path, typ)
	}
	var targets []json.RawMessage
	if err := json.Unmarshal(orNull(fields["targets"]), &targets); err != nil {
		p.addf("%s.targets: %v", path, err)
	}
	delete(fields, "targets") // decoded below: the SDK decodes a query of unknown type loosely
	panel := &dashboard.Panel{}
	addBuildErrors(p, path, panel.UnmarshalJSONStrict(mustMarshal(fields)), nil)
	if fc := fields["fieldConfig"]; fc != nil && string(fc) != "null" {
		// The SDK decodes a panel's fieldConfig loosely but for defaults.custom.
		var source dashboard.FieldConfigSource
		addBuildErrors(p, path+".fieldConfig", source.UnmarshalJSONStrict(fc), nil)
	}
	x := Panel{Path: path, Panel: panel}
	for i, raw := range targets {
		var q prometheus.Dataquery
		addBuildErrors(p, path+".targets["+strconv.Itoa(i)+"]", q.UnmarshalJSONStrict(raw), nil)
		x.Queries = append(x.Queries, q)
	}
	d.Panels = append(d.Panels, x)
}

// sdkMissing is the SDK's message for a required field absent from the input.
const sdkMissing = "required field is missing from input"

// pluginDefaulted matches the paths of a panel's options and custom field config, which the
// panel plugin's defaults complete.
var pluginDefaulted = regexp.MustCompile(`^panels\[\d+\](\.panels\[\d+\])?\.(options|fieldConfig\.defaults\.custom)\.`)

// currentOf matches the path of a template variable's current value, capturing its index.
var currentOf = regexp.MustCompile(`^templating\.list\[(\d+)\]\.current\.`)

// addBuildErrors adds the errors of an SDK strict decode at path, less the missing required
// fields that Grafana fills in (see DecodeStrict); dsVars are the indexes of the datasource
// variables in templating.list.
func addBuildErrors(p *problems, path string, err error, dsVars map[int]bool) {
	var list cog.BuildErrors
	if !errors.As(err, &list) {
		// The SDK returns its (typed, maybe empty) error list even when all is well, so a
		// nil check alone would fail every decode; anything else is a plain error.
		if err != nil {
			p.addf("%s: %v", path, err)
		}
		return
	}
	for _, e := range list {
		at := join(path, e.Path)
		if e.Message == sdkMissing {
			if pluginDefaulted.MatchString(at) {
				continue
			}
			if m := currentOf.FindStringSubmatch(at); m != nil {
				if i, _ := strconv.Atoi(m[1]); dsVars[i] {
					continue
				}
			}
		}
		p.addf("%s: %s", at, e.Message)
	}
}

// datasourceVariables returns the indexes of the datasource variables in templating.list.
func datasourceVariables(templating json.RawMessage) map[int]bool {
	var t struct {
		List []struct {
			Type string `json:"type"`
		} `json:"list"`
	}
	_ = json.Unmarshal(orNull(templating), &t) // a bad templating is the strict decode's to report
	ds := map[int]bool{}
	for i, v := range t.List {
		ds[i] = v.Type == "datasource"
	}
	return ds
}

func orNull(raw json.RawMessage) json.RawMessage {
	if raw == nil {
		return json.RawMessage("null")
	}
	return raw
}
