-- include outbox-lib
-- Ends claims: ack, fail, deadletter, release or renew, for one owner and a list of ids.
-- ARGV[1] namespace; ARGV[2] action; ARGV[3] owner; ARGV[4] now; ARGV[5] action argument
--   (ack: unused; fail: next attempt; deadletter: unused; release: unused; renew: new lease expiry)
-- ARGV[6] error text (fail, deadletter); ARGV[7..] ids. Returns how many events it changed.
-- A dead letter leaves its site's queue and the undelivered set for the dead-letters set (score:
-- its id), so it no longer holds back the site; its hash stays, with 'dead' set.
local action, owner, now, arg, err = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local changed = 0
local touched = {}
for i = 7, #ARGV do
  local id = ARGV[i]
  local key = ev_key(id)
  local site = redis.call('HGET', key, 'site')
  if site and not redis.call('HGET', key, 'delivered') and not redis.call('HGET', key, 'dead') then
    local holder = redis.call('HGET', key, 'owner')
    local lease = redis.call('HGET', key, 'lease')
    local ok = false
    if action == 'ack' then
      redis.call('HSET', key, 'delivered', now)
      redis.call('HDEL', key, 'owner', 'lease')
      redis.call('LREM', site_key(site, 'queue'), 1, id)
      redis.call('ZREM', O .. 'undelivered', id)
      redis.call('ZADD', O .. 'delivered', now, id)
      ok = true
    elseif holder == owner and action == 'fail' then
      redis.call('HSET', key, 'error', err, 'next', arg)
      redis.call('HINCRBY', key, 'failures', 1)
      redis.call('HDEL', key, 'owner', 'lease')
      ok = true
    elseif holder == owner and action == 'deadletter' then
      redis.call('HSET', key, 'error', err, 'dead', now)
      redis.call('HINCRBY', key, 'failures', 1)
      redis.call('HDEL', key, 'owner', 'lease')
      redis.call('LREM', site_key(site, 'queue'), 1, id)
      redis.call('ZREM', O .. 'undelivered', id)
      redis.call('ZADD', O .. 'dead-letters', id, id)
      ok = true
    elseif holder == owner and action == 'release' then
      redis.call('HDEL', key, 'owner', 'lease')
      ok = true
    elseif holder == owner and action == 'renew' and lease and tonumber(lease) > tonumber(now) then
      redis.call('HSET', key, 'lease', arg)
      redis.call('ZADD', site_key(site, 'claims'), arg, id)
      redis.call('ZADD', O .. 'claimed', arg, id)
      ok = true
    end
    if ok then
      if action ~= 'renew' then
        redis.call('ZREM', site_key(site, 'claims'), id)
        redis.call('ZREM', O .. 'claimed', id)
      end
      changed = changed + 1
      touched[site] = true
    end
  end
end
for site, _ in pairs(touched) do reposition(site, now) end
return changed
