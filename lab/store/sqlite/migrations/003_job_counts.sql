-- Job outcomes per queue, added to by every worker process, so that the lab reports them all.
CREATE TABLE job_counts (
	queue      TEXT    PRIMARY KEY,
	done       INTEGER NOT NULL DEFAULT 0,
	failed     INTEGER NOT NULL DEFAULT 0,
	dead       INTEGER NOT NULL DEFAULT 0,
	duplicates INTEGER NOT NULL DEFAULT 0
);

-- Sent outbox rows, oldest first, for the relay's pruning.
CREATE INDEX outbox_sent ON outbox (sent_at) WHERE sent_at IS NOT NULL;
