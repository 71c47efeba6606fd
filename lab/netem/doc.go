// Package netem puts network distance between the lab's tiers: a [Link] is a real TCP proxy
// (Shopify's toxiproxy, run as a library) that delays the bytes of each direction, so a round
// trip through it costs what it would cost across a network, on loopback and without root.
//
// It is the only package of headroom that imports toxiproxy. It must not import headroom's
// measurement packages: the lab does not know it is measured.
package netem
