-- Registry records from one of the namespace's site indexes, read with the index in one atom (the
-- commit script changes a record and its index entries together, so they agree here).
-- ARGV[1] namespace; ARGV[2] 'registered' or 'expired'; ARGV[3] limit;
--   registered: ARGV[4] the lexical lower bound ('-', or '(' .. the id to start after)
--   expired:    ARGV[4] the cutoff, epoch us (inclusive)
-- Returns a flat list: site id, record, site id, record, ...
-- The record keys are under each site's hash tag, so this script needs one primary, like the
-- commit script.
local NS = ARGV[1]
local M = NS .. ':{meta}:'
local limit = tonumber(ARGV[3])
local ids
if ARGV[2] == 'registered' then
  ids = redis.call('ZRANGEBYLEX', M .. 'registered', ARGV[4], '+', 'LIMIT', 0, limit)
elseif ARGV[2] == 'expired' then
  ids = redis.call('ZRANGEBYSCORE', M .. 'site-purge', '-inf', ARGV[4], 'LIMIT', 0, limit)
else
  return redis.error_reply('unknown index ' .. tostring(ARGV[2]))
end
local out = {}
for _, id in ipairs(ids) do
  local record = redis.call('GET', NS .. ':{' .. id .. '}:site')
  if record then out[#out + 1] = id; out[#out + 1] = record end
end
return out
