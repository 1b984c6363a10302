package ca

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/rampart-auth/rampart/internal/audit"
)

// Registration maps a SPIFFE ID to its SVID parameters and, optionally,
// to the OAuth client allowed to obtain it with its client credentials.
type Registration struct {
	ID        spiffeid.ID
	DNSNames  []string
	TTL       time.Duration // 0: ca.svid_ttl
	ClientID  string        // "" when none
	CreatedAt time.Time
}

// Register creates or replaces the registration of r.ID (TTL at most
// ca.max_svid_ttl; a client id maps to one ID only) and clears a
// revocation of that ID. Audited as ca.register.
func (a *Authority) Register(ctx context.Context, r Registration, actor string) (Registration, error) {
	if !workloadID(a.td, r.ID) {
		return Registration{}, fmt.Errorf("ca: register: %s is not a workload ID of trust domain %s (IDs under %s are Rampart's own)", r.ID, a.td.Name(), ReservedPath)
	}
	if r.TTL < 0 || r.TTL > a.o.MaxSVIDTTL {
		return Registration{}, fmt.Errorf("ca: register: ttl %s must be between 0 (the default) and ca.max_svid_ttl %s", r.TTL, a.o.MaxSVIDTTL)
	}
	for _, d := range r.DNSNames {
		if err := checkDNSName(d); err != nil {
			return Registration{}, err
		}
	}
	r.CreatedAt = a.o.Clock().UTC()
	err := a.o.Store.PutRegistration(ctx, RegistrationRecord{ID: r.ID.String(), DNSNames: r.DNSNames, TTL: r.TTL,
		ClientID: r.ClientID, CreatedAt: r.CreatedAt})
	if errors.Is(err, ErrClientIDTaken) {
		return Registration{}, fmt.Errorf("ca: register: client %q is already registered to another SPIFFE ID; unregister it first", r.ClientID)
	}
	if err != nil {
		return Registration{}, fmt.Errorf("ca: register: %w", err)
	}
	details := map[string]string{"dns_names": strings.Join(r.DNSNames, ","), "ttl": r.TTL.String()}
	if r.ClientID != "" {
		details["client_id"] = r.ClientID
	}
	if err := a.audit(ctx, auditEvent(actor, audit.ActionCARegister, "spiffe:"+r.ID.String(), details)); err != nil {
		return r, fmt.Errorf("ca: register: stored, but the audit event failed: %w", err)
	}
	return r, nil
}

// checkDNSName accepts a lowercase DNS name of letters, digits, '-' and
// '.' (RFC 1123 §2.1), optionally starting with "*." (one wildcard label).
func checkDNSName(d string) error {
	n := strings.TrimPrefix(d, "*.")
	if n == "" || len(d) > 253 || strings.HasPrefix(n, ".") || strings.HasSuffix(n, ".") || strings.Contains(n, "..") {
		return fmt.Errorf("ca: register: invalid DNS name %q", d)
	}
	for _, c := range n {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return fmt.Errorf("ca: register: invalid DNS name %q (lowercase letters, digits, '-' and '.')", d)
		}
	}
	return nil
}

// Unregister deletes the registration of id and stops the ID from
// renewing or being issued again (SPIRE's entry deletion): its current
// SVIDs run out at their expiry (Revoke ends them at once), and only a
// new registration lifts the block. Audited as ca.unregister.
func (a *Authority) Unregister(ctx context.Context, id spiffeid.ID, actor string) error {
	if err := a.o.Store.DeleteRegistration(ctx, id.String(), a.o.Clock().UTC()); err != nil {
		if errors.Is(err, ErrNotFound) {
			return fmt.Errorf("ca: unregister: %s is not registered", id)
		}
		return fmt.Errorf("ca: unregister: %w", err)
	}
	if err := a.audit(ctx, auditEvent(actor, audit.ActionCAUnregister, "spiffe:"+id.String(), nil)); err != nil {
		return fmt.Errorf("ca: unregister: deleted, but the audit event failed: %w", err)
	}
	return nil
}

