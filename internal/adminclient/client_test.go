package adminclient_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rampart-auth/rampart/internal/adminclient"
)

func TestAdminClientRefusesPlainHTTP(t *testing.T) {
	for _, iss := range []string{"http://auth.example.com", "http://10.0.0.1:8080", "ftp://auth.example.com", "auth.example.com", "https://user:pw@auth.example.com", "https://auth.example.com/?x=1", ""} {
		if _, err := adminclient.New(iss, "tok", nil); err == nil {
			t.Errorf("issuer %q accepted", iss)
		}
	}
	for _, iss := range []string{"https://auth.example.com", "http://127.0.0.1:8080", "http://[::1]:8080", "http://localhost:8080"} {
		if _, err := adminclient.New(iss, "tok", nil); err != nil {
			t.Errorf("issuer %q refused: %v", iss, err)
		}
	}
	if _, err := adminclient.New("https://auth.example.com", "", nil); err == nil {
		t.Error("no token accepted")
	}
}

// TestAdminClientFollowsNoRedirect: a server that redirects does not get
// the token sent to the redirect's target.
func TestAdminClientFollowsNoRedirect(t *testing.T) {
	var leaked atomic.Bool
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			leaked.Store(true)
		}
	}))
	defer elsewhere.Close()
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer redirector.Close()
	c, err := adminclient.New(redirector.URL, "secret-token", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ListClients(context.Background())
	var apiErr *adminclient.Error
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusTemporaryRedirect {
		t.Fatalf("err %v", err)
	}
	if leaked.Load() {
		t.Fatal("the token followed the redirect")
	}
}

func TestAdminClientProblem(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" || r.URL.Path != "/admin/api/v1/clients/a%2Fb" && r.URL.RawPath != "/admin/api/v1/clients/a%2Fb" {
			w.WriteHeader(http.StatusTeapot)
			return
		}
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"type":"about:blank","title":"Not Found","status":404,"detail":"no client a/b"}`))
	}))
	defer srv.Close()
	c, err := adminclient.New(srv.URL, "tok", srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetClient(context.Background(), "a/b")
	if err == nil || !strings.Contains(err.Error(), "404 Not Found: no client a/b") {
		t.Fatalf("err %v", err)
	}
}

func TestLoadToken(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if tok, err := adminclient.LoadToken(write("json", `{"access_token":"abc","token_type":"Bearer","expires_in":600}`), ""); err != nil || tok != "abc" {
		t.Fatalf("json: %q %v", tok, err)
	}
	if tok, err := adminclient.LoadToken(write("raw", "abc.def.ghi\n"), ""); err != nil || tok != "abc.def.ghi" {
		t.Fatalf("raw: %q %v", tok, err)
	}
	if tok, err := adminclient.LoadToken("", " env-token \n"); err != nil || tok != "env-token" {
		t.Fatalf("env: %q %v", tok, err)
	}
	for name, body := range map[string]string{"nojson": `{"id_token":"x"}`, "badjson": `{"access_token":`, "two": "a b", "dpop": `{"access_token":"x","token_type":"DPoP"}`} {
		if _, err := adminclient.LoadToken(write(name, body), ""); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	if _, err := adminclient.LoadToken(filepath.Join(dir, "missing"), ""); err == nil {
		t.Error("missing file accepted")
	}
}
