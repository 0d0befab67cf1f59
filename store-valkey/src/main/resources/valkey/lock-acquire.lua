-- KEYS[1] lock key; KEYS[2] the key naming the store waiting next; ARGV[1] the new holder's token
-- ('<store id>:<random>'); ARGV[2] time to live in ms; ARGV[3] this store's id; ARGV[4] how long
-- a reservation lasts in ms (0: the caller tries once or gives up now, so it reserves nothing).
-- Returns 1 when taken, 0 when not.
--
-- A holder's next acquire would win every race against a store that polls from another host, so
-- a store that finds the lock held by another store writes itself as next (renewed on each of its
-- tries, lapsing when it stops); while that runs only it may take the lock, and taking it clears
-- the reservation. The first store to reserve goes first.
local nxt = redis.call('GET', KEYS[2])
if (not nxt) or nxt == ARGV[3] then
  if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
    if nxt then
      redis.call('DEL', KEYS[2])
    end
    return 1
  end
  local holder = redis.call('GET', KEYS[1])
  if tonumber(ARGV[4]) > 0 and holder and string.sub(holder, 1, #ARGV[3] + 1) ~= ARGV[3] .. ':' then
    redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4])
  end
end
return 0
