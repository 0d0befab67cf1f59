-- durable-deploy schema, version 5: a waiter on another host reserves a busy site's lock.
--
-- A holder's own waiters are woken the moment it releases, so a busy site could pass from thread
-- to thread of one host while another host's waiter, which polls, never found it free. A waiter
-- that finds the lock held by another host now writes itself as next_holder for a moment
-- (next_until, on the server's clock, renewed on each of its tries); while that reservation runs,
-- a release leaves the row in place, expired, and only the reserving host may take it. A waiter
-- that gives up or dies stops renewing, and its reservation lapses within a second.
ALTER TABLE ${schema}.site_locks
    ADD COLUMN next_holder text,
    ADD COLUMN next_until  timestamptz;
