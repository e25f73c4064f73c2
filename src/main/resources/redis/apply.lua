-- Applies a batch of events' online updates, each event at most once, in one call.
-- KEYS: every key the batch touches. ARGV[1]: the number of events; then per event: the index (in KEYS) of its
-- applied mark, the mark's ttl in ms, the number of operations, then the operations, each an opcode and its
-- arguments (k is an index in KEYS):
--   I k field amount        add (HINCRBYFLOAT)
--   N k field value         keep the smaller number
--   X k field value         keep the larger number
--   L k prefix ts id value  keep the value of the latest (ts, id) in prefix..'lt', 'li', 'lv'
--   D k field               set field to 1 (one distinct value)
--   Z k score member n      add to a sorted set and keep its n highest
--   G k score member n      the same, but raise an existing member's score only (distinct values)
--   T k g start cutoff      on the first write to tile (g, start), drop the fields of g-tiles before cutoff
--   E k ttl                 expire the key after ttl ms
-- After the events: the number of window caches of the entities the batch touched, their ttl in ms, and their
-- indexes in KEYS; each cache's generation is bumped, so no value cached before this call is served again.
-- Returns per event 1 when applied, 0 when it had been applied before.
local arity = { I = 3, N = 3, X = 3, L = 5, D = 2, Z = 4, G = 4, T = 4, E = 2 }

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
    local fg, fs = string.match(f, '^(%d+):(%d+):')
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

local out = {}
local a = 2
for _ = 1, tonumber(ARGV[1]) do
  local fresh = redis.call('SET', KEYS[tonumber(ARGV[a])], '1', 'NX', 'PX', ARGV[a + 1])
  local ops = tonumber(ARGV[a + 2])
  a = a + 3
  for _ = 1, ops do
    local op = ARGV[a]
    if fresh then
      local k = KEYS[tonumber(ARGV[a + 1])]
      if op == 'I' then
        redis.call('HINCRBYFLOAT', k, ARGV[a + 2], ARGV[a + 3])
      elseif op == 'N' or op == 'X' then
        local cur = tonumber(redis.call('HGET', k, ARGV[a + 2]) or '')
        local v = tonumber(ARGV[a + 3])
        if not cur or (op == 'N' and v < cur) or (op == 'X' and v > cur) then
          redis.call('HSET', k, ARGV[a + 2], ARGV[a + 3])
        end
      elseif op == 'L' then
        local p, ts, id = ARGV[a + 2], tonumber(ARGV[a + 3]), ARGV[a + 4]
        local cur = redis.call('HMGET', k, p .. 'lt', p .. 'li')
        local cts = tonumber(cur[1] or '')
        if not cts or ts > cts or (ts == cts and after(id, cur[2])) then
          redis.call('HSET', k, p .. 'lt', ARGV[a + 3], p .. 'li', id, p .. 'lv', ARGV[a + 5])
        end
      elseif op == 'D' then
        redis.call('HSET', k, ARGV[a + 2], '1')
      elseif op == 'Z' or op == 'G' then
        if op == 'G' then
          redis.call('ZADD', k, 'GT', ARGV[a + 2], ARGV[a + 3])
        else
          redis.call('ZADD', k, ARGV[a + 2], ARGV[a + 3])
        end
        redis.call('ZREMRANGEBYRANK', k, 0, -1 - tonumber(ARGV[a + 4]))
      elseif op == 'T' then
        if redis.call('HSETNX', k, ARGV[a + 2] .. ':' .. ARGV[a + 3] .. ':m', '1') == 1 then
          prune(k, ARGV[a + 2], tonumber(ARGV[a + 4]))
        end
      elseif op == 'E' then
        redis.call('PEXPIRE', k, ARGV[a + 2])
      end
    end
    a = a + 1 + arity[op]
  end
  out[#out + 1] = fresh and 1 or 0
end
for i = 1, tonumber(ARGV[a]) do
  local k = KEYS[tonumber(ARGV[a + 1 + i])]
  redis.call('HINCRBY', k, '@gen', 1)
  redis.call('PEXPIRE', k, ARGV[a + 1])
end
return out
