// Package seed fills a [lab.Store] with deterministic data: the same Config always produces the same
// users, posts and comments (same ids, text and times), so experiments on different machines and
// engines run against identical data.
//
// It must not import headroom's measurement packages.
package seed
