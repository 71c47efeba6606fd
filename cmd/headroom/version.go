package main

import (
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// version overrides the version the build info gives when a build sets it with
// -ldflags "-X main.version=1.2.3" (a packager's build from a source tarball has no VCS data).
var version string

// buildVersion is the version line `headroom version` and `headroom --version` print, from the
// binary's build info: the module version (`v1.2.3` for `go install …@v1.2.3`, a pseudo-version
// or `(devel)` for a build from a checkout), then the VCS revision, "dirty" when the checkout
// had changes, and the Go version. override, when set, replaces the module version.
func buildVersion(bi *debug.BuildInfo, ok bool, override string) string {
	v := override
	if !ok {
		if v == "" {
			v = "(unknown)"
		}
		return v
	}
	if v == "" {
		v = bi.Main.Version
	}
	if v == "" {
		v = "(devel)"
	}
	var extra []string
	var rev string
	var dirty bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev != "" {
		const short = 12
		if len(rev) > short {
			rev = rev[:short]
		}
		extra = append(extra, "revision "+rev)
		// Go adds +dirty to a pseudo-version already; a tag or (devel) does not say it.
		if dirty && !strings.HasSuffix(v, "+dirty") {
			extra = append(extra, "dirty")
		}
	}
	if bi.GoVersion != "" {
		extra = append(extra, bi.GoVersion)
	}
	if len(extra) == 0 {
		return v
	}
	return v + " (" + strings.Join(extra, ", ") + ")"
}

// versionLine reads this binary's build info.
func versionLine() string {
	bi, ok := debug.ReadBuildInfo()
	return buildVersion(bi, ok, version)
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the headroom version, VCS revision and Go version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "headroom %s\n", versionLine())
			return err
		},
	}
}
