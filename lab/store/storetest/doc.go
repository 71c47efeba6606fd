// Package storetest is the conformance suite every [lab.Store] implementation must pass: the same
// test function runs against SQLite and PostgreSQL, so the engines cannot drift apart.
//
// It is imported only by tests. It must not import headroom's measurement packages.
package storetest
