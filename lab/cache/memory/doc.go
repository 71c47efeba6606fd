// Package memory is the lab's in-process cache on maypok86/otter/v2: bounded, with a time to live.
//
// Besides lab/edge/httpcache (the edge's HTTP cache), it is the lab's only package that imports
// otter. It must not import headroom's measurement packages.
package memory
