-- include outbox-lib
-- ARGV[1] namespace; ARGV[2] cutoff (exclusive); ARGV[3] limit. Returns how many it deleted.
local ids = redis.call('ZRANGEBYSCORE', O .. 'delivered', '-inf', '(' .. ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(ids) do
  redis.call('DEL', ev_key(id))
  redis.call('ZREM', O .. 'delivered', id)
end
return #ids
