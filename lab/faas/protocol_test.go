package faas

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
		Header: http.Header{"X-Big": {strings.Repeat("h", 64<<10)}}, Body: bytes.Repeat([]byte{0xff}, maxPayload)}
	b, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := writeFrame(&buf, b); err != nil {
		t.Fatal(err)
	}
	if _, err := readFrame(&buf); err != nil {
		t.Fatalf("a %d-byte frame: %v", len(b), err)
	}
}

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
