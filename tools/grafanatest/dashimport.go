package grafanatest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Input is one entry of an exported dashboard's __inputs: something the person importing is
// asked for. Grafana exports a datasource input for each datasource the dashboard used, and
// writes "${Name}" where the datasource's uid was.
type Input struct {
	Name        string `json:"name"`
	Label       string `json:"label"`
	Description string `json:"description"`
	Type        string `json:"type"`
	PluginID    string `json:"pluginId"`
	PluginName  string `json:"pluginName"`
	Value       string `json:"value"` // constant inputs only
}

// Requirement is one entry of an exported dashboard's __requires: Grafana itself, or a panel or
// datasource plugin the dashboard uses.
type Requirement struct {
	Type    string `json:"type"` // grafana, panel or datasource
	ID      string `json:"id"`
	Name    string `json:"name"`
	Version string `json:"version"`
}

// BuiltinAnnotationsUID is the uid of Grafana's built-in "-- Grafana --" datasource, the one the
// default annotation query uses; every Grafana has it, so a dashboard may name it.
const BuiltinAnnotationsUID = "-- Grafana --"

// The keys of an export's envelope, which the import reads and does not store.
const (
	keyInputs   = "__inputs"
	keyRequires = "__requires"
	keyElements = "__elements"
)

// inputRef is a "${NAME}" reference as Grafana's import replaces it (the whole "${…}" with the
// input's value when NAME is an input's name).
var inputRef = regexp.MustCompile(`\$\{([^}]*)\}`)

// leftoverDS is a reference to a DS_ input or datasource variable that the import did not
// resolve.
var leftoverDS = regexp.MustCompile(`\$\{?DS_`)

// Import returns the dashboard that Grafana stores when the exported dashboard is imported
// through its UI (Dashboards → New → Import) with picked[pluginID] chosen as the datasource uid
// for each datasource input of that plugin: every "${NAME}" of an input NAME in every string
// value replaced by the input's datasource uid, and the export's envelope (__inputs, __requires,
// __elements) dropped.
//
// Before that, it checks the envelope: each input is a datasource input with a plugin id for
// which picked has a uid; __requires names Grafana, exactly the panel types the dashboard's
// panels use and exactly the datasource plugins of its inputs; __elements holds no library
// panels. After the substitution, no string may still refer to "${DS_…}" or "$DS_…", and every
// "datasource" anywhere in the dashboard must be a {type, uid} reference to a picked datasource
// (of the input's plugin type) or to the built-in "-- Grafana --" one.
//
// The error lists every problem found, one per line.
func Import(exported []byte, picked map[string]string) ([]byte, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(exported, &top); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	if top == nil {
		return nil, errors.New("not a JSON object: null")
	}
	var p problems
	inputs, err := decodeStrict[[]Input](top[keyInputs])
	if err != nil {
		p.addf("%s: %v", keyInputs, err)
	}
	requires, err := decodeStrict[[]Requirement](top[keyRequires])
	if err != nil {
		p.addf("%s: %v", keyRequires, err)
	}
	elements, err := decodeStrict[map[string]json.RawMessage](top[keyElements])
	if err != nil {
		p.addf("%s: %v", keyElements, err)
	}
	if len(elements) > 0 {
		p.addf("%s: library panels %v: not supported here (the import would create them)", keyElements, slices.Sorted(maps.Keys(elements)))
	}
	values := map[string]string{}   // input name → the uid it becomes
	pluginOf := map[string]string{} // picked uid → its plugin id
	for i, in := range inputs {
		at := fmt.Sprintf("%s[%d]", keyInputs, i)
		switch {
		case in.Name == "":
			p.addf("%s: no name", at)
		case values[in.Name] != "":
			p.addf("%s: input %s named twice", at, in.Name)
		case in.Type != "datasource":
			p.addf("%s: input %s has type %q; only datasource inputs are handled here", at, in.Name, in.Type)
		case in.PluginID == "":
			p.addf("%s: datasource input %s names no pluginId", at, in.Name)
		case picked[in.PluginID] == "":
			p.addf("%s: datasource input %s wants a %s datasource; none picked (picked: %v)", at, in.Name, in.PluginID, slices.Sorted(maps.Keys(picked)))
		default:
			values[in.Name] = picked[in.PluginID]
			pluginOf[picked[in.PluginID]] = in.PluginID
		}
	}
	delete(top, keyInputs)
	delete(top, keyRequires)
	delete(top, keyElements)

	var dash map[string]any
	if err := decodeNumbers(mustMarshal(top), &dash); err != nil {
		return nil, err // cannot happen: top was decoded from JSON
	}
	checkRequires(&p, requires, inputs, panelTypes(dash["panels"]))
	out := substitute(dash, values).(map[string]any)
	checkReferences(&p, "", out, pluginOf)
	if err := p.err(); err != nil {
		return nil, err
	}
	return mustMarshal(out), nil
}

