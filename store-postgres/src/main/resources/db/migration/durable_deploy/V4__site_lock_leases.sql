-- durable-deploy schema, version 4 (issue 21): site locks as leases in a table, and job leases
-- decided between hosts on the server's clock.

-- A held site lock is a row; no connection is held while it is. Acquire is one upsert that takes
-- a missing or expired row, renew and release are guarded by holder and generation, and expiry is
-- on the database server's clock (clock_timestamp()), so no host's clock can move it. Rows of
-- released locks are deleted: the table holds only locks that are held or expired unreleased.
CREATE SEQUENCE ${schema}.site_lock_generation;

CREATE TABLE ${schema}.site_locks (
    site         text        PRIMARY KEY,
    -- Who holds it: the holding store instance (diagnostics and the release guard).
    holder       text        NOT NULL,
    -- Taken from site_lock_generation on every acquisition: a fencing token, never reused.
    generation   bigint      NOT NULL,
    acquired_at  timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL
);

-- The store instance that last wrote a lease, and its expiry on the server's clock: another
-- instance takes it over only once the server says so, whatever its own clock says.
ALTER TABLE ${schema}.job_leases
    ADD COLUMN writer text,
    ADD COLUMN server_expires_at timestamptz;
CREATE INDEX job_leases_by_server_expiry ON ${schema}.job_leases (server_expires_at);
