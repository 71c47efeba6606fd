package tasks

import (
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/headroom/headroom/lab"
	"github.com/headroom/headroom/lab/jobs"
	"github.com/headroom/headroom/lab/jobs/worker"
)

// upload is the deterministic content of a video of size bytes: the lab takes no real uploads,
// so the pipeline works on bytes that are the same on every run. Runs of repeated bytes make it
// compressible, like media containers' padding and static scenes.
type upload struct {
	state     uint64
	left      int
	cur       byte
	size, off int64
}

func newUpload(videoID, size int64) *upload {
	return &upload{state: uint64(videoID)*0x9e3779b97f4a7c15 + 1, size: size}
}

func (u *upload) Read(p []byte) (int, error) {
	if u.off >= u.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), u.size-u.off))
	for i := range n {
		if u.left == 0 {
			u.state ^= u.state << 13 // xorshift64
			u.state ^= u.state >> 7
			u.state ^= u.state << 17
			u.cur, u.left = byte(u.state), int(u.state>>60)+1
		}
		p[i] = u.cur
		u.left--
	}
	u.off += int64(n)
	return n, nil
}

// The frame the thumbnail is cut from: 640×360, scaled to 160×90.
const frameW, frameH = 640, 360

// stageFunc does one stage's real work on a video, writing into dir; it returns the result
// recorded with the stage.
type stageFunc func(ctx context.Context, v lab.Video, dir string) (string, error)

// thumbnail renders the upload's first bytes as a frame, encodes it as PNG (what an extracted
// frame would be) and has it scaled down (Config.Thumb: in process, or by the thumbnail
// function).
func (h *handlers) thumbnail(ctx context.Context, v lab.Video, dir string) (string, error) {
	frame := image.NewRGBA(image.Rect(0, 0, frameW, frameH))
	u := newUpload(v.ID, v.SizeBytes)
	for off := 0; off < len(frame.Pix); {
		n, err := u.Read(frame.Pix[off:])
		off += n
		if errors.Is(err, io.EOF) {
			u = newUpload(v.ID, v.SizeBytes) // a small upload repeats
		}
	}
	for i := 3; i < len(frame.Pix); i += 4 {
		frame.Pix[i] = 0xff // opaque
	}
	var encoded bytes.Buffer
	if err := png.Encode(&encoded, frame); err != nil {
		return "", fmt.Errorf("encode frame: %w", err)
	}
	thumb, err := h.cfg.Thumb(ctx, encoded.Bytes())
	if err != nil {
		return "", fmt.Errorf("scale frame: %w", err)
	}
	size, err := png.DecodeConfig(bytes.NewReader(thumb))
	if err != nil {
		return "", fmt.Errorf("the thumbnail is not a PNG: %w", err)
	}
	name := fmt.Sprintf("video-%d-thumb.png", v.ID)
	if err := writeFile(filepath.Join(dir, name), func(w io.Writer) error { _, err := w.Write(thumb); return err }); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s %dx%d", name, size.Width, size.Height), nil
}

// encode compresses the whole upload (DEFLATE): CPU work proportional to the video's size.
func encode(ctx context.Context, v lab.Video, dir string) (string, error) {
	name := fmt.Sprintf("video-%d.deflate", v.ID)
	var out int64
	err := writeFile(filepath.Join(dir, name), func(w io.Writer) error {
		cw := &countWriter{w: w}
		fw, err := flate.NewWriter(cw, flate.DefaultCompression)
		if err != nil {
			return err
		}
		buf := make([]byte, 64<<10)
		u := newUpload(v.ID, v.SizeBytes)
		for {
			if err := ctx.Err(); err != nil {
				return err
			}
			n, rerr := u.Read(buf)
			if _, err := fw.Write(buf[:n]); err != nil {
				return err
			}
			if errors.Is(rerr, io.EOF) {
				break
			}
		}
		err = fw.Close()
		out = cw.n
		return err
	})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s %d→%d bytes", name, v.SizeBytes, out), nil
}

