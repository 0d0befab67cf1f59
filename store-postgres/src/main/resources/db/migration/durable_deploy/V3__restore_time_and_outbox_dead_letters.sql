-- durable-deploy schema, version 3 (issue 20, items 2 and 5).

-- When a deploy was last restored from a tombstone: GC keeps it for its grace period after that.
-- A tombstone keeps the value of the row it was made from, like every other column.
ALTER TABLE ${schema}.deploys ADD COLUMN restored_at timestamptz;
ALTER TABLE ${schema}.tombstones ADD COLUMN restored_at timestamptz;

