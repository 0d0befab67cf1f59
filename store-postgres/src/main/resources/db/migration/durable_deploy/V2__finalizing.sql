-- durable-deploy schema, version 2: the FINALIZING state. Finalize seals a deploy (PENDING ->
-- FINALIZING) before it verifies its bytes, so an upload that overlaps finalize can tell, after
-- its write, that it came too late. A tombstone keeps the state its deploy had, so it may hold
-- FINALIZING too.

ALTER TABLE ${schema}.deploys DROP CONSTRAINT deploys_state_check;
ALTER TABLE ${schema}.deploys ADD CONSTRAINT deploys_state_check
    CHECK (state IN ('PENDING', 'FINALIZING', 'ACTIVE'));

ALTER TABLE ${schema}.tombstones DROP CONSTRAINT tombstones_state_check;
ALTER TABLE ${schema}.tombstones ADD CONSTRAINT tombstones_state_check
    CHECK (state IN ('PENDING', 'FINALIZING', 'ACTIVE'));
