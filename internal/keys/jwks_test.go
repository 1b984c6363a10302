package keys_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/keys"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
)

// privateMembers are the JWK members that carry secrets (RFC 7518 §6.2.2,
// §6.3.2, §6.4; RFC 8037 §2).
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

func serve(h http.Handler, method, inm string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, "/.well-known/jwks.json", nil)
	if inm != "" {
		r.Header.Set("If-None-Match", inm)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// parseJWKS decodes a JWKS response and checks no key carries a private
// member.
func parseJWKS(t *testing.T, body []byte) []string {
	t.Helper()
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("JWKS is not JSON: %v: %s", err, body)
	}
	var kids []string
	for _, k := range doc.Keys {
		for _, p := range privateMembers {
			if _, ok := k[p]; ok {
				t.Fatalf("JWKS key %v has private member %q", k["kid"], p)
			}
		}
		if k["use"] != "sig" || k["alg"] == nil || k["kid"] == nil {
			t.Fatalf("JWKS key lacks use/alg/kid: %v", k)
		}
		kids = append(kids, k["kid"].(string))
	}
	return kids
}

func TestJWKSHandler(t *testing.T) {
	for _, alg := range []string{keys.AlgES256, keys.AlgEdDSA, keys.AlgRS256, keys.AlgPS256} {
		t.Run(alg, func(t *testing.T) {
			ctx := context.Background()
			st := storetest.Open(t, "sqlite")
			clock := newClock()
			o := testOpts(st, testMaster(t), clock, &recorder{})
			o.Algorithm, o.RSABits = alg, 2048
			m := newManager(t, o)
			if err := m.Init(ctx, "system"); err != nil {
				t.Fatal(err)
			}
			info, err := m.Rotate(ctx, "cli")
			if err != nil {
				t.Fatal(err)
			}
			h := m.JWKSHandler()

			w := serve(h, http.MethodGet, "")
			if w.Code != http.StatusOK {
				t.Fatalf("status %d", w.Code)
			}
			hdr := w.Result().Header
			for k, want := range map[string]string{
				"Content-Type":           "application/json",
				"Cache-Control":          "public, max-age=300",
				"X-Content-Type-Options": "nosniff",
			} {
				if got := hdr.Get(k); got != want {
					t.Fatalf("%s = %q, want %q", k, got, want)
				}
			}
			etag := hdr.Get("ETag")
			if !strings.HasPrefix(etag, `"`) || strings.HasPrefix(etag, "W/") || len(etag) < 10 {
				t.Fatalf("ETag %q is not a strong entity tag", etag)
			}
			k1 := activeKID(t, m)
			if got := parseJWKS(t, w.Body.Bytes()); !slices.Equal(got, []string{k1, info.KID}) {
				t.Fatalf("JWKS kids = %v", got)
			}
			if hdr.Get("Content-Length") != "" && hdr.Get("Content-Length") != strconv.Itoa(w.Body.Len()) {
				t.Fatalf("Content-Length %s for %d bytes", hdr.Get("Content-Length"), w.Body.Len())
			}

			tests := []struct {
				name     string
				method   string
				inm      string
				status   int
				wantBody bool
			}{
				{"get/if-none-match-same", http.MethodGet, etag, http.StatusNotModified, false},
				{"get/if-none-match-weak-same", http.MethodGet, "W/" + etag, http.StatusNotModified, false},
				{"get/if-none-match-list", http.MethodGet, `"abc", ` + etag, http.StatusNotModified, false},
				{"get/if-none-match-star", http.MethodGet, "*", http.StatusNotModified, false},
				{"get/if-none-match-other", http.MethodGet, `"abc"`, http.StatusOK, true},
				{"head", http.MethodHead, "", http.StatusOK, false},
				{"reject/post", http.MethodPost, "", http.StatusMethodNotAllowed, true},
				{"reject/delete", http.MethodDelete, "", http.StatusMethodNotAllowed, true},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					w := serve(h, tc.method, tc.inm)
					if w.Code != tc.status {
						t.Fatalf("status %d, want %d", w.Code, tc.status)
					}
					if (w.Body.Len() > 0) != tc.wantBody {
						t.Fatalf("body %q", w.Body.String())
					}
					switch tc.status {
					case http.StatusNotModified:
						if w.Header().Get("ETag") != etag || w.Header().Get("Cache-Control") == "" {
							t.Fatal("304 without ETag and Cache-Control (RFC 9110 §15.4.5)")
						}
					case http.StatusMethodNotAllowed:
						if w.Header().Get("Allow") != "GET, HEAD" || w.Header().Get("Content-Type") != "application/problem+json" {
							t.Fatalf("405 headers %v", w.Header())
						}
					}
				})
			}

			// Header values are shared between responses: a caller adding to
			// one response's headers must not leak into the next.
			w.Header().Add("Cache-Control", "no-store")
			w.Header().Add("Etag", `"x"`)
			if w2 := serve(h, http.MethodGet, ""); len(w2.Header()["Cache-Control"]) != 1 || len(w2.Header()["Etag"]) != 1 {
				t.Fatalf("shared header values were modified: %v", w2.Header())
			}

			// After the rotation completes the document (and its ETag) change.
			clock.Add(time.Hour)
			if err := m.Tick(ctx); err != nil {
				t.Fatal(err)
			}
			w = serve(h, http.MethodGet, etag)
			if w.Code != http.StatusOK || w.Header().Get("ETag") == etag {
				t.Fatalf("after activation: status %d, ETag %s (old %s)", w.Code, w.Header().Get("ETag"), etag)
			}
			if got := parseJWKS(t, w.Body.Bytes()); !slices.Equal(got, []string{info.KID, k1}) {
				t.Fatalf("JWKS kids = %v, want [%s %s]: the new active key, then the retired one", got, info.KID, k1)
			}
		})
	}
}

