package flame

import (
	"slices"
	"strings"
)

// Node is one frame of a flame graph tree: a function called through one path from the root.
type Node struct {
	Name string
	// Total is the value of every sample through this node; Self the part where it is the leaf.
	Total, Self int64
	// Delta is set in a differential tree (Diff): the change of this node's share of its
	// profile's total, new minus base, in −1..1. Positive means it grew.
	Delta float64
	// BaseTotal is set in a differential tree: this path's value in the base profile.
	BaseTotal int64
	// Children are sorted by name, as flamegraph.pl does, so two graphs line up.
	Children []*Node
}

// Tree builds the flame graph tree of the stacks under a root named "all".
func (f *Folded) Tree() *Node {
	root := &Node{Name: "all"}
	for _, s := range f.Stacks {
		root.add(s.Frames, s.Value)
	}
	root.sort()
	return root
}

func (n *Node) add(frames []string, v int64) {
	n.Total += v
	if len(frames) == 0 {
		n.Self += v
		return
	}
	n.child(frames[0]).add(frames[1:], v)
}

func (n *Node) child(name string) *Node {
	// Children are few per node; a linear scan beats a map at these sizes and keeps Node small.
	for _, c := range n.Children {
		if c.Name == name {
			return c
		}
	}
	c := &Node{Name: name}
	n.Children = append(n.Children, c)
	return c
}

func (n *Node) sort() {
	slices.SortFunc(n.Children, func(a, b *Node) int { return strings.Compare(a.Name, b.Name) })
	for _, c := range n.Children {
		c.sort()
	}
}

// find returns the node at path below n, or nil.
func (n *Node) find(path []string) *Node {
	for _, name := range path {
		var next *Node
		for _, c := range n.Children {
			if c.Name == name {
				next = c
				break
			}
		}
		if next == nil {
			return nil
		}
		n = next
	}
	return n
}

// Diff builds a differential flame graph tree: the shape (widths) of next, each node coloured by
// how its share of the total changed from base (Delta, new share − base share), so profiles of
// runs of different lengths compare fairly. A path only in base has no width in next and is
// not drawn; its loss shows as growth elsewhere and as a negative Delta of its parent.
func Diff(base, next *Folded) *Node {
	bt, nt := base.Tree(), next.Tree()
	var walk func(n *Node, path []string)
	walk = func(n *Node, path []string) {
		var bv int64
		if b := bt.find(path); b != nil {
			bv = b.Total
		}
		n.BaseTotal = bv
		n.Delta = share(n.Total, nt.Total) - share(bv, bt.Total)
		for _, c := range n.Children {
			walk(c, append(path, c.Name))
		}
	}
	walk(nt, nil)
	return nt
}

func share(v, total int64) float64 {
	if total == 0 {
		return 0
	}
	return float64(v) / float64(total)
}
