package jwtauth

import (
	"context"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
)

// Claims are the verified claims of a token. A *Claims returned by Verify
// may be shared with other requests through the verified-token cache: treat
// it as read-only.
type Claims struct {
	Issuer    string
	Subject   string
	Audience  []string
	ExpiresAt time.Time
	NotBefore time.Time // zero when absent
	IssuedAt  time.Time // zero when absent
	ID        string    // jti
	ClientID  string    // client_id (RFC 9068 §2.2)
	Scope     string    // space-separated scopes (RFC 9068 §2.2.3)
	// JKT is cnf.jkt: the RFC 7638 thumbprint of the DPoP key the token is
	// bound to (RFC 9449 §6.1); empty for bearer tokens.
	JKT string
	// Raw is the whole payload as received (already checked to be one JSON
	// object without duplicate members).
	Raw json.RawMessage

	scopes []string
}

// Scopes returns the scope claim split on spaces.
func (c *Claims) Scopes() []string { return c.scopes }

// HasScope reports whether the token carries scope s.
func (c *Claims) HasScope(s string) bool {
	for _, x := range c.scopes {
		if x == s {
			return true
		}
	}
	return false
}

type claimsKey struct{}

// WithClaims returns ctx carrying c (the middleware does this).
func WithClaims(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, claimsKey{}, c)
}

// ClaimsFrom returns the claims the middleware stored in ctx.
func ClaimsFrom(ctx context.Context) (*Claims, bool) {
	c, ok := ctx.Value(claimsKey{}).(*Claims)
	return c, ok
}

// rawClaims is the payload as decoded. Time claims and aud stay raw so their
// JSON types are checked exactly.
type rawClaims struct {
	Iss      *string         `json:"iss"`
	Sub      *string         `json:"sub"`
	Aud      json.RawMessage `json:"aud"`
	Exp      json.RawMessage `json:"exp"`
	Nbf      json.RawMessage `json:"nbf"`
	Iat      json.RawMessage `json:"iat"`
	Jti      *string         `json:"jti"`
	ClientID *string         `json:"client_id"`
	Scope    *string         `json:"scope"`
	Cnf      *struct {
		JKT string `json:"jkt"`
	} `json:"cnf"`
}

// maxNumericDate is 9999-12-31T23:59:59Z: larger "dates" are overflow
// tricks (exp of 1e19 wrapping to the past or to "never").
const maxNumericDate = 253402300799

// decodeClaims decodes the payload and checks claim types; presence and
// values are checked by the verifier.
func decodeClaims(payload []byte) (*Claims, *rawClaims, error) {
	var rc rawClaims
	if err := json.Unmarshal(payload, &rc); err != nil {
		return nil, nil, reject(ReasonBadClaim, "a registered claim has the wrong JSON type")
	}
	c := &Claims{Raw: json.RawMessage(payload)}
	if rc.Iss != nil {
		c.Issuer = *rc.Iss
	}
	if rc.Sub != nil {
		c.Subject = *rc.Sub
	}
	if rc.Jti != nil {
		c.ID = *rc.Jti
	}
	if rc.ClientID != nil {
		c.ClientID = *rc.ClientID
	}
	if rc.Scope != nil {
		c.Scope = *rc.Scope
		c.scopes = strings.Fields(c.Scope)
	}
	if rc.Cnf != nil {
		c.JKT = rc.Cnf.JKT
	}
	var err error
	if c.Audience, err = decodeAudience(rc.Aud); err != nil {
		return nil, nil, err
	}
	for _, f := range []struct {
		name string
		raw  json.RawMessage
		dst  *time.Time
	}{{"exp", rc.Exp, &c.ExpiresAt}, {"nbf", rc.Nbf, &c.NotBefore}, {"iat", rc.Iat, &c.IssuedAt}} {
		if f.raw == nil {
			continue
		}
		if *f.dst, err = numericDate(f.name, f.raw); err != nil {
			return nil, nil, err
		}
	}
	return c, &rc, nil
}

// numericDate parses an RFC 7519 NumericDate: a JSON number (never a
// string), positive, at most year 9999. Fractions are allowed.
func numericDate(name string, raw json.RawMessage) (time.Time, error) {
	s := string(raw)
	if s == "null" || s == "" || s[0] == '"' || s[0] == '[' || s[0] == '{' || s == "true" || s == "false" {
		return time.Time{}, reject(ReasonBadClaim, "%s is not a number", name)
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return time.Time{}, reject(ReasonBadClaim, "%s is not a number", name)
	}
	// 0 is not "no expiry" and negative dates are nonsense for tokens.
	if v <= 0 || v > maxNumericDate {
		return time.Time{}, reject(ReasonBadClaim, "%s is out of range", name)
	}
	sec, frac := math.Modf(v)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
}

// decodeAudience accepts a string or an array of strings (RFC 7519 §4.1.3).
func decodeAudience(raw json.RawMessage) ([]string, error) {
	if raw == nil {
		return nil, nil
	}
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil || raw[0] != '[' {
		return nil, reject(ReasonBadClaim, "aud is neither a string nor an array of strings")
	}
	return many, nil
}
