package faas

import (
	"bytes"
	"testing"
)

// FuzzReadFrame feeds readFrame what a broken or hostile instance could write: it must return
// a frame or an error, never panic nor allocate past maxFrame, and read back what writeFrame wrote.
func FuzzReadFrame(f *testing.F) {
	for _, seed := range [][]byte{{}, {0, 0, 0, 0}, {0, 0, 0, 2, 'h', 'i'}, {0xff, 0xff, 0xff, 0xff}, {0, 0, 0, 9, 'x'}} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		b, err := readFrame(bytes.NewReader(in))
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := writeFrame(&out, b); err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(in, out.Bytes()) {
			t.Fatalf("frame %q re-encoded as %q, not a prefix of the input", b, out.Bytes())
		}
	})
}
