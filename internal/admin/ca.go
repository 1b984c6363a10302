package admin

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/rampart-auth/rampart/internal/ca"
	"github.com/rampart-auth/rampart/internal/config"
)

// CAAuthority is what the CA use cases use of the CA (*ca.Authority); it
// audits every change itself.
type CAAuthority interface {
	TrustDomain() spiffeid.TrustDomain
	Register(ctx context.Context, r ca.Registration, actor string) (ca.Registration, error)
	Unregister(ctx context.Context, id spiffeid.ID, actor string) error
	CreateJoinToken(ctx context.Context, s ca.JoinTokenSpec, actor string) (string, time.Time, error)
	Issue(ctx context.Context, req ca.IssueRequest) (*ca.SVID, error)
	Revoke(ctx context.Context, s ca.RevokeSpec, actor string) (int, error)
	Rotate(ctx context.Context, actor string) (ca.IntermediateInfo, error)
	BundlePEM() []byte
	CRL(ctx context.Context) ([]byte, error)
}

var _ CAAuthority = (*ca.Authority)(nil)

// ReservedPath is the CA's reserved path prefix (ca.ReservedPath): the
// CA refuses workload IDs under it; the use cases say so before asking.
const ReservedPath = ca.ReservedPath

// ParseWorkloadID parses a workload's SPIFFE ID of td: canonical (its
// String() is the input, so no two spellings name one workload), with a
// path, outside ReservedPath.
func ParseWorkloadID(td spiffeid.TrustDomain, s string) (spiffeid.ID, error) {
	id, err := spiffeid.FromString(s)
	if err != nil {
		return spiffeid.ID{}, fmt.Errorf("admin: %q is not a SPIFFE ID (write it like spiffe://%s/svc/billing): %w", s, td.Name(), err)
	}
	if id.String() != s {
		return spiffeid.ID{}, fmt.Errorf("admin: %q is not written canonically; write %s", s, id)
	}
	if !id.MemberOf(td) {
		return spiffeid.ID{}, fmt.Errorf("admin: %s is not in this CA's trust domain %s", id, td.Name())
	}
	if id.Path() == "" {
		return spiffeid.ID{}, fmt.Errorf("admin: %s names the trust domain, not a workload; add a path like /svc/billing", id)
	}
	if reserved(id.Path()) {
		return spiffeid.ID{}, fmt.Errorf("admin: %s is under %s, reserved for Rampart's own identities", id, ReservedPath)
	}
	return id, nil
}

func reserved(path string) bool { return ca.IsReservedPath(path) }

// checkPattern refuses a join-token pattern (spiffe://<td>/prefix/*, the
// CA checks its form) that would admit an ID under ReservedPath.
func checkPattern(td spiffeid.TrustDomain, p string) error {
	base, ok := strings.CutSuffix(p, "/*")
	if !ok {
		return fmt.Errorf("admin: pattern %q must end with /* (e.g. spiffe://%s/svc/*)", p, td.Name())
	}
	id, err := spiffeid.FromString(base)
	if err != nil || id.String() != base || !id.MemberOf(td) || id.Path() == "" {
		return fmt.Errorf("admin: pattern %q must be spiffe://%s/<prefix>/*", p, td.Name())
	}
	if reserved(id.Path()) || strings.HasPrefix(ReservedPath+"/", id.Path()+"/") {
		return fmt.Errorf("admin: pattern %q admits IDs under %s, reserved for Rampart's own identities; use a narrower prefix", p, ReservedPath)
	}
	return nil
}

// checkDNSNames refuses an empty or duplicated DNS name early (the CA
// checks the syntax).
func checkDNSNames(names []string) error {
	seen := map[string]bool{}
	for _, d := range names {
		if d == "" || seen[d] {
			return fmt.Errorf("admin: DNS name %q is empty or given twice", d)
		}
		seen[d] = true
	}
	return nil
}

// CARegistration is `rampart ca register`.
type CARegistration struct {
	SPIFFEID string
	DNSNames []string
	TTL      time.Duration // 0: ca.svid_ttl
	ClientID string        // "" when none
	// JoinToken also creates a join token for the ID, of TokenTTL (0:
	// ca.join_token_ttl).
	JoinToken bool
	TokenTTL  time.Duration
}

// CARegistered is what RegisterWorkload did: the registration and, when
// asked, the join token (shown once) and its expiry.
type CARegistered struct {
	Registration ca.Registration
	Token        string
	TokenExpires time.Time
}

// RegisterWorkload validates r and registers it; the CA audits
// (ca.register, ca.join_token).
func RegisterWorkload(ctx context.Context, a CAAuthority, r CARegistration, actor string) (*CARegistered, error) {
	id, err := ParseWorkloadID(a.TrustDomain(), r.SPIFFEID)
	if err != nil {
		return nil, err
	}
	if err := checkDNSNames(r.DNSNames); err != nil {
		return nil, err
	}
	if r.TTL < 0 || r.TokenTTL < 0 {
		return nil, errors.New("admin: a lifetime must not be negative")
	}
	if r.ClientID != "" && !config.ValidClientID(r.ClientID) {
		return nil, fmt.Errorf("admin: %q is not a client id", r.ClientID)
	}
	if r.TokenTTL != 0 && !r.JoinToken {
		return nil, errors.New("admin: a token lifetime needs a join token")
	}
	reg, err := a.Register(ctx, ca.Registration{ID: id, DNSNames: r.DNSNames, TTL: r.TTL, ClientID: r.ClientID}, actor)
	if err != nil {
		return nil, err
	}
	out := &CARegistered{Registration: reg}
	if r.JoinToken {
		if out.Token, out.TokenExpires, err = a.CreateJoinToken(ctx, ca.JoinTokenSpec{ID: &id, TTL: r.TokenTTL}, actor); err != nil {
			return out, err
		}
	}
	return out, nil
}