// Registrations returns every registration, by ID.
func (a *Authority) Registrations(ctx context.Context) ([]Registration, error) {
	recs, err := a.o.Store.Registrations(ctx)
	if err != nil {
		return nil, fmt.Errorf("ca: registrations: %w", err)
	}
	out := make([]Registration, 0, len(recs))
	for _, r := range recs {
		id, err := spiffeid.FromString(r.ID)
		if err != nil {
			return nil, fmt.Errorf("ca: stored registration %q: %w", r.ID, err)
		}
		out = append(out, Registration{ID: id, DNSNames: slices.Clone(r.DNSNames), TTL: r.TTL, ClientID: r.ClientID, CreatedAt: r.CreatedAt})
	}
	return out, nil
}

// RevokeSpec names what to revoke: one serial (lowercase hex), or every
// unexpired SVID of an ID (which then stays blocked until re-registered).
type RevokeSpec struct {
	ID     *spiffeid.ID
	Serial string
	Reason string
}

// Revoke revokes by serial or by ID, makes a new CRL at once and audits
// ca.revoke; it returns how many certificates it revoked.
func (a *Authority) Revoke(ctx context.Context, s RevokeSpec, actor string) (int, error) {
	now := a.o.Clock().UTC()
	var (
		n      int
		err    error
		target string
	)
	switch {
	case (s.ID == nil) == (s.Serial == ""):
		return 0, errors.New("ca: revoke: give a serial or a SPIFFE ID")
	case s.ID != nil:
		if !s.ID.MemberOf(a.td) || s.ID.Path() == "" {
			return 0, fmt.Errorf("ca: revoke: %s is not a workload ID of trust domain %s", s.ID, a.td.Name())
		}
		target = "spiffe:" + s.ID.String()
		n, err = a.o.Store.RevokeID(ctx, s.ID.String(), s.Reason, now)
	default:
		serial, ok := normalizeSerial(s.Serial)
		if !ok {
			return 0, fmt.Errorf("ca: revoke: serial %q is not hexadecimal", s.Serial)
		}
		target = "serial:" + serial
		n, err = a.o.Store.RevokeSerial(ctx, serial, s.Reason, now)
		if err == nil && n == 0 {
			return 0, fmt.Errorf("ca: revoke: no unexpired, unrevoked certificate has serial %s", serial)
		}
	}
	if err != nil {
		return 0, fmt.Errorf("ca: revoke: %w", err)
	}
	_, crlErr := a.refreshCRL(ctx, true)
	if err := a.audit(ctx, auditEvent(actor, audit.ActionCARevoke, target, map[string]string{
		"count": strconv.Itoa(n), "reason": s.Reason})); err != nil {
		return n, fmt.Errorf("ca: revoke: revoked, but the audit event failed: %w", err)
	}
	if crlErr != nil {
		return n, fmt.Errorf("ca: revoke: revoked, but the new CRL could not be made (Run retries): %w", crlErr)
	}
	return n, nil
}

// normalizeSerial accepts a hex serial (any case, optional 0x and colons)
// and returns the canonical form of serialHex.
func normalizeSerial(s string) (string, bool) {
	s = strings.TrimPrefix(strings.ReplaceAll(strings.ToLower(s), ":", ""), "0x")
	n, ok := new(big.Int).SetString(s, 16)
	if !ok || n.Sign() <= 0 || len(s) > 40 {
		return "", false
	}
	return serialHex(n), true
}

// CertInfo is an issued certificate.
type CertInfo struct {
	Serial              string
	ID                  spiffeid.ID
	IssuerID            string
	NotBefore, NotAfter time.Time
	RevokedAt           *time.Time
}

// Certs returns the issued SVIDs, unexpired unless includeExpired.
func (a *Authority) Certs(ctx context.Context, includeExpired bool) ([]CertInfo, error) {
	recs, err := a.o.Store.Certs(ctx, a.o.Clock(), includeExpired)
	if err != nil {
		return nil, fmt.Errorf("ca: certs: %w", err)
	}
	out := make([]CertInfo, 0, len(recs))
	for _, r := range recs {
		id, err := spiffeid.FromString(r.ID)
		if err != nil {
			return nil, fmt.Errorf("ca: stored certificate %s: %w", r.Serial, err)
		}
		ci := CertInfo{Serial: r.Serial, ID: id, IssuerID: r.IssuerID, NotBefore: r.NotBefore, NotAfter: r.NotAfter}
		if !r.RevokedAt.IsZero() {
			t := r.RevokedAt
			ci.RevokedAt = &t
		}
		out = append(out, ci)
	}
	return out, nil
}
