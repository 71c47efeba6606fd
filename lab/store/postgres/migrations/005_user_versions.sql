-- A user's version counts its changes and updated_at dates the last one: the copies of users in
-- other services' databases apply a change only if it is newer, and measure the replication lag
-- from updated_at.
ALTER TABLE users ADD COLUMN version bigint NOT NULL DEFAULT 1, ADD COLUMN updated_at timestamptz;
UPDATE users SET updated_at = created_at;
ALTER TABLE users ALTER COLUMN updated_at SET NOT NULL;
