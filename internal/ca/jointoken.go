package ca

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/rampart-auth/rampart/internal/audit"
)

// tokenPrefix versions the join token format
// rjt1.<base64url(32 random bytes)>.<base64url(sha256(root DER))>: the
// last part lets an agent pin the root on first contact (the discovery
// hash of kubeadm join).
const tokenPrefix = "rjt1."

// JoinTokenSpec binds a join token to exactly one SPIFFE ID, or to a
// pattern spiffe://<td>/prefix/* (IDs under the prefix, segment-aware).
type JoinTokenSpec struct {
	ID      *spiffeid.ID
	Pattern string
	TTL     time.Duration // 0: ca.join_token_ttl; at most that
}

// CreateJoinToken returns a new one-time join token and its expiry. Only
// its SHA-256 is stored; the audit event (ca.join_token) carries the
// binding and the expiry, never the token.
func (a *Authority) CreateJoinToken(ctx context.Context, s JoinTokenSpec, actor string) (string, time.Time, error) {
	rec := JoinTokenRecord{}
	binding := ""
	switch {
	case s.ID != nil && s.Pattern != "":
		return "", time.Time{}, errors.New("ca: join token: give a SPIFFE ID or a pattern, not both")
	case s.ID != nil:
		if !workloadID(a.td, *s.ID) {
			return "", time.Time{}, fmt.Errorf("ca: join token: %s is not a workload ID of trust domain %s (IDs under %s are Rampart's own)", s.ID, a.td.Name(), ReservedPath)
		}
		rec.ID, binding = s.ID.String(), s.ID.String()
	case s.Pattern != "":
		if _, err := parsePattern(a.td, s.Pattern); err != nil {
			return "", time.Time{}, err
		}
		rec.Pattern, binding = s.Pattern, s.Pattern
	default:
		return "", time.Time{}, errors.New("ca: join token: a SPIFFE ID or a pattern is required")
	}
	ttl := s.TTL
	if ttl == 0 {
		ttl = a.o.JoinTokenTTL
	}
	if ttl < 0 || ttl > a.o.JoinTokenTTL {
		return "", time.Time{}, fmt.Errorf("ca: join token: ttl %s must be positive and at most %s", ttl, a.o.JoinTokenTTL)
	}
	secret := make([]byte, 32)
	if _, err := io.ReadFull(a.o.Rand, secret); err != nil {
		return "", time.Time{}, fmt.Errorf("ca: join token: %w", err)
	}
	token := tokenPrefix + base64.RawURLEncoding.EncodeToString(secret) + "." + a.rootPin()
	now := a.o.Clock().UTC()
	rec.Hash, rec.CreatedAt, rec.ExpiresAt = tokenHash(token), now, now.Add(ttl)
	if err := a.o.Store.InsertJoinToken(ctx, rec); err != nil {
		return "", time.Time{}, fmt.Errorf("ca: join token: %w", err)
	}
	if err := a.audit(ctx, auditEvent(actor, audit.ActionCAJoinToken, "spiffe:"+binding, map[string]string{
		"expires_at": rec.ExpiresAt.Format(time.RFC3339),
	})); err != nil {
		return "", time.Time{}, fmt.Errorf("ca: join token: not handed out: %w", err)
	}
	return token, rec.ExpiresAt, nil
}

// rootPin is base64url(sha256(root DER)).
func (a *Authority) rootPin() string {
	sum := sha256.Sum256(a.Root().Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// tokenHash is what the store keeps: SHA-256 of the whole token string
// (the token has 256 random bits, so a plain hash suffices; a stolen
// database does not yield usable tokens).
func tokenHash(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// parsePattern checks spiffe://<td>/prefix/* and returns the prefix path
// ("/prefix").
func parsePattern(td spiffeid.TrustDomain, p string) (string, error) {
	base, ok := strings.CutSuffix(p, "/*")
	if !ok {
		return "", fmt.Errorf("ca: join token: pattern %q must end with /*", p)
	}
	id, err := canonicalID(base)
	if err != nil {
		return "", fmt.Errorf("ca: join token: pattern %q: %w", p, err)
	}
	if !id.MemberOf(td) || id.Path() == "" {
		return "", fmt.Errorf("ca: join token: pattern %q must be spiffe://%s/<prefix>/*", p, td.Name())
	}
	if IsReservedPath(id.Path()) {
		return "", fmt.Errorf("ca: join token: pattern %q admits IDs under %s, Rampart's own", p, ReservedPath)
	}
	return id.Path(), nil
}

// patternAllows reports whether id is under the pattern's prefix,
// segment-aware: /svc/* admits /svc/a and /svc/a/b, not /svc nor /svcx.
func patternAllows(td spiffeid.TrustDomain, pattern string, id spiffeid.ID) bool {
	prefix, err := parsePattern(td, pattern)
	return err == nil && id.MemberOf(td) && strings.HasPrefix(id.Path(), prefix+"/")
}

// authorizeToken checks a join token: well formed, of this CA (root pin),
// known, unused, unexpired, and the ID allowed by its binding. The token
// is consumed (atomically) only once everything else checked out, just
// before signing.
func (a *Authority) authorizeToken(ctx context.Context, c JoinTokenCred, asked *spiffeid.ID, now time.Time) (*grant, error) {
	parts := strings.Split(c.Token, ".")
	if len(parts) != 3 || parts[0]+"." != tokenPrefix {
		return nil, unauthorized(errors.New("ca: join token: malformed"))
	}
	if subtle.ConstantTimeCompare([]byte(parts[2]), []byte(a.rootPin())) != 1 {
		return nil, unauthorized(errors.New("ca: join token: of another CA (root pin mismatch)"))
	}
	h := tokenHash(c.Token)
	rec, err := a.o.Store.JoinToken(ctx, h)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, unauthorized(errors.New("ca: join token: unknown"))
	case err != nil:
		return nil, unavailable(err)
	case !rec.UsedAt.IsZero():
		return nil, unauthorized(errors.New("ca: join token: already used"))
	case !now.Before(rec.ExpiresAt):
		return nil, unauthorized(errors.New("ca: join token: expired"))
	}
	var id spiffeid.ID
	switch {
	case rec.ID != "":
		bound, err := spiffeid.FromString(rec.ID)
		if err != nil {
			return nil, unavailable(fmt.Errorf("ca: stored join token: %w", err))
		}
		if asked != nil && *asked != bound {
			return nil, forbidden("the join token does not allow this SPIFFE ID", nil)
		}
		id = bound
	case asked == nil:
		return nil, badRequest("the CSR must name the SPIFFE ID (the join token allows several)", nil)
	case !patternAllows(a.td, rec.Pattern, *asked):
		return nil, forbidden("the join token does not allow this SPIFFE ID", nil)
	default:
		id = *asked
	}
	dns, ttl, err := a.registrationFor(ctx, id)
	if err != nil {
		return nil, err
	}
	return &grant{id: id, dns: dns, ttl: ttl, action: audit.ActionCASVIDIssue, actor: "join_token",
		consume: func(ctx context.Context) error {
			err := a.o.Store.ConsumeJoinToken(ctx, h, a.o.Clock())
			if errors.Is(err, ErrNotFound) {
				return unauthorized(errors.New("ca: join token: used concurrently or expired"))
			}
			if err != nil {
				return unavailable(err)
			}
			return nil
		}}, nil
}
