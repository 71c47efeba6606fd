// Package dbtrace makes OpenTelemetry client spans for database statements, following the database
// semantic conventions (db.system.name, db.query.text, db.operation.name, db.namespace), plus the
// older db.system and db.statement keys that many backends still read; and, with [Delay], it
// emulates the network round trip of a database/sql driver whose engine is embedded.
//
// It is shared by the lab's stores so that every engine reports statements the same way. It must
// not import headroom's measurement packages.
package dbtrace
