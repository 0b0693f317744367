/**
 * Lua scripts of the Redis store. They know the entry layout (a JSON header line, then the
 * payload; see engine/entry.ts) so that the tag check happens on the server, in the same round
 * trip as the read.
 *
 * On a single Redis the read script touches tag keys it was not given in KEYS; that is allowed
 * outside Cluster mode. On Cluster the store must check tags separately (see the Cluster issue).
 */

/**
 * KEYS[1] entry, KEYS[2] sequence.
 * Returns {0, seq} on a miss, {1, data, pttl} on a hit, {2, seq, data, pttl} when a tag moved on.
 * `or false` keeps a nil from cutting the reply array short.
 */
export const READ_SCRIPT = `
local data = redis.call('GET', KEYS[1])
if not data then return {0, redis.call('GET', KEYS[2]) or false} end
local nl = string.find(data, '\\n', 1, true)
if not nl then return {0, redis.call('GET', KEYS[2]) or false} end
local ok, h = pcall(cjson.decode, string.sub(data, 1, nl - 1))
if not ok or type(h) ~= 'table' then return {0, redis.call('GET', KEYS[2]) or false} end
local tags = h['t']
if type(tags) == 'table' and #tags > 0 then
  local s = tonumber(h['s']) or 0
  local vs = redis.call('MGET', unpack(tags))
  for i = 1, #vs do
    if vs[i] and tonumber(vs[i]) > s then
      return {2, redis.call('GET', KEYS[2]) or false, data, redis.call('PTTL', KEYS[1])}
    end
  end
end
local sl = tonumber(h['sl'])
if sl and sl > 0 then redis.call('PEXPIRE', KEYS[1], sl) end
return {1, data, redis.call('PTTL', KEYS[1])}
`;

/**
 * KEYS[1] sequence, KEYS[2..] tag version keys; ARGV[1] version TTL in ms.
 * One INCR gives every tag the same new version, above any sequence captured before.
 */
export const INVALIDATE_SCRIPT = `
local n = redis.call('INCR', KEYS[1])
for i = 2, #KEYS do redis.call('SET', KEYS[i], n, 'PX', ARGV[1]) end
return n
`;

/**
 * KEYS[1] entry; ARGV[1] TTL in ms. Extends a sliding entry only while its tags are current,
 * so that an instance that missed an invalidation cannot keep a dead entry alive.
 */
export const TOUCH_SCRIPT = `
local data = redis.call('GET', KEYS[1])
if not data then return 0 end
local nl = string.find(data, '\\n', 1, true)
if not nl then return 0 end
local ok, h = pcall(cjson.decode, string.sub(data, 1, nl - 1))
if not ok or type(h) ~= 'table' then return 0 end
local tags = h['t']
if type(tags) == 'table' and #tags > 0 then
  local s = tonumber(h['s']) or 0
  local vs = redis.call('MGET', unpack(tags))
  for i = 1, #vs do
    if vs[i] and tonumber(vs[i]) > s then return 0 end
  end
end
return redis.call('PEXPIRE', KEYS[1], ARGV[1])
`;
