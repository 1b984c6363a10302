// Package ratelimit is exact rate limiting for Go services: token buckets
// and GCRA meters (leaky bucket as a meter), a leaky-bucket shaper, an
// in-process store and a fleet-wide Redis store that decides every limit of
// a request in one round trip, composition of limits per IP, user, client,
// route and tenant, and net/http middleware answering 429 with Retry-After
// and the IETF RateLimit headers.
//
// It depends on nothing in Rampart's internal packages.
package ratelimit

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Algorithm selects how a limit meters requests.
type Algorithm uint8

const (
	// TokenBucket: a bucket of Burst tokens, refilled at Rate per Period;
	// a fresh key starts full; a request takes its cost in tokens.
	TokenBucket Algorithm = iota
	// GCRA is the generic cell rate algorithm (ITU-T I.371), the leaky
	// bucket as a meter: requests conform when they arrive no earlier than
	// their theoretical arrival time minus the burst tolerance. With
	// Burst 1 it spaces requests evenly (smooth rejection); with the same
	// Rate, Period and Burst it admits exactly what TokenBucket admits.
	GCRA
)

func (a Algorithm) String() string {
	switch a {
	case TokenBucket:
		return "token_bucket"
	case GCRA:
		return "gcra"
	}
	return fmt.Sprintf("algorithm(%d)", uint8(a))
}

// Limit is one rate limit: Rate tokens per Period, at most Burst at once.
type Limit struct {
	// Name identifies the limit in headers, metrics and logs ("ip",
	// "user", "client"); letters, digits, '-', '_' and '.' only.
	Name      string
	Algorithm Algorithm
	// Rate tokens are added every Period (Rate ≥ 1, Period ≥ 1 ms).
	Rate   int64
	Period time.Duration
	// Burst is the bucket capacity (token bucket) or the burst tolerance
	// in requests (GCRA); ≥ 1.
	Burst int64

	salt   uint64 // distinguishes limits in a store's hash (set by NewLimiter)
	capTP  int64  // Burst×Period, precomputed by NewLimiter (0: compute)
	fillTP int64  // capTP/Rate + 1, precomputed by NewLimiter (0: compute)
}

// Validate reports what is wrong with l.
func (l Limit) Validate() error {
	var errs []error
	if !validName(l.Name) {
		errs = append(errs, fmt.Errorf("ratelimit: limit name %q: use 1 to 64 letters, digits, dashes, underscores or dots", l.Name))
	}
	if l.Algorithm > GCRA {
		errs = append(errs, fmt.Errorf("ratelimit: limit %s: unknown algorithm", l.Name))
	}
	if l.Rate < 1 || l.Rate > 1e9 {
		errs = append(errs, fmt.Errorf("ratelimit: limit %s: rate %d out of range 1 to 1e9", l.Name, l.Rate))
	}
	if l.Period < time.Millisecond || l.Period > 366*24*time.Hour {
		errs = append(errs, fmt.Errorf("ratelimit: limit %s: period %s out of range 1ms to 8784h", l.Name, l.Period))
	}
	if l.Burst < 1 || l.Burst > 1e9 {
		errs = append(errs, fmt.Errorf("ratelimit: limit %s: burst %d out of range 1 to 1e9", l.Name, l.Burst))
	} else if l.Period > 0 && l.Burst > math.MaxInt64/2/int64(l.Period) {
		// Credit and the GCRA arrival time reach (burst + cost) × period
		// in nanoseconds: past int64 they would saturate and admit too
		// much. For a 24 h period this caps the burst near 53,000.
		errs = append(errs, fmt.Errorf("ratelimit: limit %s: burst %d × period %s is too large (2 × burst × period must fit in int64 nanoseconds)", l.Name, l.Burst, l.Period))
	}
	return errors.Join(errs...)
}

func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// InfDuration is the RetryAfter of a request that can never be allowed:
// its cost exceeds the limit's Burst (or is below 1), so no amount of
// waiting makes it conform. It is the largest Duration, as in
// golang.org/x/time/rate; do not add to it (check for it first).
const InfDuration = time.Duration(math.MaxInt64)

