package guest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestFrameFitsPayload: a request of the largest body the gateway admits, with headers, fits a
// frame once JSON has base64-encoded the body.
func TestFrameFitsPayload(t *testing.T) {
	t.Parallel()
	req := Request{ID: strings.Repeat("i", 26), Method: "POST", Path: "/" + strings.Repeat("p", 4096),
		Header: http.Header{"X-Big": {strings.Repeat("h", 64<<10)}}, Body: bytes.Repeat([]byte{0xff}, MaxPayload)}
	b, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteFrame(&buf, b); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFrame(&buf); err != nil {
		t.Fatalf("a %d-byte frame: %v", len(b), err)
	}
}

// FuzzReadFrame feeds ReadFrame what a broken or hostile instance could write: it must return
// a frame or an error, never panic nor allocate past MaxFrame, and read back what WriteFrame wrote.
func FuzzReadFrame(f *testing.F) {
	for _, seed := range [][]byte{{}, {0, 0, 0, 0}, {0, 0, 0, 2, 'h', 'i'}, {0xff, 0xff, 0xff, 0xff}, {0, 0, 0, 9, 'x'}} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		b, err := ReadFrame(bytes.NewReader(in))
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := WriteFrame(&out, b); err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(in, out.Bytes()) {
			t.Fatalf("frame %q re-encoded as %q, not a prefix of the input", b, out.Bytes())
		}
	})
}
