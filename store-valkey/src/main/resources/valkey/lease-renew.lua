-- KEYS[1] lease hash; KEYS[2] zset by expiry; KEYS[3] zset by server expiry.
-- ARGV[1] job key; ARGV[2] owner; ARGV[3] expires; ARGV[4] writer; ARGV[5] ttl ms.
-- Extends owner's lease; {} when the lease is gone or held by someone else.
if redis.replicate_commands then redis.replicate_commands() end
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[2] then
  return {}
end
local t = redis.call('TIME')
local srvexp = string.format('%.0f',
  tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[5]))
redis.call('HSET', KEYS[1], 'expires', ARGV[3], 'writer', ARGV[4], 'srvexp', srvexp)
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('ZADD', KEYS[3], srvexp, ARGV[1])
local v = redis.call('HMGET', KEYS[1], 'owner', 'started', 'expires', 'attempt')
return v
