// Package redis is the lab's shared cache on Redis (redis/go-redis/v9), for when several lab
// replicas must share cached results (`headroom lab --cache redis://...`). Each call is an
// OpenTelemetry client span.
//
// It is the only package of the lab that imports go-redis. It must not import headroom's
// measurement packages.
package redis
