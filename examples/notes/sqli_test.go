package notes_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// injections are classic SQL-injection payloads for SQLite and PostgreSQL.
var injections = []string{
	`' OR '1'='1`,
	`' OR 1=1--`,
	`'; DROP TABLE notes;--`,
	`'; DROP TABLE notes_users;--`,
	`" OR ""="`,
	`') OR ('1'='1`,
	`%' OR owner LIKE '%`,
	`' UNION SELECT subject, username, email, password_hash, 0 FROM notes_users--`,
	`' UNION SELECT 1, password_hash, email, 0, 0 FROM notes_users--`,
	`1; UPDATE notes SET owner='user-bob'`,
	`\'; DELETE FROM notes; --`,
	`$1`, `?`, `$$; DROP TABLE notes; $$`,
}

// TestSQLInjection sends the payloads where they can reach SQL: the
// search text, a note's title and body, the id, the username and the
// email. Bob must learn nothing of alice's data, payloads must be stored
// and returned verbatim, and both tables must survive with their rows.
func TestSQLInjection(t *testing.T) {
	forEachDriver(t, func(t *testing.T, r *rig) {
		if res := register(t, r, alice, "alice", "alice@example.com"); res.status != http.StatusCreated {
			t.Fatalf("register: %d %s", res.status, res.body)
		}
		aliceID := r.createNote(t, alice, "alice's secret", "diary")
		leaks := []string{"alice", "diary", "argon2id", "user-alice"}
		noLeak := func(t *testing.T, what string, res response) {
			t.Helper()
			if res.status >= 500 {
				t.Errorf("%s: %d %s", what, res.status, res.body)
			}
			for _, l := range leaks {
				if strings.Contains(string(res.body), l) {
					t.Errorf("%s leaked %q: %s", what, l, res.body)
				}
			}
		}
		for _, p := range injections {
			// In the search text: only bob's notes, and only literal matches.
			res := r.call(t, bob, http.MethodGet, "/api/notes?q="+url.QueryEscape(p), "")
			noLeak(t, "q="+p, res)
			if res.status != http.StatusOK || string(res.body) != `{"notes":[]}`+"\n" {
				t.Errorf("q=%s: %d %s", p, res.status, res.body)
			}
			// In a title and body: stored and returned as given.
			id := r.createNote(t, bob, p, p)
			got := r.call(t, bob, http.MethodGet, "/api/notes/"+itoa(id), "")
			noLeak(t, "note "+p, got)
			if m := got.json(t); m["title"] != p || m["body"] != p {
				t.Errorf("payload not stored verbatim: %v", m)
			}
			// Now the search finds exactly that one note.
			if n := len(r.call(t, bob, http.MethodGet, "/api/notes?q="+url.QueryEscape(p), "").json(t)["notes"].([]any)); n < 1 {
				t.Errorf("q=%s does not find the note holding it literally", p)
			}
			// In the id.
			noLeak(t, "id "+p, r.call(t, bob, http.MethodGet, "/api/notes/"+url.PathEscape(p), ""))
			// In the username: refused by its pattern, never reaching SQL.
			res = r.call(t, bob, http.MethodPost, "/api/users", jsonBody(map[string]string{
				"username": p, "email": "bob@example.com", "password": goodPassword}))
			noLeak(t, "username "+p, res)
			wantProblem(t, res, http.StatusUnprocessableEntity)
		}
		// An email's local part may hold quotes and = legally (RFC 5322
		// atext): it reaches SQL, as a value.
		mallory := user{sub: "user-mallory"}
		res := r.call(t, mallory, http.MethodPost, "/api/users", jsonBody(map[string]string{
			"username": "mallory", "email": "'or'1'='1@example.com", "password": goodPassword}))
		if res.status != http.StatusCreated {
			t.Fatalf("register with a quote in the email: %d %s", res.status, res.body)
		}
		me := r.call(t, mallory, http.MethodGet, "/api/users/me", "")
		noLeak(t, "me", me)
		if me.json(t)["email"] != "'or'1'='1@example.com" {
			t.Fatalf("email not stored verbatim: %s", me.body)
		}

		if n := r.count(t, "notes_users"); n != 2 {
			t.Fatalf("%d accounts, want 2", n)
		}
		if n := r.count(t, "notes"); n != 1+len(injections) {
			t.Fatalf("%d notes, want %d", n, 1+len(injections))
		}
		got := r.call(t, alice, http.MethodGet, "/api/notes/"+itoa(aliceID), "").json(t)
		if got["title"] != "alice's secret" {
			t.Fatalf("alice's note changed: %v", got)
		}
	})
}
