package oauth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rampart-auth/rampart/internal/identity"
)

// ParamLoginProof is the parameter the server adds to an authorization
// request after a sign-in made for it. It carries the time of that sign-in
// and an HMAC, under Options.LoginProofKey, over the time, the new
// session and the rest of the request. prompt=login and max_age are kept
// in the request carried through the login page and are satisfied only by
// a valid proof: the relying party's request cannot be replayed with an
// older session, a stripped proof asks for sign-in again, and a forged or
// copied one (another request, another session) is worthless (OIDC Core
// §3.1.2.1: the server must actively re-authenticate or answer an error).
const ParamLoginProof = "rampart_login"

// LoginProofTTL bounds how long after a sign-in its proof still counts: a
// request is followed right after the sign-in, so ten minutes is plenty
// and keeps a leaked URL from proving a "fresh" sign-in much later.
const LoginProofTTL = 10 * time.Minute

// loginProofMAC is the HMAC of a proof. The fields are separated by NUL,
// which none of them can contain (the request is URL-encoded, the time is
// decimal, the session hash is hex): the input is unambiguous.
func (s *Server) loginProofMAC(sessionHash []byte, at int64, request string) []byte {
	m := hmac.New(sha256.New, s.opts.LoginProofKey)
	m.Write([]byte("rampart-login-proof\x00"))
	m.Write(sessionHash)
	m.Write([]byte("\x00" + strconv.FormatInt(at, 10) + "\x00" + request))
	return m.Sum(nil)
}

// loginProof is the proof that sess was started at its AuthTime by a
// sign-in for request (the canonical request, without a proof).
func (s *Server) loginProof(sess *identity.Session, request string) string {
	at := sess.AuthTime.UnixNano()
	return strconv.FormatInt(at, 10) + "." + base64.RawURLEncoding.EncodeToString(s.loginProofMAC(sess.IDHash, at, request))
}

// freshLogin reports whether a carries a valid proof of a sign-in that
// started sess for exactly this request, no longer than LoginProofTTL ago.
func (s *Server) freshLogin(a *authzContext, sess *identity.Session) bool {
	if sess == nil || a.proof == "" {
		return false
	}
	at, got, ok := parseLoginProof(a.proof)
	if !ok || at != sess.AuthTime.UnixNano() || !hmac.Equal(got, s.loginProofMAC(sess.IDHash, at, a.canon)) {
		return false
	}
	age := s.now().Sub(time.Unix(0, at))
	// A small negative age is clock skew between the instances that made
	// the session and this one; a large one is not a sign-in we made.
	return age <= LoginProofTTL && age >= -time.Minute
}

// needsLogin reports whether the request needs a (new) sign-in: there is
// no usable session, or prompt=login or max_age asks for one that the
// session does not satisfy and no fresh sign-in was made for the request.
func (s *Server) needsLogin(a *authzContext, sess *identity.Session) bool {
	if sess == nil {
		return true
	}
	// max_age beyond 2^32 s (136 years) would overflow a Duration; no
	// session is that old.
	reauth := slices.Contains(a.req.Prompt, "login") ||
		(a.req.MaxAge >= 0 && int64(a.req.MaxAge) < 1<<32 && s.now().Sub(sess.AuthTime) > time.Duration(a.req.MaxAge)*time.Second)
	return reauth && !s.freshLogin(a, sess)
}

// parseLoginProof splits a proof ("<unix ns>.<base64url MAC>", as
// loginProof writes it) into its time and MAC. Anything else, which an
// attacker may put in the parameter, is not a proof.
func parseLoginProof(p string) (at int64, mac []byte, ok bool) {
	ts, m, found := strings.Cut(p, ".")
	if !found || len(m) != base64.RawURLEncoding.EncodedLen(sha256.Size) {
		return 0, nil, false
	}
	at, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return 0, nil, false
	}
	// Go's base64 decoder skips CR and LF, so the length of the text alone
	// does not bound the MAC: require the canonical encoding of 32 bytes.
	mac, err = base64.RawURLEncoding.DecodeString(m)
	if err != nil || len(mac) != sha256.Size || base64.RawURLEncoding.EncodeToString(mac) != m {
		return 0, nil, false
	}
	return at, mac, true
}
