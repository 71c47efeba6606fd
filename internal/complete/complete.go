// Package complete gives the flags of headroom's two binaries their shell completions (cobra's
// `completion bash|zsh|fish` scripts ask the binary, through its hidden __complete command).
// A flag with a set of valid values completes them from the list its validation uses, never a
// copy; a file flag completes the file names it reads or writes; every other string flag
// completes nothing, so that a free value (an SLO, a URL) is not offered the working
// directory's files. Unset finds a string flag that was given no completion, for the tests.
// It imports cobra and nothing of headroom, so the lab's binary uses it too.
package complete

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// None completes nothing: the value is free (an SLO, a URL, a duration).
var None cobra.CompletionFunc = cobra.NoFileCompletions

// Values completes one of values; describe, when not nil, gives each a description that zsh
// and fish show beside it.
func Values[T ~string](values []T, describe func(T) string) cobra.CompletionFunc {
	return func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return completions("", values, nil, describe), cobra.ShellCompDirectiveNoFileComp
	}
}

// List completes a comma-separated list of values: the item after the last comma, among the
// values not listed yet (no space after it, so that a comma can follow). Alone are words that
// stand for the whole list, such as all and none: offered as the first item only.
func List[T ~string](values []T, describe func(T) string, alone ...string) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		i := strings.LastIndex(toComplete, ",")
		prefix := toComplete[:i+1]
		var listed []T
		for v := range strings.SplitSeq(prefix, ",") {
			listed = append(listed, T(strings.TrimSpace(v)))
		}
		var out []cobra.Completion
		if prefix == "" {
			out = completions[string]("", alone, nil, nil)
		}
		out = append(out, completions(prefix, values, listed, describe)...)
		return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
	}
}

// completions are prefix+v for each of values not in skip, described.
func completions[T ~string](prefix string, values, skip []T, describe func(T) string) []cobra.Completion {
	var out []cobra.Completion
	for _, v := range values {
		if slices.Contains(skip, v) {
			continue
		}
		c := prefix + string(v)
		if describe != nil {
			if d := describe(v); d != "" {
				c = cobra.CompletionWithDesc(c, d)
			}
		}
		out = append(out, c)
	}
	return out
}

// Prefixes completes the start of a value, such as prometheus-rw= or redis://, with no space
// after it, so that the rest can be typed.
func Prefixes(prefixes ...string) cobra.CompletionFunc {
	return func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return prefixes, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
	}
}

// Files completes the names of files ending in one of exts (without the dot), and directories.
func Files(exts ...string) cobra.CompletionFunc {
	return func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return exts, cobra.ShellCompDirectiveFilterFileExt
	}
}

// AnyFile completes any file name: for inputs whose format is told by content, not by name.
func AnyFile(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return nil, cobra.ShellCompDirectiveDefault
}

// Dirs completes directory names.
func Dirs(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return nil, cobra.ShellCompDirectiveFilterDirs
}

// Flags gives each named flag of cmd the completion f. A flag that does not exist, or already
// has a completion, is a mistake in the program: Flags panics, and so fails every test that
// builds the command.
func Flags(cmd *cobra.Command, f cobra.CompletionFunc, names ...string) {
	for _, n := range names {
		if err := cmd.RegisterFlagCompletionFunc(n, f); err != nil {
			panic(fmt.Sprintf("%s: %v", cmd.CommandPath(), err))
		}
	}
}

// ByName gives every flag of root's tree named in byName that completion, wherever it is
// defined: for a program whose commands share flag names (--db, --log-level) and their values.
func ByName(root *cobra.Command, byName map[string]cobra.CompletionFunc) {
	walk(root, func(cmd *cobra.Command, f *pflag.Flag) {
		if c, ok := byName[f.Name]; ok {
			Flags(cmd, c, f.Name)
		}
	})
}

// stringTypes are the pflag types of flags that take free text: each needs a completion chosen
// for it. Other types (numbers, durations) get None from Typed; bools take no value.
var stringTypes = []string{"string", "stringArray", "stringSlice"}

// Typed gives None to every flag in root's tree that takes a number or a duration and has no
// completion yet: no file name is ever one. Call it once the tree is built.
func Typed(root *cobra.Command) {
	walk(root, func(cmd *cobra.Command, f *pflag.Flag) {
		if _, ok := cmd.GetFlagCompletionFunc(f.Name); ok || f.NoOptDefVal != "" || slices.Contains(stringTypes, f.Value.Type()) {
			return
		}
		Flags(cmd, None, f.Name)
	})
}

// Unset lists, as "COMMAND --FLAG", the string flags of root's tree that have no completion,
// but for hidden ones (of hidden commands, or hidden flags), which are not for users to type.
func Unset(root *cobra.Command) []string {
	var out []string
	walk(root, func(cmd *cobra.Command, f *pflag.Flag) {
		if f.Hidden || hidden(cmd) {
			return
		}
		if _, ok := cmd.GetFlagCompletionFunc(f.Name); !ok && slices.Contains(stringTypes, f.Value.Type()) {
			out = append(out, cmd.CommandPath()+" --"+f.Name)
		}
	})
	return out
}

// hidden reports whether cmd or a parent of it is hidden.
func hidden(cmd *cobra.Command) bool {
	for ; cmd != nil; cmd = cmd.Parent() {
		if cmd.Hidden {
			return true
		}
	}
	return false
}

// walk calls fn with each flag defined on each command of root's tree (inherited ones with the
// command that defines them).
func walk(root *cobra.Command, fn func(*cobra.Command, *pflag.Flag)) {
	root.LocalFlags().VisitAll(func(f *pflag.Flag) { fn(root, f) })
	for _, c := range root.Commands() {
		walk(c, fn)
	}
}
