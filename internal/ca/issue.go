package ca

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/rampart-auth/rampart/internal/audit"
)

// IssueRequest asks for an SVID.
type IssueRequest struct {
	CSR      []byte // PKCS#10, DER
	Cred     Credential
	ClientIP string // for the audit event
}

// Credential is what authorises an issuance: JoinTokenCred, ClientCred,
// PeerSVIDCred or AdminCred.
type Credential interface{ credential() string }

// JoinTokenCred is a one-time join token (Authorization: Bearer rjt1...).
type JoinTokenCred struct{ Token string }

// ClientCred is an OAuth client the caller already authenticated; a
// registration maps its id to a SPIFFE ID.
type ClientCred struct{ ClientID string }

// PeerSVIDCred is renewal: the TLS client certificate chain, verified
// here (chains to a current authority, unexpired, serial not revoked, ID
// not revoked).
type PeerSVIDCred struct{ Chain []*x509.Certificate }

// AdminCred is an operator issuing an SVID (`rampart ca issue`): the ID,
// extra DNS names, a TTL (0: the registration's or the default) and who.
type AdminCred struct {
	ID       spiffeid.ID
	DNSNames []string
	TTL      time.Duration
	Actor    string
}

func (JoinTokenCred) credential() string { return "join_token" }
func (ClientCred) credential() string    { return "client" }
func (PeerSVIDCred) credential() string  { return "svid" }
func (AdminCred) credential() string     { return "admin" }

// SVID is an issued X509-SVID.
type SVID struct {
	ID       spiffeid.ID
	Chain    [][]byte // DER: leaf, then the issuing intermediate
	Leaf     *x509.Certificate
	Serial   string // lowercase hex
	NotAfter time.Time
}

// grant is what a credential allows: the ID, the DNS names the CSR may
// ask for, the lifetime, the audit action and actor, and a commit step
// run just before signing (consuming a join token).
type grant struct {
	id      spiffeid.ID
	dns     []string
	ttl     time.Duration
	action  string
	actor   string
	consume func(ctx context.Context) error
}

// Issue checks the CSR and the credential and issues an SVID, recorded in
// the store and audited (ca.svid_issue, or ca.svid_renew for a
// PeerSVIDCred; refusals too, with the reason). Errors are *Error.
func (a *Authority) Issue(ctx context.Context, req IssueRequest) (*SVID, error) {
	kind, action := "none", audit.ActionCASVIDIssue
	if req.Cred != nil {
		kind = req.Cred.credential()
	}
	if _, ok := req.Cred.(PeerSVIDCred); ok {
		action = audit.ActionCASVIDRenew
	}
	svid, target, err := a.issue(ctx, req)
	if err != nil {
		a.o.Logger.Info("ca: issuance refused", "credential", kind, "target", target, "error", err.Error())
		a.auditRefusal(ctx, action, target, req.Cred, req.ClientIP, err)
		return nil, err
	}
	return svid, nil
}

func (a *Authority) issue(ctx context.Context, req IssueRequest) (*SVID, string, error) {
	target := ""
	csr, err := ParseCSR(req.CSR)
	if err != nil {
		return nil, target, badRequest("bad CSR", err)
	}
	var asked *spiffeid.ID
	if len(csr.URIs) == 1 {
		id, _ := canonicalID(csr.URIs[0].String()) // checked by ParseCSR
		asked, target = &id, "spiffe:"+id.String()
	}
	now := a.o.Clock()
	g, err := a.authorize(ctx, req.Cred, asked, now)
	if err != nil {
		return nil, target, err
	}
	target = "spiffe:" + g.id.String()
	if !workloadID(a.td, g.id) {
		return nil, target, forbidden("the SPIFFE ID is not a workload of this trust domain", nil)
	}
	revoked, err := a.o.Store.IDRevoked(ctx, g.id.String())
	if err != nil {
		return nil, target, unavailable(err)
	}
	if revoked {
		return nil, target, forbidden("the SPIFFE ID is revoked", nil)
	}
	for _, d := range csr.DNSNames {
		if !slices.Contains(g.dns, d) {
			return nil, target, forbidden("a DNS name of the CSR is not registered for this SPIFFE ID", fmt.Errorf("dns name %q", d))
		}
	}
	dns := csr.DNSNames
	if len(dns) == 0 {
		dns = g.dns
	}
	_, inter, err := a.signer(now)
	if err != nil {
		return nil, target, err
	}
	if g.consume != nil {
		if err := g.consume(ctx); err != nil {
			return nil, target, err
		}
	}
	svid, err := a.sign(ctx, csr, g.id, dns, g.ttl, inter, now)
	if err != nil {
		return nil, target, err
	}
	if err := a.audit(ctx, audit.Event{Actor: g.actor, Action: g.action, Target: target, Outcome: audit.OutcomeSuccess,
		ClientAddr: req.ClientIP, Details: map[string]string{
			"serial": svid.Serial, "not_after": svid.NotAfter.Format(time.RFC3339), "credential": req.Cred.credential(),
			"issuer": inter.rec.ID,
		}}); err != nil {
		// Fail closed: an SVID that left no evidence is not handed out.
		return nil, target, unavailable(err)
	}
	return svid, target, nil
}

