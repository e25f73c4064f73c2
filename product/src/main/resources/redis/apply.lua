-- Applies the online updates of a chunk of events, all of them or none, in one call.
-- Each {{...}} is replaced by its value in Java (ApplyScript.literals) when the script is loaded.
-- KEYS: every key the call touches. ARGV: the number of entities touched, the ttl in ms of their state hashes,
-- their hashes' indexes in KEYS; the number of events, the ttl in ms of their applied marks, per event its mark's
-- index in KEYS and, if its type has profile rules, its entity's number (1 for the first entity of the call; 0 for
-- an event without profile rules); then the updates of all the events,
-- folded together by the caller (k is an index in KEYS):
--   ADD_TO k field amount                  add (HINCRBYFLOAT)
--   KEEP_MIN k field value                 keep the smaller number
--   KEEP_MAX k field value                 keep the larger number
--   KEEP_LATEST k prefix ts id value       keep the value of the latest (ts, id) in the tile's last fields
--   ADD_DISTINCT k count field...          set each field to 1 (distinct values)
--   ADD_RECENT k n count score member...   add to a sorted set and keep its n highest
--   RAISE_RECENT k n count score member... the same, but raise an existing member's score only (distinct values)
--   MARK_TILE k field g cutoff             set the tile's mark field; when it is new, drop the fields of g-tiles
--                                          starting before cutoff
--   EXPIRE k ttl                           expire the key after ttl ms
-- An entity's hash (its window cache) holds in GENERATION a number every call that writes the entity bumps, and
-- in SEQUENCE the number of its last applied event with profile rules: those events are numbered in the order
-- they are applied, each number once, and the numbering starts anew (from the time in ms times 1000, above any
-- number before) when the field is new. An applied mark holds its event's number: SEQUENCED<n>, or STARTS<n> for
-- an event that starts its entity's numbering, or 1 for an event without profile rules.
-- If an event's mark exists (an earlier delivery applied it), nothing is written and the reply is per event
-- APPLIED_BEFORE with the mark, or SEND_AGAIN (not applied: send it again without the others) with ''. Otherwise
-- everything a write could fail on is checked first, and then the marks are set, the updates written, and the
-- reply is APPLIED with the new mark per event (two elements per event). So a call is written whole or not at all:
-- a sum that would not be a finite number (as a double, which is how it is read), or a field of a sum that holds
-- no number, is the error VALUE_ERROR; a key of another type than its operations need (a feature that changed
-- kind under the same name) is the error WRONGTYPE; an unknown operation is an error too.

local APPLIED_BEFORE, APPLIED, SEND_AGAIN = {{APPLIED_BEFORE}}, {{APPLIED}}, {{SEND_AGAIN}}
local GENERATION, SEQUENCE = {{GENERATION}}, {{SEQUENCE}}
local TILE_FIELD = {{TILE_FIELD}} -- captures a tile field's tile size and start
local LAST_TS, LAST_ID, LAST_VALUE = {{LAST_TS}}, {{LAST_ID}}, {{LAST_VALUE}}
local ADD_TO, KEEP_MIN, KEEP_MAX, KEEP_LATEST = {{ADD_TO}}, {{KEEP_MIN}}, {{KEEP_MAX}}, {{KEEP_LATEST}}
local ADD_DISTINCT, ADD_RECENT, RAISE_RECENT = {{ADD_DISTINCT}}, {{ADD_RECENT}}, {{RAISE_RECENT}}
local MARK_TILE, EXPIRE = {{MARK_TILE}}, {{EXPIRE}}
local VALUE_ERROR = {{VALUE_ERROR}}
local SEQUENCED, STARTS = {{SEQUENCED}}, {{STARTS}}

