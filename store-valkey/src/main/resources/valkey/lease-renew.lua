-- KEYS[1] lease hash; KEYS[2] zset by expiry. ARGV[1] job key; ARGV[2] owner; ARGV[3] expires.
-- Extends owner's lease; {} when the lease is gone or held by someone else.
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[2] then
  return {}
end
redis.call('HSET', KEYS[1], 'expires', ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
local v = redis.call('HMGET', KEYS[1], 'owner', 'started', 'expires', 'attempt')
return v
