package faas

import (
	"strings"
	"testing"
)

func TestLastFatal(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ stderr, want string }{
		{"", ""},
		{"log line\n", ""},
		{"panic: boom\n\ngoroutine 1 [running]:\nmain.main()\n", "panic: boom"},
		{"runtime: out of memory: cannot allocate 4194304-byte block (268435456 in use)\nfatal error: out of memory\n\ngoroutine 1", "fatal error: out of memory"},
		{"panic: first [recovered]\n\tpanic: second\n", "panic: second"},
	} {
		if got := lastFatal(c.stderr); got != c.want {
			t.Errorf("lastFatal(%q) = %q, want %q", c.stderr, got, c.want)
		}
	}
}

func TestTailKeepsTheLastBytes(t *testing.T) {
	t.Parallel()
	var tl tail
	head := strings.Repeat("x", stderrTail)
	_, _ = tl.Write([]byte(head))
	_, _ = tl.Write([]byte("panic: the end\n"))
	if got := tl.String(); len(got) != stderrTail || !strings.HasSuffix(got, "panic: the end\n") {
		t.Errorf("tail of %d bytes ending %q, want %d ending with the last write", len(got), got[max(0, len(got)-20):], stderrTail)
	}
}

// FuzzLastFatal feeds lastFatal what a guest may print: it returns "" or one of its lines,
// trimmed, saying panic or fatal error.
func FuzzLastFatal(f *testing.F) {
	for _, seed := range []string{"", "panic: boom\n", "fatal error: out of memory", "x\npanic: \n", "\tpanic: a\r\n"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, stderr string) {
		got := lastFatal(stderr)
		if got == "" {
			return
		}
		if !strings.HasPrefix(got, "panic: ") && !strings.HasPrefix(got, "fatal error: ") {
			t.Fatalf("lastFatal = %q: not a panic or fatal error line", got)
		}
		if !strings.Contains(stderr, got) {
			t.Fatalf("lastFatal = %q: not in the input", got)
		}
	})
}
