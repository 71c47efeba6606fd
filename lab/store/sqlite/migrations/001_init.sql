-- Times are Unix microseconds (UTC).
CREATE TABLE users (
	id         INTEGER PRIMARY KEY,
	name       TEXT    NOT NULL,
	email      TEXT    NOT NULL UNIQUE,
	created_at INTEGER NOT NULL
);

CREATE TABLE posts (
	id         INTEGER PRIMARY KEY,
	author_id  INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	title      TEXT    NOT NULL,
	body       TEXT    NOT NULL,
	created_at INTEGER NOT NULL
);
CREATE INDEX posts_created ON posts (created_at DESC, id DESC);
CREATE INDEX posts_author ON posts (author_id);

CREATE TABLE comments (
	id         INTEGER PRIMARY KEY,
	post_id    INTEGER NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
	author_id  INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	body       TEXT    NOT NULL,
	created_at INTEGER NOT NULL
);
CREATE INDEX comments_post ON comments (post_id, id);
CREATE INDEX comments_author ON comments (author_id);

-- Full-text index over posts (external content), kept in sync by triggers.
CREATE VIRTUAL TABLE posts_fts USING fts5 (title, body, content = 'posts', content_rowid = 'id');
CREATE TRIGGER posts_fts_insert AFTER INSERT ON posts BEGIN
	INSERT INTO posts_fts (rowid, title, body) VALUES (new.id, new.title, new.body);
END;
CREATE TRIGGER posts_fts_delete AFTER DELETE ON posts BEGIN
	INSERT INTO posts_fts (posts_fts, rowid, title, body) VALUES ('delete', old.id, old.title, old.body);
END;
CREATE TRIGGER posts_fts_update AFTER UPDATE ON posts BEGIN
	INSERT INTO posts_fts (posts_fts, rowid, title, body) VALUES ('delete', old.id, old.title, old.body);
	INSERT INTO posts_fts (rowid, title, body) VALUES (new.id, new.title, new.body);
END;

CREATE TABLE invites (
	id         INTEGER PRIMARY KEY,
	inviter_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	email      TEXT    NOT NULL,
	token      TEXT    NOT NULL UNIQUE,
	created_at INTEGER NOT NULL,
	sent_at    INTEGER
);
CREATE INDEX invites_inviter ON invites (inviter_id);

CREATE TABLE videos (
	id         INTEGER PRIMARY KEY,
	owner_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	title      TEXT    NOT NULL,
	size_bytes INTEGER NOT NULL,
	status     TEXT    NOT NULL,
	checksum   TEXT    NOT NULL DEFAULT '',
	created_at INTEGER NOT NULL
);
CREATE INDEX videos_owner ON videos (owner_id);

CREATE TABLE orders (
	id           INTEGER PRIMARY KEY,
	user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	amount_cents INTEGER NOT NULL,
	status       TEXT    NOT NULL,
	payment_ref  TEXT    NOT NULL DEFAULT '',
	created_at   INTEGER NOT NULL
);
CREATE INDEX orders_user ON orders (user_id);
