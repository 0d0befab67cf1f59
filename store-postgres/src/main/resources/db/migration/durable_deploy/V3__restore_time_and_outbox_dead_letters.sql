-- durable-deploy schema, version 3 (issue 20, items 2 and 5).

-- When a deploy was last restored from a tombstone: GC keeps it for its grace period after that.
-- A tombstone keeps the value of the row it was made from, like every other column.
ALTER TABLE ${schema}.deploys ADD COLUMN restored_at timestamptz;
ALTER TABLE ${schema}.tombstones ADD COLUMN restored_at timestamptz;

-- Failed dispatches of an outbox event (deliveries also counts expired claims and releases).
-- After the relay's budget of failures an event is dead-lettered: dead_lettered_at is set, and so
-- is delivered_at ("settled"), so every scan of undelivered rows (and the partial indexes above)
-- skips it and it no longer holds back its site; the purge of delivered rows leaves it alone.
ALTER TABLE ${schema}.outbox ADD COLUMN failures integer NOT NULL DEFAULT 0;
ALTER TABLE ${schema}.outbox ADD COLUMN dead_lettered_at timestamptz;
CREATE INDEX outbox_dead_letters ON ${schema}.outbox (id) WHERE dead_lettered_at IS NOT NULL;
