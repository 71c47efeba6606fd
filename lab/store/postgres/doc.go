// Package postgres is the lab's [lab.Store] on PostgreSQL through pgx (jackc/pgx/v5, pgxpool):
// embedded migrations, a GIN tsvector index for search, COPY for seeding, and an OpenTelemetry
// client span with the statement text for every query (a pgx QueryTracer).
//
// It is the only package of the lab that imports pgx. It must not import headroom's measurement
// packages.
package postgres
