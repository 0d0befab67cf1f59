-- What one metadata command needs of its site, consistently:
-- {revision, deploys, aliases, tombstones, number of deploys, number of tombstones, site record}.
-- Aliases are all returned (a site has few), with the deploys they target. With ARGV[1] = 'all'
-- every deploy and tombstone is returned; else ARGV[2] is a count n, ARGV[3 .. 2+n] deploy ids to
-- fetch and the rest tombstone ids to fetch. Rows are flat lists: id, record, id, record, ...
-- The site's registry record is always returned, '' when the site is not registered (a nil would
-- end the reply's array there).
-- KEYS[1] revision; KEYS[2] deploys; KEYS[3] aliases; KEYS[4] tombstones; KEYS[5] site record
local aliases = redis.call('HGETALL', KEYS[3])
local counts = {redis.call('HLEN', KEYS[2]), redis.call('HLEN', KEYS[4])}
local rev = redis.call('GET', KEYS[1]) or '0'
local record = redis.call('GET', KEYS[5]) or ''
if ARGV[1] == 'all' then
  return {rev, redis.call('HGETALL', KEYS[2]), aliases, redis.call('HGETALL', KEYS[4]),
          counts[1], counts[2], record}
end
local function fetch(key, ids)
  local out, seen = {}, {}
  for _, id in ipairs(ids) do
    if id ~= '' and not seen[id] then
      seen[id] = true
      local row = redis.call('HGET', key, id)
      if row then out[#out + 1] = id; out[#out + 1] = row end
    end
  end
  return out
end
local n = tonumber(ARGV[2])
local deploys, tombstones = {}, {}
for i = 3, 2 + n do deploys[#deploys + 1] = ARGV[i] end
for i = 3 + n, #ARGV do tombstones[#tombstones + 1] = ARGV[i] end
for i = 2, #aliases, 2 do deploys[#deploys + 1] = string.match(aliases[i], '^[^|]*') end
return {rev, fetch(KEYS[2], deploys), aliases, fetch(KEYS[4], tombstones), counts[1], counts[2],
        record}
