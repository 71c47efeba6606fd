// Package pgtest opens isolated PostgreSQL stores for tests: each in a fresh schema of the server
// named by HEADROOM_TEST_POSTGRES, dropped when the test ends, so tests can run in parallel and
// CI can reuse one server.
//
// It is imported only by tests. It must not import headroom's measurement packages.
package pgtest
