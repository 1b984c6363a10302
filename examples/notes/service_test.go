package notes_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/rampart-auth/rampart/examples/notes"
	"github.com/rampart-auth/rampart/jwtauth"
)

const goodPassword = "Correct-Horse-42-battery"

func register(t *testing.T, r *rig, u user, username, email string) response {
	t.Helper()
	return r.call(t, u, http.MethodPost, "/api/users", jsonBody(map[string]string{
		"username": username, "email": email, "password": goodPassword}))
}

func TestRegisterAndMe(t *testing.T) {
	forEachDriver(t, func(t *testing.T, r *rig) {
		res := register(t, r, alice, "alice", "alice@example.com")
		if res.status != http.StatusCreated {
			t.Fatalf("register: %d %s", res.status, res.body)
		}
		if got := string(res.body); got != `{"username":"alice","email":"alice@example.com"}`+"\n" {
			t.Fatalf("register answered %s", got)
		}
		if res.header.Get("Location") != "/api/users/me" || res.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("headers %v", res.header)
		}
		var hash string
		if err := r.db.QueryRow(`SELECT password_hash FROM notes_users WHERE username = 'alice'`).Scan(&hash); err != nil {
			t.Fatal(err)
		}
		// argon2id, OWASP parameters, 16-byte salt (22 base64 chars), 32-byte tag.
		parts := strings.Split(hash, "$")
		if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != "v=19" || parts[3] != "m=19456,t=2,p=1" ||
			len(parts[4]) != 22 || len(parts[5]) != 43 || strings.Contains(hash, goodPassword) {
			t.Fatalf("stored hash %q is not an argon2id PHC string with the OWASP parameters", hash)
		}

		me := r.call(t, alice, http.MethodGet, "/api/users/me", "")
		want := `{"subject":"user-alice","client_id":"web","scopes":["notes:read","notes:write"],"username":"alice","email":"alice@example.com"}` + "\n"
		if me.status != http.StatusOK || string(me.body) != want {
			t.Fatalf("me: %d %s", me.status, me.body)
		}
		// Bob has no account: me shows the assertion only.
		me = r.call(t, bob, http.MethodGet, "/api/users/me", "")
		if me.status != http.StatusOK || string(me.body) != `{"subject":"user-bob","client_id":"web","scopes":["notes:read","notes:write"]}`+"\n" {
			t.Fatalf("me (no account): %d %s", me.status, me.body)
		}
	})
}

func TestRegisterConflicts(t *testing.T) {
	forEachDriver(t, func(t *testing.T, r *rig) {
		if res := register(t, r, alice, "alice", "alice@example.com"); res.status != http.StatusCreated {
			t.Fatalf("register: %d %s", res.status, res.body)
		}
		// One account per subject, whatever the username.
		p := wantProblem(t, register(t, r, alice, "alice2", "alice@example.com"), http.StatusConflict)
		if p["code"] != "account_exists" {
			t.Fatalf("second registration: %v", p)
		}
		// One account per username.
		p = wantProblem(t, register(t, r, bob, "alice", "bob@example.com"), http.StatusConflict)
		if p["code"] != "username_taken" {
			t.Fatalf("taken username: %v", p)
		}
		if n := r.count(t, "notes_users"); n != 1 {
			t.Fatalf("%d accounts, want 1", n)
		}
	})
}

