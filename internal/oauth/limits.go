package oauth

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
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
		s.audit(r, audit.Event{Actor: "anonymous", Action: "auth.login", Target: "username:" + s.opts.Audit.Pseudonymize(username),
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
func (s *Server) addrKey(r *http.Request) string {
	return ratelimit.ClientIPKey(nil)(r)
}

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

// limitToken applies the per-client token limit after authentication (so
// nobody can spend another client's budget by sending its id).
func (s *Server) limitToken(w http.ResponseWriter, r *http.Request, c *Client) bool {
	l := s.opts.TokenLimiter
	if l == nil {
		return true
	}
	d, err := l.Allow(r.Context(), c.ID)
	if err != nil {
		s.log.ErrorContext(r.Context(), "token rate limiter", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "temporarily_unavailable", "error_description": "try again shortly"})
		return false
	}
	if !d.Allowed {
		secs := retrySecs(d.RetryAfter)
		s.audit(r, audit.Event{Actor: "client:" + c.ID, Action: "oauth.token", Target: "client:" + c.ID, Outcome: audit.OutcomeDenied, Reason: "rate_limited"})
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
		writeJSON(w, http.StatusTooManyRequests, map[string]string{"error": "too_many_requests", "error_description": "the client's token rate limit is exceeded; retry after " + strconv.FormatInt(secs, 10) + " s"})
		return false
	}
	return true
}
