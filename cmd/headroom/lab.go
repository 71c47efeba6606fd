package main

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/headroom/headroom/internal/cliexit"
	"github.com/headroom/headroom/internal/labbin"
)

// newLabCmd hands `headroom lab ARGS` to the lab's own binary, headroom-lab: the lab's
// dependencies stay out of this binary (see lab/cli), and its flags and help are the lab's.
func newLabCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "lab [flags] | lab worker [flags] | lab jobs [flags]",
		Short: "Start the reference backend (the lab) with switchable bottlenecks; runs headroom-lab",
		Long: `lab runs headroom-lab, the lab's own binary, with the same arguments: the reference backend
with switchable bottlenecks, its job workers (lab worker) and its queues' state (lab jobs).
'headroom lab --help' shows the lab's flags.

headroom-lab is looked for in $HEADROOM_LAB, next to this executable, then on PATH;
'go build -o bin/ ./cmd/...' builds both binaries side by side.`,
		Example: `  headroom lab
  headroom lab --antipatterns n_plus_one,sync_logging --otlp http://127.0.0.1:4318
  headroom lab worker --queue nats://127.0.0.1:4222 --db sqlite:./lab.db --smtp 127.0.0.1:2525
  headroom lab jobs`,
		DisableFlagParsing: true,
		ValidArgsFunction:  completeLab,
		RunE: func(_ *cobra.Command, args []string) error {
			bin, err := labbin.Find()
			if err != nil {
				return cliexit.RunFailed(err)
			}
			return runLab(bin, args)
		},
	}
}

// labCompleteTimeout bounds the lab binary's answer to a completion request.
const labCompleteTimeout = 5 * time.Second

// completeLab completes `headroom lab ARGS` as headroom-lab completes ARGS: the flags and their
// values are the lab's own (lab/cli gives them their completions). Without the lab's binary,
// or an answer from it, nothing is completed.
func completeLab(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	bin, err := labbin.Find()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	ctx, cancel := context.WithTimeout(cmp.Or(cmd.Context(), context.Background()), labCompleteTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, slices.Concat([]string{cobra.ShellCompRequestCmd}, args, []string{toComplete})...).Output()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return parseCompletions(string(out))
}

// parseCompletions reads what a cobra program's __complete command prints: a completion per
// line, then ":DIRECTIVE". Output without the directive line completes nothing.
func parseCompletions(out string) ([]cobra.Completion, cobra.ShellCompDirective) {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	last := lines[len(lines)-1]
	d, err := strconv.Atoi(strings.TrimPrefix(last, ":"))
	if !strings.HasPrefix(last, ":") || err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return lines[:len(lines)-1], cobra.ShellCompDirective(d)
}

// runLab replaces this process with the lab binary: signals, the PID (kill -9 a worker) and
// the exit code are then the lab's own.
func runLab(bin string, args []string) error {
	err := syscall.Exec(bin, append([]string{bin}, args...), os.Environ())
	return cliexit.RunFailed(fmt.Errorf("run %s: %w", bin, err))
}
