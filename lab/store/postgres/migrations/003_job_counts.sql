-- Job outcomes per queue, added to by every worker process, so that the lab reports them all.
CREATE TABLE job_counts (
	queue      text   PRIMARY KEY,
	done       bigint NOT NULL DEFAULT 0,
	failed     bigint NOT NULL DEFAULT 0,
	dead       bigint NOT NULL DEFAULT 0,
	duplicates bigint NOT NULL DEFAULT 0
);

-- Sent outbox rows, oldest first, for the relay's pruning.
CREATE INDEX outbox_sent ON outbox (sent_at) WHERE sent_at IS NOT NULL;
