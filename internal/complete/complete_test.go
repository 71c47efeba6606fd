package complete_test

import (
	"slices"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/headroom/headroom/internal/complete"
)

// TestList: the item after the last comma, among the values not listed yet, the words that
// stand alone only as the first item; described when a description is given.
func TestList(t *testing.T) {
	t.Parallel()
	describe := func(v string) string {
		if v == "b" {
			return "the b"
		}
		return ""
	}
	f := complete.List([]string{"a", "b", "c"}, describe, "all", "none")
	for _, tc := range []struct {
		typed string
		want  []string
	}{
		{"", []string{"all", "none", "a", "b\tthe b", "c"}},
		{"a", []string{"all", "none", "a", "b\tthe b", "c"}},
		{"a,", []string{"a,b\tthe b", "a,c"}},
		{"a, c,b", []string{"a, c,b\tthe b"}},
		{"a,b,c,", nil},
		{"c,a,", []string{"c,a,b\tthe b"}},
	} {
		got, d := f(nil, nil, tc.typed)
		if !slices.Equal(got, tc.want) || d != cobra.ShellCompDirectiveNoFileComp|cobra.ShellCompDirectiveNoSpace {
			t.Errorf("%q: %q (directive %d), want %q", tc.typed, got, d, tc.want)
		}
	}
}

// TestTypedAndUnset: a number or duration flag gets no completion of files; a string flag is
// listed by Unset until it is given one, unless it or its command is hidden.
func TestTypedAndUnset(t *testing.T) {
	t.Parallel()
	root := &cobra.Command{Use: "x"}
	sub := &cobra.Command{Use: "sub"}
	hidden := &cobra.Command{Use: "internal", Hidden: true}
	root.AddCommand(sub, hidden)
	sub.Flags().Int("n", 0, "")
	sub.Flags().Duration("d", time.Second, "")
	sub.Flags().Bool("b", false, "")
	sub.Flags().String("s", "", "")
	sub.Flags().StringArray("a", nil, "")
	sub.Flags().String("secret", "", "")
	_ = sub.Flags().MarkHidden("secret")
	hidden.Flags().String("h", "", "")
	complete.Typed(root)
	for _, name := range []string{"n", "d"} {
		if _, ok := sub.GetFlagCompletionFunc(name); !ok {
			t.Errorf("--%s: no completion after Typed", name)
		}
	}
	if _, ok := sub.GetFlagCompletionFunc("b"); ok {
		t.Error("--b, a bool: given a completion")
	}
	if got, want := complete.Unset(root), []string{"x sub --a", "x sub --s"}; !slices.Equal(got, want) {
		t.Errorf("Unset %q, want %q", got, want)
	}
	complete.ByName(root, map[string]cobra.CompletionFunc{"s": complete.None, "a": complete.Files("csv")})
	if got := complete.Unset(root); len(got) > 0 {
		t.Errorf("Unset %q after ByName, want none", got)
	}
}
