package ca

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/kms"
)

// Authority is an open CA: the hierarchy loaded from the store with the
// keys unsealed, issuing SVIDs, keeping the CRL. Every node of a fleet
// holds one over the same store; Run reloads what the others change. It
// is safe for concurrent use.
type Authority struct {
	o  Options
	td spiffeid.TrustDomain

	mu sync.RWMutex
	h  *hierarchy // immutable snapshot, replaced on reload

	keyMu sync.Mutex
	keys  map[string]crypto.Signer // unsealed keys by authority id

	crlMu sync.Mutex
	crl   *cachedCRL
}

// loaded is one authority with its parsed certificate and key.
type loaded struct {
	rec  AuthorityRecord
	cert *x509.Certificate
	key  crypto.Signer
}

// hierarchy is the immutable in-memory view of the store's Hierarchy.
type hierarchy struct {
	gen    int64
	root   *loaded
	inters []*loaded // oldest first (by CreatedAt)
}

// Init creates the CA in o.Store: the root (generated, or imp) and the
// first intermediate, both keys sealed. ErrExists when the store already
// holds a CA (of two nodes initialising at once, the loser gets it).
func Init(ctx context.Context, o Options, imp *ImportedRoot) (*Authority, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	h, err := o.Store.LoadHierarchy(ctx)
	if err != nil {
		return nil, fmt.Errorf("ca: init: %w", err)
	}
	if h.TrustDomain != "" {
		return nil, ErrExists
	}
	now := o.Clock().UTC()
	var root *loaded
	if imp != nil {
		root, err = importRoot(o, imp, now)
	} else {
		root, err = newRoot(o, now)
	}
	if err != nil {
		return nil, err
	}
	inter, err := newIntermediate(o, root, now, now)
	if err != nil {
		return nil, err
	}
	if err := o.Store.InitHierarchy(ctx, o.TrustDomain.Name(), root.rec, inter.rec); err != nil {
		if errors.Is(err, ErrExists) {
			return nil, ErrExists
		}
		return nil, fmt.Errorf("ca: init: %w", err)
	}
	source := "generated"
	if imp != nil {
		source = "imported"
	}
	a := &Authority{o: o, td: o.TrustDomain, keys: map[string]crypto.Signer{root.rec.ID: root.key, inter.rec.ID: inter.key}}
	if err := a.Reload(ctx); err != nil {
		return nil, err
	}
	if err := a.audit(ctx, auditEvent("system", audit.ActionCAInit, "ca:"+o.TrustDomain.Name(), map[string]string{
		"root": root.rec.ID, "root_source": source, "intermediate": inter.rec.ID,
		"root_not_after": root.cert.NotAfter.UTC().Format(time.RFC3339),
	})); err != nil {
		return nil, fmt.Errorf("ca: init: the CA is created but the audit event failed: %w", err)
	}
	return a, nil
}

// ImportedRoot is an operator's root CA: PEM certificate and PEM private
// key (PKCS#8, SEC 1 "EC PRIVATE KEY").
type ImportedRoot struct {
	CertPEM, KeyPEM []byte
}

// Open loads the CA from o.Store: ErrNotInitialized when there is none,
// an error when it belongs to another trust domain or a key does not open.
func Open(ctx context.Context, o Options) (*Authority, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	a := &Authority{o: o, td: o.TrustDomain, keys: map[string]crypto.Signer{}}
	if err := a.Reload(ctx); err != nil {
		return nil, err
	}
	return a, nil
}

// OpenOrInit opens the CA, creating it (generated root) when the store
// holds none; created reports whether this call created it. A node that
// loses an initialisation race opens the winner's CA.
func OpenOrInit(ctx context.Context, o Options) (a *Authority, created bool, err error) {
	a, err = Open(ctx, o)
	if !errors.Is(err, ErrNotInitialized) {
		return a, false, err
	}
	a, err = Init(ctx, o, nil)
	if errors.Is(err, ErrExists) {
		a, err = Open(ctx, o)
		return a, false, err
	}
	return a, err == nil, err
}

