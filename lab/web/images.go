package web

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"sync"
)

// imageSpec is a generated picture: a diagonal gradient between two colours, stripes, a disc,
// and a fixed-seed grain so that it weighs what a photo-like PNG weighs, not a few bytes.
type imageSpec struct {
	name          string
	width, height int
	from, to      color.NRGBA
	grain         uint32 // amplitude of the noise, 0 for none
}

// images are the generated pictures: a page hero, a card illustration, an icon.
var images = []imageSpec{
	{name: "hero", width: 1200, height: 480, from: color.NRGBA{0x1e, 0x3c, 0x72, 0xff}, to: color.NRGBA{0xe0, 0x6d, 0x4f, 0xff}, grain: 1},
	{name: "card", width: 640, height: 360, from: color.NRGBA{0x0f, 0x76, 0x6e, 0xff}, to: color.NRGBA{0xf2, 0xc1, 0x4e, 0xff}},
	{name: "icon", width: 64, height: 64, from: color.NRGBA{0x2f, 0x6f, 0xde, 0xff}, to: color.NRGBA{0x8e, 0x44, 0xad, 0xff}},
}

// render draws the picture with integer arithmetic only and a fixed-seed generator, so the bytes
// are the same on every machine and run (the PNG encoder is deterministic too).
func (s imageSpec) render() ([]byte, error) {
	img := image.NewNRGBA(image.Rect(0, 0, s.width, s.height))
	cx, cy, r := s.width*2/3, s.height/2, s.height/3
	rng := uint32(2463534242) // xorshift32 seed
	for y := range s.height {
		for x := range s.width {
			t, span := x+y, s.width+s.height
			mix := func(a, b uint8) int { return int(a) + (int(b)-int(a))*t/span }
			rc, gc, bc := mix(s.from.R, s.to.R), mix(s.from.G, s.to.G), mix(s.from.B, s.to.B)
			if (x+2*y)/24%2 == 0 {
				rc, gc, bc = rc+10, gc+10, bc+10
			}
			if dx, dy := x-cx, y-cy; dx*dx+dy*dy < r*r {
				rc, gc, bc = (rc*4+255)/5, (gc*4+255)/5, (bc*4+255)/5
			}
			if s.grain > 0 {
				rng ^= rng << 13
				rng ^= rng >> 17
				rng ^= rng << 5
				n := int(rng%(2*s.grain+1)) - int(s.grain)
				rc, gc, bc = rc+n, gc+n, bc+n
			}
			img.SetNRGBA(x, y, color.NRGBA{clamp(rc), clamp(gc), clamp(bc), 0xff})
		}
	}
	var buf bytes.Buffer
	// Best speed: the default level takes three times longer for a quarter fewer bytes.
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// rendered are the images' PNG bytes, in the order of images: made once per process, since
// they never change.
var rendered = sync.OnceValues(func() ([][]byte, error) {
	out := make([][]byte, len(images))
	for i, im := range images {
		b, err := im.render()
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", im.name, err)
		}
		out[i] = b
	}
	return out, nil
})

func clamp(v int) uint8 { return uint8(max(0, min(255, v))) }
