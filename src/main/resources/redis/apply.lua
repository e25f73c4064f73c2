-- Applies one event's online updates at most once.
-- KEYS[1]: the event's applied mark; KEYS[2]: the entity's tile hash; KEYS[3..]: the entity's last_n sorted sets
-- ARGV[1]: ttl in ms of the mark and of the entity keys; ARGV[2]: number k of tile increments;
-- then k pairs (tile field, increment); then per last_n key a triple (score, member, n).
-- Returns 1 when applied, 0 when the event was applied before.
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then
  return 0
end
local k = tonumber(ARGV[2])
local a = 3
for _ = 1, k do
  redis.call('HINCRBYFLOAT', KEYS[2], ARGV[a], ARGV[a + 1])
  a = a + 2
end
if k > 0 then
  redis.call('PEXPIRE', KEYS[2], ARGV[1])
end
for i = 3, #KEYS do
  redis.call('ZADD', KEYS[i], ARGV[a], ARGV[a + 1])
  redis.call('ZREMRANGEBYRANK', KEYS[i], 0, -1 - tonumber(ARGV[a + 2]))
  redis.call('PEXPIRE', KEYS[i], ARGV[1])
  a = a + 3
end
return 1
