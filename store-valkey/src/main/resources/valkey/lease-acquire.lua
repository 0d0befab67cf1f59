-- Acquire, steal or renew a job lease (times in epoch ms from the store's clock).
-- KEYS[1] lease hash; KEYS[2] zset of lease keys by expiry; KEYS[3] zset of lease keys (lexical)
-- ARGV[1] job key; ARGV[2] owner; ARGV[3] now; ARGV[4] expires
-- Returns {owner, startedAt, expiresAt, attempt}, or {} when another owner holds a live lease.
local owner = redis.call('HGET', KEYS[1], 'owner')
local started = ARGV[3]
local attempt = 1
if owner then
  local expires = redis.call('HGET', KEYS[1], 'expires')
  local live = expires and expires ~= '' and tonumber(expires) > tonumber(ARGV[3])
  if owner == ARGV[2] then
    started = redis.call('HGET', KEYS[1], 'started')
    attempt = tonumber(redis.call('HGET', KEYS[1], 'attempt'))
  elseif live then
    return {}
  else
    attempt = tonumber(redis.call('HGET', KEYS[1], 'attempt')) + 1
  end
end
redis.call('HSET', KEYS[1], 'owner', ARGV[2], 'started', started, 'expires', ARGV[4], 'attempt', attempt)
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
redis.call('ZADD', KEYS[3], 0, ARGV[1])
return {ARGV[2], started, ARGV[4], tostring(attempt)}
