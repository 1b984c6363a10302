package secretsclient

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestNewRefusesCleartextAndOddURLs(t *testing.T) {
	for _, u := range []string{"http://example.com", "ftp://127.0.0.1", "https://", "https://a.example/x", "https://u:p@a.example", "https://a.example?q=1"} {
		if _, err := New(u, "t", nil); err == nil {
			t.Errorf("accepted %q", u)
		}
	}
	for _, u := range []string{"http://127.0.0.1:8080", "http://localhost:1", "https://auth.example.com", "https://auth.example.com/"} {
		if _, err := New(u, "t", nil); err != nil {
			t.Errorf("refused %q: %v", u, err)
		}
	}
}

// TestRedirectNotFollowed: a redirect would carry the token elsewhere.
func TestRedirectNotFollowed(t *testing.T) {
	var leaked bool
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked = r.Header.Get("Authorization") != ""
	}))
	defer evil.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, evil.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	c, err := New(srv.URL, "the-token", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Get(context.Background(), "team/a/x", 0, "")
	if StatusOf(err) != http.StatusTemporaryRedirect || leaked {
		t.Fatalf("err %v, leaked %v", err, leaked)
	}
}
