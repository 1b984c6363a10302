package notes_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"unicode/utf8"

	"github.com/rampart-auth/rampart/examples/notes"
	"github.com/rampart-auth/rampart/jwtauth"
)

// serveInProcess runs one request through the service's handler with a
// fresh assertion for u (in process: a fuzz iteration needs no socket).
func (r *rig) serveInProcess(t *testing.T, u user, method, path, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(jwtauth.AssertionHeader, r.mint(t, u, r.aud))
	w := httptest.NewRecorder()
	r.svc.Handler().ServeHTTP(w, req)
	return w
}

// checkAnswer fails on a 5xx, and on an error that is not a problem.
func checkAnswer(t *testing.T, w *httptest.ResponseRecorder, body string) {
	t.Helper()
	if w.Code >= 500 {
		t.Fatalf("%d for %q: %s", w.Code, body, w.Body)
	}
	if w.Code >= 400 {
		var p map[string]any
		if w.Header().Get("Content-Type") != "application/problem+json" || json.Unmarshal(w.Body.Bytes(), &p) != nil || p["status"] != float64(w.Code) {
			t.Fatalf("%d is not a problem: %s", w.Code, w.Body)
		}
	}
}

var usernameRE = regexp.MustCompile(`^[a-z][a-z0-9_-]{2,31}$`)

// FuzzRegister posts random bodies to POST /api/users: no panic, never a
// 5xx, every refusal a problem, and an accepted registration only ever
// with a valid username and a response that is exactly {username, email}.
func FuzzRegister(f *testing.F) {
	for _, c := range registrationCases {
		f.Add(c.body)
	}
	f.Add(`{"username":"a\u0000b","email":"a@b","password":"x"}`)
	f.Add(`{"username":"carol","email":"c@example.com","password":"Correct-Horse-42-battery","password":"x"}`)
	r := newRig(f, notes.DriverSQLite)
	var n atomic.Int64
	f.Fuzz(func(t *testing.T, body string) {
		u := user{sub: fmt.Sprintf("fuzz-%d", n.Add(1))}
		w := r.serveInProcess(t, u, http.MethodPost, "/api/users", body)
		checkAnswer(t, w, body)
		if w.Code != http.StatusCreated {
			return
		}
		var got map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || len(got) != 2 {
			t.Fatalf("201 body %s", w.Body)
		}
		name, _ := got["username"].(string)
		if !usernameRE.MatchString(name) || strings.Contains(w.Body.String(), "argon2") {
			t.Fatalf("accepted %q: %s", body, w.Body)
		}
	})
}

// FuzzNote creates a note from a random body: never a 5xx, and what was
// accepted reads back exactly.
func FuzzNote(f *testing.F) {
	for _, s := range []string{`{"title":"t","body":"<p>x</p>"}`, `{"title":"t"}`, `{"title":"","body":""}`,
		`{"title":"t","body":"a\u0000b"}`, `{"title":"\ud800"}`, `{"title":"t","title":"u"}`, `{"title":"t","Body":"b"}`} {
		f.Add(s)
	}
	r := newRig(f, notes.DriverSQLite)
	f.Fuzz(func(t *testing.T, body string) {
		w := r.serveInProcess(t, alice, http.MethodPost, "/api/notes", body)
		checkAnswer(t, w, body)
		if w.Code != http.StatusCreated {
			return
		}
		var created map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &created); err != nil {
			t.Fatal(err)
		}
		id := strconv.FormatInt(int64(created["id"].(float64)), 10)
		g := r.serveInProcess(t, alice, http.MethodGet, "/api/notes/"+id, "")
		var got map[string]any
		if g.Code != http.StatusOK || json.Unmarshal(g.Body.Bytes(), &got) != nil ||
			got["title"] != created["title"] || got["body"] != created["body"] {
			t.Fatalf("read back %d %s, created %s", g.Code, g.Body, w.Body)
		}
	})
}

var idRE = regexp.MustCompile(`^[1-9][0-9]*$`)

// FuzzParseID checks the id parser against an independent reading: an id
// is accepted exactly when it is canonical decimal in int64's positive
// range, and then it prints back as itself.
func FuzzParseID(f *testing.F) {
	for _, s := range []string{"1", "0", "-1", "01", "+1", "0x1", "1e3", "9223372036854775807", "9223372036854775808", " 1", "1 ", "１"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, ok := notes.ParseID(s)
		v, err := strconv.ParseInt(s, 10, 64)
		want := idRE.MatchString(s) && err == nil && v > 0
		if ok != want {
			t.Fatalf("ParseID(%q) ok = %v, want %v", s, ok, want)
		}
		if ok && strconv.FormatInt(id, 10) != s {
			t.Fatalf("ParseID(%q) = %d", s, id)
		}
	})
}

// FuzzStrictJSON checks that what the strict reader accepts, a standard
// reader also reads as one object with only allowed member names, in
// valid UTF-8.
func FuzzStrictJSON(f *testing.F) {
	for _, c := range registrationCases {
		f.Add([]byte(c.body))
	}
	allowed := []string{"username", "email", "password"}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !notes.CheckStrictJSON(data, allowed) {
			return
		}
		var m map[string]json.RawMessage
		if !utf8.Valid(data) || json.Unmarshal(data, &m) != nil || m == nil {
			t.Fatalf("accepted %q", data)
		}
		for k := range m {
			if k != "username" && k != "email" && k != "password" {
				t.Fatalf("accepted member %q in %q", k, data)
			}
		}
	})
}

// FuzzLikePattern checks that the LIKE pattern matches its text literally:
// undoing the escapes gives the text back, and no % or _ is left bare
// between the two wildcards.
func FuzzLikePattern(f *testing.F) {
	for _, s := range []string{"", "%", "_", `\`, `\%`, "a%b_c", `%' OR '1'='1`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		p := notes.LikePattern(q)
		inner, ok := strings.CutPrefix(p, "%")
		inner, ok2 := strings.CutSuffix(inner, "%")
		if !ok || !ok2 {
			t.Fatalf("pattern %q is not %%...%%", p)
		}
		var b strings.Builder
		for i := 0; i < len(inner); i++ {
			c := inner[i]
			switch {
			case c == '\\' && i+1 < len(inner) && strings.IndexByte(`\%_`, inner[i+1]) >= 0:
				i++
				b.WriteByte(inner[i])
			case c == '\\' || c == '%' || c == '_':
				t.Fatalf("pattern %q for %q has a bare %q", p, q, c)
			default:
				b.WriteByte(c)
			}
		}
		if b.String() != q {
			t.Fatalf("pattern %q reads back %q, want %q", p, b.String(), q)
		}
	})
}

// FuzzPassword checks that an accepted password obeys every stated rule.
func FuzzPassword(f *testing.F) {
	for _, s := range []string{"Correct-Horse-42-battery", "P@ssw0rd1234", "short", strings.Repeat("Ab1!", 40)} {
		f.Add(s, "carol", "c@example.com")
	}
	f.Fuzz(func(t *testing.T, pw, username, email string) {
		if notes.CheckPassword(pw, username, email) != "" {
			return
		}
		lower := strings.ToLower(pw)
		if utf8.RuneCountInString(pw) < notes.MinPasswordChars || len(pw) > notes.MaxPasswordBytes || !utf8.ValidString(pw) ||
			(username != "" && strings.Contains(lower, strings.ToLower(username))) || notes.IsCommonPassword(lower) {
			t.Fatalf("accepted %q (username %q)", pw, username)
		}
	})
}
