-- Shared by every outbox script and by the metadata commit (prepended by the adapter).
-- Times are epoch microseconds from the store's clock, passed as decimal strings; they stay
-- strings whenever they are written back (tostring() of a number that large would print 1.7e+15).
--
-- A site with undelivered events is in exactly one of three sorted sets:
--   ready   (score: id of its oldest undelivered event)   claimable now
--   leased  (score: latest lease expiry of its claims)    some event under a claim
--   delayed (score: next attempt of its oldest event)     oldest event failed, not due yet
local NS = ARGV[1]
local O = NS .. ':{outbox}:'
local function site_key(site, suffix) return NS .. ':{' .. site .. '}:' .. suffix end
local function ev_key(id) return O .. 'ev:' .. id end

-- Drops claims of the site that expired at now and returns how many.
local function drop_expired_claims(site, now)
  local claims = site_key(site, 'claims')
  local expired = redis.call('ZRANGEBYSCORE', claims, '-inf', now)
  for _, id in ipairs(expired) do
    redis.call('ZREM', O .. 'claimed', id)
    redis.call('HDEL', ev_key(id), 'lease')
  end
  if #expired > 0 then redis.call('ZREMRANGEBYSCORE', claims, '-inf', now) end
  return #expired
end

-- Events found missing by this script run: flat id, site, id, site, ... (the claim returns them).
local lost = {}

-- Takes an event whose hash is gone (evicted under a policy other than noeviction, or deleted by
-- hand) out of its site's queue and the indexes, so neither the site's later events nor other
-- sites wait on it, and counts it in 'lost' (read by ValkeyStore.lostOutboxEvents).
local function drop_lost(site, id)
  if redis.call('LREM', site_key(site, 'queue'), 0, id) > 0 then
    redis.call('INCR', O .. 'lost')
    lost[#lost + 1] = id
    lost[#lost + 1] = site
  end
  redis.call('ZREM', site_key(site, 'claims'), id)
  redis.call('ZREM', O .. 'claimed', id)
  redis.call('ZREM', O .. 'undelivered', id)
end

-- Puts the site in the one set its state calls for (or none when nothing waits).
local function reposition(site, now)
  redis.call('ZREM', O .. 'ready', site)
  redis.call('ZREM', O .. 'leased', site)
  redis.call('ZREM', O .. 'delayed', site)
  local head = redis.call('LINDEX', site_key(site, 'queue'), 0)
  if not head then return end
  drop_expired_claims(site, now)
  local top = redis.call('ZREVRANGE', site_key(site, 'claims'), 0, 0, 'WITHSCORES')
  if #top > 0 then
    redis.call('ZADD', O .. 'leased', top[2], site)
    return
  end
  local next_at = redis.call('HGET', ev_key(head), 'next')
  -- A head whose hash is gone is due now: the claim that reaches it drops and reports it.
  if next_at and tonumber(next_at) > tonumber(now) then
    redis.call('ZADD', O .. 'delayed', next_at, site)
  else
    redis.call('ZADD', O .. 'ready', head, site)
  end
end

-- Appends one event; payload is a flat list k1, v1, k2, v2, ... Returns its id.
local function append_event(site, type, now, payload)
  local id = redis.call('INCR', O .. 'seq')
  local key = ev_key(id)
  redis.call('HSET', key, 'site', site, 'type', type, 'created', now, 'attempts', '0', 'next', now)
  for i = 1, #payload, 2 do
    redis.call('HSET', key, 'p.' .. payload[i], payload[i + 1])
  end
  redis.call('RPUSH', site_key(site, 'queue'), id)
  redis.call('ZADD', O .. 'undelivered', id, id)
  if not redis.call('ZSCORE', O .. 'ready', site)
      and not redis.call('ZSCORE', O .. 'leased', site)
      and not redis.call('ZSCORE', O .. 'delayed', site) then
    redis.call('ZADD', O .. 'ready', id, site)
  end
  return id
end

-- Wakes relays blocked in XREAD on the wake stream (a hint; capped so it never grows).
local function wake()
  redis.call('XADD', O .. 'wake', 'MAXLEN', '~', '100', '*', 'a', '1')
end
