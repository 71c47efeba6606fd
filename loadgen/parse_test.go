package loadgen

import (
	"errors"
	"strings"
	"testing"
)

// parseAll feeds an answer to a parser in pieces of the given size and reports the outcome.
func parseAll(answer string, piece int, isHead bool) (status int, keep, done bool, consumed int, err error) {
	var p respParser
	p.reset(isHead, 1<<20)
	buf := []byte{}
	for i := 0; i < len(answer) || len(buf) > 0; {
		end := min(i+piece, len(answer))
		buf = append(buf, answer[i:end]...)
		i = end
		n, d, e := p.feed(buf)
		consumed += n
		buf = buf[n:]
		if e != nil || d {
			return p.status, p.keep, d, consumed, e
		}
		if i >= len(answer) {
			break
		}
	}
	if p.eof() {
		return p.status, p.keep, true, consumed + len(buf), nil
	}
	return p.status, p.keep, false, consumed, nil
}

func TestParserWholeOrInPieces(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, answer string
		status       int
		keep, done   bool
		used         int // bytes of the answer consumed; -1: all
		err          error
	}{
		{"content-length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 200, true, true, -1, nil},
		{"leaves the next answer", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1", 200, true, true, 40, nil},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=1\r\nhello\r\n0\r\nT: 1\r\n\r\n", 200, true, true, -1, nil},
		{"interim", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", 201, true, true, -1, nil},
		{"close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx", 200, false, true, -1, nil},
		{"http/1.0 until eof", "HTTP/1.0 200 OK\r\n\r\nrest of the body", 200, false, true, -1, nil},
		{"bare LF", "HTTP/1.1 204 No Content\n\n", 204, true, true, -1, nil},
		{"not modified", "HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n", 304, true, true, -1, nil},
		{"garbage", "SSH-2.0-OpenSSH_9\r\n\r\n", 0, false, false, 0, errProtocol},
		{"bad length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", 200, true, false, 0, errProtocol},
		{"bad chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 200, true, false, 0, errProtocol},
		{"too large", "HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n\r\n", 200, true, false, 0, errBodyTooLarge},
		{"truncated", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 200, true, false, 0, nil},
	} {
		for _, piece := range []int{1, 3, 7, 1 << 20} {
			status, keep, done, used, err := parseAll(tc.answer, piece, false)
			wantUsed := tc.used
			if wantUsed == -1 {
				wantUsed = len(tc.answer)
			}
			switch {
			case tc.err != nil:
				if !errors.Is(err, tc.err) {
					t.Errorf("%s in pieces of %d: err %v, want %v", tc.name, piece, err, tc.err)
				}
			case err != nil || done != tc.done || status != tc.status || keep != tc.keep || (done && used != wantUsed):
				t.Errorf("%s in pieces of %d: status %d keep %v done %v used %d err %v; want %d %v %v %d",
					tc.name, piece, status, keep, done, used, err, tc.status, tc.keep, tc.done, wantUsed)
			}
		}
	}
}

func TestParserHeadRequestHasNoBody(t *testing.T) {
	t.Parallel()
	_, _, done, used, err := parseAll("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", 5, true)
	if err != nil || !done || used != len("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n") {
		t.Errorf("HEAD answer: done %v used %d err %v", done, used, err)
	}
}

func TestParserHeadTooLarge(t *testing.T) {
	t.Parallel()
	_, _, _, _, err := parseAll("HTTP/1.1 200 OK\r\nX: "+strings.Repeat("a", maxHead)+"\r\n\r\n", 4096, false)
	if !errors.Is(err, errProtocol) {
		t.Errorf("oversized head: %v, want a protocol error", err)
	}
}

// FuzzParser checks that any input parses the same whole and byte by byte, without panicking.
func FuzzParser(f *testing.F) {
	f.Add("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
	f.Add("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
	f.Add("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 200 OK\r\n\r\nx")
	f.Fuzz(func(t *testing.T, answer string) {
		s1, k1, d1, u1, e1 := parseAll(answer, 1<<20, false)
		s2, k2, d2, u2, e2 := parseAll(answer, 1, false)
		if (e1 == nil) != (e2 == nil) || d1 != d2 || (d1 && (s1 != s2 || k1 != k2 || u1 != u2)) {
			t.Fatalf("whole: %d %v %v %d %v; bytewise: %d %v %v %d %v", s1, k1, d1, u1, e1, s2, k2, d2, u2, e2)
		}
	})
}

// TestReadBufGrowsForLargeHeads reads answers through a readBuf as the connections do, in reads
// of at most piece bytes, and checks that heads larger than the starting buffer still parse, that
// a head over maxHead is refused, and that the buffer never grows past maxHead.
func TestReadBufGrowsForLargeHeads(t *testing.T) {
	t.Parallel()
	answer := func(headBytes int) string {
		return "HTTP/1.1 200 OK\r\nSet-Cookie: " + strings.Repeat("c", headBytes) + "\r\nContent-Length: 5\r\n\r\nhello"
	}
	for _, tc := range []struct {
		name          string
		answer        string
		piece         int
		wantErr       error
		wantBufAtMost int
	}{
		{"small head stays small", answer(100), 1 << 20, nil, minRead},
		{"head over the first buffer", answer(3 * minRead), 1 << 20, nil, maxHead},
		{"head over the first buffer, byte by byte", answer(3 * minRead), 1, nil, maxHead},
		{"head over maxHead", answer(maxHead), 1 << 20, errProtocol, maxHead},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rb := newReadBuf()
			var p respParser
			p.reset(false, 1<<20)
			src := []byte(tc.answer)
			for {
				used, done, err := p.feed(rb.unparsed())
				rb.r += used
				if len(rb.b) > tc.wantBufAtMost {
					t.Fatalf("buffer grew to %d bytes, want at most %d", len(rb.b), tc.wantBufAtMost)
				}
				if err != nil || done {
					if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && p.status != 200) {
						t.Fatalf("status %d err %v, want 200 and err %v", p.status, err, tc.wantErr)
					}
					return
				}
				if len(src) == 0 {
					t.Fatalf("answer not complete after all %d bytes", len(tc.answer))
				}
				room := rb.free()
				if len(room) == 0 {
					t.Fatal("free returned no room")
				}
				n := copy(room[:min(len(room), tc.piece)], src)
				src = src[n:]
				rb.add(n, room)
			}
		})
	}
}