// checkRequires checks that requires names Grafana, exactly the panel types used and exactly
// the datasource plugins of the inputs.
func checkRequires(p *problems, requires []Requirement, inputs []Input, used []string) {
	want := map[string][]string{"panel": used}
	for _, in := range inputs {
		if in.Type == "datasource" && in.PluginID != "" {
			want["datasource"] = append(want["datasource"], in.PluginID)
		}
	}
	have := map[string][]string{}
	for i, r := range requires {
		switch r.Type {
		case "grafana", "panel", "datasource":
			have[r.Type] = append(have[r.Type], r.ID)
		default:
			p.addf("%s[%d]: type %q; valid: grafana, panel, datasource", keyRequires, i, r.Type)
		}
	}
	if len(have["grafana"]) != 1 {
		p.addf("%s: %d grafana entries, want 1 (the Grafana version the dashboard was made for)", keyRequires, len(have["grafana"]))
	}
	for _, kind := range []string{"panel", "datasource"} {
		w, h := set(want[kind]), set(have[kind])
		if !slices.Equal(w, h) {
			p.addf("%s: %s plugins %v, but the dashboard uses %v", keyRequires, kind, h, w)
		}
	}
}

// panelTypes returns the types of the panels (rows' nested panels included), rows left out.
func panelTypes(panels any) []string {
	var types []string
	list, _ := panels.([]any)
	for _, v := range list {
		panel, _ := v.(map[string]any)
		typ, _ := panel["type"].(string)
		if typ == "row" {
			types = append(types, panelTypes(panel["panels"])...)
		} else if typ != "" {
			types = append(types, typ)
		}
	}
	return types
}

// substitute replaces "${NAME}" by values[NAME] in every string of v, as Grafana's import does
// (object keys are left alone).
func substitute(v any, values map[string]string) any {
	switch v := v.(type) {
	case string:
		return inputRef.ReplaceAllStringFunc(v, func(ref string) string {
			if uid, ok := values[ref[2:len(ref)-1]]; ok {
				return uid
			}
			return ref
		})
	case []any:
		for i := range v {
			v[i] = substitute(v[i], values)
		}
	case map[string]any:
		for k := range v {
			v[k] = substitute(v[k], values)
		}
	}
	return v
}

// checkReferences reports every string under v that still refers to a DS_ input or variable, and
// every "datasource" that is not a {type, uid} reference to a picked datasource or to the
// built-in annotations one.
func checkReferences(p *problems, path string, v any, pluginOf map[string]string) {
	switch v := v.(type) {
	case string:
		if leftoverDS.MatchString(v) {
			p.addf("%s: %q still refers to a DS_ input or variable the import did not resolve", path, v)
		}
	case []any:
		for i, e := range v {
			checkReferences(p, path+"["+strconv.Itoa(i)+"]", e, pluginOf)
		}
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(v)) {
			at := join(path, k)
			if k == "datasource" {
				checkDatasource(p, at, v[k], pluginOf)
			}
			checkReferences(p, at, v[k], pluginOf)
		}
	}
}

func checkDatasource(p *problems, path string, v any, pluginOf map[string]string) {
	ref, ok := v.(map[string]any)
	if !ok {
		// null is the default datasource, a string a datasource's name (before Grafana 8.3):
		// neither is the datasource the person importing picked.
		p.addf("%s: %s, not a {type, uid} reference to the picked datasource", path, mustMarshal(v))
		return
	}
	uid, _ := ref["uid"].(string)
	typ, _ := ref["type"].(string)
	switch {
	case uid == BuiltinAnnotationsUID && (typ == "grafana" || typ == "datasource"):
	case pluginOf[uid] == "":
		p.addf("%s: uid %q is neither a datasource the import picked nor %q", path, uid, BuiltinAnnotationsUID)
	case typ != pluginOf[uid]:
		p.addf("%s: type %q, but uid %q is the picked %s datasource", path, typ, uid, pluginOf[uid])
	}
}

// decodeStrict decodes raw (absent: the zero T) refusing unknown fields.
func decodeStrict[T any](raw json.RawMessage) (T, error) {
	var v T
	if raw == nil {
		return v, nil
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	err := d.Decode(&v)
	return v, err
}

// decodeNumbers decodes keeping numbers as written, so that re-encoding changes none.
func decodeNumbers(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return d.Decode(v)
}

func mustMarshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only decoded JSON is marshalled
	}
	return b
}

// set returns the distinct strings of s, sorted.
func set(s []string) []string {
	return slices.Compact(slices.Sorted(slices.Values(s)))
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// problems collects every problem found, so that one run names them all.
type problems []string

func (p *problems) addf(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return errors.New(strings.Join(slices.Compact(p), "\n"))
}
