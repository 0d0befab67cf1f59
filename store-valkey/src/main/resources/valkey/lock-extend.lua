-- KEYS[1] lock key; ARGV[1] the holder's token; ARGV[2] new time to live in ms.
-- Extends the lock only if we still hold it; 0 means it was lost (expired or taken).
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