// Result is the outcome of one limit for one request.
type Result struct {
	Allowed bool
	// Remaining is how many unit-cost requests the key could make now
	// (after this one, when it was allowed).
	Remaining int64
	// RetryAfter is how long until this request would be allowed (0 when
	// allowed). It is never negative; a request whose cost exceeds Burst
	// is denied with InfDuration, and its key's state is left unchanged.
	RetryAfter time.Duration
	// Reset is how long until the key is back to its full burst.
	Reset time.Duration
}

// The meter keeps one key's state in two int64 values (a, b) so that the
// in-process store, the Redis script and tests share one definition:
//
//   - TokenBucket: a = credit, b = time of the last update (ns). Credit is
//     measured in "token-periods": one token is Period nanoseconds of
//     credit, so refill is elapsed×Rate and every step is an exact integer
//     (no float rounding: admitted requests never exceed Burst plus
//     Rate×elapsed/Period, and are never fewer).
//   - GCRA: a = theoretical arrival time scaled by Rate (ns×Rate, relative
//     to b), b = the epoch the TAT is relative to. Keeping the TAT relative
//     and scaled keeps it exact for any Rate/Period without overflow.
//
// A zero state is a fresh key (full bucket).

// decide applies cost at now to state (a, b) and returns the new state
// and the result. It never changes the state of a denied request.
//
// A cost outside 1..Burst can never conform (a bucket never holds more
// than Burst tokens; a GCRA request of n cells needs n−1 ≤ Burst−1 cells
// of tolerance), so it is denied before any arithmetic: multiplying such
// a cost by the period is what overflowed the GCRA arrival time and let
// one request of cost 2^63−1 reset a key to full. The check costs two
// comparisons and also catches cost ≤ 0 (a Store called directly).
func (l *Limit) decide(a, b, now, cost int64) (na, nb int64, r Result) {
	if cost < 1 || cost > l.Burst {
		return a, b, l.never(a, b, now)
	}
	if l.Algorithm == GCRA {
		return l.decideGCRA(a, b, now, cost)
	}
	return l.decideBucket(a, b, now, cost)
}

// capacity is Burst tokens in token-period units.
func (l *Limit) capacity() int64 {
	if l.capTP != 0 {
		return l.capTP
	}
	return satMul(l.Burst, int64(l.Period))
}

func (l *Limit) decideBucket(credit, last, now, cost int64) (int64, int64, Result) {
	capacity := l.capacity()
	credit = l.refill(credit, last, now, capacity)
	last = max(last, now)
	period := int64(l.Period)
	need := cost * period // cost ≤ Burst (decide): ≤ capacity, no overflow
	if credit >= need {
		credit -= need
		return credit, last, Result{Allowed: true, Remaining: credit / period, Reset: ceilDiv(capacity-credit, l.Rate)}
	}
	return credit, last, Result{Remaining: credit / period, RetryAfter: ceilDiv(need-credit, l.Rate), Reset: l.untilFull(credit)}
}

// fillTime is how long an empty bucket takes to refill, plus one ns.
func (l *Limit) fillTime() int64 {
	if l.fillTP != 0 {
		return l.fillTP
	}
	return l.capacity()/l.Rate + 1
}

// untilFull is how long credit takes to refill to capacity.
func (l *Limit) untilFull(credit int64) time.Duration {
	return ceilDiv(l.capacity()-credit, l.Rate)
}

