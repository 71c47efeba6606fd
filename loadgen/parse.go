package loadgen

import (
	"bytes"
	"fmt"
	"strconv"
)

// maxHead bounds the status line and headers of one answer; it is also the largest read buffer.
const maxHead = 16 << 10

// minRead is the size a connection's read buffer starts at: a typical answer's head and small
// body fit, and the buffers are most of the generator's memory per connection.
const minRead = 4 << 10

// readBuf holds the answer bytes read but not parsed yet, b[r:w]. It starts at minRead and
// doubles, up to maxHead, when a head does not fit or a read fills all the room it had (the
// answers come in larger pieces: fewer reads for large bodies).
type readBuf struct {
	b    []byte
	r, w int
	grow bool
}

func newReadBuf() readBuf { return readBuf{b: make([]byte, minRead)} }

// unparsed returns the bytes read but not parsed yet.
func (rb *readBuf) unparsed() []byte { return rb.b[rb.r:rb.w] }

// clear drops what is buffered, for a new connection.
func (rb *readBuf) clear() { rb.r, rb.w = 0, 0 }

// free makes room after the unparsed bytes and returns it. It cannot return an empty slice: a
// full buffer of maxHead unparsed bytes is a head the parser has already refused.
func (rb *readBuf) free() []byte {
	if rb.r == rb.w {
		rb.r, rb.w = 0, 0
	}
	switch full := rb.w == len(rb.b); {
	case (rb.grow || full && rb.r == 0) && len(rb.b) < maxHead:
		grown := make([]byte, min(2*len(rb.b), maxHead))
		rb.w, rb.r, rb.b, rb.grow = copy(grown, rb.b[rb.r:rb.w]), 0, grown, false
	case full:
		rb.w, rb.r = copy(rb.b, rb.b[rb.r:rb.w]), 0
	}
	return rb.b[rb.w:]
}

// add counts n bytes read into room, the slice free returned.
func (rb *readBuf) add(n int, room []byte) {
	rb.w += n
	rb.grow = rb.grow || n == len(room)
}

// respParser parses HTTP/1.1 answers incrementally, from whatever bytes have arrived, and
// discards their bodies: both the blocking sender and the event loop feed it. The zero value is
// ready after reset.
type respParser struct {
	isHead  bool
	maxBody int64

	phase     phase
	status    int
	keep      bool
	remaining int64 // of the current Content-Length body or chunk
	total     int64 // body bytes so far
	gotAny    bool  // some byte of this answer arrived
}

type phase uint8

const (
	phHead phase = iota
	phBody
	phChunkSize
	phChunkData
	phChunkEnd
	phTrailers
	phUntilClose
	phDone
)

// reset prepares p for the answer to a new request.
func (p *respParser) reset(isHead bool, maxBody int64) {
	*p = respParser{isHead: isHead, maxBody: maxBody}
}

// feed consumes a prefix of b and reports how much, and whether the answer is complete. Bytes
// after a complete answer are not consumed.
func (p *respParser) feed(b []byte) (n int, done bool, err error) {
	if len(b) > 0 {
		p.gotAny = true
	}
	for {
		rest := b[n:]
		switch p.phase {
		case phDone:
			return n, true, nil
		case phHead:
			used, complete, err := p.head(rest)
			if err != nil || !complete {
				return n, false, err
			}
			n += used
		case phBody, phChunkData:
			take := min(p.remaining, int64(len(rest)))
			n += int(take)
			p.remaining -= take
			if p.remaining > 0 {
				return n, false, nil
			}
			if p.phase == phBody {
				p.phase = phDone
			} else {
				p.phase = phChunkEnd
			}
		case phUntilClose:
			p.total += int64(len(rest))
			if p.total > p.maxBody {
				return n, false, fmt.Errorf("%w: over %d bytes", errBodyTooLarge, p.maxBody)
			}
			return len(b), false, nil
		case phChunkSize, phChunkEnd, phTrailers:
			i := bytes.IndexByte(rest, '\n')
			if i < 0 {
				if len(rest) > 4096 {
					return n, false, fmt.Errorf("%w: chunk framing line over 4 KiB", errProtocol)
				}
				return n, false, nil
			}
			line := bytes.TrimRight(rest[:i], "\r")
			n += i + 1
			if err := p.chunkLine(line); err != nil {
				return n, false, err
			}
		}
	}
}

