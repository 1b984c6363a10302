package notes_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rampart-auth/rampart/examples/notes"
	"github.com/rampart-auth/rampart/jwtauth"
)

// premint mints n single-use assertions for u before the timer starts,
// so the benchmarks measure the service (verification included), not
// the gateway's signing.
func (r *rig) premint(b *testing.B, u user, n int) []string {
	toks := make([]string, n)
	for i := range toks {
		toks[i] = r.mint(b, u, r.aud)
	}
	return toks
}

func benchRequests(b *testing.B, r *rig, method, path, body string, want int) {
	toks := r.premint(b, alice, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(jwtauth.AssertionHeader, toks[i])
		w := httptest.NewRecorder()
		r.svc.Handler().ServeHTTP(w, req)
		if w.Code != want {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
}

// BenchmarkGetNote is the read hot path: assertion verification (ES256,
// replay cache) and one owner-scoped SELECT on SQLite.
func BenchmarkGetNote(b *testing.B) {
	r := newRig(b, notes.DriverSQLite)
	id := r.createNote(b, alice, "title", strings.Repeat("<p>body</p>", 100))
	benchRequests(b, r, http.MethodGet, "/api/notes/"+itoa(id), "", http.StatusOK)
}

// BenchmarkCreateNote is the write path with a 4 KiB body: strict decode
// and validation, one INSERT (SQLite, WAL, synchronous default).
func BenchmarkCreateNote(b *testing.B) {
	r := newRig(b, notes.DriverSQLite)
	body := jsonBody(map[string]string{"title": "title", "body": strings.Repeat("<p>4 KiB</p>", 4096/12)})
	benchRequests(b, r, http.MethodPost, "/api/notes", body, http.StatusCreated)
}

// BenchmarkSearchNotes is ?q= over 100 notes of the caller.
func BenchmarkSearchNotes(b *testing.B) {
	r := newRig(b, notes.DriverSQLite)
	for i := 0; i < 100; i++ {
		r.createNote(b, alice, "note "+itoa(int64(i)), "some text to search through")
	}
	benchRequests(b, r, http.MethodGet, "/api/notes?q=search", "", http.StatusOK)
}

// BenchmarkRegister is dominated by argon2id (19 MiB, t=2): the cost an
// attacker can make the service pay per registration, and why hashing is
// bounded to a few at a time.
func BenchmarkRegister(b *testing.B) {
	r := newRig(b, notes.DriverSQLite)
	toks := make([]string, b.N)
	for i := range toks {
		toks[i] = r.mint(b, user{sub: "bench-" + itoa(int64(i))}, r.aud)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		body := reg("u"+itoa(int64(i))+"-bench", "b@example.com", goodPassword)
		req := httptest.NewRequest(http.MethodPost, "/api/users", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(jwtauth.AssertionHeader, toks[i])
		w := httptest.NewRecorder()
		r.svc.Handler().ServeHTTP(w, req)
		if w.Code != http.StatusCreated {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
}

// BenchmarkStrictJSON is the strict reader's extra pass (duplicate and
// exact-name checks) on a 4 KiB note, beside the plain encoding/json
// decode it precedes.
func BenchmarkStrictJSON(b *testing.B) {
	body := []byte(jsonBody(map[string]string{"title": "title", "body": strings.Repeat("<p>4 KiB</p>", 4096/12)}))
	allowed := []string{"title", "body"}
	b.Run("strict-check", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for i := 0; i < b.N; i++ {
			if !notes.CheckStrictJSON(body, allowed) {
				b.Fatal("refused")
			}
		}
	})
	b.Run("encoding-json-unmarshal", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for i := 0; i < b.N; i++ {
			var v struct{ Title, Body string }
			if err := json.Unmarshal(body, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
}
