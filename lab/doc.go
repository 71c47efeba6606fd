// Package lab is the reference backend that headroom measures: a small blog/social platform (users,
// posts, comments, invites, videos, orders) built the way a good Go service is built, with the
// classic performance mistakes available behind named switches (see [Antipattern]).
//
// This root package holds only the domain: the types, the [Store] interface every storage engine
// implements (lab/store/sqlite, lab/store/postgres, checked by lab/store/storetest), the seeding
// batch type and the antipattern switch set. Packages below it each wrap one concern or one
// outside dependency: lab/api (HTTP handlers), lab/deps (the simulated outside world), lab/cache,
// lab/telemetry, lab/app (wiring).
//
// Nothing under lab/ may import headroom's measurement packages (loadgen, hist, result, capacity,
// collect, diagnose, flame, report): the lab does not know it is measured; it is reached over the
// wire only.
package lab