// chunkLine advances the chunked-body state machine by one framing line.
func (p *respParser) chunkLine(line []byte) error {
	switch p.phase {
	case phChunkSize:
		sz := line
		if i := bytes.IndexByte(sz, ';'); i >= 0 {
			sz = sz[:i]
		}
		size, err := strconv.ParseInt(string(bytes.TrimSpace(sz)), 16, 64)
		if err != nil || size < 0 {
			return fmt.Errorf("%w: bad chunk size %q", errProtocol, trimLine(line))
		}
		if size == 0 {
			p.phase = phTrailers
			return nil
		}
		p.total += size
		if p.total > p.maxBody {
			return fmt.Errorf("%w: over %d bytes", errBodyTooLarge, p.maxBody)
		}
		p.remaining, p.phase = size, phChunkData
	case phChunkEnd:
		if len(line) != 0 {
			return fmt.Errorf("%w: chunk not followed by CRLF", errProtocol)
		}
		p.phase = phChunkSize
	case phTrailers:
		if len(line) == 0 {
			p.phase = phDone
		}
	}
	return nil
}

// head parses a complete status line and header block from the start of b, if there is one.
func (p *respParser) head(b []byte) (n int, complete bool, err error) {
	pos, lines := 0, 0
	contentLength, chunked := int64(-1), false
	for {
		i := bytes.IndexByte(b[pos:], '\n')
		if i < 0 {
			if len(b) >= maxHead {
				return 0, false, fmt.Errorf("%w: status line and headers over %d bytes", errProtocol, maxHead)
			}
			return 0, false, nil
		}
		line := bytes.TrimRight(b[pos:pos+i], "\r")
		pos += i + 1
		if lines == 0 {
			if err := p.statusLine(line); err != nil {
				return 0, false, err
			}
			lines++
			continue
		}
		if len(line) == 0 {
			break
		}
		if lines++; lines > maxHeaderLines {
			return 0, false, fmt.Errorf("%w: over %d header lines", errProtocol, maxHeaderLines)
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return 0, false, fmt.Errorf("%w: bad header line %q", errProtocol, trimLine(line))
		}
		name, value := line[:colon], bytes.TrimSpace(line[colon+1:])
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			v, err := strconv.ParseInt(string(value), 10, 64)
			if err != nil || v < 0 {
				return 0, false, fmt.Errorf("%w: bad Content-Length %q", errProtocol, trimLine(value))
			}
			contentLength = v
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			if !bytes.EqualFold(value, []byte("chunked")) {
				return 0, false, fmt.Errorf("%w: unsupported Transfer-Encoding %q", errProtocol, trimLine(value))
			}
			chunked = true
		case bytes.EqualFold(name, []byte("Connection")):
			if bytes.EqualFold(value, []byte("close")) {
				p.keep = false
			} else if bytes.EqualFold(value, []byte("keep-alive")) {
				p.keep = true
			}
		}
	}
	s := p.status
	switch {
	case s >= 100 && s < 200 && s != 101:
		p.phase = phHead // an interim answer: the real one follows
	case p.isHead || s == 204 || s == 304 || s < 200:
		p.phase = phDone
	case chunked:
		p.phase = phChunkSize
	case contentLength >= 0:
		if contentLength > p.maxBody {
			return 0, false, fmt.Errorf("%w: Content-Length %d over %d", errBodyTooLarge, contentLength, p.maxBody)
		}
		p.remaining, p.total = contentLength, contentLength
		p.phase = phBody
		if contentLength == 0 {
			p.phase = phDone
		}
	default: // the body runs until the server closes
		p.keep = false
		p.phase = phUntilClose
	}
	return pos, true, nil
}

// statusLine parses "HTTP/1.x SSS reason".
func (p *respParser) statusLine(line []byte) error {
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return fmt.Errorf("%w: bad status line %q", errProtocol, trimLine(line))
	}
	status, ok := atoi3(line[9:12])
	if !ok || (len(line) > 12 && line[12] != ' ') {
		return fmt.Errorf("%w: bad status line %q", errProtocol, trimLine(line))
	}
	p.status = status
	p.keep = line[7] == '1' // HTTP/1.1 keeps alive unless told otherwise
	return nil
}

// eof reports that the server closed the connection: it completes a body that runs until the
// close, and is an error anywhere else.
func (p *respParser) eof() (done bool) {
	if p.phase == phUntilClose || p.phase == phDone {
		p.phase = phDone
		return true
	}
	return false
}
