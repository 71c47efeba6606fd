// Package tasks is the lab's background work, the notes' three cases: the invitation email, the
// video pipeline (thumbnail, encode and subtitles in parallel, then finalize) and the account
// deletion in bounded chunks. It has the producers (the outbox jobs the API writes with its rows)
// and the handlers [Register] puts on a [worker.Worker].
//
// Every handler is idempotent, because delivery is at least once: a redelivered email job finds
// the invite's sent_at and sends nothing (a counted duplicate), a stage that runs twice
// overwrites its own file and row, a deletion resumes from the rows that are left.
//
// It must not import headroom's measurement packages.
package tasks
