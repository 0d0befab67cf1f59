-- A consistent snapshot of one site: {revision, deploys, aliases, tombstones} (hashes as flat lists).
-- KEYS[1] revision; KEYS[2] deploys; KEYS[3] aliases; KEYS[4] tombstones
return {redis.call('GET', KEYS[1]) or '0', redis.call('HGETALL', KEYS[2]),
        redis.call('HGETALL', KEYS[3]), redis.call('HGETALL', KEYS[4])}
