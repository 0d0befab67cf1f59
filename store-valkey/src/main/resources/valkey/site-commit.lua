-- include outbox-lib
-- Commits one metadata command: if the site's revision is still the one the command read, applies
-- its writes, its audit entry and its outbox events in this one atom and bumps the revision;
-- otherwise changes nothing (the adapter re-reads and re-decides).
-- ARGV[1] namespace; ARGV[2] site; ARGV[3] expected revision; ARGV[4] now; ARGV[5..] operations:
--   HSET <suffix> <field> <value> | HDEL <suffix> <field> | DEL <suffix>
--   CLEAR (every deploy, alias and tombstone of the site, its tombstones' expiry entries, and its
--   registry record with its index entries)
--   RECORD <record> <purgeAfter> (the site's registry record; purgeAfter '' unless it is TRASHED)
--   AUDIT <max entries kept> <text> | SITE+ | SITE- | EXP+ <member> <score> | EXP- <member>
--   EVENT <type> <n> <k1> <v1> ...
-- Returns -1 on a revision conflict, else the number of events appended.
local site, now = ARGV[2], ARGV[4]
local M = NS .. ':{meta}:'
local current = redis.call('GET', site_key(site, 'rev'))
if (current or '0') ~= ARGV[3] then return -1 end

-- The next value of a per-site counter drawn from a namespace-wide one, so that a value is never
-- handed out twice even after the site's own key was deleted; a site's key written by an older
-- version of this script (a per-site INCR) only ever pushes the namespace counter up.
local function next_from(global, own)
  local n = redis.call('INCR', M .. global)
  local mine = tonumber(own or '0')
  if mine >= n then
    n = mine + 1
    redis.call('SET', M .. global, string.format('%d', n))
  end
  return string.format('%d', n)
end

-- Check the whole list before the first write: a script that fails half-way keeps its writes.
local arity = {HSET = 3, HDEL = 2, DEL = 1, CLEAR = 0, RECORD = 2, AUDIT = 2, ['SITE+'] = 0, ['SITE-'] = 0,
               ['EXP+'] = 2, ['EXP-'] = 1}
local i = 5
while i <= #ARGV do
  local op = ARGV[i]
  if op == 'EVENT' then
    i = i + 3 + 2 * tonumber(ARGV[i + 2])
  elseif arity[op] then
    i = i + 1 + arity[op]
  else
    return redis.error_reply('unknown operation ' .. tostring(op))
  end
end
if i ~= #ARGV + 1 then return redis.error_reply('truncated operation list') end
local events = 0
i = 5
while i <= #ARGV do
  local op = ARGV[i]
  if op == 'HSET' then
    redis.call('HSET', site_key(site, ARGV[i + 1]), ARGV[i + 2], ARGV[i + 3]); i = i + 4
  elseif op == 'HDEL' then
    redis.call('HDEL', site_key(site, ARGV[i + 1]), ARGV[i + 2]); i = i + 3
  elseif op == 'DEL' then
    redis.call('DEL', site_key(site, ARGV[i + 1])); i = i + 2
  elseif op == 'CLEAR' then
    for _, id in ipairs(redis.call('HKEYS', site_key(site, 'tombstones'))) do
      redis.call('ZREM', M .. 'tombstone-expiry', site .. ' ' .. id)
    end
    redis.call('DEL', site_key(site, 'deploys'), site_key(site, 'aliases'),
               site_key(site, 'tombstones'), site_key(site, 'site'))
    redis.call('ZREM', M .. 'registered', site)
    redis.call('ZREM', M .. 'site-purge', site)
    i = i + 1
  elseif op == 'RECORD' then
    -- The record and both of its indexes change together, so listRegisteredSites and
    -- listExpiredSites never name a site whose record says otherwise.
    redis.call('SET', site_key(site, 'site'), ARGV[i + 1])
    redis.call('ZADD', M .. 'registered', 0, site)
    if ARGV[i + 2] == '' then
      redis.call('ZREM', M .. 'site-purge', site)
    else
      redis.call('ZADD', M .. 'site-purge', ARGV[i + 2], site)
    end
    i = i + 3
  elseif op == 'AUDIT' then
    -- Ids come from the namespace ({meta}:audit-seq), as in the other stores; the site's own
    -- counter of older versions is read once, then dropped. The list keeps the newest entries.
    local legacy = site_key(site, 'audit-seq')
    local id = next_from('audit-seq', redis.call('GET', legacy))
    redis.call('DEL', legacy)
    redis.call('LPUSH', site_key(site, 'audit'), id .. ':' .. ARGV[i + 2])
    redis.call('LTRIM', site_key(site, 'audit'), 0, tonumber(ARGV[i + 1]) - 1); i = i + 3
  elseif op == 'SITE+' then
    redis.call('ZADD', M .. 'sites', 0, site); i = i + 1
  elseif op == 'SITE-' then
    redis.call('ZREM', M .. 'sites', site); i = i + 1
  elseif op == 'EXP+' then
    redis.call('ZADD', M .. 'tombstone-expiry', ARGV[i + 2], ARGV[i + 1]); i = i + 3
  elseif op == 'EXP-' then
    redis.call('ZREM', M .. 'tombstone-expiry', ARGV[i + 1]); i = i + 2
  elseif op == 'EVENT' then
    local n = tonumber(ARGV[i + 2])
    local payload = {}
    for j = 1, 2 * n do payload[j] = ARGV[i + 2 + j] end
    append_event(site, ARGV[i + 1], now, payload)
    events = events + 1
    i = i + 3 + 2 * n
  end
end
-- The revision goes with the site's last row (its registry record is one): a missing revision
-- ('0') then always means "no rows at all", and a command that read the site before it emptied
-- can still only commit on the same empty state. Revisions never repeat (next_from), so one that
-- read an older incarnation of the site never commits on a newer one.
local revision = next_from('rev', current)
if redis.call('EXISTS', site_key(site, 'deploys'), site_key(site, 'aliases'),
              site_key(site, 'tombstones'), site_key(site, 'site')) == 0 then
  redis.call('DEL', site_key(site, 'rev'))
else
  redis.call('SET', site_key(site, 'rev'), revision)
end
if events > 0 then wake() end
return events
