package compare

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/headroom/headroom/result"
)

// Input is one result file read for comparison: exactly one of Load, Sweep and Doctor is set,
// as Schema says.
type Input struct {
	Path   string
	Schema string
	Load   *result.Load
	Sweep  *result.Sweep
	Doctor *result.Doctor
	// DoctorLoads are the doctor run's load results by measurement File, read from beside the
	// doctor file; a missing one is absent.
	DoctorLoads map[string]*result.Load
}

// ReadFile reads a load, sweep or doctor result, telling them apart by their schema key. An
// unreadable file, a file that is not JSON, or an unknown schema is an error naming the file.
func ReadFile(path string) (*Input, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	in, err := Decode(path, b)
	if err != nil {
		return nil, err
	}
	if in.Doctor != nil {
		for _, m := range in.Doctor.Measurements {
			if l, lerr := readLoad(filepath.Join(filepath.Dir(path), m.File)); lerr == nil {
				in.DoctorLoads[m.File] = l
			}
		}
	}
	return in, nil
}

// Decode decodes the result b read from the file named path (for messages); a doctor result's
// load results are not read (DoctorLoads is empty).
func Decode(path string, b []byte) (*Input, error) {
	var head struct {
		Schema string `json:"schema"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return nil, fmt.Errorf("%s: not a headroom result: %w", path, err)
	}
	in := &Input{Path: path, Schema: head.Schema}
	var err error
	switch head.Schema {
	case result.LoadSchema:
		in.Load, err = result.ReadLoad(bytes.NewReader(b))
	case result.SweepSchema:
		in.Sweep, err = result.ReadSweep(bytes.NewReader(b))
	case result.DoctorSchema:
		var d result.Doctor
		err = json.Unmarshal(b, &d)
		in.Doctor = &d
		in.DoctorLoads = map[string]*result.Load{}
	default:
		return nil, fmt.Errorf("%s: schema %q: want %s, %s or %s", path, head.Schema, result.LoadSchema, result.SweepSchema, result.DoctorSchema)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return in, nil
}

func readLoad(path string) (*result.Load, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return result.ReadLoad(f)
}

// Compare compares two inputs of one kind; inputs of different kinds give ErrMismatch.
func Compare(base, next *Input, cfg Config) (*Comparison, error) {
	if base.Schema != next.Schema {
		return nil, fmt.Errorf("%w: %s is %s, %s is %s", ErrMismatch, base.Path, base.Schema, next.Path, next.Schema)
	}
	var c *Comparison
	switch {
	case base.Load != nil:
		c = Loads(base.Load, next.Load, cfg)
	case base.Sweep != nil:
		c = Sweeps(base.Sweep, next.Sweep, cfg)
	default:
		c = Doctors(base.Doctor, next.Doctor, base.DoctorLoads, next.DoctorLoads, cfg)
	}
	c.Base, c.New = base.Path, next.Path
	return c, nil
}
