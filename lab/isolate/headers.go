package isolate

import "net/http"

// Headers lists h for a Request (each value its own Header).
func Headers(h http.Header) []Header {
	n := 0
	for _, vs := range h {
		n += len(vs)
	}
	out := make([]Header, 0, n)
	for name, vs := range h {
		for _, v := range vs {
			out = append(out, Header{Name: name, Value: v})
		}
	}
	return out
}

// ApplyEdits applies a decision's header edits to h, in order.
func ApplyEdits(h http.Header, edits []HeaderEdit) {
	for _, e := range edits {
		switch e.Kind {
		case EditSet:
			h.Set(e.Name, e.Value)
		case EditAdd:
			h.Add(e.Name, e.Value)
		case EditDel:
			h.Del(e.Name)
		}
	}
}
