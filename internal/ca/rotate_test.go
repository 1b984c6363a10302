package ca_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/ca"
)

func inBundle(a *ca.Authority, c *x509.Certificate) bool {
	for _, b := range a.Authorities() {
		if b.Equal(c) {
			return true
		}
	}
	return false
}

func sequence(t testing.TB, a *ca.Authority) uint64 {
	t.Helper()
	b, err := a.BundleJWKS()
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Seq  uint64 `json:"spiffe_sequence"`
		Hint int    `json:"spiffe_refresh_hint"`
		Keys []struct {
			Use string   `json:"use"`
			X5c []string `json:"x5c"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if v.Hint <= 0 || len(v.Keys) != len(a.Authorities()) {
		t.Fatalf("bundle JWKS hint %d keys %d, want %d", v.Hint, len(v.Keys), len(a.Authorities()))
	}
	for _, k := range v.Keys {
		if k.Use != "x509-svid" || len(k.X5c) != 1 {
			t.Fatalf("bundle key %+v", k)
		}
	}
	return v.Seq
}

// TestRotation: the new intermediate is in the bundle at once, signs only
// from activate_at; the old one stays in the bundle until its last SVID
// expired, then leaves; the bundle sequence grows at each change.
func TestRotation(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		ctx := context.Background()
		old := e.a.Authorities()[1]
		seq0 := sequence(t, e.a)
		info, err := e.a.Rotate(ctx, "cli:test")
		if err != nil {
			t.Fatal(err)
		}
		if info.State != ca.StatePublished || !info.ActivateAt.Equal(e.clock.Now().UTC().Add(ca.DefaultRotationPropagation)) {
			t.Errorf("rotate info %+v", info)
		}
		auth := e.a.Authorities()
		if len(auth) != 3 || !auth[1].Equal(old) {
			t.Fatalf("bundle during overlap has %d certs, want root+old+new", len(auth))
		}
		nw := auth[2]
		seq1 := sequence(t, e.a)
		if seq1 <= seq0 {
			t.Errorf("sequence %d after %d", seq1, seq0)
		}
		if ev := e.rec.find(audit.ActionCARotate, audit.OutcomeSuccess); len(ev) != 1 {
			t.Errorf("rotate events %d", len(ev))
		}
		// Before activate_at the old one signs.
		e.clock.Add(ca.DefaultRotationPropagation - time.Minute)
		s, _ := e.enrol("spiffe://example.test/svc/a")
		if !bytes.Equal(s.Chain[1], old.Raw) {
			t.Fatal("the new intermediate signed before its activation time")
		}
		// After it, the new one signs; the old one is retiring while its
		// last SVID is valid.
		e.clock.Add(2 * time.Minute)
		s2, _ := e.enrol("spiffe://example.test/svc/b")
		if !bytes.Equal(s2.Chain[1], nw.Raw) {
			t.Fatal("the new intermediate does not sign after its activation time")
		}
		if err := e.a.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		states := e.a.Intermediates()
		if states[0].State != ca.StateRetiring || states[1].State != ca.StateActive {
			t.Fatalf("states %s, %s; want retiring, active", states[0].State, states[1].State)
		}
		if !inBundle(e.a, old) {
			t.Fatal("the old intermediate left the bundle while an SVID it signed is valid")
		}
		// After its last SVID expired, it leaves the bundle.
		e.clock.Set(s.NotAfter.Add(time.Second))
		if inBundle(e.a, old) || !inBundle(e.a, nw) {
			t.Fatalf("after the last SVID: old in bundle %v, new %v", inBundle(e.a, old), inBundle(e.a, nw))
		}
		if e.a.Intermediates()[0].State != ca.StateRetired {
			t.Error("old intermediate not retired")
		}
		if seq2 := sequence(t, e.a); seq2 <= seq1 {
			t.Errorf("sequence %d after retirement, was %d", seq2, seq1)
		}
		// A renewal with an SVID of a retired intermediate no longer verifies.
		if _, err := e.a.Issue(ctx, ca.IssueRequest{CSR: mustCSR(t, ""), Cred: ca.PeerSVIDCred{Chain: chainOf(t, s)}}); err == nil {
			t.Error("renewed with an SVID of a retired intermediate")
		}
	})
}

// TestAutoRotation: Run rotates once the newest intermediate has less than
// a third of its life left, and of two nodes only one wins.
func TestAutoRotation(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		ctx := context.Background()
		peer := e.peer()
		ca.Tick(ctx, e.a)
		if n := len(e.a.Intermediates()); n != 1 {
			t.Fatalf("rotated too early: %d intermediates", n)
		}
		e.clock.Add(2*ca.DefaultIntermediateTTL/3 + time.Minute)
		done := make(chan struct{})
		go func() { ca.Tick(ctx, peer); close(done) }()
		ca.Tick(ctx, e.a)
		<-done
		ca.Tick(ctx, e.a)
		ca.Tick(ctx, peer)
		if n, m := len(e.a.Intermediates()), len(peer.Intermediates()); n != 2 || m != 2 {
			t.Fatalf("intermediates after concurrent auto-rotation: %d and %d, want 2 on both", n, m)
		}
	})
}

// TestRotateConflict: a node rotating on a stale view loses.
func TestRotateConflict(t *testing.T) {
	e := newEnv(t, "sqlite")
	st := e.st.CA()
	h, err := st.LoadHierarchy(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.a.Rotate(context.Background(), "cli:test"); err != nil {
		t.Fatal(err)
	}
	var rec ca.AuthorityRecord
	for _, r := range h.Authorities {
		if r.Kind == ca.KindIntermediate {
			rec = r
		}
	}
	rec.ID = "stale"
	if err := st.AddIntermediate(context.Background(), h.Generation, rec); !errors.Is(err, ca.ErrConflict) {
		t.Fatalf("stale add: %v, want ErrConflict", err)
	}
}

// TestFleet: two Authorities on one store: a rotation or a revocation on
// one is seen by the other after reload.
func TestFleet(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		ctx := context.Background()
		b := e.peer()
		if _, err := e.a.Rotate(ctx, "cli:test"); err != nil {
			t.Fatal(err)
		}
		if err := b.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		if len(b.Authorities()) != 3 {
			t.Fatalf("peer bundle %d certs after the other node rotated, want 3", len(b.Authorities()))
		}
		s, _ := e.enrol("spiffe://example.test/svc/a")
		before := parseCRL(t, b)
		if _, err := e.a.Revoke(ctx, ca.RevokeSpec{ID: ptr(mustID("spiffe://example.test/svc/a"))}, "cli:test"); err != nil {
			t.Fatal(err)
		}
		// Renewal on the other node is refused at once (the store decides).
		if _, err := b.Issue(ctx, ca.IssueRequest{CSR: mustCSR(t, ""), Cred: ca.PeerSVIDCred{Chain: chainOf(t, s)}}); err == nil {
			t.Fatal("the other node renewed a revoked SVID")
		}
		if err := b.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		after := parseCRL(t, b)
		if after.Number.Cmp(before.Number) <= 0 || !listed(after, s.Serial) {
			t.Fatalf("peer CRL after reload: number %s (was %s), listed %v", after.Number, before.Number, listed(after, s.Serial))
		}
	})
}

// TestRotateAfterOutage: when every intermediate expired (the CA was down
// past the automatic rotation), the new one signs at once.
func TestRotateAfterOutage(t *testing.T) {
	e := newEnv(t, "sqlite")
	e.clock.Add(ca.DefaultIntermediateTTL + time.Hour)
	if _, err := e.a.Issue(context.Background(), ca.IssueRequest{CSR: mustCSR(t, ""), Cred: ca.AdminCred{ID: mustID("spiffe://example.test/a")}}); code(err) != ca.CodeUnavailable {
		t.Fatalf("issue with every intermediate expired: %v", err)
	}
	ca.Tick(context.Background(), e.a)
	e.enrol("spiffe://example.test/a")
	if st := e.a.Intermediates(); st[0].State != ca.StateRetired || st[1].State != ca.StateActive {
		t.Fatalf("states %+v", st)
	}
}
