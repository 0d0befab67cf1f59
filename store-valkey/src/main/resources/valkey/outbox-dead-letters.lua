-- include outbox-lib
-- ARGV[1] namespace; ARGV[2] limit. Returns the oldest dead letters as claim does: per event its
-- id, then its hash as a flat list (id, n, k1, v1, ...).
local out = {}
for _, id in ipairs(redis.call('ZRANGE', O .. 'dead-letters', 0, tonumber(ARGV[2]) - 1)) do
  local hash = redis.call('HGETALL', ev_key(id))
  -- A dead letter whose hash is gone (evicted, deleted by hand) has nothing left to show.
  if #hash > 0 then
    out[#out + 1] = id
    out[#out + 1] = #hash
    for _, v in ipairs(hash) do out[#out + 1] = v end
  end
end
return out
