-- Login sessions, named by the sid claim of a session token; the origin's session check is one
-- lookup by primary key (WITHOUT ROWID: the row lives in the key's B-tree).
CREATE TABLE sessions (
	id         TEXT    PRIMARY KEY,
	user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	revoked_at INTEGER
) WITHOUT ROWID;
-- For the cascade when a user is deleted.
CREATE INDEX sessions_user ON sessions (user_id);
