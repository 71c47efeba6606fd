package grafanatest

import (
	"fmt"
	"regexp"
	"slices"
)

// variableRef matches a template variable reference in the syntaxes Grafana interpolates:
// $name, ${name}, ${name:format}, ${name.field} and the deprecated [[name]] / [[name:format]].
// A bare $ followed by a digit is not one: label_replace's "$1" is a regular expression group.
var variableRef = regexp.MustCompile(`\$([A-Za-z_]\w*)|\$\{(\w+)(?:[.:][^}]*)?\}|\[\[(\w+)(?::\w+)?\]\]`)

// globalVariables are Grafana's built-in variables, defined on every dashboard (Grafana's
// "Global variables" page).
var globalVariables = []string{
	"__dashboard", "__from", "__to", "__interval", "__interval_ms", "__name", "__org", "__user",
	"__range", "__range_s", "__range_ms", "__rate_interval", "__rate_interval_ms", "__timeFilter",
	"timeFilter", "__timezone",
}

// References returns the names of the template variables that text refers to, in order.
func References(text string) []string {
	var names []string
	for _, m := range variableRef.FindAllStringSubmatch(text, -1) {
		names = append(names, m[1]+m[2]+m[3]) // one group matched
	}
	return names
}

// VariableProblems returns what is wrong with d's template variables: a variable that a query
// (a panel query's expression or legend, a query variable's query) refers to but neither
// templating nor Grafana defines, and a variable other than a datasource variable that nothing
// refers to (a selector that selects nothing). A datasource variable is exempt: after an import
// the panels name the picked datasource itself, and only a provisioned dashboard goes through
// the variable.
func VariableProblems(d *Dashboard) []string {
	defined := map[string]bool{}
	for _, name := range globalVariables {
		defined[name] = true
	}
	used := map[string]bool{}
	var p problems
	refer := func(where, text string) {
		for _, name := range References(text) {
			used[name] = true
			if !defined[name] {
				p.addf("%s: $%s is not a template variable (defined: %v)", where, name, d.variableNames())
			}
		}
	}
	for _, v := range d.Dashboard.Templating.List {
		defined[v.Name] = true
	}
	for i, v := range d.Dashboard.Templating.List {
		where := fmt.Sprintf("templating.list[%d] (%s)", i, v.Name)
		if v.Definition != nil {
			refer(where, *v.Definition)
		}
		if q := v.Query; q != nil {
			if q.String != nil {
				refer(where, *q.String)
			}
			if s, ok := q.Map["query"].(string); ok {
				refer(where, s)
			}
		}
	}
	for _, panel := range d.Panels {
		for i, q := range panel.Queries {
			where := fmt.Sprintf("%s (%q) targets[%d]", panel.Path, panel.Title(), i)
			refer(where, q.Expr)
			if q.LegendFormat != nil {
				refer(where, *q.LegendFormat)
			}
		}
	}
	for _, v := range d.Dashboard.Templating.List {
		if v.Type != "datasource" && !used[v.Name] {
			p.addf("template variable %s: no query refers to it", v.Name)
		}
	}
	return p
}

func (d *Dashboard) variableNames() []string {
	var names []string
	for _, v := range d.Dashboard.Templating.List {
		names = append(names, v.Name)
	}
	return slices.Sorted(slices.Values(names))
}
