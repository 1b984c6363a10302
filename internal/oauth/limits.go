package oauth

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/identity"
	"github.com/rampart-auth/rampart/ratelimit"
)

// maxLoginDelay caps the progressive delay of one sign-in attempt.
const maxLoginDelay = 8 * time.Second

// loginDelay is the progressive delay for an attempt that leaves
// remaining of burst attempts: none while more than half remain, then 1 s,
// 2 s, 4 s, … up to maxLoginDelay (OWASP Authentication Cheat Sheet:
// slow down repeated attempts before locking).
func loginDelay(remaining, burst int64) time.Duration {
	over := burst/2 - remaining
	if over <= 0 {
		return 0
	}
	if over > 4 {
		return maxLoginDelay
	}
	return min(maxLoginDelay, time.Duration(1<<(over-1))*time.Second)
}

// limitLogin applies the sign-in limits before the password is checked.
// The username key is the normalized name whether or not the account
// exists, so the limit, the delay and the lock behave the same for every
// name and reveal nothing. It returns false when the attempt was refused
// (the answer is written).
func (s *Server) limitLogin(w http.ResponseWriter, r *http.Request, ret, username, shown string) bool {
	l := s.opts.LoginLimiter
	if l == nil {
		return true
	}
	nameKey, err := identity.NormalizeUsername(username)
	if err != nil {
		nameKey = "" // cannot match an account; the IP limit still applies
	}
	ip := s.addrKey(r)
	var res [2]ratelimit.Result // per IP, per username
	d, err := l.Decide(r.Context(), 1, res[:], ip, nameKey)
	if err != nil {
		s.log.ErrorContext(r.Context(), "login rate limiter", "err", err)
		s.renderLogin(w, r, http.StatusServiceUnavailable, ret, shown, "Sign-in is unavailable right now. Try again shortly.")
		return false
	}
	if !d.Allowed {
		reason := "rate_limited_ip"
		if d.Denied == 1 {
			reason = "locked_username"
		}
		s.audit(r, audit.Event{Actor: "anonymous", Action: audit.ActionLogin, Target: "username:" + s.opts.Audit.Pseudonymize(username),
			Outcome: audit.OutcomeDenied, Reason: reason, Details: map[string]string{"retry_after_s": strconv.FormatInt(retrySecs(d.RetryAfter), 10)}})
		w.Header().Set("Retry-After", strconv.FormatInt(retrySecs(d.RetryAfter), 10))
		mins := (retrySecs(d.RetryAfter) + 59) / 60
		s.renderLogin(w, r, http.StatusTooManyRequests, ret, shown, "Too many sign-in attempts. Try again in "+strconv.FormatInt(mins, 10)+" minute(s).")
		return false
	}
	if nameKey != "" {
		if delay := loginDelay(res[1].Remaining, l.Limits()[1].Burst); delay > 0 {
			sleep := s.opts.Sleep
			if sleep == nil {
				sleep = sleepCtx
			}
			if err := sleep(r.Context(), delay); err != nil {
				return false
			}
		}
	}
	return true
}

// addrKey is the rate-limit key of the request's client address: the one
// place the authorization server's limits learn who is asking (IPv6
// grouped by /64, see ratelimit.ClientIPKey). The address is the one
// httpx.ClientAddr resolved once for the request (http.trusted_proxies and
// their one header), the same one audit events and the access log name;
// without that middleware it is the socket peer. The server never reads a
// forwarding header itself.
func (s *Server) addrKey(r *http.Request) string { return clientAddrKey(r) }

// clientAddrKey is built once: building a KeyFunc per request would
// allocate its closure on every token and sign-in request.
var clientAddrKey = ratelimit.ClientIPKey(nil)

func retrySecs(d time.Duration) int64 { return max(1, int64((d+time.Second-1)/time.Second)) }

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Limit names of TokenLimiter. They differ from the sign-in limits' ("ip",
// "username"): a shared store keys buckets by (limit name, key).
const (
	LimitTokenClient      = "client"
	LimitTokenIP          = "token_ip"
	LimitClientAuthFailed = "client_auth_failed"
)

// tokenLimit finds the TokenLimiter's limit called name; keys is a key
// slice for the limiter with every entry "" (skipped). ok is false when
// there is no such limit.
func (s *Server) tokenLimit(name string) (l *ratelimit.Limiter, lim ratelimit.Limit, i int, keys []string, ok bool) {
	l = s.opts.TokenLimiter
	if l == nil {
		return nil, lim, -1, nil, false
	}
	limits := l.Limits()
	for i := range limits {
		if limits[i].Name == name {
			return l, limits[i], i, make([]string, len(limits)), true
		}
	}
	return nil, lim, -1, nil, false
}