// CAJoinToken is `rampart ca token`: exactly one of SPIFFEID and Pattern.
type CAJoinToken struct {
	SPIFFEID string
	Pattern  string
	TTL      time.Duration // 0: ca.join_token_ttl
}

// CreateJoinToken validates t and creates the token; the CA audits
// (ca.join_token, never the token).
func CreateJoinToken(ctx context.Context, a CAAuthority, t CAJoinToken, actor string) (string, time.Time, error) {
	td := a.TrustDomain()
	if (t.SPIFFEID == "") == (t.Pattern == "") {
		return "", time.Time{}, errors.New("admin: give a SPIFFE ID or a pattern, exactly one")
	}
	if t.TTL < 0 {
		return "", time.Time{}, errors.New("admin: a lifetime must not be negative")
	}
	spec := ca.JoinTokenSpec{Pattern: t.Pattern, TTL: t.TTL}
	if t.SPIFFEID != "" {
		id, err := ParseWorkloadID(td, t.SPIFFEID)
		if err != nil {
			return "", time.Time{}, err
		}
		spec.ID = &id
	} else if err := checkPattern(td, t.Pattern); err != nil {
		return "", time.Time{}, err
	}
	return a.CreateJoinToken(ctx, spec, actor)
}

// UnregisterWorkload deletes the registration of the ID; the CA audits
// (ca.unregister).
func UnregisterWorkload(ctx context.Context, a CAAuthority, spiffeID, actor string) error {
	id, err := ParseWorkloadID(a.TrustDomain(), spiffeID)
	if err != nil {
		return err
	}
	return a.Unregister(ctx, id, actor)
}

// CAIssue is `rampart ca issue`: an SVID for an ID issued by the operator.
type CAIssue struct {
	SPIFFEID string
	DNSNames []string
	TTL      time.Duration // 0: the registration's, else ca.svid_ttl
}

// CAIssued is an SVID with its private key and the trust documents, PEM:
// what an agent writes (svid.pem, svid.key, bundle.pem, crl.pem).
type CAIssued struct {
	SVID              *ca.SVID
	ChainPEM, KeyPEM  []byte
	BundlePEM, CRLPEM []byte
}

// IssueSVID generates an ECDSA P-256 key (the X509-SVID default), asks
// the CA for an SVID of it (AdminCred; the CA audits ca.svid_issue) and
// returns everything PEM-encoded.
func IssueSVID(ctx context.Context, a CAAuthority, in CAIssue, actor string) (*CAIssued, error) {
	id, err := ParseWorkloadID(a.TrustDomain(), in.SPIFFEID)
	if err != nil {
		return nil, err
	}
	if err := checkDNSNames(in.DNSNames); err != nil {
		return nil, err
	}
	if in.TTL < 0 {
		return nil, errors.New("admin: a lifetime must not be negative")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{URIs: []*url.URL{id.URL()}, DNSNames: in.DNSNames}, key)
	if err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	svid, err := a.Issue(ctx, ca.IssueRequest{CSR: csr, Cred: ca.AdminCred{ID: id, DNSNames: in.DNSNames, TTL: in.TTL, Actor: actor}})
	if err != nil {
		return nil, err
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	crl, err := a.CRL(ctx)
	if err != nil {
		return nil, err
	}
	out := &CAIssued{SVID: svid,
		KeyPEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), BundlePEM: a.BundlePEM(),
		CRLPEM: pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: crl})}
	clear(pkcs8)
	for _, der := range svid.Chain {
		out.ChainPEM = append(out.ChainPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	return out, nil
}

// CARevocation is `rampart ca revoke`: exactly one of SPIFFEID and Serial.
type CARevocation struct {
	SPIFFEID string
	Serial   string
	Reason   string
}

// maxReasonLen bounds the free-text reason kept in the audit trail.
const maxReasonLen = 200

// RevokeSVIDs validates r and revokes; the CA audits (ca.revoke) and
// publishes a new CRL at once. It returns how many certificates it revoked.
func RevokeSVIDs(ctx context.Context, a CAAuthority, r CARevocation, actor string) (int, error) {
	if (r.SPIFFEID == "") == (r.Serial == "") {
		return 0, errors.New("admin: give a SPIFFE ID or a serial, exactly one")
	}
	if len(r.Reason) > maxReasonLen || strings.ContainsFunc(r.Reason, func(c rune) bool { return c < 0x20 || c == 0x7f }) {
		return 0, fmt.Errorf("admin: the reason must be at most %d characters of printable text", maxReasonLen)
	}
	spec := ca.RevokeSpec{Serial: strings.ToLower(r.Serial), Reason: r.Reason}
	if r.SPIFFEID != "" {
		// Any ID of the trust domain may be revoked, a reserved one too.
		id, err := spiffeid.FromString(r.SPIFFEID)
		if err != nil || id.String() != r.SPIFFEID || !id.MemberOf(a.TrustDomain()) || id.Path() == "" {
			return 0, fmt.Errorf("admin: %q is not a canonical SPIFFE ID of trust domain %s", r.SPIFFEID, a.TrustDomain().Name())
		}
		spec.ID = &id
	} else {
		for _, c := range spec.Serial {
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return 0, fmt.Errorf("admin: serial %q is not hexadecimal", r.Serial)
			}
		}
	}
	return a.Revoke(ctx, spec, actor)
}

// RotateCA publishes a new intermediate; the CA audits (ca.rotate).
func RotateCA(ctx context.Context, a CAAuthority, actor string) (ca.IntermediateInfo, error) {
	return a.Rotate(ctx, actor)
}
