// Package memory is the lab's in-process cache on maypok86/otter/v2: bounded, with a time to live.
//
// It is the only package of the lab that imports otter. It must not import headroom's measurement
// packages.
package memory
