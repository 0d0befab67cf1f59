-- include outbox-lib
-- ARGV[1] namespace; ARGV[2] now. Returns {undelivered, claimed, created of the oldest or ''}.
local oldest = redis.call('ZRANGE', O .. 'undelivered', 0, 0)
local created = ''
if #oldest > 0 then created = redis.call('HGET', ev_key(oldest[1]), 'created') end
return {redis.call('ZCARD', O .. 'undelivered'),
        redis.call('ZCOUNT', O .. 'claimed', '(' .. ARGV[2], '+inf'), created}
