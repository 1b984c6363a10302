package ca_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"math/big"
	"net/url"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/ca"
)

func chainOf(t testing.TB, s *ca.SVID) []*x509.Certificate {
	t.Helper()
	var out []*x509.Certificate
	for _, der := range s.Chain {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

// TestRenewal: a current SVID renews to the same ID, audited ca.svid_renew.
func TestRenewal(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		s, key := e.enrol("spiffe://example.test/svc/a")
		e.clock.Add(40 * time.Minute)
		// The renewal CSR may reuse the key and omit the ID.
		r, err := e.a.Issue(context.Background(), ca.IssueRequest{CSR: csrWith(t, key, ""), Cred: ca.PeerSVIDCred{Chain: chainOf(t, s)}})
		if err != nil {
			t.Fatal(err)
		}
		if r.ID != s.ID || r.Serial == s.Serial {
			t.Errorf("renewed %s serial %s from %s %s", r.ID, r.Serial, s.ID, s.Serial)
		}
		ev := e.rec.find(audit.ActionCASVIDRenew, audit.OutcomeSuccess)
		if len(ev) != 1 || ev[0].Details["credential"] != "svid" || ev[0].Target != "spiffe:spiffe://example.test/svc/a" {
			t.Errorf("renew events %+v", ev)
		}
	})
}

// TestRenewalAttacks performs each renewal attack and asserts it fails.
func TestRenewalAttacks(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		other := newEnv(t, driver)
		ctx := context.Background()
		id := "spiffe://example.test/svc/a"

		expired, _ := e.enrol(id)
		foreign, _ := other.enrol(id) // same ID, another CA
		// Certificates this CA is tricked into signing outside the profile.
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		forced := func(uris ...string) []*x509.Certificate {
			tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), NotBefore: e.clock.Now().Add(-time.Minute), NotAfter: e.clock.Now().Add(2 * time.Hour),
				KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, BasicConstraintsValid: true}
			for _, u := range uris {
				p, _ := url.Parse(u)
				tmpl.URIs = append(tmpl.URIs, p)
			}
			der, err := ca.SignTemplate(e.a, tmpl, &key.PublicKey)
			if err != nil {
				t.Fatal(err)
			}
			c, _ := x509.ParseCertificate(der)
			return []*x509.Certificate{c}
		}
		twoURIs := forced(id, "spiffe://example.test/svc/b")
		otherTD := forced("spiffe://evil.test/svc/a")
		unrecorded := forced(id)
		e.clock.Add(61 * time.Minute) // "expired" (1h) is over
		// Revoked ones are enrolled after that, so they are unexpired: the
		// refusal is the revocation's, not the expiry's.
		revokedSerial, _ := e.enrol(id)
		if _, err := e.a.Revoke(ctx, ca.RevokeSpec{Serial: revokedSerial.Serial, Reason: "key compromise"}, "cli:test"); err != nil {
			t.Fatal(err)
		}
		revokedID, _ := e.enrol("spiffe://example.test/svc/gone")
		if _, err := e.a.Revoke(ctx, ca.RevokeSpec{ID: ptr(mustID("spiffe://example.test/svc/gone"))}, "cli:test"); err != nil {
			t.Fatal(err)
		}

		for _, tc := range []struct {
			name  string
			chain []*x509.Certificate
			want  ca.ErrorCode
		}{
			{"reject/revoked-serial", chainOf(t, revokedSerial), ca.CodeForbidden},
			{"reject/revoked-id", chainOf(t, revokedID), ca.CodeForbidden},
			{"reject/expired", chainOf(t, expired), ca.CodeUnauthorized},
			{"reject/foreign-ca-same-id", chainOf(t, foreign), ca.CodeUnauthorized},
			{"reject/two-uri-sans", twoURIs, ca.CodeUnauthorized},
			{"reject/wrong-trust-domain", otherTD, ca.CodeUnauthorized},
			{"reject/not-issued-as-svid", unrecorded, ca.CodeUnauthorized},
			{"reject/no-certificate", nil, ca.CodeUnauthorized},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := e.a.Issue(ctx, ca.IssueRequest{CSR: mustCSR(t, ""), Cred: ca.PeerSVIDCred{Chain: tc.chain}})
				if got := code(err); got != tc.want {
					t.Fatalf("err %v (code %d), want %d", err, got, tc.want)
				}
			})
		}
		if ev := e.rec.find(audit.ActionCASVIDRenew, audit.OutcomeFailure); len(ev) != 8 {
			t.Errorf("renew refusals audited %d, want 8", len(ev))
		}
	})
}

// TestRenewalOtherID: a CSR naming another ID than the current SVID's.
func TestRenewalOtherID(t *testing.T) {
	e := newEnv(t, "sqlite")
	s, _ := e.enrol("spiffe://example.test/svc/a")
	_, err := e.a.Issue(context.Background(), ca.IssueRequest{CSR: mustCSR(t, "spiffe://example.test/svc/admin"), Cred: ca.PeerSVIDCred{Chain: chainOf(t, s)}})
	if code(err) != ca.CodeForbidden {
		t.Fatalf("err %v, want forbidden", err)
	}
}

// TestUnregisteredCannotRenew: deleting a registration stops its workload
// from renewing (an agent would otherwise keep renewing forever), without
// putting its current SVID on the CRL; registering it again lifts it.
func TestUnregisteredCannotRenew(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		ctx := context.Background()
		id := mustID("spiffe://example.test/svc/leaving")
		if _, err := e.a.Register(ctx, ca.Registration{ID: id}, "cli:test"); err != nil {
			t.Fatal(err)
		}
		s, key := e.enrol(id.String())
		if err := e.a.Unregister(ctx, id, "cli:test"); err != nil {
			t.Fatal(err)
		}
		renew := func() error {
			_, err := e.a.Issue(ctx, ca.IssueRequest{CSR: csrWith(t, key, ""), Cred: ca.PeerSVIDCred{Chain: chainOf(t, s)}})
			return err
		}
		if err := renew(); code(err) != ca.CodeForbidden {
			t.Fatalf("reject/renew-after-unregister: %v", err)
		}
		if _, err := e.a.Issue(ctx, ca.IssueRequest{CSR: csrWith(t, key, id.String()), Cred: ca.JoinTokenCred{Token: e.token(id.String())}}); code(err) != ca.CodeForbidden {
			t.Fatalf("reject/token-after-unregister: %v", err)
		}
		der, err := e.a.CRL(ctx)
		if err != nil {
			t.Fatal(err)
		}
		crl, err := x509.ParseRevocationList(der)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range crl.RevokedCertificateEntries {
			if fmt.Sprintf("%x", r.SerialNumber) == s.Serial {
				t.Fatal("unregistering put the SVID on the CRL; it should run out at its expiry")
			}
		}
		if _, err := e.a.Register(ctx, ca.Registration{ID: id}, "cli:test"); err != nil {
			t.Fatal(err)
		}
		if err := renew(); err != nil {
			t.Fatalf("accept/renew-after-re-register: %v", err)
		}
	})
}
