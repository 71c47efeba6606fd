// Package guest is the function side of the lab's function platform (lab/faas): Serve makes a
// program an instance of a function, and the frame codec and the Request and Response types are
// the protocol both sides speak. It imports the standard library only, so that a function
// compiles to any target, GOOS=wasip1 included.
package guest

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
)

// The protocol, over the instance's stdin (platform → instance) and stdout (instance →
// platform). Pipes rather than a loopback socket: nothing to allocate or leak (no port, no
// listener), an instance's death is an EOF on the very stream the platform waits on, and one
// stream carries one invocation at a time as Lambda's model wants. The instance writes the
// byte Hello as soon as it runs (the end of "process start"), then a frame after its
// handler's init (empty: ready; otherwise the init error), then one response frame per request
// frame. A frame is a 4-byte big-endian length and that many bytes of JSON.

const (
	Hello = 'h'
	// MaxPayload bounds a request body: Lambda's synchronous payload limit, 6 MB.
	MaxPayload = 6 << 20
	// MaxFrame bounds a frame: a body of MaxPayload in base64 (JSON's []byte), with 1 MiB for
	// the rest (headers).
	MaxFrame = MaxPayload/3*4 + 1<<20
)

// Request is an invocation as the function sees it: the HTTP request the gateway received,
// with the path after /fn/{name}.
type Request struct {
	// ID is the invocation's id (faas.invocation_id).
	ID string `json:"id"`
	// Trigger is what invoked the function, as the FaaS semantic conventions' faas.trigger
	// names it: "http" (the gateway; the default), "pubsub" (a queue's message) or "timer"
	// (a keep-warm ping).
	Trigger string      `json:"trigger,omitempty"`
	Method  string      `json:"method"`
	Path    string      `json:"path"`
	Query   string      `json:"query,omitempty"`
	Header  http.Header `json:"header,omitempty"`
	Body    []byte      `json:"body,omitempty"`
	// Warmup marks a keep-warm ping (the platform's pinger, faas.trigger=timer): Serve answers it
	// with an empty Response without calling the handler, as warm-up plugins have handlers
	// return early on their event, so that a ping keeps the instance warm and does no work.
	Warmup bool `json:"warmup,omitempty"`
}

// Response is a function's answer, sent to the client as is.
type Response struct {
	// Status is the HTTP status; 0 means 200.
	Status int         `json:"status,omitempty"`
	Header http.Header `json:"header,omitempty"`
	Body   []byte      `json:"body,omitempty"`
}

// Handler handles one invocation; an instance calls it for one request at a time.
type Handler func(ctx context.Context, req Request) Response

func WriteFrame(w io.Writer, v []byte) error {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(v)))
	if _, err := w.Write(n[:]); err != nil {
		return err
	}
	_, err := w.Write(v)
	return err
}

func ReadFrame(r io.Reader) ([]byte, error) {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, err
	}
	size := binary.BigEndian.Uint32(n[:])
	if size > MaxFrame {
		return nil, fmt.Errorf("frame of %d bytes: the limit is %d", size, MaxFrame)
	}
	b := make([]byte, size)
	_, err := io.ReadFull(r, b)
	return b, err
}

// Serve makes the running program an instance of a function: it announces itself, runs init
// (open the DB, load what the handler needs: the "init" phase of a cold start), reports ready
// or init's error, and then handles invocations read from stdin, one at a time, until stdin
// closes; a keep-warm ping (Request.Warmup) is answered without calling the handler. It returns nil then, or the error that stopped it. While it runs, os.Stdout is
// os.Stderr, so that a stray print cannot break the protocol.
func Serve(ctx context.Context, init func(context.Context) (Handler, error)) error {
	out := bufio.NewWriter(os.Stdout)
	os.Stdout = os.Stderr
	in := bufio.NewReader(os.Stdin)
	if err := out.WriteByte(Hello); err != nil {
		return err
	}
	if err := out.Flush(); err != nil {
		return err
	}
	h, err := init(ctx)
	var msg []byte
	if err != nil {
		msg = []byte(err.Error())
		if len(msg) == 0 {
			msg = []byte("init failed")
		}
	}
	if err := WriteFrame(out, msg); err != nil {
		return err
	}
	if err := out.Flush(); err != nil {
		return err
	}
	if err != nil {
		return fmt.Errorf("init: %w", err)
	}
	for {
		b, err := ReadFrame(in)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read request: %w", err)
		}
		var req Request
		if err := json.Unmarshal(b, &req); err != nil {
			return fmt.Errorf("decode request: %w", err)
		}
		var r Response
		if !req.Warmup {
			r = h(ctx, req)
		}
		resp, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("encode response: %w", err)
		}
		if err := WriteFrame(out, resp); err != nil {
			return err
		}
		if err := out.Flush(); err != nil {
			return err
		}
	}
}
