package flame_test

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/headroom/headroom/flame"
)

// Folded stacks in; the hottest functions and a flame graph out.
func ExampleParseFolded() {
	f, err := flame.ParseFolded(strings.NewReader("main;handler;json.Marshal 30\nmain;handler;db.Query 60\nmain 10\n"), "samples")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, fn := range f.Top(2) {
		fmt.Printf("%s: %.0f %% self\n", fn.Name, 100*fn.FlatShare)
	}
	var svg bytes.Buffer
	if err := flame.WriteSVG(&svg, f.Tree(), flame.SVGOptions{Title: "CPU"}); err != nil {
		fmt.Println(err)
	}
	fmt.Println(strings.Count(svg.String(), "<rect ") - 1) // frames drawn, the background aside
	// Output:
	// db.Query: 60 % self
	// json.Marshal: 30 % self
	// 5
}
