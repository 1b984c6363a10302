package ratelimit

import "github.com/redis/go-redis/v9"

// decideScript decides n requests atomically with the Redis server's clock
// in microseconds. It mirrors Limit.decide exactly (see limit.go), with
// one difference: Lua numbers are doubles, so integer division goes
// through idiv, which corrects the rounding of the quotient.
//
// KEYS[i]  the state of request i: a and b as two big-endian doubles
// ARGV[1]  n; then per request: algorithm, rate, period (µs), burst, cost
// ARGV[2+5n] a clock override in µs (tests only; empty in production)
//
// Returns {allowed, then per request: allowed, remaining, retry µs, reset µs}.
var decideScript = redis.NewScript(`
local function idiv(x, y)
  local q = math.floor(x / y)
  if q * y > x then q = q - 1 elseif (q + 1) * y <= x then q = q + 1 end
  return q
end
local function ceildiv(x, y)
  if x <= 0 then return 0 end
  return idiv(x + y - 1, y)
end

local n = tonumber(ARGV[1])
local now
local override = ARGV[2 + 5 * n]
if override ~= nil and override ~= '' then
  now = tonumber(override)
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end

local out = {1}
local na, nb, full = {}, {}, {}
local all = 1
for i = 1, n do
  local p = 1 + (i - 1) * 5
  local alg, rate, period, burst, cost = tonumber(ARGV[p + 1]), tonumber(ARGV[p + 2]), tonumber(ARGV[p + 3]), tonumber(ARGV[p + 4]), tonumber(ARGV[p + 5])
  local a, b = 0, 0
  local st = redis.call('GET', KEYS[i])
  if st and #st == 16 then a, b = struct.unpack('>dd', st) end
  local ok, remaining, retry, reset
  if alg == 1 then
    -- GCRA: a = TAT scaled by rate, relative to epoch b.
    local tat, epoch = a, b
    if epoch == 0 then epoch = now end
    local rel = now - epoch
    if rel < 0 then rel = 0 end
    local nowS = rel * rate
    if tat < nowS then tat, epoch, nowS = 0, now, 0 end
    local tol = (burst - 1) * period
    local newTAT = tat + cost * period
    if newTAT - period - nowS <= tol then
      ok = 1
      remaining = idiv(nowS + tol - (newTAT - period), period)
      retry = 0
      reset = ceildiv(newTAT - nowS, rate)
      na[i], nb[i] = newTAT, epoch
    else
      ok = 0
      remaining = 0
      if tat - nowS <= tol + period then
        remaining = idiv(nowS + tol + period - tat, period)
        if remaining < 0 then remaining = 0 end
      end
      retry = ceildiv(newTAT - period - nowS - tol, rate)
      reset = ceildiv(tat - nowS, rate)
    end
  else
    -- Token bucket: a = credit in token-periods, b = last update.
    local capacity = burst * period
    local credit, last = a, b
    if last == 0 and credit == 0 then credit, last = capacity, now end
    if now > last then
      local elapsed = now - last
      local fullIn = idiv(capacity - credit, rate) + 1
      if elapsed > fullIn then elapsed = fullIn end
      credit = math.min(capacity, credit + elapsed * rate)
      last = now
    end
    local need = cost * period
    if credit >= need then
      ok = 1
      credit = credit - need
      remaining = idiv(credit, period)
      retry = 0
      na[i], nb[i] = credit, last
    else
      ok = 0
      remaining = idiv(credit, period)
      retry = ceildiv(need - credit, rate)
    end
    reset = ceildiv(capacity - credit, rate)
  end
  if ok == 0 then all = 0 end
  full[i] = reset
  out[#out + 1] = ok
  out[#out + 1] = remaining
  out[#out + 1] = retry
  out[#out + 1] = reset
end
out[1] = all
if all == 1 then
  for i = 1, n do
    -- Two doubles (exact for integers below 2^53), expiring when the
    -- bucket is full again: then the key equals a fresh one.
    redis.call('SET', KEYS[i], struct.pack('>dd', na[i], nb[i]), 'PX', math.max(1, ceildiv(full[i], 1000)) + 1000)
  end
end
return out
`)
