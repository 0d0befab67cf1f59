-- include outbox-lib
-- Makes a dead letter undelivered again, due now, with no failures counted.
-- ARGV[1] namespace; ARGV[2] id; ARGV[3] now. Returns 1, or 0 when the id is not a dead letter.
local id, now = ARGV[2], ARGV[3]
if not redis.call('ZSCORE', O .. 'dead-letters', id) then return 0 end
local key = ev_key(id)
local site = redis.call('HGET', key, 'site')
redis.call('ZREM', O .. 'dead-letters', id)
-- Its hash is gone (evicted, deleted by hand): nothing left to deliver.
if not site then return 0 end
redis.call('HDEL', key, 'dead', 'owner', 'lease')
redis.call('HSET', key, 'failures', '0', 'next', now)
-- Back into the site's queue at its place in id order (later events may have arrived meanwhile).
local queue = site_key(site, 'queue')
local placed = false
for _, queued in ipairs(redis.call('LRANGE', queue, 0, -1)) do
  if tonumber(queued) > tonumber(id) then
    redis.call('LINSERT', queue, 'BEFORE', queued, id)
    placed = true
    break
  end
end
if not placed then redis.call('RPUSH', queue, id) end
redis.call('ZADD', O .. 'undelivered', id, id)
reposition(site, now)
wake()
return 1
