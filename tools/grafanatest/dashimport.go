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
	Value       string `json:"value"` // constant inputs only, which Import refuses
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

// export is an exported dashboard split into its envelope and the dashboard proper.
type export struct {
	inputs   []Input
	requires []Requirement
	dash     map[string]any // numbers as written
}

// parseExport splits exported into its envelope, decoded strictly, and the dashboard; an
// __elements with library panels is a problem (they cannot be checked here).
func parseExport(exported []byte, p *problems) (*export, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(exported, &top); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	if top == nil {
		return nil, errors.New("not a JSON object: null")
	}
	var e export
	var err error
	if e.inputs, err = decodeStrict[[]Input](top[keyInputs]); err != nil {
		p.addf("%s: %v", keyInputs, err)
	}
	if e.requires, err = decodeStrict[[]Requirement](top[keyRequires]); err != nil {
		p.addf("%s: %v", keyRequires, err)
	}
	elements, err := decodeStrict[map[string]json.RawMessage](top[keyElements])
	if err != nil {
		p.addf("%s: %v", keyElements, err)
	}
	if len(elements) > 0 {
		p.addf("%s: library panels %v: not supported here", keyElements, slices.Sorted(maps.Keys(elements)))
	}
	delete(top, keyInputs)
	delete(top, keyRequires)
	delete(top, keyElements)
	if err := decodeNumbers(mustMarshal(top), &e.dash); err != nil {
		return nil, err // cannot happen: top was decoded from JSON
	}
	return &e, nil
}

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
	var p problems
	e, err := parseExport(exported, &p)
	if err != nil {
		return nil, err
	}
	values := map[string]string{}   // input name → the uid it becomes
	pluginOf := map[string]string{} // picked uid → its plugin id
	for i, in := range e.inputs {
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
	checkRequires(&p, e.requires, e.inputs, panelTypes(e.dash["panels"]))
	out := substitute(e.dash, values).(map[string]any)
	checkReferences(&p, "", out, true, func(uid, typ string) string {
		switch {
		case pluginOf[uid] == "":
			return fmt.Sprintf("uid %q is neither a datasource the import picked nor %q", uid, BuiltinAnnotationsUID)
		case typ != pluginOf[uid]:
			return fmt.Sprintf("type %q, but uid %q is the picked %s datasource", typ, uid, pluginOf[uid])
		}
		return ""
	})
	if err := p.err(); err != nil {
		return nil, err
	}
	return mustMarshal(out), nil
}

// variableUID matches a datasource uid that is a reference to a template variable.
var variableUID = regexp.MustCompile(`^\$(?:\{(\w+)\}|(\w+))$`)

// Provisioned returns the dashboard as Grafana serves it when the exported file is provisioned
// (put in a folder that a dashboards provider reads) instead of imported: nothing is
// substituted and the envelope is of no use, so it is dropped. Such a dashboard works on any
// Grafana only if every "datasource" in it is a {type, uid} reference whose uid is "${NAME}" or
// "$NAME" for a datasource variable NAME of that plugin type in templating (which Grafana sets
// to a datasource of that type), or the built-in "-- Grafana --" one; the error lists every
// other (and every problem with the envelope), one per line.
func Provisioned(exported []byte) ([]byte, error) {
	var p problems
	e, err := parseExport(exported, &p)
	if err != nil {
		return nil, err
	}
	pluginOf := map[string]string{} // datasource variable → its plugin id
	var t struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	}
	if templating, ok := e.dash["templating"]; ok {
		_ = json.Unmarshal(mustMarshal(templating), &t) // a bad templating is DecodeStrict's to report
	}
	for _, v := range t.List {
		if plugin, ok := v.Query.(string); ok && v.Type == "datasource" {
			pluginOf[v.Name] = plugin
		}
	}
	checkReferences(&p, "", e.dash, false, func(uid, typ string) string {
		m := variableUID.FindStringSubmatch(uid)
		if m == nil {
			return fmt.Sprintf("uid %q is neither a datasource variable nor %q: a uid of one Grafana's datasources, which another Grafana lacks", uid, BuiltinAnnotationsUID)
		}
		switch name := m[1] + m[2]; {
		case pluginOf[name] == "":
			return fmt.Sprintf("uid %q: %s is not a datasource variable (datasource variables: %v)", uid, name, slices.Sorted(maps.Keys(pluginOf)))
		case typ != pluginOf[name]:
			return fmt.Sprintf("type %q, but %s is a variable of %s datasources", typ, name, pluginOf[name])
		}
		return ""
	})
	if err := p.err(); err != nil {
		return nil, err
	}
	return mustMarshal(e.dash), nil
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

// checkReferences reports every "datasource" under v that is not a {type, uid} reference to
// the built-in annotations datasource or one that uidProblem accepts (it returns "" for those),
// and, with leftovers, every string that still refers to a DS_ input or variable.
func checkReferences(p *problems, path string, v any, leftovers bool, uidProblem func(uid, typ string) string) {
	switch v := v.(type) {
	case string:
		if leftovers && leftoverDS.MatchString(v) {
			p.addf("%s: %q still refers to a DS_ input or variable the import did not resolve", path, v)
		}
	case []any:
		for i, e := range v {
			checkReferences(p, path+"["+strconv.Itoa(i)+"]", e, leftovers, uidProblem)
		}
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(v)) {
			at := join(path, k)
			if k == "datasource" {
				checkDatasource(p, at, v[k], uidProblem)
			}
			checkReferences(p, at, v[k], leftovers, uidProblem)
		}
	}
}

func checkDatasource(p *problems, path string, v any, uidProblem func(uid, typ string) string) {
	ref, ok := v.(map[string]any)
	if !ok {
		// null is the default datasource, a string a datasource's name (before Grafana 8.3):
		// neither is a datasource the dashboard chose.
		p.addf("%s: %s, not a {type, uid} reference", path, mustMarshal(v))
		return
	}
	uid, _ := ref["uid"].(string)
	typ, _ := ref["type"].(string)
	if uid == BuiltinAnnotationsUID && (typ == "grafana" || typ == "datasource") {
		return
	}
	if problem := uidProblem(uid, typ); problem != "" {
		p.addf("%s: %s", path, problem)
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
