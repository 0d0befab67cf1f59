-- durable-deploy schema, version 1. Every table lives in the schema Flyway is configured with
-- (${schema}); the library never writes outside it.

CREATE TABLE ${schema}.deploys (
    site          text        NOT NULL,
    deploy_id     text        NOT NULL,
    sha           text,
    state         text        NOT NULL CHECK (state IN ('PENDING', 'ACTIVE')),
    created_at    timestamptz NOT NULL,
    finalized_at  timestamptz,
    released_at   timestamptz,
    PRIMARY KEY (site, deploy_id)
);

-- A deleted alias keeps its row with a NULL target so its version keeps counting.
CREATE TABLE ${schema}.aliases (
    site        text        NOT NULL,
    name        text        NOT NULL,
    deploy_id   text,
    version     bigint      NOT NULL CHECK (version >= 1),
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (site, name)
);
-- V1's "is this deploy aliased?" check inside tombstone.
CREATE INDEX aliases_by_target ON ${schema}.aliases (site, deploy_id) WHERE deploy_id IS NOT NULL;

CREATE TABLE ${schema}.tombstones (
    site          text        NOT NULL,
    deploy_id     text        NOT NULL,
    sha           text,
    state         text        NOT NULL CHECK (state IN ('PENDING', 'ACTIVE')),
    created_at    timestamptz NOT NULL,
    finalized_at  timestamptz,
    released_at   timestamptz,
    deleted_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    PRIMARY KEY (site, deploy_id)
);
-- The purge's "expired tombstones, oldest first".
CREATE INDEX tombstones_by_expiry ON ${schema}.tombstones (expires_at, site, deploy_id);

CREATE TABLE ${schema}.audit_log (
    id      bigserial   PRIMARY KEY,
    at      timestamptz NOT NULL,
    actor   text        NOT NULL,
    action  text        NOT NULL,
    site    text        NOT NULL,
    target  text        NOT NULL,
    before  text,
    after   text
);
CREATE INDEX audit_log_by_site ON ${schema}.audit_log (site, id DESC);

-- The audit log is append-only: rows can be inserted, never changed or removed.
CREATE FUNCTION ${schema}.audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the durable-deploy audit log is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE ON ${schema}.audit_log
    FOR EACH ROW EXECUTE FUNCTION ${schema}.audit_log_is_append_only();
CREATE TRIGGER audit_log_no_truncate
    BEFORE TRUNCATE ON ${schema}.audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION ${schema}.audit_log_is_append_only();

-- Payload is JSON in text, not jsonb: jsonb refuses the \u0000 escape a payload may need.
CREATE TABLE ${schema}.outbox (
    id                bigserial   PRIMARY KEY,
    site              text        NOT NULL,
    type              text        NOT NULL,
    payload           text        NOT NULL,
    created_at        timestamptz NOT NULL,
    deliveries        integer     NOT NULL DEFAULT 0,
    last_error        text,
    claimed_by        text,
    claim_expires_at  timestamptz,
    next_attempt_at   timestamptz NOT NULL,
    delivered_at      timestamptz
);
-- Claims scan only undelivered rows, however many delivered rows the table holds.
CREATE INDEX outbox_undelivered ON ${schema}.outbox (id) WHERE delivered_at IS NULL;
CREATE INDEX outbox_undelivered_by_site ON ${schema}.outbox (site, id) WHERE delivered_at IS NULL;
-- The purge of delivered rows.
CREATE INDEX outbox_delivered ON ${schema}.outbox (delivered_at) WHERE delivered_at IS NOT NULL;

CREATE TABLE ${schema}.job_leases (
    job_key     text        PRIMARY KEY,
    owner       text        NOT NULL,
    started_at  timestamptz NOT NULL,
    -- NULL: a lease written without a stamp (by hand or an old version); always stealable.
    expires_at  timestamptz,
    attempt     integer     NOT NULL DEFAULT 1
);
CREATE INDEX job_leases_by_expiry ON ${schema}.job_leases (expires_at);
