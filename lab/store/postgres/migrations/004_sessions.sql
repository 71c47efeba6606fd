-- Login sessions, named by the sid claim of a session token; the origin's session check is one
-- lookup by primary key.
CREATE TABLE sessions (
	id         text        PRIMARY KEY,
	user_id    bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	created_at timestamptz NOT NULL,
	expires_at timestamptz NOT NULL,
	revoked_at timestamptz
);
-- For the cascade when a user is deleted.
CREATE INDEX sessions_user ON sessions (user_id);
