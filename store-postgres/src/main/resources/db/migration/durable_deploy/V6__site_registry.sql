-- durable-deploy schema, version 6: site registry records. A site used to exist only as an
-- implication of its rows; now it may have one record saying who it is for (display name, owner,
-- labels) and where it is in its lifecycle. The record is read by every unit of work on the site,
-- by primary key, and removed with the rest of the site's rows by a purge. It is not content:
-- listSites still lists only sites with deploys, live aliases or tombstones.
--
-- site is COLLATE "C" so that listRegisteredSites pages in the order of SiteId.compareTo (code
-- points), whatever the database's default collation.
CREATE TABLE ${schema}.sites (
    site          text COLLATE "C" PRIMARY KEY,
    display_name  text        NOT NULL,
    owner         text        NOT NULL,
    -- The labels as a JSON object of strings. jsonb keeps every value exactly (a SiteProfile
    -- refuses control characters, so the \u0000 that jsonb cannot hold never reaches it); key
    -- order is not kept, and need not be: a profile sorts its labels by key when it is read back.
    labels        jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(labels) = 'object'),
    state         text        NOT NULL CHECK (state IN ('ACTIVE', 'TRASHED', 'PURGING')),
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    -- When a trashed site's recovery window closes; set exactly when it is TRASHED.
    purge_after   timestamptz CHECK ((state = 'TRASHED') = (purge_after IS NOT NULL)),
    version       bigint      NOT NULL CHECK (version >= 1)
);
-- The site purge's "trashed sites past their window, oldest first".
CREATE INDEX sites_by_purge_after ON ${schema}.sites (purge_after, site) WHERE state = 'TRASHED';