-- x > y comparing bytes, whatever the server's locale
local function after(x, y)
  for i = 1, math.min(#x, #y) do
    local a, b = x:byte(i), y:byte(i)
    if a ~= b then return a > b end
  end
  return #x > #y
end

local function prune(k, g, cutoff)
  local old = {}
  for _, f in ipairs(redis.call('HKEYS', k)) do
    local fg, fs = string.match(f, TILE_FIELD)
    if fg == g and tonumber(fs) < cutoff then
      old[#old + 1] = f
      if #old == 1000 then
        redis.call('HDEL', k, unpack(old))
        old = {}
      end
    end
  end
  if #old > 0 then redis.call('HDEL', k, unpack(old)) end
end

-- command k [flag] with ARGV[from .. from + n - 1] after it, in calls of at most 1000 (Lua's unpack is bounded)
local function spread(command, k, flag, from, n, pairsOf)
  for first = from, from + n - 1, 1000 do
    local args = {}
    for i = first, math.min(first + 999, from + n - 1) do
      args[#args + 1] = ARGV[i]
      if pairsOf then args[#args + 1] = pairsOf end
    end
    if flag then redis.call(command, k, flag, unpack(args)) else redis.call(command, k, unpack(args)) end
  end
end

local entities, entityTtl = tonumber(ARGV[1]), ARGV[2]
local entityKeys = {}
for i = 1, entities do entityKeys[i] = KEYS[tonumber(ARGV[2 + i])] end
local a = 3 + entities
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

-- the operations: where each starts in ARGV, and per key the type its operations need and the fields it adds to
local starts, kinds, sums = {}, {}, {}
for _, k in ipairs(entityKeys) do kinds[k] = 'hash' end
a = a + 2 + 2 * events
while a <= #ARGV do
  local op, k = ARGV[a], KEYS[tonumber(ARGV[a + 1])]
  starts[#starts + 1] = a
  local kind = 'hash'
  if op == ADD_TO then
    sums[k] = sums[k] or {}
    sums[k][#sums[k] + 1] = a
    a = a + 4
  elseif op == KEEP_MIN or op == KEEP_MAX then
    a = a + 4
  elseif op == KEEP_LATEST then
    a = a + 6
  elseif op == ADD_DISTINCT then
    a = a + 3 + tonumber(ARGV[a + 2])
  elseif op == ADD_RECENT or op == RAISE_RECENT then
    kind = 'zset'
    a = a + 4 + tonumber(ARGV[a + 3]) * 2
  elseif op == MARK_TILE then
    a = a + 5
  elseif op == EXPIRE then
    kind = nil -- any type
    a = a + 3
  else
    return redis.error_reply('apply.lua: unknown operation ' .. tostring(op) .. ' at argument ' .. a)
  end
  if kind then kinds[k] = kind end
end

-- checks, before anything is written
local function finite(x) return x == x and x ~= math.huge and x ~= -math.huge end
for k, kind in pairs(kinds) do
  local t = redis.call('TYPE', k).ok
  if t ~= 'none' and t ~= kind then
    return redis.error_reply('WRONGTYPE apply.lua: a key of this call holds a ' .. t .. ' where its feature keeps a '
      .. kind .. ' (did a feature change kind under the same name?)')
  end
end
for k, at in pairs(sums) do
  for first = 1, #at, 1000 do
    local fields = {}
    for i = first, math.min(first + 999, #at) do fields[#fields + 1] = ARGV[at[i] + 2] end
    local current = redis.call('HMGET', k, unpack(fields))
    for j, field in ipairs(fields) do
      local amount = tonumber(ARGV[at[first + j - 1] + 3])
      local now = 0
      if current[j] then now = tonumber(current[j]) end
      if not amount or not finite(amount) then
        return redis.error_reply(VALUE_ERROR .. ' apply.lua: ' .. tostring(ARGV[at[first + j - 1] + 3])
          .. ' added to field ' .. field .. ' is not a finite number')
      elseif not now or not finite(now) then
        return redis.error_reply(VALUE_ERROR .. ' apply.lua: field ' .. field .. ' holds ' .. current[j]
          .. ', not a finite number')
      elseif not finite(now + amount) then
        return redis.error_reply(VALUE_ERROR .. ' apply.lua: adding ' .. ARGV[at[first + j - 1] + 3] .. ' to field '
          .. field .. ' (' .. current[j] .. ') would not give a finite number')
      end
    end
  end
end
for _, k in ipairs(entityKeys) do
  local counters = redis.call('HMGET', k, GENERATION, SEQUENCE)
  for j, name in ipairs({GENERATION, SEQUENCE}) do
    if counters[j] and not string.match(counters[j], '^%-?%d+$') then
      return redis.error_reply(VALUE_ERROR .. ' apply.lua: the field ' .. name .. ' of an entity holds '
        .. counters[j] .. ', not a whole number')
    end
  end
end

-- writes
local numbered = {}
for i = 1, entities do numbered[i] = 0 end
for _, e in ipairs(eventEntity) do
  if e > 0 then numbered[e] = numbered[e] + 1 end
end
local last, fresh = {}, {}
for i, k in ipairs(entityKeys) do
  redis.call('HINCRBY', k, GENERATION, 1)
  redis.call('PEXPIRE', k, entityTtl)
  if numbered[i] > 0 then
    last[i] = redis.call('HINCRBY', k, SEQUENCE, numbered[i]) - numbered[i]
    if last[i] == 0 then
      local t = redis.call('TIME')
      last[i] = tonumber(t[1]) * 1000000 + math.floor(tonumber(t[2]) / 1000) * 1000
      fresh[i] = true
      redis.call('HSET', k, SEQUENCE, string.format('%.0f', last[i] + numbered[i]))
    end
  end
end
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
for _, a in ipairs(starts) do
  local op, k = ARGV[a], KEYS[tonumber(ARGV[a + 1])]
  if op == ADD_TO then
    redis.call('HINCRBYFLOAT', k, ARGV[a + 2], ARGV[a + 3])
  elseif op == KEEP_MIN or op == KEEP_MAX then
    local cur = tonumber(redis.call('HGET', k, ARGV[a + 2]) or '')
    local v = tonumber(ARGV[a + 3])
    if not cur or (op == KEEP_MIN and v < cur) or (op == KEEP_MAX and v > cur) then
      redis.call('HSET', k, ARGV[a + 2], ARGV[a + 3])
    end
  elseif op == KEEP_LATEST then
    local p, ts, id = ARGV[a + 2], tonumber(ARGV[a + 3]), ARGV[a + 4]
    local cur = redis.call('HMGET', k, p .. LAST_TS, p .. LAST_ID)
    local cts = tonumber(cur[1] or '')
    if not cts or ts > cts or (ts == cts and after(id, cur[2])) then
      redis.call('HSET', k, p .. LAST_TS, ARGV[a + 3], p .. LAST_ID, id, p .. LAST_VALUE, ARGV[a + 5])
    end
  elseif op == ADD_DISTINCT then
    spread('HSET', k, nil, a + 3, tonumber(ARGV[a + 2]), '1')
  elseif op == ADD_RECENT or op == RAISE_RECENT then
    spread('ZADD', k, op == RAISE_RECENT and 'GT' or nil, a + 4, tonumber(ARGV[a + 3]) * 2)
    redis.call('ZREMRANGEBYRANK', k, 0, -1 - tonumber(ARGV[a + 2]))
  elseif op == MARK_TILE then
    if redis.call('HSETNX', k, ARGV[a + 2], '1') == 1 then
      prune(k, ARGV[a + 3], tonumber(ARGV[a + 4]))
    end
  elseif op == EXPIRE then
    redis.call('PEXPIRE', k, ARGV[a + 2])
  end
end
return out
