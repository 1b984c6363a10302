package jwtauth

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestNonceSource(t *testing.T) {
	now := testNow
	clock := func() time.Time { return now }
	n, err := NewNonceSource(bytes.Repeat([]byte{1}, 32), time.Minute, clock)
	if err != nil {
		t.Fatal(err)
	}
	cur := n.Current()
	if !n.Valid(cur) {
		t.Fatal("current nonce refused")
	}
	now = now.Add(time.Minute)
	if !n.Valid(cur) {
		t.Fatal("previous-window nonce refused")
	}
	now = now.Add(time.Minute)
	if n.Valid(cur) {
		t.Fatal("a nonce two windows old was accepted")
	}
	other, _ := NewNonceSource(bytes.Repeat([]byte{2}, 32), time.Minute, clock)
	if n.Valid(other.Current()) || n.Valid("") || n.Valid("AAAA") {
		t.Fatal("a foreign or empty nonce was accepted")
	}
	if _, err := NewNonceSource(make([]byte, 16), 0, nil); err == nil {
		t.Fatal("a 128-bit secret was accepted")
	}
}

// TestMiddlewareNonceFlow: a proof without a nonce gets 401 use_dpop_nonce
// and a DPoP-Nonce header; a retry carrying it succeeds.
func TestMiddlewareNonceFlow(t *testing.T) {
	f := newDPoPFixture(t)
	ns, err := NewNonceSource(bytes.Repeat([]byte{3}, 32), time.Minute, fixedClock)
	if err != nil {
		t.Fatal(err)
	}
	v := testVerifier(t, func(c *Config) { c.DPoP = DPoPConfig{Replay: &memReplay{}, Nonces: ns} })
	h := Middleware(v, MiddlewareConfig{ExternalURL: "https://api.example.test"})(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	send := func(proof string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "https://api.example.test/notes", nil)
		r.Header.Set("Authorization", "DPoP "+f.token)
		r.Header.Set("DPoP", proof)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	w := send(f.proof(t, nil))
	nonce := w.Header().Get("DPoP-Nonce")
	if w.Code != 401 || nonce == "" || !strings.Contains(strings.Join(w.Header().Values("WWW-Authenticate"), " | "), `DPoP realm="api", algs="ES256 EdDSA RS256 PS256", error="use_dpop_nonce"`) {
		t.Fatalf("first try: %d %q %v", w.Code, nonce, w.Header())
	}
	if w := send(f.proof(t, nil, func(_, c map[string]any) { c["nonce"] = nonce })); w.Code != 200 {
		t.Fatalf("retry with the nonce: %d %v", w.Code, w.Header())
	}
}
