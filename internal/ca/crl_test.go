package ca_test

import (
	"context"
	"crypto/x509"
	"math/big"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/ca"
)

func parseCRL(t testing.TB, a *ca.Authority) *x509.RevocationList {
	t.Helper()
	der, err := a.CRL(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	l, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func listed(l *x509.RevocationList, serial string) bool {
	s, _ := new(big.Int).SetString(serial, 16)
	for _, r := range l.RevokedCertificateEntries {
		if r.SerialNumber.Cmp(s) == 0 {
			return true
		}
	}
	return false
}

// TestCRL: signed by the root, nextUpdate ≤ 10 min, revoked serial listed
// at once, number growing, refreshed at half validity, expired entries
// dropped.
func TestCRL(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		ctx := context.Background()
		root := e.a.Root()
		first := parseCRL(t, e.a)
		if err := first.CheckSignatureFrom(root); err != nil {
			t.Fatalf("CRL not signed by the root: %v", err)
		}
		if first.Issuer.String() != root.Subject.String() {
			t.Errorf("issuer %s, want the root's subject", first.Issuer)
		}
		if d := first.NextUpdate.Sub(first.ThisUpdate); d <= 0 || d > 10*time.Minute {
			t.Errorf("validity %s, want ≤ 10m", d)
		}
		if !first.ThisUpdate.Equal(e.clock.Now().UTC()) {
			t.Errorf("thisUpdate %s, want now", first.ThisUpdate)
		}
		if len(first.RevokedCertificateEntries) != 0 {
			t.Error("new CA lists revocations")
		}
		// Cached: the same CRL until half its validity.
		e.clock.Add(4 * time.Minute)
		if again := parseCRL(t, e.a); again.Number.Cmp(first.Number) != 0 {
			t.Error("CRL regenerated before half its validity")
		}
		s, _ := e.enrol("spiffe://example.test/svc/a")
		keep, _ := e.enrol("spiffe://example.test/svc/b")
		if _, err := e.a.Revoke(ctx, ca.RevokeSpec{Serial: s.Serial}, "cli:test"); err != nil {
			t.Fatal(err)
		}
		second := parseCRL(t, e.a)
		if second.Number.Cmp(first.Number) <= 0 {
			t.Errorf("number %s after %s: must grow", second.Number, first.Number)
		}
		if !listed(second, s.Serial) || listed(second, keep.Serial) {
			t.Errorf("revoked serial listed %v, unrevoked listed %v", listed(second, s.Serial), listed(second, keep.Serial))
		}
		if err := second.CheckSignatureFrom(root); err != nil {
			t.Fatal(err)
		}
		// Half validity passed: a new number.
		e.clock.Add(5*time.Minute + time.Second)
		third := parseCRL(t, e.a)
		if third.Number.Cmp(second.Number) <= 0 || !listed(third, s.Serial) {
			t.Errorf("refresh: number %s (was %s), listed %v", third.Number, second.Number, listed(third, s.Serial))
		}
		// Once the revoked SVID expired, it leaves the CRL.
		e.clock.Add(time.Hour)
		if listed(parseCRL(t, e.a), s.Serial) {
			t.Error("an expired certificate is still listed")
		}
		// Revoking an unknown serial is an error, not a silent success.
		if _, err := e.a.Revoke(ctx, ca.RevokeSpec{Serial: "abcdef"}, "cli:test"); err == nil {
			t.Error("revoking an unknown serial succeeded")
		}
	})
}
