// Package sqlite is the lab's embedded [lab.Store] on SQLite (modernc.org/sqlite, pure Go): WAL
// journal, a busy timeout, foreign keys, FTS5 for search and embedded migrations. Every statement
// becomes an OpenTelemetry client span with its text.
//
// It is the only package of the lab that imports the SQLite driver. It must not import headroom's
// measurement packages.
package sqlite
