package diagnose

import "testing"

func TestSpanPath(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		attrs map[string]string
		want  string
	}{
		{map[string]string{"url.path": "/api/posts", "http.target": "/old"}, "/api/posts"},
		{map[string]string{"http.target": "/api/search?q=zebra"}, "/api/search"},
		{map[string]string{"url.full": "http://users.internal:8080/users/7?fields=name"}, "/users/7"},
		{map[string]string{"http.url": "http://h/x"}, "/x"},
		{map[string]string{"url.full": "%zz"}, ""},
		{nil, ""},
	} {
		if got := (&Span{Attrs: c.attrs}).Path(); got != c.want {
			t.Errorf("%v: Path() = %q, want %q", c.attrs, got, c.want)
		}
	}
	if !(&Span{Attrs: map[string]string{"db.system": "postgresql"}}).IsDatabase() || (&Span{Attrs: map[string]string{"peer.service": "db"}}).IsDatabase() {
		t.Error("IsDatabase: want true for db.system, false without it")
	}
}
