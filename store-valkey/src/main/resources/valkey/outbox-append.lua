-- include outbox-lib
-- ARGV[1] namespace; ARGV[2] site; ARGV[3] type; ARGV[4] now; ARGV[5..] payload k, v, ...
local payload = {}
for i = 5, #ARGV do payload[#payload + 1] = ARGV[i] end
local id = append_event(ARGV[2], ARGV[3], ARGV[4], payload)
wake()
return id