// sign issues the leaf (the X509-SVID profile of contract.md) for the
// CSR's key and records it before returning it.
func (a *Authority) sign(ctx context.Context, csr *x509.CertificateRequest, id spiffeid.ID, dns []string,
	ttl time.Duration, inter *loaded, now time.Time) (*SVID, error) {
	der, leaf, err := a.signLeaf(csr.PublicKey, id, dns, ttl, inter, now)
	if err != nil {
		return nil, unavailable(err)
	}
	serial := serialHex(leaf.SerialNumber)
	if err := a.o.Store.InsertCert(ctx, CertRecord{Serial: serial, ID: id.String(), IssuerID: inter.rec.ID,
		NotBefore: leaf.NotBefore.UTC(), NotAfter: leaf.NotAfter.UTC()}); err != nil {
		return nil, unavailable(err)
	}
	return &SVID{ID: id, Chain: [][]byte{der, inter.cert.Raw}, Leaf: leaf, Serial: serial, NotAfter: leaf.NotAfter.UTC()}, nil
}

// signLeaf creates the X509-SVID: one URI SAN, optional DNS SANs, CA:false,
// digitalSignature only (critical), serverAuth + clientAuth (SPIFFE
// X509-SVID spec §4), CN the first DNS name or empty, O=Rampart,
// NotBefore backdated one minute, NotAfter now+ttl capped by MaxSVIDTTL
// and the issuer's NotAfter, a 128-bit random serial.
func (a *Authority) signLeaf(pub any, id spiffeid.ID, dns []string, ttl time.Duration, inter *loaded, now time.Time) ([]byte, *x509.Certificate, error) {
	if ttl <= 0 {
		ttl = a.o.DefaultSVIDTTL
	}
	ttl = min(ttl, a.o.MaxSVIDTTL)
	notAfter := now.Add(ttl)
	if notAfter.After(inter.cert.NotAfter) {
		notAfter = inter.cert.NotAfter
	}
	serial, err := newSerial(a.o.Rand)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"Rampart"}},
		NotBefore:             now.Add(-backdate),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		URIs:                  []*url.URL{id.URL()},
		DNSNames:              dns,
	}
	if len(dns) > 0 {
		tmpl.Subject.CommonName = dns[0]
	}
	der, err := x509.CreateCertificate(a.o.Rand, tmpl, inter.cert, pub, inter.key)
	if err != nil {
		return nil, nil, fmt.Errorf("ca: sign: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("ca: sign: %w", err)
	}
	return der, leaf, nil
}

// authorize turns a credential into a grant, or an *Error.
func (a *Authority) authorize(ctx context.Context, c Credential, asked *spiffeid.ID, now time.Time) (*grant, error) {
	switch c := c.(type) {
	case JoinTokenCred:
		return a.authorizeToken(ctx, c, asked, now)
	case ClientCred:
		reg, err := a.o.Store.RegistrationByClient(ctx, c.ClientID)
		if errors.Is(err, ErrNotFound) {
			return nil, forbidden("the client has no SPIFFE ID registration", nil)
		}
		if err != nil {
			return nil, unavailable(err)
		}
		id, err := spiffeid.FromString(reg.ID)
		if err != nil {
			return nil, unavailable(fmt.Errorf("ca: stored registration: %w", err))
		}
		if asked != nil && *asked != id {
			return nil, forbidden("the CSR asks for a SPIFFE ID the client is not registered for", nil)
		}
		return &grant{id: id, dns: reg.DNSNames, ttl: reg.TTL, action: audit.ActionCASVIDIssue, actor: "client:" + c.ClientID}, nil
	case PeerSVIDCred:
		return a.authorizeRenewal(ctx, c, asked, now)
	case AdminCred:
		if asked != nil && *asked != c.ID {
			return nil, badRequest("the CSR asks for another SPIFFE ID than the command", nil)
		}
		g := &grant{id: c.ID, dns: c.DNSNames, ttl: c.TTL, action: audit.ActionCASVIDIssue, actor: c.Actor}
		if reg, err := a.o.Store.Registration(ctx, c.ID.String()); err == nil {
			g.dns = append(slices.Clone(reg.DNSNames), c.DNSNames...)
			if g.ttl == 0 {
				g.ttl = reg.TTL
			}
		} else if !errors.Is(err, ErrNotFound) {
			return nil, unavailable(err)
		}
		if c.TTL > a.o.MaxSVIDTTL {
			return nil, badRequest(fmt.Sprintf("the TTL exceeds ca.max_svid_ttl (%s)", a.o.MaxSVIDTTL), nil)
		}
		return g, nil
	default:
		return nil, unauthorized(errors.New("ca: no credential"))
	}
}

// registrationFor returns the DNS names and TTL registered for id (none
// when unregistered).
func (a *Authority) registrationFor(ctx context.Context, id spiffeid.ID) ([]string, time.Duration, error) {
	reg, err := a.o.Store.Registration(ctx, id.String())
	if errors.Is(err, ErrNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, unavailable(err)
	}
	return reg.DNSNames, reg.TTL, nil
}
