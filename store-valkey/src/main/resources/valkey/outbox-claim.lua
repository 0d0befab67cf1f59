-- include outbox-lib
-- ARGV[1] namespace; ARGV[2] owner; ARGV[3] max events; ARGV[4] now; ARGV[5] lease expiry
-- Returns the number k of events found missing, then k pairs (id, site), then, per claimed event
-- in id order: id, then its hash as a flat list (id, n, k1, v1, ...).
local owner, max, now, expiry = ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5]
-- Sites whose leases ran out, and sites whose failed head became due, are claimable again.
for _, site in ipairs(redis.call('ZRANGEBYSCORE', O .. 'leased', '-inf', now, 'LIMIT', 0, 1000)) do
  reposition(site, now)
end
for _, site in ipairs(redis.call('ZRANGEBYSCORE', O .. 'delayed', '-inf', now, 'LIMIT', 0, 1000)) do
  reposition(site, now)
end
local out = {}
local taken = 0
while taken < max do
  local head = redis.call('ZRANGE', O .. 'ready', 0, 0)
  if #head == 0 then break end
  local site = head[1]
  redis.call('ZREM', O .. 'ready', site)
  local n = 0
  for _, id in ipairs(redis.call('LRANGE', site_key(site, 'queue'), 0, max - taken - 1)) do
    local key = ev_key(id)
    local next_at = redis.call('HGET', key, 'next')
    if not next_at then
      drop_lost(site, id)
    elseif tonumber(next_at) > tonumber(now) then
      break
    else
      redis.call('HINCRBY', key, 'attempts', 1)
      redis.call('HSET', key, 'owner', owner, 'lease', expiry)
      redis.call('ZADD', site_key(site, 'claims'), expiry, id)
      redis.call('ZADD', O .. 'claimed', expiry, id)
      local hash = redis.call('HGETALL', key)
      out[#out + 1] = id
      out[#out + 1] = #hash
      for _, v in ipairs(hash) do out[#out + 1] = v end
      n = n + 1
    end
  end
  taken = taken + n
  reposition(site, now)
end
local reply = {#lost / 2}
for _, v in ipairs(lost) do reply[#reply + 1] = v end
for _, v in ipairs(out) do reply[#reply + 1] = v end
return reply
