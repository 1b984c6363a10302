package oauth

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
)

// ClientAuthError is why AuthenticateBasicClient refused a request:
// Status is 401 (no or bad credentials), 429 (the address's failure budget
// for the client id is spent) or 503 (the secret could not be checked now);
// RetryAfter is set with 429 and 503. Reason is for logs and the audit
// trail; the caller answers without it.
type ClientAuthError struct {
	Status     int
	RetryAfter time.Duration
	Reason     string
}

func (e *ClientAuthError) Error() string {
	return fmt.Sprintf("oauth: client authentication refused (%d, %s)", e.Status, e.Reason)
}

// AuthenticateBasicClient authenticates the client of a request to another
// of Rampart's endpoints (the CA's enrolment endpoint, where an OAuth
// client obtains an X.509-SVID) that accepts HTTP Basic only
// (client_secret_basic, RFC 6749 §2.3.1). It is the token endpoint's one
// path, not a second secret check: the same per-address failure budget
// (rate_limits.client_auth_failures_per_ip, shared with the token
// endpoint, so the other endpoint is no second guessing oracle), the same
// authenticateClient with its form decoding and registered-method rule,
// and failures audited under action with their reason. It returns the
// authenticated client's id.
func (s *Server) AuthenticateBasicClient(r *http.Request, action string) (string, error) {
	if _, _, ok := r.BasicAuth(); !ok {
		return "", &ClientAuthError{Status: http.StatusUnauthorized, Reason: reasonInvalidClient}
	}
	ctx := r.Context()
	claimed := claimedClientID(r, nil)
	spent, retry, err := s.budgetSpent(ctx, LimitClientAuthFailed, failKey(s.addrKey(r), claimed))
	if err != nil {
		s.log.ErrorContext(ctx, "client authentication rate limiter", "err", err)
		return "", &ClientAuthError{Status: http.StatusServiceUnavailable, RetryAfter: time.Second, Reason: "rate_limiter_error"}
	}
	if spent {
		s.audit(r, audit.Event{Actor: "anonymous", Action: action, Target: s.clientTarget(claimed), Outcome: audit.OutcomeDenied, Reason: "client_auth_locked",
			Details: map[string]string{"retry_after_s": strconv.FormatInt(retrySecs(retry), 10)}})
		return "", &ClientAuthError{Status: http.StatusTooManyRequests, RetryAfter: retry, Reason: "client_auth_locked"}
	}
	c, a, e := s.authenticateClient(ctx, r, url.Values{})
	if e == nil {
		return c.ID, nil
	}
	target := s.clientTarget(a.id)
	switch e.Code {
	case ErrTemporarilyUnavailable:
		s.log.WarnContext(ctx, "client authentication unavailable", "endpoint", r.URL.Path, "client", target, "reason", a.reason)
		s.audit(r, audit.Event{Actor: "anonymous", Action: action, Target: target, Outcome: audit.OutcomeDenied, Reason: a.reason})
		return "", &ClientAuthError{Status: http.StatusServiceUnavailable, RetryAfter: time.Second, Reason: a.reason}
	case ErrInvalidClient:
		s.failedClientAuth(r, a.id)
		s.log.InfoContext(ctx, "client authentication failed", "endpoint", r.URL.Path, "client", target, "reason", a.reason)
		s.audit(r, audit.Event{Actor: "anonymous", Action: action, Target: target, Outcome: audit.OutcomeFailure, Reason: a.reason})
		return "", &ClientAuthError{Status: http.StatusUnauthorized, Reason: a.reason}
	default:
		if e.Status >= 500 {
			s.log.ErrorContext(ctx, "client authentication", "endpoint", r.URL.Path, "err", e)
			return "", &ClientAuthError{Status: http.StatusServiceUnavailable, RetryAfter: time.Second, Reason: "server_error"}
		}
		return "", &ClientAuthError{Status: http.StatusUnauthorized, Reason: e.Code}
	}
}
