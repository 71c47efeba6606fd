// Package result holds headroom's versioned JSON models — a load run (headroom.load/v1) — and
// their lossless merge. Keys are a contract with users' scripts: extend them, never rename them.
//
// result imports only the standard library and hist.
package result
