-- Appends events to the stream, each at most once while its key (event type, entity id, event_id) is remembered. The events that are not
-- duplicates go into entries of at most ARGV[3] events each, one payload per line in the field 'e'.
-- KEYS[1]: the stream; KEYS[2..]: one dedupe key per event
-- ARGV[1]: how long an event key is remembered, in ms (0: not at all); ARGV[2]: the most entries the stream may
-- hold; ARGV[3]: the most events per entry; ARGV[4..]: one payload per event
-- Returns, per event, its position '<entry id>/<index in the entry>' (for a duplicate, the position it was
-- appended at) and 1 when it was a duplicate, else 0; or the error BACKLOG, appending nothing, when the entries
-- would take the stream past its bound.
local ttl = tonumber(ARGV[1])
local per_entry = tonumber(ARGV[3])
local backlog = redis.call('XLEN', KEYS[1])
local events = #KEYS - 1
if backlog + math.ceil(events / per_entry) > tonumber(ARGV[2]) then
  return redis.error_reply('BACKLOG the stream holds ' .. backlog .. ' entries; at most ' .. ARGV[2] .. ' are allowed')
end
local out = {}
local first = {} -- dedupe key -> index of its first event in this request
local repeats = {} -- index of an event -> index of the first event with its key in this request
local pending = {} -- indexes (into KEYS) of the events of the entry being filled
local function flush()
  if #pending == 0 then
    return
  end
  local lines = {}
  for j, k in ipairs(pending) do
    lines[j] = ARGV[k + 2]
  end
  local id = redis.call('XADD', KEYS[1], '*', 'e', table.concat(lines, '\n'))
  for j, k in ipairs(pending) do
    local position = id .. '/' .. (j - 1)
    out[2 * k - 3] = position
    if ttl > 0 then
      redis.call('SET', KEYS[k], position, 'PX', ttl)
    end
  end
  pending = {}
end
for k = 2, #KEYS do
  local earlier = ttl > 0 and not first[KEYS[k]] and redis.call('GET', KEYS[k])
  if ttl > 0 and first[KEYS[k]] then
    repeats[k] = first[KEYS[k]]
    out[2 * k - 2] = 1
  elseif earlier then
    out[2 * k - 3] = earlier
    out[2 * k - 2] = 1
  else
    out[2 * k - 2] = 0
    first[KEYS[k]] = k
    pending[#pending + 1] = k
    if #pending == per_entry then
      flush()
    end
  end
end
flush()
for k, f in pairs(repeats) do
  out[2 * k - 3] = out[2 * f - 3]
end
return out
