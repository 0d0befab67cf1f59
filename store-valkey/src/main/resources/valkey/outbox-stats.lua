-- include outbox-lib
-- ARGV[1] namespace; ARGV[2] now.
-- Returns {undelivered, claimed, created of the oldest or '', dead letters}.
-- The oldest event whose hash is still there: a missing one (evicted, deleted by hand) waits in
-- the indexes until a claim drops it, and must not blank the lag.
local created = ''
for _, id in ipairs(redis.call('ZRANGE', O .. 'undelivered', 0, 99)) do
  local at = redis.call('HGET', ev_key(id), 'created')
  if at then created = at; break end
end
return {redis.call('ZCARD', O .. 'undelivered'),
        redis.call('ZCOUNT', O .. 'claimed', '(' .. ARGV[2], '+inf'), created,
        redis.call('ZCARD', O .. 'dead-letters')}
