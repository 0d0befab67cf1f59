-- include outbox-lib
-- Deletes a dead letter. ARGV[1] namespace; ARGV[2] id. Returns 1, or 0 when it is not one.
if not redis.call('ZSCORE', O .. 'dead-letters', ARGV[2]) then return 0 end
redis.call('ZREM', O .. 'dead-letters', ARGV[2])
redis.call('DEL', ev_key(ARGV[2]))
return 1