// limitToken applies the per-client token limit after authentication (so
// nobody can spend another client's budget by sending its id).
//
// A confidential client proved who it is and keeps one budget per client,
// charged here.
//
// A public client "authenticates" by its id alone (RFC 6749 §2.1: it
// cannot keep a secret), so anyone can send that id. Its budget is kept per
// (client, address) and charged only for requests whose code or refresh
// token was valid (chargeToken, after the grant succeeded); here it is only
// read. Junk requests naming client_id=web therefore spend nothing of any
// user's budget, not even of users behind the attacker's own address (one
// NAT, one office); they spend the address's token_ip budget instead. A
// user of the app who holds valid tokens and refreshes in a loop spends
// only the budget of their own address: a refresh token rotates into a new
// valid one every time, so a budget per client alone would let one account
// lock every user out.
func (s *Server) limitToken(w http.ResponseWriter, r *http.Request, c *Client) bool {
	l, _, i, keys, ok := s.tokenLimit(LimitTokenClient)
	if !ok {
		return true
	}
	keys[i] = s.tokenClientKey(r, c)
	ctx := r.Context()
	if c.Public {
		spent, retry, err := s.budgetSpent(ctx, LimitTokenClient, keys[i])
		if err != nil {
			s.log.ErrorContext(ctx, "token rate limiter", "err", err)
			writeUnavailable(w, time.Second)
			return false
		}
		if spent {
			return s.refuseToken(w, r, c, retry)
		}
		return true
	}
	d, err := l.Allow(ctx, keys...)
	if err != nil {
		s.log.ErrorContext(ctx, "token rate limiter", "err", err)
		writeUnavailable(w, time.Second)
		return false
	}
	if !d.Allowed {
		return s.refuseToken(w, r, c, d.RetryAfter)
	}
	return true
}

// chargeToken spends one of a public client's (client, address) budget
// once a grant succeeded (see limitToken). Concurrent valid requests may
// overshoot the budget by the few that read it before the others were
// charged; junk requests are never charged.
func (s *Server) chargeToken(r *http.Request, c *Client) {
	if c.Public {
		s.spendBudget(r.Context(), LimitTokenClient, s.tokenClientKey(r, c))
	}
}

// budgetSpent reads the TokenLimiter's limit name for key without spending
// it: a request costing more than the burst is always denied, charges
// nothing and reports what remains. spent is true when not one unit is
// left, and retry is then when one is back (one unit refills within
// Period/Rate). A limiter without that limit has nothing spent.
func (s *Server) budgetSpent(ctx context.Context, name, key string) (spent bool, retry time.Duration, err error) {
	l, lim, i, keys, ok := s.tokenLimit(name)
	if !ok {
		return false, 0, nil
	}
	keys[i] = key
	res := make([]ratelimit.Result, len(keys))
	if _, err := l.Decide(ctx, lim.Burst+1, res, keys...); err != nil {
		return false, 0, err
	}
	if res[i].Remaining >= 1 {
		return false, 0, nil
	}
	return true, (lim.Period + time.Duration(lim.Rate) - 1) / time.Duration(lim.Rate), nil
}

// spendBudget spends one unit of the TokenLimiter's limit name for key
// (after the fact: the request it pays for was already served or failed).
// A failure is logged; the request's outcome stands.
func (s *Server) spendBudget(ctx context.Context, name, key string) {
	l, _, i, keys, ok := s.tokenLimit(name)
	if !ok {
		return
	}
	keys[i] = key
	if _, err := l.Allow(ctx, keys...); err != nil {
		s.log.ErrorContext(ctx, "rate limiter", "limit", name, "err", err)
	}
}

// tokenClientKey is the key of c's token budget: the client id, or for a
// public client the id and the address ('|' never occurs in a client id,
// so these keys are disjoint from every confidential client's).
func (s *Server) tokenClientKey(r *http.Request, c *Client) string {
	if c.Public {
		return c.ID + "|" + s.addrKey(r)
	}
	return c.ID
}

// refuseToken audits and answers a token request over its client's budget.
func (s *Server) refuseToken(w http.ResponseWriter, r *http.Request, c *Client, retry time.Duration) bool {
	secs := retrySecs(retry)
	s.audit(r, audit.Event{Actor: "client:" + c.ID, Action: audit.ActionToken, Target: "client:" + c.ID, Outcome: audit.OutcomeDenied, Reason: "rate_limited",
		Details: map[string]string{"retry_after_s": strconv.FormatInt(secs, 10)}})
	writeTooMany(w, secs, "the client's token rate limit is exceeded")
	return false
}

