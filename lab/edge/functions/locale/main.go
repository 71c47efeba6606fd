//go:build wasip1

// Command locale is the edge function that picks the language and region of a request: the
// language from Accept-Language, matched (golang.org/x/text/language) against the supported
// ones (the variable "languages", comma-separated, default "en,fr,de,ja", the first the
// fallback); the region from the Headroom-Region header, else from the matched request tag's
// explicit region. It rewrites Accept-Language to the matched tag alone, so that the cache's
// Vary: Accept-Language key has one variant per language instead of one per browser's header,
// and sets Headroom-Region to the normalised region (ISO 3166, upper case) or removes it.
package main

import (
	"strings"

	"golang.org/x/text/language"

	"github.com/headroom/headroom/lab/edge/functions/guest"
	"github.com/headroom/headroom/lab/isolate/abi"
)

func init() { guest.Handle(handle) }

func main() {}

var (
	supported []language.Tag
	matcher   language.Matcher
)

func setup() {
	for s := range strings.SplitSeq(guest.Var("languages", "en,fr,de,ja"), ",") {
		if t, err := language.Parse(strings.TrimSpace(s)); err == nil {
			supported = append(supported, t)
		}
	}
	if len(supported) == 0 {
		supported = []language.Tag{language.English}
	}
	matcher = language.NewMatcher(supported)
}

func handle(r *abi.Request) abi.Decision {
	d := guest.Continue()
	if r.Phase != abi.PhaseRequest {
		return d
	}
	if matcher == nil {
		setup()
	}
	tags, _, _ := language.ParseAcceptLanguage(r.Get("Accept-Language"))
	_, i, _ := matcher.Match(tags...)
	guest.SetHeader(&d, "Accept-Language", supported[i].String())

	region := ""
	if reg, err := language.ParseRegion(strings.TrimSpace(r.Get("Headroom-Region"))); err == nil && reg.IsCountry() {
		region = reg.String()
	} else {
		for _, t := range tags {
			if reg, conf := t.Region(); conf == language.Exact && reg.IsCountry() {
				region = reg.String()
				break
			}
		}
	}
	if region == "" {
		guest.DelHeader(&d, "Headroom-Region")
	} else {
		guest.SetHeader(&d, "Headroom-Region", region)
	}
	return d
}