// decideGCRA implements the virtual scheduling algorithm with time scaled
// by Rate: one request advances the TAT by Period (= Rate × emission
// interval), the tolerance is (Burst−1)×Period. A request of cost n
// conforms when TAT + (n−1)×Period − now×Rate ≤ tolerance.
func (l *Limit) decideGCRA(tat, epoch, now, cost int64) (int64, int64, Result) {
	period := int64(l.Period)
	if epoch == 0 {
		epoch = now
	}
	// Scaled now relative to the epoch; re-base when the key was idle long
	// enough that its TAT is in the past, so values stay small.
	rel := now - epoch
	if rel < 0 {
		rel = 0
	}
	nowS := satMul(rel, l.Rate)
	if tat < nowS {
		tat, epoch, nowS = 0, now, 0
	}
	tolerance := satMul(l.Burst-1, period)
	newTAT := tat + satMul(cost, period)
	// Allowed if newTAT − period ≤ nowS + tolerance (the last cell of this
	// request arrives within the tolerance).
	if newTAT-period-nowS <= tolerance {
		remaining := (nowS + tolerance - (newTAT - period)) / period
		// Store the TAT relative to now: values stay bounded by the burst
		// however long a key stays busy.
		return newTAT - nowS, now, Result{Allowed: true, Remaining: remaining, Reset: ceilDiv(newTAT-nowS, l.Rate)}
	}
	wait := newTAT - period - nowS - tolerance
	remaining := int64(0)
	if tat-nowS <= tolerance+period { // what fits now
		remaining = (nowS + tolerance + period - tat) / period
		if remaining < 0 {
			remaining = 0
		}
	}
	return tat, epoch, Result{Remaining: remaining, RetryAfter: ceilDiv(wait, l.Rate), Reset: ceilDiv(tat-nowS, l.Rate)}
}

// never is the result for a request that can never be allowed: denied
// with InfDuration, reporting the key's current Remaining and Reset. The
// caller keeps the state it passed in.
func (l *Limit) never(a, b, now int64) Result {
	var rem int64
	var reset time.Duration
	if l.Algorithm == GCRA {
		rem, reset = l.peekGCRA(a, b, now)
	} else {
		rem, reset = l.peekBucket(a, b, now)
	}
	return Result{Remaining: rem, RetryAfter: InfDuration, Reset: reset}
}

// peekBucket is the token bucket's Remaining and Reset at now, without a
// request (the refill of decideBucket).
func (l *Limit) peekBucket(credit, last, now int64) (int64, time.Duration) {
	credit = l.refill(credit, last, now, l.capacity())
	return credit / int64(l.Period), l.untilFull(credit)
}

// refill is the token bucket's credit at now: full for a fresh key (no
// state), else the stored credit plus what elapsed since last, capped at
// capacity. Elapsed is clamped before multiplying: past a full refill it
// does not matter, and it keeps elapsed×Rate from overflowing (fillTime,
// capacity/Rate + 1, refills even an empty bucket, and below it
// elapsed×Rate < capacity + Rate cannot overflow).
func (l *Limit) refill(credit, last, now, capacity int64) int64 {
	if last == 0 && credit == 0 {
		return capacity
	}
	if now <= last {
		return credit
	}
	if elapsed := now - last; elapsed >= l.fillTime() {
		return capacity
	}
	return min(capacity, credit+(now-last)*l.Rate)
}

// peekGCRA is the GCRA meter's Remaining and Reset at now, without a
// request (the denial branch of decideGCRA).
func (l *Limit) peekGCRA(tat, epoch, now int64) (int64, time.Duration) {
	period := int64(l.Period)
	if epoch == 0 {
		epoch = now
	}
	nowS := satMul(max(now-epoch, 0), l.Rate)
	if tat < nowS {
		tat, nowS = 0, 0
	}
	tolerance := satMul(l.Burst-1, period)
	remaining := int64(0)
	if tat-nowS <= tolerance+period {
		remaining = max(0, (nowS+tolerance+period-tat)/period)
	}
	return remaining, ceilDiv(tat-nowS, l.Rate)
}

// ceilDiv returns ceil(x/rate) nanoseconds as a Duration, 0 for x ≤ 0.
// It divides before rounding, so x near MaxInt64 cannot overflow into a
// negative wait (x + rate − 1 did).
func ceilDiv(x, rate int64) time.Duration {
	if x <= 0 {
		return 0
	}
	q := x / rate
	if x%rate != 0 {
		q++
	}
	return time.Duration(q)
}

func satMul(a, b int64) int64 {
	if a == 0 || b == 0 {
		return 0
	}
	if a > math.MaxInt64/b {
		return math.MaxInt64
	}
	return a * b
}
