// Package worker is the lab's job runtime on any [jobs.Engine]: handlers registered per queue,
// per-queue concurrency and rate limits, retries with exponential backoff and full jitter, max
// attempts then the dead-letter queue, immediate dead-lettering of permanent errors (malformed
// payloads), progress, cooperative cancellation, ack-deadline extension for long jobs, graceful
// shutdown, Prometheus metrics and trace propagation.
//
// What each broker does differently lives in the engines (lab/jobs/natsq, redisq, rabbitq); this
// package holds what is the same for all of them, once. It must not import headroom's
// measurement packages.
package worker
