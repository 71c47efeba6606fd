-- The transactional outbox: jobs written in the same transaction as their row, published by the relay.
CREATE TABLE outbox (
	id         INTEGER PRIMARY KEY,
	queue      TEXT    NOT NULL,
	payload    BLOB    NOT NULL,
	headers    TEXT    NOT NULL DEFAULT '{}',
	created_at INTEGER NOT NULL,
	sent_at    INTEGER
);
CREATE INDEX outbox_pending ON outbox (id) WHERE sent_at IS NULL;

-- Results of the video pipeline's stages; a stage that runs twice overwrites its row.
CREATE TABLE video_stages (
	video_id INTEGER NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
	stage    TEXT    NOT NULL,
	result   TEXT    NOT NULL,
	done_at  INTEGER NOT NULL,
	PRIMARY KEY (video_id, stage)
);

-- Account deletions in the background. No foreign key to users: the user's row goes last and the
-- deletion's record stays.
CREATE TABLE deletions (
	id           INTEGER PRIMARY KEY,
	user_id      INTEGER NOT NULL,
	status       TEXT    NOT NULL,
	total_rows   INTEGER NOT NULL,
	deleted_rows INTEGER NOT NULL DEFAULT 0,
	chunks       INTEGER NOT NULL DEFAULT 0,
	created_at   INTEGER NOT NULL,
	updated_at   INTEGER NOT NULL
);
CREATE UNIQUE INDEX deletions_running ON deletions (user_id) WHERE status = 'running';
