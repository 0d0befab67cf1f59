-- KEYS[1] lease hash; KEYS[2] zset by expiry; KEYS[3] zset of keys; KEYS[4] zset by server expiry.
-- ARGV[1] job key; ARGV[2] owner; ARGV[3..5] (optional) started, expires, attempt: release only
-- if the lease is still exactly that one.
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[2] then
  return 0
end
if ARGV[3] then
  local v = redis.call('HMGET', KEYS[1], 'started', 'expires', 'attempt')
  if v[1] ~= ARGV[3] or v[2] ~= ARGV[4] or v[3] ~= ARGV[5] then
    return 0
  end
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
return 1
