package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Spread keys (RedisOptions.SpreadKeys). Without a shared hash tag the
// keys of one decision may live in different Redis Cluster slots, where
// no script can reach them together. The decision then runs decideScript
// once per limit, pipelined (go-redis sends each node its share in one
// round trip), and is made all or nothing by compensation: when a limit
// denies, refundScript gives the limits that allowed their cost back.
//
// What that costs, stated in docs/rate-limiting.md: between the charge and
// the refund (one round trip) concurrent requests see the charge and may
// be denied when they would not have been (under-admission, never over);
// and a refund can return up to its cost more than the bucket would
// otherwise hold if the bucket refilled completely in that round trip.

// refundScript gives cost back to one key after a composed decision was
// denied by another limit. The bucket never exceeds its capacity (a GCRA
// TAT never falls below now); a key that is full again is deleted, since
// it equals a fresh one.
//
// KEYS[1] the state; ARGV[1] the request's packed parameters (appendParams)
// ARGV[2] a clock override in µs (tests only)
var refundScript = redis.NewScript(`
local floor = math.floor
local now
if ARGV[2] ~= nil and ARGV[2] ~= '' then
  now = tonumber(ARGV[2])
else
  local t = redis.call('TIME')
  now = t[1] * 1000000 + t[2]
end
local alg, rate, period, burst, cost = struct.unpack('>ddddd', ARGV[1])
local raw = redis.call('GET', KEYS[1])
if not raw or #raw ~= 16 then return 0 end -- expired: full, nothing to give back
local a, b = struct.unpack('>dd', raw)
local reset
if alg == 1 then
  -- GCRA: a = TAT scaled by rate, relative to epoch b.
  local nowS = now - b
  if nowS < 0 then nowS = 0 end
  nowS = nowS * rate
  a = a - cost * period
  if a <= nowS then redis.call('DEL', KEYS[1]) return 1 end
  a, b = a - nowS, now
  reset = a
else
  -- Token bucket: refill to now (capped), then give the cost back.
  local capacity = burst * period
  if now > b then
    local elapsed = now - b
    if elapsed >= floor(capacity / rate) + 1 then a = capacity
    else
      a = a + elapsed * rate
      if a > capacity then a = capacity end
    end
    b = now
  end
  a = a + cost * period
  if a >= capacity then redis.call('DEL', KEYS[1]) return 1 end
  reset = capacity - a
end
reset = floor((reset + rate - 1) / rate)
redis.call('SET', KEYS[1], struct.pack('>dd', a, b), 'PX', floor((reset + 999) / 1000) + 1000)
return 1
`)

// spreadCall is one limit's script call within a spread decision.
type spreadCall struct {
	key, params string
	cmd         *redis.Cmd
}

// evalSpread decides reqs with one script per limit and compensation.
func (s *RedisStore) evalSpread(ctx context.Context, reqs []Request, results []Result, override any) (bool, error) {
	calls := make([]spreadCall, len(reqs))
	var b strings.Builder
	var pbuf [paramBytes]byte
	for i := range reqs {
		b.Reset()
		s.writeKey(&b, reqs[i].Limit.Name, reqs[i].Key)
		calls[i].key = b.String()
		calls[i].params = string(s.packParams(pbuf[:0], &reqs[i]))
	}
	runErr := s.pipelineScript(ctx, decideScript, calls, override)
	all, charged := runErr == nil, make([]int, 0, len(reqs))
	for i := range calls {
		if calls[i].cmd == nil || calls[i].cmd.Err() != nil {
			all = false
			continue
		}
		out, err := calls[i].cmd.Int64Slice()
		if err != nil || len(out) != 5 {
			runErr = errors.Join(runErr, fmt.Errorf("ratelimit: redis script returned %v (%v)", out, err))
			all = false
			continue
		}
		o := out[1:]
		results[i] = scriptResult(&reqs[i], o)
		if results[i].Allowed {
			charged = append(charged, i)
		} else {
			all = false
		}
	}
	if all {
		return true, nil
	}
	if len(charged) > 0 {
		refunds := make([]spreadCall, len(charged))
		for j, i := range charged {
			refunds[j] = spreadCall{key: calls[i].key, params: calls[i].params}
		}
		if err := s.pipelineScript(ctx, refundScript, refunds, override); err != nil {
			// The decision stands (denied); an unrefunded charge only
			// under-admits until the bucket refills.
			s.m.errors.Inc()
			s.o.Logger.Warn("rate limiter: refund after a composed denial failed", "err", err)
		}
	}
	return false, runErr
}

// pipelineScript runs sc once per call in one pipeline. A node that does
// not know the script yet (NOSCRIPT) gets it loaded and its calls re-run:
// those calls never ran, so nothing is charged twice.
func (s *RedisStore) pipelineScript(ctx context.Context, sc *redis.Script, calls []spreadCall, override any) error {
	pending := make([]int, len(calls))
	for i := range pending {
		pending[i] = i
	}
	for attempt := 0; ; attempt++ {
		pipe := s.c.Pipeline()
		for _, i := range pending {
			calls[i].cmd = pipe.EvalSha(ctx, sc.Hash(), []string{calls[i].key}, calls[i].params, override)
		}
		_, _ = pipe.Exec(ctx) // errors are per command, read below
		var again []int
		var errs []error
		for _, i := range pending {
			switch err := calls[i].cmd.Err(); {
			case err == nil:
			case redis.HasErrorPrefix(err, "NOSCRIPT") && attempt == 0:
				again = append(again, i)
			default:
				errs = append(errs, err)
			}
		}
		if len(again) == 0 {
			return errors.Join(errs...)
		}
		if err := sc.Load(ctx, s.c).Err(); err != nil {
			return errors.Join(append(errs, err)...)
		}
		if len(errs) > 0 {
			// Some calls failed outright: the decision is an error anyway;
			// do not spend another round trip on the rest.
			for _, i := range again {
				calls[i].cmd = nil
			}
			return errors.Join(errs...)
		}
		pending = again
	}
}
