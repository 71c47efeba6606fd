//go:build !wasip1

package functions_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/headroom/headroom/lab/faas"
	"github.com/headroom/headroom/lab/faas/functions"
	"github.com/headroom/headroom/lab/faas/guest"
)

// testCacheDir is the wasm compilation cache the tests share across runs (compiling the
// thumbnail module takes seconds); wazero keys its entries by its version and the module's hash.
var testCacheDir = filepath.Join(os.TempDir(), "headroom-faas-functions-test-wazero")

// picture returns a w × h gradient with a diagonal, encoded as format ("png" or "jpeg").
func picture(t testing.TB, w, h int, format string) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.NRGBA{uint8(255 * x / w), uint8(255 * y / h), 128, 255}
			if x*h/w == y {
				c = color.NRGBA{0, 0, 0, 255}
			}
			img.SetNRGBA(x, y, c)
		}
	}
	var b bytes.Buffer
	var err error
	if format == "jpeg" {
		err = jpeg.Encode(&b, img, &jpeg.Options{Quality: 90})
	} else {
		err = png.Encode(&b, img)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestNames(t *testing.T) {
	t.Parallel()
	if got, want := functions.Names(), []string{"thumbnail"}; !slices.Equal(got, want) {
		t.Errorf("Names = %v, want %v", got, want)
	}
	if _, err := functions.Module("nope"); err == nil || !strings.Contains(err.Error(), "have thumbnail") {
		t.Errorf("Module(nope): %v, want an error naming the shipped ones", err)
	}
	wasm, err := functions.Module("thumbnail")
	if err != nil || !bytes.HasPrefix(wasm, []byte("\x00asm")) {
		t.Fatalf("Module(thumbnail): %d bytes, %v; want a WebAssembly module", len(wasm), err)
	}
}

func TestThumbnail(t *testing.T) {
	t.Parallel()
	h, err := functions.Thumbnail(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, format string
		w, h         int
		wantW, wantH int
	}{
		{"landscape png", "png", 640, 480, 160, 120},
		{"portrait jpeg", "jpeg", 300, 900, 53, 160},
		{"square", "png", 1000, 1000, 160, 160},
		{"a line", "png", 2000, 3, 160, 1}, // at least a pixel
		{"small keeps its size", "jpeg", 100, 50, 100, 50},
	} {
		resp := h(t.Context(), guest.Request{Method: "POST", Path: "/", Body: picture(t, c.w, c.h, c.format)})
		if resp.Status != 200 || resp.Header.Get("Content-Type") != "image/png" {
			t.Errorf("%s: %d %v %q, want 200 image/png", c.name, resp.Status, resp.Header, resp.Body)
			continue
		}
		img, err := png.Decode(bytes.NewReader(resp.Body))
		if err != nil {
			t.Errorf("%s: the answer is not a PNG: %v", c.name, err)
			continue
		}
		if b := img.Bounds(); b.Dx() != c.wantW || b.Dy() != c.wantH {
			t.Errorf("%s: %d×%d → %d×%d, want %d×%d", c.name, c.w, c.h, b.Dx(), b.Dy(), c.wantW, c.wantH)
		}
	}
	// The scaling is a filter, not a pick of pixels: the thumbnail's centre is the source's
	// gradient there, within what Catmull-Rom and JPEG may move it (8 of 255).
	resp := h(t.Context(), guest.Request{Method: "POST", Body: picture(t, 640, 480, "png")})
	img, _ := png.Decode(bytes.NewReader(resp.Body))
	r, g, _, _ := img.At(40, 90).RGBA() // source pixel (160, 360): red 255·160/640, green 255·360/480
	if diff(r>>8, 63) > 8 || diff(g>>8, 191) > 8 {
		t.Errorf("thumbnail pixel (40, 90) = r %d g %d, want about 63, 191", r>>8, g>>8)
	}
}

func diff(a, b uint32) uint32 { return max(a, b) - min(a, b) }

func TestThumbnailRefuses(t *testing.T) {
	t.Parallel()
	h, err := functions.Thumbnail(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// A PNG header claiming 100,000 × 100,000 pixels: refused before it is decoded.
	bomb := picture(t, 1, 1, "png")
	bomb = slices.Clone(bomb)
	copy(bomb[16:24], []byte{0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0}) // IHDR's width and height
	binary.BigEndian.PutUint32(bomb[29:33], crc32.ChecksumIEEE(bomb[12:29]))
	for _, c := range []struct {
		name, method string
		body         []byte
		status       int
		want         string
	}{
		{"GET", "GET", nil, 405, "method GET: POST a PNG or JPEG image"},
		{"empty", "POST", nil, 400, "empty body: want a PNG or JPEG image"},
		{"text", "POST", []byte("hello, not an image"), 400, "the body (19 bytes) is not a PNG or JPEG image: image: unknown format"},
		{"gif", "POST", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), 400, "is not a PNG or JPEG image"},
		{"truncated", "POST", picture(t, 64, 64, "png")[:200], 400, "the png image (200 bytes) does not decode"},
		{"too many pixels", "POST", bomb, 400, "a png of 100000×100000 pixels: want 1 to 16 megapixels"},
	} {
		resp := h(t.Context(), guest.Request{Method: c.method, Body: c.body})
		if resp.Status != c.status || !strings.Contains(string(resp.Body), c.want) {
			t.Errorf("%s: %d %q, want %d with %q", c.name, resp.Status, resp.Body, c.status, c.want)
		}
	}
	if resp := h(t.Context(), guest.Request{Method: "PUT"}); resp.Header.Get("Allow") != http.MethodPost {
		t.Errorf("405 with Allow %q, want POST", resp.Header.Get("Allow"))
	}
}

// TestThumbnailSameInBothRuntimes serves the thumbnail function as a process (this test binary)
// and as the shipped module on one platform: the same input gives the same bytes, and the ones
// the handler gives in this process.
func TestThumbnailSameInBothRuntimes(t *testing.T) {
	t.Parallel()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	wasm, err := functions.Module("thumbnail")
	if err != nil {
		t.Fatal(err)
	}
	p, err := faas.New(faas.Config{
		Functions: []faas.Function{
			{Name: "process", Command: []string{self}, Env: []string{asThumbnailEnv + "=1"}, Timeout: 30 * time.Second},
			// The time limit is wall time: a race build on a loaded machine is slow.
			{Name: "wasm", Runtime: faas.RuntimeWasm, Module: wasm, Timeout: 30 * time.Second},
		},
		WasmCacheDir: testCacheDir,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = p.Close(ctx)
	})
	for _, src := range [][]byte{picture(t, 640, 480, "png"), picture(t, 300, 900, "jpeg"), []byte("not an image")} {
		want, _ := functions.Thumb(src)
		var got [][]byte
		for _, fn := range []string{"process", "wasm"} {
			resp, _, err := p.Invoke(t.Context(), fn, guest.Request{Method: "POST", Path: "/", Body: src})
			if err != nil {
				t.Fatalf("%s: %v", fn, err)
			}
			if (resp.Status == 200) != (want != nil) {
				t.Fatalf("%s: status %d (%s) for a source Thumb takes: %v", fn, resp.Status, resp.Body, want != nil)
			}
			got = append(got, resp.Body)
		}
		if !bytes.Equal(got[0], got[1]) {
			t.Errorf("%d-byte source: the process answers %d bytes, the module %d, not the same", len(src), len(got[0]), len(got[1]))
		}
		if want != nil && !bytes.Equal(got[0], want) {
			t.Errorf("%d-byte source: the runtimes answer %d bytes, the handler here %d, not the same", len(src), len(got[0]), len(want))
		}
	}
}

// FuzzThumb feeds Thumb what a client could POST: it must return a PNG of at most 160 × 160
// pixels or an error, never panic.
func FuzzThumb(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("hello"))
	f.Add(picture(f, 200, 100, "png"))
	f.Add(picture(f, 10, 30, "jpeg"))
	f.Add(picture(f, 64, 64, "png")[:100])
	f.Fuzz(func(t *testing.T, src []byte) {
		out, err := functions.Thumb(src)
		if err != nil {
			return
		}
		img, err := png.Decode(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("Thumb's answer is not a PNG: %v", err)
		}
		if b := img.Bounds(); b.Dx() < 1 || b.Dy() < 1 || b.Dx() > functions.ThumbnailSize || b.Dy() > functions.ThumbnailSize {
			t.Fatalf("thumbnail of %d×%d", b.Dx(), b.Dy())
		}
	})
}
