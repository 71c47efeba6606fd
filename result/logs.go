package result

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// The marker lines around a load result written into a log (load --out - --out-markers), so that
// it can be found among other lines: what kubectl logs prints of a Kubernetes Job's pods.
const (
	LogBegin = "-----BEGIN HEADROOM LOAD RESULT-----"
	LogEnd   = "-----END HEADROOM LOAD RESULT-----"
)

// MaxLogLine bounds a line of a log that ReadLogLoads reads: an encoded histogram, indented
// onto a line of its own, is at most a few hundred kilobytes.
const MaxLogLine = 16 << 20

// WriteMarked writes l as Write does, between LogBegin and LogEnd lines.
func (l *Load) WriteMarked(w io.Writer) error {
	if _, err := io.WriteString(w, LogBegin+"\n"); err != nil {
		return err
	}
	if err := l.Write(w); err != nil {
		return err
	}
	_, err := io.WriteString(w, LogEnd+"\n")
	return err
}

// ReadLogLoads returns the load results between LogBegin and LogEnd lines of a log, in order.
// Each line of a result may carry the prefix its LogBegin line has (kubectl logs --prefix
// writes "[pod/NAME/CONTAINER] "), which is removed. Lines outside the markers are skipped; a
// result without its LogEnd, or that does not decode, is an error naming its line.
func ReadLogLoads(r io.Reader) ([]*Load, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLogLine)
	var out []*Load
	var body bytes.Buffer
	inside, prefix, begun, n := false, "", 0, 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if !inside {
			if i := strings.Index(line, LogBegin); i >= 0 && strings.TrimSpace(line[i+len(LogBegin):]) == "" {
				inside, prefix, begun = true, line[:i], n
				body.Reset()
			}
			continue
		}
		line = strings.TrimPrefix(line, prefix)
		if strings.TrimSpace(line) == LogEnd {
			l, err := ReadLoad(&body)
			if err != nil {
				return nil, fmt.Errorf("the result that begins on line %d: %w", begun, err)
			}
			out = append(out, l)
			inside = false
			continue
		}
		body.WriteString(line)
		body.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("line %d: longer than %d bytes: not a log of headroom load", n+1, MaxLogLine)
		}
		return nil, err
	}
	if inside {
		return nil, fmt.Errorf("the result that begins on line %d has no %s line: the log is cut short (was the pod still running?)", begun, LogEnd)
	}
	return out, nil
}