// bytesPerSecond is the bitrate the subtitles' duration assumes (4 Mbit/s).
const bytesPerSecond = 500_000

// subtitles writes a WebVTT file with a cue every two seconds of the video's duration.
func subtitles(_ context.Context, v lab.Video, dir string) (string, error) {
	dur := max(time.Duration(v.SizeBytes*int64(time.Second)/bytesPerSecond), time.Second)
	name := fmt.Sprintf("video-%d.vtt", v.ID)
	cues := 0
	err := writeFile(filepath.Join(dir, name), func(w io.Writer) error {
		bw := bufio.NewWriter(w)
		fmt.Fprintf(bw, "WEBVTT - %s\n\n", strings.ReplaceAll(v.Title, "\n", " "))
		for start := time.Duration(0); start < dur; start += 2 * time.Second {
			cues++
			fmt.Fprintf(bw, "%d\n%s --> %s\n%s, part %d\n\n", cues, vttTime(start), vttTime(min(start+2*time.Second, dur)), v.Title, cues)
		}
		return bw.Flush()
	})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s %d cues", name, cues), nil
}

// vttTime formats a WebVTT timestamp, hh:mm:ss.ttt.
func vttTime(d time.Duration) string {
	ms := d.Milliseconds()
	return fmt.Sprintf("%02d:%02d:%02d.%03d", ms/3_600_000, ms/60_000%60, ms/1000%60, ms%1000)
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// writeFile writes path whole or not at all (a temporary file renamed), so a stage that dies
// midway leaves no half file behind and a rerun simply replaces it.
func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() { _ = os.Remove(f.Name()) }()
	if err := write(f); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// FinalizeID is the job id of a video's finalize step: stages that finish together publish it
// once each and the broker keeps one.
func FinalizeID(videoID int64) string { return fmt.Sprintf("video-%d-finalize", videoID) }

// stage is the handler of one parallel stage: do the work, record it, and if it was the last
// one, publish finalize.
func (h *handlers) stage(name string, do stageFunc) worker.Handler {
	return func(ctx context.Context, j *worker.Job) error {
		var p videoPayload
		if err := worker.Decode(j, &p); err != nil {
			return err
		}
		v, err := h.cfg.Store.GetVideo(ctx, p.VideoID)
		if err != nil {
			return missing(err)
		}
		if v.Status == lab.VideoReady {
			j.Duplicate()
			return nil
		}
		res, err := do(ctx, v, h.cfg.MediaDir)
		if err != nil {
			return fmt.Errorf("video %d %s: %w", v.ID, name, err)
		}
		done, err := h.cfg.Store.RecordVideoStage(ctx, v.ID, name, res)
		if err != nil {
			return missing(err)
		}
		if !allStages(done) {
			return nil
		}
		return h.cfg.Publisher.Publish(ctx, jobs.Message{
			ID: FinalizeID(v.ID), Queue: QueueFinalize, Payload: j.Payload, Headers: j.Headers, EnqueuedAt: time.Now(),
		})
	}
}

func allStages(done []string) bool {
	for _, st := range lab.VideoStages {
		if !slices.Contains(done, st) {
			return false
		}
	}
	return true
}

// finalize marks the video ready with a checksum over its stages' results.
func (h *handlers) finalize(ctx context.Context, j *worker.Job) error {
	var p videoPayload
	if err := worker.Decode(j, &p); err != nil {
		return err
	}
	v, err := h.cfg.Store.GetVideo(ctx, p.VideoID)
	if err != nil {
		return missing(err)
	}
	if v.Status == lab.VideoReady {
		j.Duplicate()
		return nil
	}
	sum := sha256.New()
	for _, st := range lab.VideoStages {
		res, ok := v.Stages[st]
		if !ok {
			return fmt.Errorf("video %d: stage %s not done yet", v.ID, st)
		}
		fmt.Fprintf(sum, "%s=%s\n", st, res)
	}
	_, err = h.cfg.Store.FinishVideo(ctx, v.ID, hex.EncodeToString(sum.Sum(nil)))
	return missing(err)
}
