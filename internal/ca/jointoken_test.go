package ca_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/ca"
)

// TestJoinTokenAttacks performs each attack on join tokens and asserts it
// fails with the right code, and that refusals are audited without the
// token.
func TestJoinTokenAttacks(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		other := newEnv(t, driver) // another CA, another store
		ctx := context.Background()
		pattern := func(p string) string {
			tok, _, err := e.a.CreateJoinToken(ctx, ca.JoinTokenSpec{Pattern: p}, "cli:test")
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}
		used := e.token("spiffe://example.test/svc/a")
		if _, err := e.a.Issue(ctx, ca.IssueRequest{CSR: mustCSR(t, "spiffe://example.test/svc/a"), Cred: ca.JoinTokenCred{Token: used}}); err != nil {
			t.Fatalf("first use: %v", err)
		}
		expiring := e.token("spiffe://example.test/svc/a")
		e.clock.Add(time.Hour + time.Second)
		fresh := func() string { return e.token("spiffe://example.test/svc/a") }
		unknownPin := e.token("spiffe://example.test/svc/a")
		parts := strings.Split(unknownPin, ".")
		for _, tc := range []struct {
			name  string
			token string
			id    string
			want  ca.ErrorCode
		}{
			{"reject/reuse", used, "spiffe://example.test/svc/a", ca.CodeUnauthorized},
			{"reject/expired", expiring, "spiffe://example.test/svc/a", ca.CodeUnauthorized},
			{"reject/other-id", fresh(), "spiffe://example.test/svc/b", ca.CodeForbidden},
			{"reject/pattern-escape-sibling", pattern("spiffe://example.test/svc/*"), "spiffe://example.test/svcx", ca.CodeForbidden},
			{"reject/pattern-escape-prefix-itself", pattern("spiffe://example.test/svc/*"), "spiffe://example.test/svc", ca.CodeForbidden},
			{"reject/pattern-no-id", pattern("spiffe://example.test/svc/*"), "", ca.CodeBadRequest},
			{"reject/pattern-other-td", pattern("spiffe://example.test/svc/*"), "spiffe://evil.test/svc/a", ca.CodeForbidden},
			{"reject/token-of-another-ca", other.token("spiffe://example.test/svc/a"), "spiffe://example.test/svc/a", ca.CodeUnauthorized},
			{"reject/unknown-with-right-pin", "rjt1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA." + parts[2], "spiffe://example.test/svc/a", ca.CodeUnauthorized},
			{"reject/malformed", "rjt1.x", "spiffe://example.test/svc/a", ca.CodeUnauthorized},
			{"reject/no-credential", "", "spiffe://example.test/svc/a", ca.CodeUnauthorized},
		} {
			t.Run(tc.name, func(t *testing.T) {
				req := ca.IssueRequest{CSR: mustCSR(t, tc.id)}
				if tc.token != "" {
					req.Cred = ca.JoinTokenCred{Token: tc.token}
				}
				_, err := e.a.Issue(ctx, req)
				if got := code(err); got != tc.want {
					t.Fatalf("err %v (code %d), want code %d", err, got, tc.want)
				}
				if tc.want == ca.CodeUnauthorized {
					var ce *ca.Error
					_ = asError(err, &ce)
					if ce.Public != "invalid credential" {
						t.Errorf("public message %q: every unusable token must read the same", ce.Public)
					}
				}
				if tc.token != "" && e.rec.contains(tc.token) {
					t.Error("the token appears in an audit event")
				}
			})
		}
		// The refusals are audited as failures with a reason.
		if ev := e.rec.find(audit.ActionCASVIDIssue, audit.OutcomeFailure); len(ev) < 10 || ev[0].Reason == "" {
			t.Errorf("refusal events %d (first %+v)", len(ev), ev)
		}
		// A pattern token admits IDs under the prefix, segment-aware.
		for _, id := range []string{"spiffe://example.test/svc/a", "spiffe://example.test/svc/a/b"} {
			if _, err := e.a.Issue(ctx, ca.IssueRequest{CSR: mustCSR(t, id), Cred: ca.JoinTokenCred{Token: pattern("spiffe://example.test/svc/*")}}); err != nil {
				t.Errorf("pattern token for %s: %v", id, err)
			}
		}
		// A token naming one ID may leave the CSR without a URI SAN.
		s, err := e.a.Issue(ctx, ca.IssueRequest{CSR: mustCSR(t, ""), Cred: ca.JoinTokenCred{Token: fresh()}})
		if err != nil || s.ID.String() != "spiffe://example.test/svc/a" {
			t.Errorf("CSR without ID: %v, %v", s, err)
		}
		// A refused attempt with the wrong ID does not burn the token.
		tok := fresh()
		if _, err := e.a.Issue(ctx, ca.IssueRequest{CSR: mustCSR(t, "spiffe://example.test/svc/b"), Cred: ca.JoinTokenCred{Token: tok}}); code(err) != ca.CodeForbidden {
			t.Fatalf("wrong ID: %v", err)
		}
		if _, err := e.a.Issue(ctx, ca.IssueRequest{CSR: mustCSR(t, "spiffe://example.test/svc/a"), Cred: ca.JoinTokenCred{Token: tok}}); err != nil {
			t.Errorf("right ID after a refusal: %v", err)
		}
	})
}

