package functions

import (
	"bytes"
	"context"
	"fmt"
	"image"
	_ "image/jpeg" // decoders the function accepts
	"image/png"
	"net/http"

	"golang.org/x/image/draw"

	"github.com/headroom/headroom/lab/faas/guest"
)

const (
	// ThumbnailSize bounds a thumbnail's width and height, in pixels.
	ThumbnailSize = 160
	// ThumbnailMaxPixels bounds the source image (width × height): decoded, 16 megapixels are
	// 64 MiB in RGBA, half the default memory size; a few kilobytes of PNG can claim far more.
	ThumbnailMaxPixels = 16 << 20
)

// Thumbnail is the init of the thumbnail function, the media processing the notes give as
// serverless's good use: a POST of a PNG or JPEG image (the body) is answered with a PNG
// thumbnail of at most ThumbnailSize × ThumbnailSize pixels keeping the aspect ratio (a smaller
// image keeps its size), scaled with Catmull-Rom; 400 for a body that is not such an image or is
// larger than ThumbnailMaxPixels, 405 for another method. The handler is deterministic: the
// same body gives the same bytes, in a process or in a wasm instance.
func Thumbnail(context.Context) (guest.Handler, error) {
	return thumbnail, nil
}

func thumbnail(_ context.Context, req guest.Request) guest.Response {
	if req.Method != http.MethodPost {
		return textResponse(http.StatusMethodNotAllowed, http.Header{"Allow": {http.MethodPost}},
			"method %s: POST a PNG or JPEG image", req.Method)
	}
	png, err := Thumb(req.Body)
	if err != nil {
		return textResponse(http.StatusBadRequest, nil, "%v", err)
	}
	return guest.Response{Status: http.StatusOK, Header: http.Header{"Content-Type": {"image/png"}}, Body: png}
}

// Thumb returns the PNG thumbnail of src, a PNG or JPEG image (see Thumbnail), or an error
// saying why src is not one it takes.
func Thumb(src []byte) ([]byte, error) {
	if len(src) == 0 {
		return nil, fmt.Errorf("empty body: want a PNG or JPEG image")
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(src))
	if err != nil {
		return nil, fmt.Errorf("the body (%d bytes) is not a PNG or JPEG image: %w", len(src), err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > ThumbnailMaxPixels {
		return nil, fmt.Errorf("a %s of %d×%d pixels: want 1 to %d megapixels", format, cfg.Width, cfg.Height, ThumbnailMaxPixels>>20)
	}
	img, _, err := image.Decode(bytes.NewReader(src))
	if err != nil {
		return nil, fmt.Errorf("the %s image (%d bytes) does not decode: %w", format, len(src), err)
	}
	b := img.Bounds()
	w, h := fit(b.Dx(), b.Dy(), ThumbnailSize)
	dst := image.NewNRGBA(image.Rect(0, 0, w, h))
	draw.CatmullRom.Scale(dst, dst.Bounds(), img, b, draw.Src, nil)
	var out bytes.Buffer
	if err := png.Encode(&out, dst); err != nil {
		return nil, fmt.Errorf("encode the thumbnail: %w", err)
	}
	return out.Bytes(), nil
}

// fit returns the size of a w × h image scaled down to fit in size × size, keeping its aspect
// ratio (rounded, at least 1 pixel); an image that fits already keeps its size.
func fit(w, h, size int) (int, int) {
	if w <= size && h <= size {
		return w, h
	}
	if w >= h {
		return size, max(1, (h*size+w/2)/w)
	}
	return max(1, (w*size+h/2)/h), size
}

func textResponse(status int, h http.Header, format string, args ...any) guest.Response {
	if h == nil {
		h = http.Header{}
	}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	return guest.Response{Status: status, Header: h, Body: fmt.Appendf(nil, format+"\n", args...)}
}
