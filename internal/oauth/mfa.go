package oauth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/identity"
	"github.com/rampart-auth/rampart/ratelimit"
)

// Authentication context class references (OIDC Core §2 acr) of the ID
// and access tokens. The admin API checks them.
const (
	// ACRMFA: the sign-in used the password and the TOTP second factor.
	ACRMFA = "urn:rampart:acr:mfa"
	// ACRPassword: the sign-in used the password only.
	ACRPassword = "urn:rampart:acr:pwd" // #nosec G101 -- an acr URN, not a credential
)

// acrOf is the acr of a sign-in with the methods amr ("" for none: a
// client credentials token has no user).
func acrOf(amr []string) string {
	switch {
	case len(amr) == 0:
		return ""
	case slices.Contains(amr, identity.AMROTP):
		return ACRMFA
	}
	return ACRPassword
}

// mfaRequired reports whether an authorization needs the second factor:
// every admin (their sessions can change what the server does), a client
// registered with require_mfa, and a request asking for ACRMFA in
// acr_values (OIDC Core §3.1.2.1; a voluntary claim we honour by stepping
// up, never by ignoring it).
func mfaRequired(a *authzContext, user *identity.User) bool {
	return user.Role == identity.RoleAdmin || a.client.RequireMFA || slices.Contains(a.req.ACRValues, ACRMFA)
}

// needsMFA reports whether the session must step up before a.
func needsMFA(a *authzContext, user *identity.User, sess *identity.Session) bool {
	return mfaRequired(a, user) && !slices.Contains(sess.AMR, identity.AMROTP)
}

// PendingLoginTTL bounds the time between the password (or the session a
// step-up starts from) and the second factor.
const PendingLoginTTL = 5 * time.Minute

// Pending sign-in kinds.
const (
	pendingOTP   = "otp"   // a confirmed TOTP: enter a code
	pendingEnrol = "enrol" // no TOTP but one is required: set it up
)

// pendingLogin is the result of the password step carried to the second
// one in a hidden input: no session exists before the second factor. It
// is HMAC-signed (a forged or edited one fails), bound to the browser's
// CSRF token and the return value (a copy used from another browser, or
// for another request, fails), expires after PendingLoginTTL, and is bound
// to the user's enrolment use counter, which every accepted second factor
// and the OTP lockout bump: it dies once used or locked, on every
// instance, by the database's conditional UPDATE.
type pendingLogin struct {
	User string `json:"u"`
	Kind string `json:"k"`
	Uses int64  `json:"n"`
	At   int64  `json:"t"` // Unix nanoseconds of issue
	Bind string `json:"b"` // pendingBinding(csrf, return)
}

// pendingBinding ties a pending sign-in to the browser (its CSRF form
// token, which is an HMAC of its CSRF cookie) and to the return value.
func pendingBinding(csrf, ret string) string {
	h := sha256.Sum256([]byte("rampart pending binding\x00" + csrf + "\x00" + ret))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// pendingKeyFrom derives the pending sign-in key from the login proof key
// (HKDF-like domain separation with HMAC: the same fleet-wide data key,
// another purpose, so a login proof is never a pending token or back).
func pendingKeyFrom(loginProofKey []byte) []byte {
	m := hmac.New(sha256.New, loginProofKey)
	m.Write([]byte("rampart pending login key v1"))
	return m.Sum(nil)
}

func (s *Server) pendingMAC(payload string) []byte {
	m := hmac.New(sha256.New, s.pendingKey)
	m.Write([]byte("rampart-pending-login\x00" + payload))
	return m.Sum(nil)
}

// mintPending signs p, bound to csrf and ret. A new pending sign-in is
// issued now; a re-minted one (the page again after a wrong code) keeps
// its time, so wrong codes cannot stretch it past PendingLoginTTL.
func (s *Server) mintPending(p pendingLogin, csrf, ret string) string {
	if p.At == 0 {
		p.At = s.now().UnixNano()
	}
	p.Bind = pendingBinding(csrf, ret)
	b, _ := json.Marshal(p)
	payload := base64.RawURLEncoding.EncodeToString(b)
	return payload + "." + base64.RawURLEncoding.EncodeToString(s.pendingMAC(payload))
}

// maxPendingToken bounds the hidden input parsed (a real one is ~200 bytes).
const maxPendingToken = 1024

// openPending verifies a pending token for the browser's csrf token and
// the return value; kind is the step it must be for.
func (s *Server) openPending(tok, csrf, ret, kind string) (*pendingLogin, bool) {
	payload, mac, ok := strings.Cut(tok, ".")
	if !ok || len(tok) > maxPendingToken {
		return nil, false
	}
	// Strict: a MAC has one encoding (no ignored trailing bits).
	got, err := base64.RawURLEncoding.Strict().DecodeString(mac)
	if err != nil || !hmac.Equal(got, s.pendingMAC(payload)) {
		return nil, false
	}
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return nil, false
	}
	var p pendingLogin
	if err := json.Unmarshal(b, &p); err != nil || p.User == "" || p.Kind != kind {
		return nil, false
	}
	if !hmac.Equal([]byte(p.Bind), []byte(pendingBinding(csrf, ret))) {
		return nil, false
	}
	age := s.now().Sub(time.Unix(0, p.At))
	// A small negative age is clock skew between instances.
	if age > PendingLoginTTL || age < -time.Minute {
		return nil, false
	}
	return &p, true
}

// LimitOTPUser is the OTP limiter's one limit: second-factor attempts per
// user, separate from the password's "ip" and "username" (Keycloak
// #46164: one counter for both factors lets a password guesser lock the
// second factor and the reverse).
const LimitOTPUser = "otp_per_user"

// NewOTPLimiter builds the second-factor limiter from
// rate_limits.otp_per_user: fleet-wide on Redis when rc is not nil (with
// the full limit enforced locally when Redis fails), in process otherwise.
func NewOTPLimiter(rl config.RateLimits, rc redis.UniversalClient, logger *slog.Logger) (*ratelimit.Limiter, error) {
	var store ratelimit.Store = ratelimit.NewMemoryStore(nil)
	if rc != nil {
		store = ratelimit.NewRedisStore(rc, ratelimit.RedisOptions{Prefix: rateLimitPrefix, Logger: logger,
			Failure: map[string]ratelimit.FailurePolicy{LimitOTPUser: ratelimit.FailLocal}})
	}
	l := rl.OTPPerUser
	return ratelimit.NewLimiter(store, ratelimit.Limit{Name: LimitOTPUser, Rate: l.Rate, Period: l.Period.D(), Burst: l.Burst})
}