// TestJoinTokenConcurrentReuse: of many concurrent uses of one token,
// exactly one succeeds (the conditional UPDATE).
func TestJoinTokenConcurrentReuse(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		peer := e.peer()
		tok := e.token("spiffe://example.test/svc/a")
		const n = 8
		var (
			wg sync.WaitGroup
			mu sync.Mutex
			ok int
		)
		csrs := make([][]byte, n)
		for i := range csrs {
			csrs[i] = mustCSR(t, "spiffe://example.test/svc/a")
		}
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				a := e.a
				if i%2 == 1 {
					a = peer
				}
				_, err := a.Issue(context.Background(), ca.IssueRequest{CSR: csrs[i], Cred: ca.JoinTokenCred{Token: tok}})
				if err == nil {
					mu.Lock()
					ok++
					mu.Unlock()
				} else if code(err) != ca.CodeUnauthorized {
					t.Errorf("concurrent use: %v", err)
				}
			}()
		}
		wg.Wait()
		if ok != 1 {
			t.Fatalf("%d of %d concurrent uses succeeded, want exactly 1", ok, n)
		}
	})
}

// TestJoinTokenSpec: format, TTL cap, bindings.
func TestJoinTokenSpec(t *testing.T) {
	e := newEnv(t, "sqlite")
	ctx := context.Background()
	id := mustID("spiffe://example.test/a")
	tok, exp, err := e.a.CreateJoinToken(ctx, ca.JoinTokenSpec{ID: &id}, "cli:test")
	if err != nil {
		t.Fatal(err)
	}
	if p := strings.Split(tok, "."); len(p) != 3 || p[0] != "rjt1" || len(p[1]) != 43 || len(p[2]) != 43 {
		t.Errorf("token %q: want rjt1.<43>.<43>", tok)
	}
	if !exp.Equal(e.clock.Now().Add(time.Hour)) {
		t.Errorf("expires %s, want now+1h", exp)
	}
	var rows int
	if err := e.st.SQL().QueryRow(`SELECT COUNT(*) FROM ca_join_tokens WHERE spiffe_id = 'spiffe://example.test/a'`).Scan(&rows); err != nil || rows != 1 {
		t.Fatalf("rows %d %v", rows, err)
	}
	var stored []byte
	_ = e.st.SQL().QueryRow(`SELECT token_hash FROM ca_join_tokens`).Scan(&stored)
	if strings.Contains(string(stored), tok) || len(stored) != 32 {
		t.Error("the store keeps more than the SHA-256 of the token")
	}
	if ev := e.rec.find(audit.ActionCAJoinToken, audit.OutcomeSuccess); len(ev) != 1 || e.rec.contains(tok) {
		t.Errorf("join token audit: %d events, token leaked %v", len(ev), e.rec.contains(tok))
	}
	for _, tc := range []struct {
		name string
		spec ca.JoinTokenSpec
	}{
		{"reject/ttl-over-1h", ca.JoinTokenSpec{ID: &id, TTL: time.Hour + time.Second}},
		{"reject/no-binding", ca.JoinTokenSpec{}},
		{"reject/both", ca.JoinTokenSpec{ID: &id, Pattern: "spiffe://example.test/a/*"}},
		{"reject/pattern-without-star", ca.JoinTokenSpec{Pattern: "spiffe://example.test/a"}},
		{"reject/pattern-whole-td", ca.JoinTokenSpec{Pattern: "spiffe://example.test/*"}},
		{"reject/pattern-other-td", ca.JoinTokenSpec{Pattern: "spiffe://evil.test/a/*"}},
		{"reject/pattern-non-canonical", ca.JoinTokenSpec{Pattern: "spiffe://example.test/a//*"}},
		{"reject/id-other-td", ca.JoinTokenSpec{ID: ptr(mustID("spiffe://evil.test/a"))}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := e.a.CreateJoinToken(ctx, tc.spec, "cli:test"); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func mustCSR(t testing.TB, id string, dns ...string) []byte {
	der, _ := csr(t, id, dns...)
	return der
}
