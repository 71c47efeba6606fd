package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
)

func TestBuildVersion(t *testing.T) {
	t.Parallel()
	vcs := func(rev, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}
	}
	const rev = "96fcca66d581b06bc505a7c92a47a34b415d7738"
	for _, tc := range []struct {
		name     string
		bi       *debug.BuildInfo
		ok       bool
		override string
		want     string
	}{
		{"go install @tag", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"}}, true, "", "v1.2.3 (go1.26.8)"},
		{"tagged checkout", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"}, Settings: vcs(rev, "false")}, true, "", "v1.2.3 (revision 96fcca66d581, go1.26.8)"},
		{"devel dirty", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: vcs(rev, "true")}, true, "", "(devel) (revision 96fcca66d581, dirty, go1.26.8)"},
		{"pseudo-version says dirty itself", &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261207070849-96fcca66d581+dirty"}, Settings: vcs(rev, "true")}, true, "", "v0.0.0-20261207070849-96fcca66d581+dirty (revision 96fcca66d581)"},
		{"empty main version", &debug.BuildInfo{}, true, "", "(devel)"},
		{"ldflags override", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: vcs(rev, "false")}, true, "1.2.3", "1.2.3 (revision 96fcca66d581, go1.26.8)"},
		{"no build info", nil, false, "", "(unknown)"},
		{"no build info, override", nil, false, "1.2.3", "1.2.3"},
	} {
		if got := buildVersion(tc.bi, tc.ok, tc.override); got != tc.want {
			t.Errorf("%s: buildVersion = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestVersionFromTag builds headroom from a tagged clone of this tree, as `go install …@v0.9.9`
// or a release build would, and checks that the binary says v0.9.9 and its revision.
func TestVersionFromTag(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	git := func(dir string, args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	// The tree as it is now, changes to tracked files included, as a commit of its own.
	commit := git("../..", "stash", "create")
	if commit == "" {
		commit = git("../..", "rev-parse", "HEAD")
	}
	clone := filepath.Join(t.TempDir(), "src")
	// --shared: the clone reads this repository's objects, the stash commit's among them.
	git("../..", "clone", "--quiet", "--no-checkout", "--shared", ".", clone)
	git(clone, "checkout", "--quiet", commit)
	git(clone, "tag", "v0.9.9")
	bin := filepath.Join(t.TempDir(), "headroom")
	build := exec.Command("go", "build", "-buildvcs=true", "-o", bin, "./cmd/headroom")
	build.Dir = clone
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, args := range [][]string{{"version"}, {"--version"}} {
		out, err := exec.Command(bin, args...).Output()
		if err != nil {
			t.Fatalf("headroom %s: %v", args[0], err)
		}
		want := regexp.MustCompile(`^headroom v0\.9\.9 \(revision ` + commit[:12] + `, go[0-9.]+\)\n$`)
		if !want.Match(out) {
			t.Errorf("headroom %s = %q, want %v", args[0], out, want)
		}
	}
}
