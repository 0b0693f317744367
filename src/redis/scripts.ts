/**
 * Lua scripts of the Redis store. They know the entry layout (a header line of fields
 * separated by 0x1f, then the payload; see engine/entry.ts) so that the tag check happens on
 * the server, in the same round trip as the read.
 *
 * On a single Redis the read and touch scripts touch tag keys they were not given in KEYS; that
 * is allowed outside Cluster mode. On Cluster the store does not run them: it reads entries and
 * checks their tag versions itself (RedisStore.sendCluster), and the scripts it does run there
 * (INVALIDATE, VERSIONS) declare every key, all on the prefix's version slot.
 */

/**
 * Splits an entry's header line. Returns the fields {magic, seq, sliding, serializer,
 * compression, freshness, tag...} and their count, or nil for bytes cachekit did not write.
 */
const PARSE_HEADER = `
local function parseHeader(data)
  local nl = string.find(data, '\\n', 1, true)
  if not nl then return nil end
  local f, n, pos = {}, 0, 1
  while pos <= nl do
    local sep = string.find(data, '\\31', pos, true)
    if sep == nil or sep > nl then sep = nl end
    n = n + 1
    f[n] = string.sub(data, pos, sep - 1)
    pos = sep + 1
  end
  if f[1] ~= 'ck2' or n < 6 then return nil end
  return f, n
end
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
export const TOUCH_SCRIPT = `${PARSE_HEADER}
local data = redis.call('GET', KEYS[1])
if not data then return 0 end
local f, n = parseHeader(data)
if not f then return 0 end
if n > 6 then
  local s = tonumber(f[2]) or 0
  local vs = redis.call('MGET', unpack(f, 7, n))
  for i = 1, #vs do
    if vs[i] and tonumber(vs[i]) > s then return 0 end
  end
end
return redis.call('PEXPIRE', KEYS[1], ARGV[1])
`;

/**
 * The read script, for one key or many. KEYS[1] sequence, KEYS[2..] entries; ARGV[1] is '1'
 * when the caller wants remaining TTLs (to fill an L1). Returns one reply per entry:
 * {0, seq} on a miss, {1, data, pttl} on a hit, {2, seq, data, pttl} when a tag moved on
 * (pttl -1 when not asked for); `or false` keeps a nil from cutting a reply array short. Reads the entries with one MGET and all
 * their tag versions with one more: a batch costs a handful of commands, not several per key.
 */
export const READ_MANY_SCRIPT = `${PARSE_HEADER}
local n = #KEYS - 1
local datas = redis.call('MGET', unpack(KEYS, 2))
local heads = {}
local counts = {}
local tagPos = {}
local tagList = {}
for i = 1, n do
  local data = datas[i]
  if data then
    local f, c = parseHeader(data)
    if f then
      heads[i] = f
      counts[i] = c
      for j = 7, c do
        local t = f[j]
        if not tagPos[t] then
          tagList[#tagList + 1] = t
          tagPos[t] = #tagList
        end
      end
    end
  end
end
local versions = {}
if #tagList > 0 then versions = redis.call('MGET', unpack(tagList)) end
local seq
local function current()
  if seq == nil then seq = redis.call('GET', KEYS[1]) or false end
  return seq
end
local wantTtl = ARGV[1] == '1'
local out = {}
for i = 1, n do
  local f = heads[i]
  local key = KEYS[i + 1]
  if not f then
    out[i] = {0, current()}
  else
    local s = tonumber(f[2]) or 0
    local stale = false
    for j = 7, counts[i] do
      local v = versions[tagPos[f[j]]]
      if v and tonumber(v) > s then
        stale = true
        break
      end
    end
    if stale then
      out[i] = {2, current(), datas[i], wantTtl and redis.call('PTTL', key) or -1}
    else
      local sl = tonumber(f[3])
      if sl and sl > 0 then redis.call('PEXPIRE', key, sl) end
      out[i] = {1, datas[i], wantTtl and redis.call('PTTL', key) or -1}
    end
  end
end
return out
`;

/**
 * KEYS: version keys of one slot. A plain MGET, as a script so that a Cluster client reading
 * from replicas still sends it to the master (ioredis routes only read-only commands to replicas).
 */
export const VERSIONS_SCRIPT = `return redis.call('MGET', unpack(KEYS))`;