func TestNotesLifecycle(t *testing.T) {
	forEachDriver(t, func(t *testing.T, r *rig) {
		id := r.createNote(t, alice, "Groceries", "<p>eggs &amp; <b>milk</b></p>")
		res := r.call(t, alice, http.MethodGet, fmt.Sprintf("/api/notes/%d", id), "")
		n := res.json(t)
		if res.status != http.StatusOK || n["title"] != "Groceries" || n["body"] != "<p>eggs &amp; <b>milk</b></p>" {
			t.Fatalf("get: %d %s", res.status, res.body)
		}
		// JSON escapes markup: the stored HTML cannot be sniffed as HTML.
		if strings.Contains(string(res.body), "<p>") || res.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("body not escaped or nosniff missing: %s", res.body)
		}
		res = r.call(t, alice, http.MethodPut, fmt.Sprintf("/api/notes/%d", id), jsonBody(map[string]string{"title": "Shopping", "body": "bread"}))
		if res.status != http.StatusOK || res.json(t)["title"] != "Shopping" {
			t.Fatalf("put: %d %s", res.status, res.body)
		}
		r.createNote(t, alice, "Work", "call Bob about the 100% plan_b")
		list := r.call(t, alice, http.MethodGet, "/api/notes", "").json(t)["notes"].([]any)
		if len(list) != 2 || list[0].(map[string]any)["title"] != "Work" {
			t.Fatalf("list: %v", list)
		}
		for q, want := range map[string]int{"bread": 1, "BREAD": 1, "shop": 1, "100%25": 1, "plan_b": 1, "%25": 1, "_": 1, "nothing": 0} {
			got := r.call(t, alice, http.MethodGet, "/api/notes?q="+q, "").json(t)["notes"].([]any)
			if len(got) != want {
				t.Errorf("q=%s: %d notes, want %d", q, len(got), want)
			}
		}
		res = r.call(t, alice, http.MethodDelete, fmt.Sprintf("/api/notes/%d", id), "")
		if res.status != http.StatusNoContent {
			t.Fatalf("delete: %d %s", res.status, res.body)
		}
		wantProblem(t, r.call(t, alice, http.MethodGet, fmt.Sprintf("/api/notes/%d", id), ""), http.StatusNotFound)
		wantProblem(t, r.call(t, alice, http.MethodDelete, fmt.Sprintf("/api/notes/%d", id), ""), http.StatusNotFound)
	})
}

func TestHealthzNeedsNoAssertion(t *testing.T) {
	r := newRig(t, notes.DriverSQLite)
	res := r.send(t, http.MethodGet, "/healthz", "")
	if res.status != http.StatusOK || string(res.body) != `{"status":"ok"}`+"\n" {
		t.Fatalf("healthz: %d %s", res.status, res.body)
	}
}

func TestMemoryDatabase(t *testing.T) {
	r := newRigDSN(t, notes.DriverSQLite, ":memory:")
	id := r.createNote(t, alice, "in memory", "")
	if res := r.call(t, alice, http.MethodGet, fmt.Sprintf("/api/notes/%d", id), ""); res.status != http.StatusOK {
		t.Fatalf("get: %d %s", res.status, res.body)
	}
}

func TestOpenRefuses(t *testing.T) {
	av := newVerifier(t)
	for name, o := range map[string]notes.Options{
		"no-verifier":    {DSN: ":memory:"},
		"unknown-driver": {Driver: "mysql", DSN: "x", Assertions: av},
		"sqlite-uri":     {DSN: "file:x.db?_pragma=journal_mode(OFF)", Assertions: av},
		"sqlite-query":   {DSN: "x.db?mode=ro", Assertions: av},
		"sqlite-empty":   {Assertions: av},
		"postgres-empty": {Driver: notes.DriverPostgres, Assertions: av},
	} {
		t.Run(name, func(t *testing.T) {
			if s, err := notes.Open(context.Background(), o); err == nil {
				_ = s.Close()
				t.Fatal("Open accepted it")
			}
		})
	}
}

func newVerifier(t *testing.T) *jwtauth.AssertionVerifier {
	t.Helper()
	signer, _ := newSigner(t, "k1")
	k, err := jwtauth.NewKey("k1", jwtauth.ES256, signer.k.Signer.Public())
	if err != nil {
		t.Fatal(err)
	}
	ks, _ := jwtauth.NewStaticKeys(k)
	av, err := jwtauth.NewAssertionVerifier(jwtauth.AssertionConfig{Issuer: testIssuer, Keys: ks,
		Audience: "http://127.0.0.1:9001", Replay: jwtauth.NewMemoryReplayCache(nil, 0)})
	if err != nil {
		t.Fatal(err)
	}
	return av
}
