package main

import (
	"bufio"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/headroom/headroom/internal/atomicfile"
	"github.com/headroom/headroom/internal/cliexit"
)

// dash is the file name that stands for standard input for an input flag or argument, and for
// standard output for an output flag, as in vegeta, curl and tar.
const dash = "-"

// stdio is a command's standard streams as its file flags use them. "-" names standard input
// for an input and standard output for an output, each at most once per command: a second
// reader would find it empty, and two outputs would interleave. When an output takes standard
// output, the command's text goes to standard error so that the output stays pipeable.
type stdio struct {
	in          io.Reader
	out, err    io.Writer
	inBy, outBy string // the flag or argument that took standard input / output
	inRead      bool   // standard input was opened
}

func stdioOf(cmd *cobra.Command) *stdio {
	return &stdio{in: cmd.InOrStdin(), out: cmd.OutOrStdout(), err: cmd.ErrOrStderr()}
}

// open opens the input file path that flag (or an argument, for messages) names; "-" is standard
// input. An unreadable file is a usage error.
func (s *stdio) open(flag, path string) (io.ReadCloser, error) {
	if path != dash {
		f, err := os.Open(path)
		if err != nil {
			return nil, cliexit.Usagef("%s: %v", flag, err)
		}
		return f, nil
	}
	if s.inRead || s.inBy != "" && s.inBy != flag {
		return nil, s.twice(flag)
	}
	s.inBy, s.inRead = flag, true
	return io.NopCloser(s.in), nil
}

// reserve claims standard input for the one input of flag/path pairs that is "-", before any
// is read, so that a second "-" is a usage error rather than an empty input.
func (s *stdio) reserve(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] != dash {
			continue
		}
		if s.inBy != "" {
			return s.twice(pairs[i])
		}
		s.inBy = pairs[i]
	}
	return nil
}

func (s *stdio) twice(flag string) error {
	return cliexit.Usagef("%s -: standard input is already read by %s; it can be read once", flag, s.inBy)
}

// argPairs pairs each argument with the command's name, for reserve.
func argPairs(name string, args []string) []string {
	pairs := make([]string, 0, 2*len(args))
	for _, a := range args {
		pairs = append(pairs, name, a)
	}
	return pairs
}

// text is where the command's human-readable output goes: standard output, unless an output
// file took it.
func (s *stdio) text() io.Writer {
	if s.outBy != "" {
		return s.err
	}
	return s.out
}

// displayName is how messages name an input path.
func displayName(path string) string {
	if path == dash {
		return "standard input"
	}
	return path
}

// outName is how messages name an output path.
func outName(path string) string {
	if path == dash {
		return "standard output"
	}
	return path
}

// outFile is an output that appears whole or not at all (see atomicfile), created before any
// work starts so a bad path fails first, or standard output for "-". A nil outFile means no
// output.
type outFile struct {
	f      *atomicfile.File
	stdout io.Writer
}

// createOut prepares the --out path for writing; "" means no output.
func (s *stdio) createOut(path string) (*outFile, error) { return s.create("--out", path) }

// create prepares the path a flag names for writing; "" means no output, "-" standard output.
func (s *stdio) create(flag, path string) (*outFile, error) {
	switch path {
	case "":
		return nil, nil
	case dash:
		if s.outBy != "" {
			return nil, cliexit.Usagef("%s -: standard output is already taken by %s -", flag, s.outBy)
		}
		s.outBy = flag
		return &outFile{stdout: s.out}, nil
	}
	f, err := atomicfile.Create(path)
	if err != nil {
		return nil, cliexit.Usagef("%s %w", flag, err)
	}
	return &outFile{f: f}, nil
}

// commit writes with write and renames the result into place; on standard output a failed
// write may leave part of the output, as any pipe would.
func (o *outFile) commit(write func(io.Writer) error) error {
	if o == nil {
		return nil
	}
	if o.stdout != nil {
		bw := bufio.NewWriter(o.stdout)
		if err := write(bw); err != nil {
			return cliexit.RunFailed(err)
		}
		if err := bw.Flush(); err != nil {
			return cliexit.RunFailed(fmt.Errorf("standard output: %w", err))
		}
		return nil
	}
	if err := o.f.Commit(write); err != nil {
		return cliexit.RunFailed(err)
	}
	return nil
}

// nothingMore is the write of commit for an output streamed while the run went.
func nothingMore(io.Writer) error { return nil }

// stream is where an output written while the run goes is written, before commit completes it.
func (o *outFile) stream() io.Writer {
	if o.stdout != nil {
		return o.stdout
	}
	return o.f.Writer()
}

// abort removes the temporary file; safe to call after commit.
func (o *outFile) abort() {
	if o != nil && o.f != nil {
		o.f.Abort()
	}
}

// isTerminal reports whether w is a terminal, for progress bars and colour. NO_COLOR and CI
// environments are treated as no terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" {
		return false
	}
	return term.IsTerminal(int(f.Fd()))
}
