package ca

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// cachedCRL is the CRL this node serves.
type cachedCRL struct {
	rec CRLRecord
}

// fresh reports whether c is not yet half through its validity (the
// contract regenerates the CRL then, so a client caching it until
// nextUpdate never holds one older than the validity).
func (c *cachedCRL) fresh(now time.Time) bool {
	if c == nil {
		return false
	}
	half := c.rec.NextUpdate.Sub(c.rec.ThisUpdate) / 2
	return now.Before(c.rec.ThisUpdate.Add(half))
}

// CRL returns the trust domain's CRL (DER, RFC 5280 §5): signed by the
// root, listing every revoked, unexpired certificate, thisUpdate = now,
// nextUpdate = now + ca.crl_validity, its number increasing. It is cached,
// shared by the fleet through the store, and regenerated once half its
// validity has passed.
func (a *Authority) CRL(ctx context.Context) ([]byte, error) {
	c, err := a.refreshCRL(ctx, false)
	if err != nil {
		return nil, err
	}
	return c.rec.DER, nil
}

// refreshCRL returns a fresh CRL: the cached one, the store's latest (made
// by another node), or a new one (always when force: after a revocation).
func (a *Authority) refreshCRL(ctx context.Context, force bool) (*cachedCRL, error) {
	a.crlMu.Lock()
	defer a.crlMu.Unlock()
	now := a.o.Clock()
	if !force && a.crl.fresh(now) {
		return a.crl, nil
	}
	for range 3 {
		latest, err := a.o.Store.LatestCRL(ctx)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("ca: crl: %w", err)
		}
		if err == nil && !force {
			if c := (&cachedCRL{rec: latest}); c.fresh(now) {
				a.crl = c
				return c, nil
			}
		}
		rec, err := a.makeCRL(ctx, latest.Number+1, now)
		if err != nil {
			return nil, err
		}
		err = a.o.Store.InsertCRL(ctx, rec)
		if errors.Is(err, ErrConflict) {
			force = false // another node made one meanwhile: take it if fresh
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("ca: crl: %w", err)
		}
		a.crl = &cachedCRL{rec: rec}
		return a.crl, nil
	}
	return nil, fmt.Errorf("ca: crl: %w", ErrConflict)
}

// syncCRL adopts the store's latest CRL when another node made a newer
// one (after a revocation there), so the fleet serves the same CRL.
func (a *Authority) syncCRL(ctx context.Context) error {
	latest, err := a.o.Store.LatestCRL(ctx)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("ca: crl: %w", err)
	}
	a.crlMu.Lock()
	defer a.crlMu.Unlock()
	if a.crl == nil || latest.Number > a.crl.rec.Number {
		a.crl = &cachedCRL{rec: latest}
	}
	return nil
}

// makeCRL signs CRL number n with the root.
func (a *Authority) makeCRL(ctx context.Context, n int64, now time.Time) (CRLRecord, error) {
	revoked, err := a.o.Store.RevokedUnexpired(ctx, now)
	if err != nil {
		return CRLRecord{}, fmt.Errorf("ca: crl: %w", err)
	}
	h := a.snapshot()
	tmpl := &x509.RevocationList{
		Number:     big.NewInt(n),
		ThisUpdate: now.UTC(),
		NextUpdate: now.UTC().Add(a.o.CRLValidity),
	}
	for _, r := range revoked {
		s, ok := new(big.Int).SetString(r.Serial, 16)
		if !ok {
			return CRLRecord{}, fmt.Errorf("ca: crl: stored serial %q is not hex", r.Serial)
		}
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries,
			x509.RevocationListEntry{SerialNumber: s, RevocationTime: r.RevokedAt.UTC()})
	}
	der, err := x509.CreateRevocationList(a.o.Rand, tmpl, h.root.cert, h.root.key)
	if err != nil {
		return CRLRecord{}, fmt.Errorf("ca: crl: sign: %w", err)
	}
	return CRLRecord{Number: n, DER: der, ThisUpdate: tmpl.ThisUpdate, NextUpdate: tmpl.NextUpdate}, nil
}