// Reload reads the hierarchy from the store (another node may have
// rotated) and unseals the keys it does not hold yet. Run calls it every
// 10 seconds.
func (a *Authority) Reload(ctx context.Context) error {
	h, err := a.o.Store.LoadHierarchy(ctx)
	if err != nil {
		return fmt.Errorf("ca: load: %w", err)
	}
	if h.TrustDomain == "" {
		return ErrNotInitialized
	}
	if h.TrustDomain != a.td.Name() {
		return fmt.Errorf("ca: the store holds the CA of trust domain %q, not %q; set ca.trust_domain to %q or use another database",
			h.TrustDomain, a.td.Name(), h.TrustDomain)
	}
	nh := &hierarchy{gen: h.Generation}
	for _, r := range h.Authorities {
		l, err := a.load(r)
		if err != nil {
			return err
		}
		switch r.Kind {
		case KindRoot:
			if nh.root != nil {
				return errors.New("ca: the store holds two roots")
			}
			nh.root = l
		case KindIntermediate:
			nh.inters = append(nh.inters, l)
		default:
			return fmt.Errorf("ca: authority %s has unknown kind %q", r.ID, r.Kind)
		}
	}
	// Oldest activation first: active() takes the latest that has begun.
	slices.SortStableFunc(nh.inters, func(x, y *loaded) int {
		if c := x.rec.ActivateAt.Compare(y.rec.ActivateAt); c != 0 {
			return c
		}
		return x.rec.CreatedAt.Compare(y.rec.CreatedAt)
	})
	if nh.root == nil || len(nh.inters) == 0 {
		return errors.New("ca: the store holds no root or no intermediate")
	}
	a.mu.Lock()
	a.h = nh
	a.mu.Unlock()
	return a.syncCRL(ctx)
}

// load parses r and unseals its key (once per authority id).
func (a *Authority) load(r AuthorityRecord) (*loaded, error) {
	cert, err := x509.ParseCertificate(r.CertDER)
	if err != nil {
		return nil, fmt.Errorf("ca: authority %s: %w", r.ID, err)
	}
	if got := authorityID(r.CertDER); got != r.ID {
		return nil, fmt.Errorf("ca: authority %s: the stored certificate is not the one of this id (%s)", r.ID, got)
	}
	a.keyMu.Lock()
	defer a.keyMu.Unlock()
	key, ok := a.keys[r.ID]
	if !ok {
		if key, err = openKey(a.o.Sealer, r.ID, r.KeySealed, cert); err != nil {
			return nil, err
		}
		a.keys[r.ID] = key
	}
	return &loaded{rec: r, cert: cert, key: key}, nil
}

// snapshot returns the current hierarchy.
func (a *Authority) snapshot() *hierarchy {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.h
}

// TrustDomain returns the CA's trust domain.
func (a *Authority) TrustDomain() spiffeid.TrustDomain { return a.td }

// Root returns the root certificate.
func (a *Authority) Root() *x509.Certificate { return a.snapshot().root.cert }

// Authorities returns the trust bundle: the root and every published,
// not yet retired intermediate (contract).
func (a *Authority) Authorities() []*x509.Certificate {
	h := a.snapshot()
	now := a.o.Clock()
	out := []*x509.Certificate{h.root.cert}
	for i, l := range h.inters {
		if st := h.state(i, now); st == StatePublished || st == StateActive || st == StateRetiring {
			out = append(out, l.cert)
		}
	}
	return out
}

// sealKey is the AD-bound seal of a CA key (kms.CAKeyAD).
func sealKey(s kms.Sealer, id string, pkcs8 []byte) ([]byte, error) {
	c, err := s.Seal(kms.CAKeyAD(id), pkcs8)
	if err != nil {
		return nil, fmt.Errorf("ca: seal key of %s: %w", id, err)
	}
	return c, nil
}
