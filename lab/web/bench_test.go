package web_test

import (
	"testing"

	"github.com/headroom/headroom/lab/web"
)

// BenchmarkNew is the cost of a site once the images exist (made once per process).
func BenchmarkNew(b *testing.B) {
	for b.Loop() {
		if _, err := web.New(); err != nil {
			b.Fatal(err)
		}
	}
}
