-- Applies the online updates of a chunk of events, all of them or none, in one call.
-- Each {{...}} is replaced by its value in Java (ApplyScript.literals) when the script is loaded.
-- An entity's state is a few hashes, whatever its features (docs/design.md, "Where the state lives"): its state
-- hash (every tile but distinct values, last_n lists, the window cache), its distinct values of windows and its
-- lifetime distinct values. The script reads every field it needs with one HMGET per key, works out the new values,
-- and writes them with one HSET per key, so an event of an entity costs a few commands whatever its features.
-- KEYS: every key the call touches. ARGV: the number of entities touched, per entity its state hash's index in KEYS
-- and that hash's ttl in ms (0: it never expires), which its distinct values of windows share and which the field
-- TTL of the hash remembers (so that a state kept forever costs no command for it); the number of events, the ttl in
-- ms of their applied marks, per
-- event its mark's index in KEYS and, if its type has profile rules, its entity's number (1 for the first entity of
-- the call; 0 for an event without profile rules); how many tile periods a prune waits for; then the updates of
-- all the events, folded together by the caller (k and s are indexes in KEYS):
--   ADD_TO k field amount                     add to a number, 0 when absent
--   KEEP_MIN k field value                    keep the smaller number
--   KEEP_MAX k field value                    keep the larger number
--   KEEP_LATEST k prefix ts id value          keep the value of the latest (ts, id) in the tile's last fields
--   ADD_DISTINCT k s count field...           set each field to 1 in k (distinct values of windows), whose ttl is
--                                             that of the state hash s
--   ADD_SEEN k s counter count value...       set each field to 1 in k (lifetime distinct values) and add the
--                                             number of those that are new to the field counter of s
--   ADD_RECENT k field n count score member...   add to a list of (score, member), kept as JSON in a field, and
--                                             keep its n highest
--   RAISE_RECENT k field n count score member... the same, but raise an existing member's score only
--   PRUNE s k prefix g cutoff                 drop the fields prefix<g>:<start>:... of k whose start is before
--                                             cutoff: at the first call after the field prefix<g>:p of s, the
--                                             cutoff of the last prune, is the given number of periods behind
-- An entity's state hash holds in GENERATION a number every call that writes the entity bumps, and in SEQUENCE the
-- number of its last applied event with profile rules: those events are numbered in the order they are applied,
-- each number once, and the numbering starts anew (from the time in ms times 1000, above any number before) when
-- the field is new. An applied mark holds its event's number: SEQUENCED<n>, or STARTS<n> for an event that starts
-- its entity's numbering, or 1 for an event without profile rules.
-- If an event's mark exists (an earlier delivery applied it), nothing is written and the reply is per event
-- APPLIED_BEFORE with the mark, or SEND_AGAIN (not applied: send it again without the others) with ''. Otherwise
-- everything a write could fail on is checked first, and then the marks are set, the updates written, and the
-- reply is APPLIED with the new mark per event (two elements per event). So a call is written whole or not at all:
-- a sum that would not be a finite number (as a double, which is how it is read), or a field of a sum that holds
-- no number, is the error VALUE_ERROR; a key of another type than a hash is the error WRONGTYPE; an unknown
-- operation is an error too. (Distinct values of windows are written first and are the one write that can fail
-- on a key's type: setting them again is harmless, so a call that fails there and is sent again counts once.)

local APPLIED_BEFORE, APPLIED, SEND_AGAIN = {{APPLIED_BEFORE}}, {{APPLIED}}, {{SEND_AGAIN}}
local GENERATION, SEQUENCE, TTL = {{GENERATION}}, {{SEQUENCE}}, {{TTL}}
local TILE_FIELD = {{TILE_FIELD}} -- captures a tile field's tile size and start
local LAST_TS, LAST_ID, LAST_VALUE = {{LAST_TS}}, {{LAST_ID}}, {{LAST_VALUE}}
local ADD_TO, KEEP_MIN, KEEP_MAX, KEEP_LATEST = {{ADD_TO}}, {{KEEP_MIN}}, {{KEEP_MAX}}, {{KEEP_LATEST}}
local ADD_DISTINCT, ADD_SEEN, ADD_RECENT, RAISE_RECENT = {{ADD_DISTINCT}}, {{ADD_SEEN}}, {{ADD_RECENT}}, {{RAISE_RECENT}}
local PRUNE, PRUNED = {{PRUNE}}, {{PRUNED}}
local VALUE_ERROR = {{VALUE_ERROR}}
local SEQUENCED, STARTS = {{SEQUENCED}}, {{STARTS}}
local EXACT = 9007199254740992 -- 2^53: whole numbers below it are exact as doubles

-- x > y comparing bytes, whatever the server's locale
local function after(x, y)
  for i = 1, math.min(#x, #y) do
    local a, b = x:byte(i), y:byte(i)
    if a ~= b then return a > b end
  end
  return #x > #y
end

local function finite(x) return x == x and x ~= math.huge and x ~= -math.huge end

-- the shortest text that reads back as the same double
local function text(x)
  for _, digits in ipairs({'%.15g', '%.16g'}) do
    local t = string.format(digits, x)
    if tonumber(t) == x then return t end
  end
  return string.format('%.17g', x)
end

-- command k [...] with the elements of list after it, in calls of at most 1000 (Lua's unpack is bounded)
local function spread(command, k, list)
  local replies = {}
  for first = 1, #list, 1000 do
    local reply = redis.pcall(command, k, unpack(list, first, math.min(first + 999, #list)))
    if type(reply) == 'table' and reply.err then
      return nil, redis.error_reply('WRONGTYPE apply.lua: ' .. command .. ' on a key of this call: ' .. reply.err)
    end
    if type(reply) == 'table' then
      for _, r in ipairs(reply) do replies[#replies + 1] = r end
    end
  end
  return replies
end

local entities = tonumber(ARGV[1])
local stateKeys, stateTtl = {}, {}
for i = 1, entities do
  stateKeys[i] = KEYS[tonumber(ARGV[2 * i])]
  stateTtl[i] = ARGV[2 * i + 1]
end
local a = 2 + 2 * entities
local events, markTtl = tonumber(ARGV[a]), ARGV[a + 1]
local marks, eventEntity = {}, {}
for i = 1, events do
  marks[i] = KEYS[tonumber(ARGV[a + 2 * i])]
  eventEntity[i] = tonumber(ARGV[a + 1 + 2 * i])
end
local out = {}
local before = redis.call('MGET', unpack(marks))
for i = 1, events do
  if before[i] then
    for j = 1, events do
      out[2 * j - 1] = before[j] and APPLIED_BEFORE or SEND_AGAIN
      out[2 * j] = before[j] or ''
    end
    return out
  end
end
local prunePeriods = tonumber(ARGV[a + 2 + 2 * events])
a = a + 3 + 2 * events

-- the operations: where each starts in ARGV, and per key the fields they read
local starts, wanted, wantedSet, order = {}, {}, {}, {}
local function want(k, field)
  if not wanted[k] then
    wanted[k], wantedSet[k] = {}, {}
    order[#order + 1] = k
  end
  if not wantedSet[k][field] then
    wantedSet[k][field] = true
    wanted[k][#wanted[k] + 1] = field
  end
end
for _, k in ipairs(stateKeys) do
  want(k, GENERATION)
  want(k, SEQUENCE)
  want(k, TTL)
end
while a <= #ARGV do
  local op, k = ARGV[a], KEYS[tonumber(ARGV[a + 1])]
  starts[#starts + 1] = a
  if op == ADD_TO or op == KEEP_MIN or op == KEEP_MAX then
    want(k, ARGV[a + 2])
    a = a + 4
  elseif op == KEEP_LATEST then
    want(k, ARGV[a + 2] .. LAST_TS)
    want(k, ARGV[a + 2] .. LAST_ID)
    a = a + 6
  elseif op == ADD_DISTINCT then
    a = a + 4 + tonumber(ARGV[a + 3])
  elseif op == ADD_SEEN then
    want(KEYS[tonumber(ARGV[a + 2])], ARGV[a + 3])
    for i = a + 5, a + 4 + tonumber(ARGV[a + 4]) do want(k, ARGV[i]) end
    a = a + 5 + tonumber(ARGV[a + 4])
  elseif op == ADD_RECENT or op == RAISE_RECENT then
    want(k, ARGV[a + 2])
    a = a + 5 + tonumber(ARGV[a + 4]) * 2
  elseif op == PRUNE then
    want(k, ARGV[a + 3] .. ARGV[a + 4] .. PRUNED)
    a = a + 6
  else
    return redis.error_reply('apply.lua: unknown operation ' .. tostring(op) .. ' at argument ' .. a)
  end
end

-- reads, before anything is written: current[k][field] is the field's value, or false
local current = {}
for _, k in ipairs(order) do
  local values, err = spread('HMGET', k, wanted[k])
  if err then return err end
  current[k] = {}
  for i, field in ipairs(wanted[k]) do current[k][field] = values[i] end
end

-- the new values, checked before anything is written: updated[k][field]
local updated, updatedOrder = {}, {}
local function value(k, field)
  local u = updated[k] and updated[k][field]
  if u then return u end
  return current[k][field]
end
local function set(k, field, v)
  if not updated[k] then
    updated[k] = {}
    updatedOrder[#updatedOrder + 1] = k
  end
  updated[k][field] = v
end

local exactAdds = {} -- whole numbers too large for a double, added by Redis: {k, field, amount}
local function addTo(k, field, amountText)
  local now = value(k, field)
  local amount, n = tonumber(amountText), tonumber(now or '0')
  if not amount or not finite(amount) then
    return VALUE_ERROR .. ' apply.lua: ' .. tostring(amountText) .. ' added to field ' .. field .. ' is not a finite number'
  elseif not n or not finite(n) then
    return VALUE_ERROR .. ' apply.lua: field ' .. field .. ' holds ' .. now .. ', not a finite number'
  elseif not finite(n + amount) then
    return VALUE_ERROR .. ' apply.lua: adding ' .. amountText .. ' to field ' .. field .. ' (' .. now
      .. ') would not give a finite number'
  end
  local whole = string.match(amountText, '^%-?%d+$') and string.match(now or '0', '^%-?%d+$')
  if whole and (math.abs(n) >= EXACT or math.abs(amount) >= EXACT or math.abs(n + amount) >= EXACT) then
    exactAdds[#exactAdds + 1] = {k, field, amountText}
  elseif whole then
    set(k, field, string.format('%.0f', n + amount))
  else
    set(k, field, text(n + amount))
  end
end

local distinct, distinctState, distinctOrder = {}, {}, {}
local prunes, pruneOrder = {}, {}
for _, a in ipairs(starts) do
  local op, k = ARGV[a], KEYS[tonumber(ARGV[a + 1])]
  if op == ADD_TO then
    local err = addTo(k, ARGV[a + 2], ARGV[a + 3])
    if err then return redis.error_reply(err) end
  elseif op == KEEP_MIN or op == KEEP_MAX then
    local cur = tonumber(value(k, ARGV[a + 2]) or '')
    local v = tonumber(ARGV[a + 3])
    if not cur or (op == KEEP_MIN and v < cur) or (op == KEEP_MAX and v > cur) then
      set(k, ARGV[a + 2], ARGV[a + 3])
    end
  elseif op == KEEP_LATEST then
    local p, ts, id = ARGV[a + 2], tonumber(ARGV[a + 3]), ARGV[a + 4]
    local cts = tonumber(value(k, p .. LAST_TS) or '')
    if not cts or ts > cts or (ts == cts and after(id, value(k, p .. LAST_ID))) then
      set(k, p .. LAST_TS, ARGV[a + 3])
      set(k, p .. LAST_ID, id)
      set(k, p .. LAST_VALUE, ARGV[a + 5])
    end
  elseif op == ADD_DISTINCT then
    if not distinct[k] then
      distinct[k] = {}
      distinctOrder[#distinctOrder + 1] = k
    end
    distinctState[k] = KEYS[tonumber(ARGV[a + 2])]
    for i = a + 4, a + 3 + tonumber(ARGV[a + 3]) do
      distinct[k][#distinct[k] + 1] = ARGV[i]
      distinct[k][#distinct[k] + 1] = '1'
    end
  elseif op == ADD_SEEN then
    local new = 0
    for i = a + 5, a + 4 + tonumber(ARGV[a + 4]) do
      if not value(k, ARGV[i]) then
        set(k, ARGV[i], '1')
        new = new + 1
      end
    end
    if new > 0 then
      local err = addTo(KEYS[tonumber(ARGV[a + 2])], ARGV[a + 3], tostring(new))
      if err then return redis.error_reply(err) end
    end
  elseif op == ADD_RECENT or op == RAISE_RECENT then
    local field, n = ARGV[a + 2], tonumber(ARGV[a + 3])
    local stored = value(k, field)
    local scores, list = {}, {}
    if stored then
      local ok, decoded = pcall(cjson.decode, stored)
      if not ok or type(decoded) ~= 'table' then
        return redis.error_reply(VALUE_ERROR .. ' apply.lua: field ' .. field .. ' holds no list of recent values')
      end
      for i = 1, #decoded, 2 do scores[decoded[i + 1]] = tonumber(decoded[i]) end
    end
    for i = a + 5, a + 4 + tonumber(ARGV[a + 4]) * 2, 2 do
      local score, member = tonumber(ARGV[i]), ARGV[i + 1]
      if op == ADD_RECENT or not scores[member] or score > scores[member] then scores[member] = score end
    end
    for member, score in pairs(scores) do list[#list + 1] = {score, member} end
    table.sort(list, function(x, y)
      if x[1] ~= y[1] then return x[1] > y[1] end
      return after(x[2], y[2])
    end)
    local kept = {}
    for i = 1, math.min(n, #list) do
      kept[#kept + 1] = string.format('%.0f', list[i][1])
      kept[#kept + 1] = list[i][2]
    end
    set(k, field, cjson.encode(kept))
  elseif op == PRUNE then
    local s, prefix, g, cutoff = k, ARGV[a + 3], ARGV[a + 4], tonumber(ARGV[a + 5])
    local target = KEYS[tonumber(ARGV[a + 2])]
    local last = tonumber(current[s][prefix .. g .. PRUNED] or '') -- as before the call
    if not last or cutoff >= last + prunePeriods * tonumber(g) then
      set(s, prefix .. g .. PRUNED, ARGV[a + 5])
    end
    if last and cutoff >= last + prunePeriods * tonumber(g) then
      if not prunes[target] then
        prunes[target] = {}
        pruneOrder[#pruneOrder + 1] = target
      end
      prunes[target][prefix .. g] = cutoff
    end
  end
end

-- the fields the prunes drop, read before anything is written
local dropped = {}
for _, k in ipairs(pruneOrder) do
  local fields = redis.pcall('HKEYS', k)
  if fields.err then return redis.error_reply('WRONGTYPE apply.lua: HKEYS on a key of this call: ' .. fields.err) end
  dropped[k] = {}
  for _, f in ipairs(fields) do
    local slash = string.find(f, '/', 1, true)
    if slash then
      local fg, fs = string.match(string.sub(f, slash + 1), TILE_FIELD)
      local cutoff = fg and prunes[k][string.sub(f, 1, slash) .. fg]
      if cutoff and tonumber(fs) < cutoff then dropped[k][#dropped[k] + 1] = f end
    end
  end
end

-- the counters of each entity
local numbered = {}
for i = 1, entities do numbered[i] = 0 end
for _, e in ipairs(eventEntity) do
  if e > 0 then numbered[e] = numbered[e] + 1 end
end
local last, fresh = {}, {}
for i, k in ipairs(stateKeys) do
  for _, name in ipairs({GENERATION, SEQUENCE}) do
    local v = current[k][name]
    if v and not string.match(v, '^%-?%d+$') then
      return redis.error_reply(VALUE_ERROR .. ' apply.lua: the field ' .. name .. ' of an entity holds ' .. v
        .. ', not a whole number')
    end
  end
  set(k, GENERATION, string.format('%.0f', tonumber(current[k][GENERATION] or '0') + 1))
  if current[k][TTL] ~= stateTtl[i] then set(k, TTL, stateTtl[i]) end
  if numbered[i] > 0 then
    last[i] = tonumber(current[k][SEQUENCE] or '0')
    if last[i] == 0 then
      local t = redis.call('TIME')
      last[i] = tonumber(t[1]) * 1000000 + math.floor(tonumber(t[2]) / 1000) * 1000
      fresh[i] = true
    end
    set(k, SEQUENCE, string.format('%.0f', last[i] + numbered[i]))
  end
end

-- writes
for _, k in ipairs(distinctOrder) do
  local _, err = spread('HSET', k, distinct[k])
  if err then return err end
end
for _, k in ipairs(pruneOrder) do
  if #dropped[k] > 0 then spread('HDEL', k, dropped[k]) end
end
for _, k in ipairs(updatedOrder) do
  local pairsOf = {}
  for field, v in pairs(updated[k]) do
    pairsOf[#pairsOf + 1] = field
    pairsOf[#pairsOf + 1] = v
  end
  spread('HSET', k, pairsOf)
end
for _, add in ipairs(exactAdds) do redis.call('HINCRBYFLOAT', add[1], add[2], add[3]) end
local ttlOf = {}
for i, k in ipairs(stateKeys) do ttlOf[k] = stateTtl[i] end
-- a key kept forever is made so once (a new one has no ttl): the state hash's field TTL says it was
local function expire(k, state)
  if ttlOf[state] ~= '0' then
    redis.call('PEXPIRE', k, ttlOf[state])
  elseif current[state][GENERATION] and current[state][TTL] ~= '0' then
    redis.call('PERSIST', k)
  end
end
for _, k in ipairs(distinctOrder) do expire(k, distinctState[k]) end
for _, k in ipairs(stateKeys) do expire(k, k) end
for i, m in ipairs(marks) do
  local e = eventEntity[i]
  local mark = '1'
  if e > 0 then
    last[e] = last[e] + 1
    mark = (fresh[e] and STARTS or SEQUENCED) .. string.format('%.0f', last[e])
    fresh[e] = nil
  end
  redis.call('SET', m, mark, 'PX', markTtl)
  out[2 * i - 1] = APPLIED
  out[2 * i] = mark
end
return out