// limitClientAuth applies the per-address limits in front of client
// authentication at the token, revocation and introspection endpoints,
// before any secret is verified:
//
//   - every request from the address spends one of "token_ip", so no
//     address gets unlimited unauthenticated work (each wrong secret of a
//     secret_hash client costs an argon2id verification);
//   - a client id whose authentication failed too often from this address
//     ("client_auth_failed", charged by failedClientAuth) is refused
//     whatever the secret until the budget refills, which stops online
//     guessing of that client's secret (OWASP Authentication Cheat Sheet,
//     "Protect against automated attacks"). The budget is per (address,
//     client id), so a stranger locks a client out of the stranger's own
//     address only.
//
// id is the client id the request names. It returns false when the
// request was refused (the answer is written).
func (s *Server) limitClientAuth(w http.ResponseWriter, r *http.Request, action, id string) bool {
	ctx := r.Context()
	addr := s.addrKey(r)
	refuse := func(reason, what string, retry time.Duration) bool {
		secs := retrySecs(retry)
		s.audit(r, audit.Event{Actor: "anonymous", Action: action, Target: s.clientTarget(id), Outcome: audit.OutcomeDenied, Reason: reason,
			Details: map[string]string{"retry_after_s": strconv.FormatInt(secs, 10)}})
		writeTooMany(w, secs, what)
		return false
	}
	if l, _, i, keys, ok := s.tokenLimit(LimitTokenIP); ok {
		keys[i] = addr
		d, err := l.Allow(ctx, keys...)
		if err != nil {
			s.log.ErrorContext(ctx, "client authentication rate limiter", "err", err)
			writeUnavailable(w, time.Second)
			return false
		}
		if !d.Allowed {
			return refuse("rate_limited_ip", "too many requests from this address", d.RetryAfter)
		}
	}
	spent, retry, err := s.budgetSpent(ctx, LimitClientAuthFailed, failKey(addr, id))
	if err != nil {
		s.log.ErrorContext(ctx, "client authentication rate limiter", "err", err)
		writeUnavailable(w, time.Second)
		return false
	}
	if spent {
		return refuse("client_auth_locked", "too many failed client authentications from this address", retry)
	}
	return true
}

// failedClientAuth spends one of the address's failure budget for the
// client id (see limitClientAuth).
func (s *Server) failedClientAuth(r *http.Request, id string) {
	s.spendBudget(r.Context(), LimitClientAuthFailed, failKey(s.addrKey(r), id))
}

// failKey is the failure-budget key of a client id from an address. Ids
// that cannot be client ids share one bucket per address: they cost no
// secret verification, and attacker-chosen text must not mint keys.
func failKey(addr, id string) string {
	if !config.ValidClientID(id) {
		id = "~"
	}
	return addr + "|" + id
}

// writeTooMany answers 429 with Retry-After and an RFC 6749 §5.2-shaped
// body.
func writeTooMany(w http.ResponseWriter, secs int64, what string) {
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	writeJSON(w, http.StatusTooManyRequests, map[string]string{"error": "too_many_requests",
		"error_description": what + "; retry after " + strconv.FormatInt(secs, 10) + " s"})
}

// writeUnavailable answers 503 temporarily_unavailable with Retry-After.
func writeUnavailable(w http.ResponseWriter, after time.Duration) {
	w.Header().Set("Retry-After", strconv.FormatInt(retrySecs(after), 10))
	writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "temporarily_unavailable", "error_description": "try again shortly"})
}

// limitPasswordCheck applies the sign-in limits (per address, per
// username) to a password change's check of the current password, so a
// stolen session cannot guess the password faster than the login form
// allows. It writes the refusal and returns false when limited.
func (s *Server) limitPasswordCheck(w http.ResponseWriter, r *http.Request, user *identity.User, ret string) bool {
	l := s.opts.LoginLimiter
	if l == nil {
		return true
	}
	var res [2]ratelimit.Result
	d, err := l.Decide(r.Context(), 1, res[:], s.addrKey(r), user.Username)
	if err != nil {
		s.log.ErrorContext(r.Context(), "password rate limiter", "err", err)
		s.renderPassword(w, r, http.StatusServiceUnavailable, user, ret, "The password could not be changed right now. Try again shortly.")
		return false
	}
	if !d.Allowed {
		s.audit(r, audit.Event{Actor: "user:" + user.ID, Action: audit.ActionPasswordChange, Target: "user:" + user.ID, Outcome: audit.OutcomeDenied, Reason: "rate_limited"})
		w.Header().Set("Retry-After", strconv.FormatInt(retrySecs(d.RetryAfter), 10))
		s.renderPassword(w, r, http.StatusTooManyRequests, user, ret, "Too many attempts. Try again later.")
		return false
	}
	return true
}