// TestJWKSSeesOtherInstanceRotation: `rampart key rotate` runs in another
// process; the serving instance shows the new key within about a second,
// querying the generation at most once per second whatever the load.
func TestJWKSSeesOtherInstanceRotation(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			a, b, _ := openShared(t, driver)
			clock := newClock()
			served := &countingStore{Store: a}
			server := newManager(t, testOpts(served, testMaster(t), clock, &recorder{}))
			if err := server.Init(ctx, "system"); err != nil {
				t.Fatal(err)
			}
			h := server.JWKSHandler()
			k1 := activeKID(t, server)
			if got := parseJWKS(t, serve(h, http.MethodGet, "").Body.Bytes()); !slices.Equal(got, []string{k1}) {
				t.Fatalf("JWKS = %v", got)
			}

			cli := newManager(t, testOpts(b, testMaster(t), clock, &recorder{}))
			info, err := cli.Rotate(ctx, "cli:ops")
			if err != nil {
				t.Fatal(err)
			}

			// Within the second: the cached document, and no query at all.
			clock.Add(500 * time.Millisecond)
			before := served.genQueries.Load()
			if got := parseJWKS(t, serve(h, http.MethodGet, "").Body.Bytes()); !slices.Equal(got, []string{k1}) {
				t.Fatalf("JWKS refreshed before a second passed: %v", got)
			}
			if n := served.genQueries.Load() - before; n != 0 {
				t.Fatalf("%d generation queries within the second", n)
			}

			// Past the second: many concurrent requests share one query and
			// all see the new key.
			clock.Add(600 * time.Millisecond)
			var wg sync.WaitGroup
			results := make([][]byte, 50)
			for i := range results {
				wg.Go(func() { results[i] = serve(h, http.MethodGet, "").Body.Bytes() })
			}
			wg.Wait()
			if n := served.genQueries.Load() - before; n != 1 {
				t.Fatalf("%d generation queries for 50 concurrent requests, want 1", n)
			}
			for _, body := range results {
				if got := parseJWKS(t, body); !slices.Equal(got, []string{k1, info.KID}) {
					t.Fatalf("JWKS = %v, want [%s %s]", got, k1, info.KID)
				}
			}
		})
	}
}

func BenchmarkJWKSHandler(b *testing.B) {
	ctx := context.Background()
	st := storetest.Open(b, "sqlite")
	clock := newClock()
	m := newManager(b, testOpts(st, testMaster(b), clock, &recorder{}))
	if err := m.Init(ctx, "system"); err != nil {
		b.Fatal(err)
	}
	if _, err := m.Rotate(ctx, "bench"); err != nil {
		b.Fatal(err)
	}
	h := m.JWKSHandler()
	serve(h, http.MethodGet, "") // the clock is frozen: no generation query follows
	r := httptest.NewRequest(http.MethodGet, "/.well-known/jwks.json", nil)
	w := &discardWriter{h: make(http.Header, 8)}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, r)
	}
	if w.status != http.StatusOK {
		b.Fatalf("status %d", w.status)
	}
}

// discardWriter is a ResponseWriter that measures only the handler.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(s int)           { w.status = s }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
