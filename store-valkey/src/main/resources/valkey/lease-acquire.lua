-- Acquire, steal or renew a job lease. Stamps are epoch ms from the writing store's clock; a lease
-- another store instance wrote expires on this server's clock instead (srvexp), so that no host's
-- clock error can take a live lease or keep a dead one.
-- KEYS[1] lease hash; KEYS[2] zset of lease keys by expiry; KEYS[3] zset of lease keys (lexical);
-- KEYS[4] zset of lease keys by server expiry
-- ARGV[1] job key; ARGV[2] owner; ARGV[3] now; ARGV[4] expires; ARGV[5] writer; ARGV[6] ttl ms
-- Returns {owner, startedAt, expiresAt, attempt}, or {} when another owner holds a live lease.
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local srvnow = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local srvexp = string.format('%.0f', srvnow + tonumber(ARGV[6]))
local owner = redis.call('HGET', KEYS[1], 'owner')
local started = ARGV[3]
local attempt = 1
if owner then
  local expires = redis.call('HGET', KEYS[1], 'expires')
  local expired
  if not expires or expires == '' then
    expired = true
  else
    local writer = redis.call('HGET', KEYS[1], 'writer')
    local written = redis.call('HGET', KEYS[1], 'srvexp')
    if writer == ARGV[5] or not written or written == '' then
      expired = tonumber(expires) <= tonumber(ARGV[3])
    else
      expired = tonumber(written) <= srvnow
    end
  end
  if owner == ARGV[2] then
    started = redis.call('HGET', KEYS[1], 'started')
    attempt = tonumber(redis.call('HGET', KEYS[1], 'attempt'))
  elseif not expired then
    return {}
  else
    attempt = tonumber(redis.call('HGET', KEYS[1], 'attempt')) + 1
  end
end
redis.call('HSET', KEYS[1], 'owner', ARGV[2], 'started', started, 'expires', ARGV[4],
  'attempt', attempt, 'writer', ARGV[5], 'srvexp', srvexp)
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
redis.call('ZADD', KEYS[3], 0, ARGV[1])
redis.call('ZADD', KEYS[4], srvexp, ARGV[1])
return {ARGV[2], started, ARGV[4], tostring(attempt)}
