/**
 * Lua scripts of the Redis store. They know the entry layout (a JSON header line, then the
 * payload; see engine/entry.ts) so that the tag check happens on the server, in the same round
 * trip as the read.
 *
 * On a single Redis the read script touches tag keys it was not given in KEYS; that is allowed
 * outside Cluster mode. On Cluster the store must check tags separately (see the Cluster issue).
 */

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

/**
 * The read script, for one key or many. KEYS[1] sequence, KEYS[2..] entries; ARGV[1] is '1'
 * when the caller wants remaining TTLs (to fill an L1). Returns one reply per entry:
 * {0, seq} on a miss, {1, data, pttl} on a hit, {2, seq, data, pttl} when a tag moved on
 * (pttl -1 when not asked for); `or false` keeps a nil from cutting a reply array short. Reads the entries with one MGET and all
 * their tag versions with one more: a batch costs a handful of commands, not several per key.
 */
export const READ_MANY_SCRIPT = `
local n = #KEYS - 1
local datas = redis.call('MGET', unpack(KEYS, 2))
local heads = {}
local tagPos = {}
local tagList = {}
for i = 1, n do
  local data = datas[i]
  if data then
    local nl = string.find(data, '\\n', 1, true)
    if nl then
      local ok, h = pcall(cjson.decode, string.sub(data, 1, nl - 1))
      if ok and type(h) == 'table' then
        heads[i] = h
        local tags = h['t']
        if type(tags) == 'table' then
          for j = 1, #tags do
            local t = tags[j]
            if not tagPos[t] then
              tagList[#tagList + 1] = t
              tagPos[t] = #tagList
            end
          end
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
  local h = heads[i]
  local key = KEYS[i + 1]
  if not h then
    out[i] = {0, current()}
  else
    local s = tonumber(h['s']) or 0
    local stale = false
    local tags = h['t']
    if type(tags) == 'table' then
      for j = 1, #tags do
        local v = versions[tagPos[tags[j]]]
        if v and tonumber(v) > s then
          stale = true
          break
        end
      end
    end
    if stale then
      out[i] = {2, current(), datas[i], wantTtl and redis.call('PTTL', key) or -1}
    else
      local sl = tonumber(h['sl'])
      if sl and sl > 0 then redis.call('PEXPIRE', key, sl) end
      out[i] = {1, datas[i], wantTtl and redis.call('PTTL', key) or -1}
    end
  end
end
return out
`;
