-- Appends events to the stream, each at most once while its event_id is remembered.
-- KEYS[1]: the stream; KEYS[2..]: one dedupe key per event
-- ARGV[1]: how long an event_id is remembered, in ms (0: not at all); ARGV[2]: the most entries the stream may
-- hold; ARGV[3..]: one payload per event
-- Returns, per event, its stream id and 1 when it was a duplicate, else 0; or the error BACKLOG, appending
-- nothing, when the events would take the stream past its bound.
local ttl = tonumber(ARGV[1])
local backlog = redis.call('XLEN', KEYS[1])
if backlog + #KEYS - 1 > tonumber(ARGV[2]) then
  return redis.error_reply('BACKLOG the stream holds ' .. backlog .. ' entries; at most ' .. ARGV[2] .. ' are allowed')
end
local out = {}
for i = 2, #KEYS do
  local id = ttl > 0 and redis.call('GET', KEYS[i])
  local dup = 1
  if not id then
    id = redis.call('XADD', KEYS[1], '*', 'e', ARGV[i + 1])
    if ttl > 0 then
      redis.call('SET', KEYS[i], id, 'PX', ttl)
    end
    dup = 0
  end
  out[#out + 1] = id
  out[#out + 1] = dup
end
return out
