-- KEYS[1] lease hash; KEYS[2] zset by expiry; KEYS[3] zset of keys. ARGV[1] job key; ARGV[2] owner.
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[2] then
  return 0
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
return 1
