package notes_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/rampart-auth/rampart/examples/notes"
)

// endpoints are every API route with a valid body where one is needed.
var endpoints = []struct{ method, path, body string }{
	{http.MethodPost, "/api/users", `{"username":"mallory","email":"m@example.com","password":"Correct-Horse-42-battery"}`},
	{http.MethodGet, "/api/users/me", ""},
	{http.MethodGet, "/api/notes", ""},
	{http.MethodGet, "/api/notes?q=x", ""},
	{http.MethodPost, "/api/notes", `{"title":"t","body":"b"}`},
	{http.MethodGet, "/api/notes/1", ""},
	{http.MethodPut, "/api/notes/1", `{"title":"t","body":"b"}`},
	{http.MethodDelete, "/api/notes/1", ""},
	{http.MethodGet, "/api/nothing-here", ""},
	{http.MethodGet, "/", ""},
}

func want401(t *testing.T, res response) {
	t.Helper()
	p := wantProblem(t, res, http.StatusUnauthorized)
	if p["code"] != "invalid_assertion" || !strings.HasPrefix(res.header.Get("WWW-Authenticate"), "Rampart-Assertion") {
		t.Fatalf("401 without the assertion challenge: %v %v", p, res.header)
	}
	if strings.Contains(string(res.body), "jwtauth") || strings.Contains(string(res.body), "reason") {
		t.Fatalf("401 leaks the rejection reason: %s", res.body)
	}
}

// TestAssertionAttacks performs each way of reaching the service without
// a valid assertion against every endpoint, and checks that each fails
// with 401 and that nothing was written.
func TestAssertionAttacks(t *testing.T) {
	r := newRig(t, notes.DriverSQLite)
	r.createNote(t, alice, "secret", "alice's")
	otherSigner, _ := newSigner(t, "k1") // same kid, attacker's key
	forged := &rig{minter: mustMinter(t, otherSigner), aud: r.aud}

	attacks := map[string]func(t *testing.T, method, path, body string) response{
		"none": func(t *testing.T, m, p, b string) response { return r.send(t, m, p, b) },
		"garbage": func(t *testing.T, m, p, b string) response {
			return r.send(t, m, p, b, "not.a.jwt")
		},
		"replayed": func(t *testing.T, m, p, b string) response {
			tok := r.mint(t, alice, r.aud)
			r.send(t, http.MethodGet, "/api/users/me", "", tok) // first use
			return r.send(t, m, p, b, tok)
		},
		"re-targeted": func(t *testing.T, m, p, b string) response {
			// Minted for another upstream of the same gateway.
			return r.send(t, m, p, b, r.mint(t, alice, "http://billing.internal:9002"))
		},
		"forged-key": func(t *testing.T, m, p, b string) response {
			return r.send(t, m, p, b, forged.mint(t, alice, r.aud))
		},
		"two-assertions": func(t *testing.T, m, p, b string) response {
			return r.send(t, m, p, b, r.mint(t, alice, r.aud), r.mint(t, bob, r.aud))
		},
		"no-subject": func(t *testing.T, m, p, b string) response {
			// An auth: none route's assertion is genuine but names nobody.
			return r.send(t, m, p, b, r.mint(t, nobody, r.aud))
		},
		"spoofed-identity-headers": func(t *testing.T, m, p, b string) response {
			req, _ := http.NewRequest(m, r.srv.URL+p, strings.NewReader(b))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Rampart-Subject", alice.sub)
			req.Header.Set("X-Rampart-Scopes", "notes:read notes:write")
			return do(t, r.srv.Client(), req)
		},
	}
	for name, attack := range attacks {
		for _, e := range endpoints {
			t.Run(name+"/"+e.method+e.path, func(t *testing.T) {
				want401(t, attack(t, e.method, e.path, e.body))
			})
		}
	}
	if n := r.count(t, "notes_users"); n != 0 {
		t.Fatalf("%d accounts created by refused requests", n)
	}
	if n := r.count(t, "notes"); n != 1 {
		t.Fatalf("%d notes after refused requests, want 1", n)
	}
	var title string
	if err := r.db.QueryRow(`SELECT title FROM notes`).Scan(&title); err != nil || title != "secret" {
		t.Fatalf("alice's note changed: %q %v", title, err)
	}
}

func TestScopesCheckedAgain(t *testing.T) {
	r := newRig(t, notes.DriverSQLite)
	id := r.createNote(t, alice, "t", "b")
	reader := user{sub: alice.sub, scopes: []string{notes.ScopeRead}}
	writer := user{sub: alice.sub, scopes: []string{notes.ScopeWrite}}
	none := user{sub: alice.sub}
	path := "/api/notes/" + itoa(id)
	cases := []struct {
		u            user
		method, path string
		body         string
		want         int
	}{
		{reader, http.MethodGet, path, "", http.StatusOK},
		{reader, http.MethodGet, "/api/notes", "", http.StatusOK},
		{reader, http.MethodPost, "/api/notes", `{"title":"x"}`, http.StatusForbidden},
		{reader, http.MethodPut, path, `{"title":"x"}`, http.StatusForbidden},
		{reader, http.MethodDelete, path, "", http.StatusForbidden},
		{writer, http.MethodGet, path, "", http.StatusForbidden},
		{writer, http.MethodGet, "/api/notes", "", http.StatusForbidden},
		{none, http.MethodGet, path, "", http.StatusForbidden},
		{none, http.MethodDelete, path, "", http.StatusForbidden},
		{none, http.MethodGet, "/api/users/me", "", http.StatusOK},
	}
	for _, c := range cases {
		res := r.call(t, c.u, c.method, c.path, c.body)
		if res.status != c.want {
			t.Errorf("%v %s %s: %d, want %d: %s", c.u.scopes, c.method, c.path, res.status, c.want, res.body)
		}
		if c.want == http.StatusForbidden {
			if p := wantProblem(t, res, http.StatusForbidden); p["code"] != "insufficient_scope" {
				t.Errorf("403 code %v", p["code"])
			}
		}
	}
	if res := r.call(t, alice, http.MethodGet, path, ""); res.json(t)["title"] != "t" {
		t.Fatalf("note changed by refused writes: %s", res.body)
	}
}
