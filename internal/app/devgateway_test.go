package app

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/testkit"
)

const devMallorySecret = "mallory-secret-of-at-least-thirty-two-chars"

// TestServeDevWalkthrough runs `serve --dev` as a new user would and
// follows the printed walk-through, then attacks the notes example
// through the gateway: another client's IDOR probes and SQL injection
// all fail, and nothing of one client's notes leaks to the other.
func TestServeDevWalkthrough(t *testing.T) {
	t.Setenv("RAMPART_TEST_MALLORY_SECRET", devMallorySecret)
	// As config.Dev, with the data directory and the port chosen before the
	// defaults derive the store path and the issuer from them.
	cfg := &config.Config{Dev: true, DataDir: t.TempDir(), HTTP: config.HTTP{Listen: "127.0.0.1:0"}}
	cfg.Defaults()
	cfg.Clients = []config.Client{{ID: "mallory", SecretEnv: "RAMPART_TEST_MALLORY_SECRET", GrantTypes: []string{"client_credentials"},
		Scopes: []string{"notes:read", "notes:write"}, Audience: []string{devNotesAudience}}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	out := &testkit.SyncBuffer{}
	addrs := startServe(t, cfg, out)
	m := regexp.MustCompile(`-u notes-cli:([A-Za-z0-9_-]+)`).FindStringSubmatch(out.String())
	if m == nil || addrs["gateway"] == nil || addrs["notes example"] == nil {
		t.Fatalf("no walk-through printed: %s", out.String())
	}
	main, gw := "http://"+addrs["main"].String(), "http://"+addrs["gateway"].String()
	// The walk-through's last step: the CLI's public device-flow client
	// exists and is named with the command that uses it.
	if !strings.Contains(out.String(), "rampart login --issuer "+main+" --client-id rampart-cli") {
		t.Fatalf("no rampart login step in the walk-through: %s", out.String())
	}
	dv, err := http.PostForm(main+"/oauth2/device_authorization", url.Values{"client_id": {"rampart-cli"}, "scope": {"openid rampart:admin"}})
	if err != nil {
		t.Fatal(err)
	}
	_ = dv.Body.Close()
	if dv.StatusCode != http.StatusOK {
		t.Fatalf("the dev CLI client cannot start the device flow: %d", dv.StatusCode)
	}
	alice := devToken(t, main, "notes-cli", m[1])
	mallory := devToken(t, main, "mallory", devMallorySecret)
	call := func(tok, method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, gw+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// The walk-through.
	if code, body := call(alice, "GET", "/api/users/me", ""); code != 200 || !strings.Contains(body, `"subject":"notes-cli"`) {
		t.Fatalf("me: %d %s", code, body)
	}
	code, body := call(alice, "POST", "/api/notes", `{"title":"secret plans","body":"<p>hi<img src=x onerror=alert(1)></p>"}`)
	if code != 201 || strings.Contains(body, "onerror") {
		t.Fatalf("create: %d %s", code, body)
	}
	var n struct{ ID int64 }
	_ = json.Unmarshal([]byte(body), &n)
	if code, _ := call(alice, "POST", "/api/notes", `{"title":""}`); code != 422 {
		t.Errorf("empty title: %d, want 422", code)
	}
	// IDOR: mallory probes alice's note.
	id := fmt.Sprint(n.ID)
	for _, p := range []struct{ method, path, body string }{
		{"GET", "/api/notes/" + id, ""}, {"PUT", "/api/notes/" + id, `{"title":"pwned"}`}, {"DELETE", "/api/notes/" + id, ""},
		{"GET", "/api/notes/0" + id, ""}, {"GET", "/api/notes/" + id + "%20OR%201=1", ""}, {"GET", "/api/notes/-1", ""},
		{"GET", "/api/notes/" + id + "/../" + id, ""}, {"GET", "/api/notes/%2e%2e/notes/" + id, ""},
	} {
		if code, body := call(mallory, p.method, p.path, p.body); code == 200 || code == 204 || strings.Contains(body, "secret plans") {
			t.Errorf("IDOR %s %s: %d %s", p.method, p.path, code, body)
		}
	}
	// SQL injection through the gateway.
	for _, q := range []string{`' OR '1'='1`, `%' OR 1=1 --`, `x' UNION SELECT id, owner, title, body, created_at, updated_at FROM notes --`} {
		if code, body := call(mallory, "GET", "/api/notes?q="+url.QueryEscape(q), ""); code >= 500 || strings.Contains(body, "secret plans") {
			t.Errorf("SQLi q=%q: %d %s", q, code, body)
		}
	}
	if code, _ := call(mallory, "POST", "/api/notes", `{"title":"'; DROP TABLE notes;--","body":"x"}`); code != 201 {
		t.Errorf("injection title: %d", code)
	}
	if code, body := call(alice, "GET", "/api/notes/"+id, ""); code != 200 || !strings.Contains(body, "secret plans") {
		t.Fatalf("alice's note after the attacks: %d %s", code, body)
	}
	// The 429 of the walk-through: 10 reads in a burst per user.
	limited := false
	for i := 0; i < 15 && !limited; i++ {
		code, _ := call(alice, "GET", "/api/notes", "")
		limited = code == 429
	}
	if !limited {
		t.Error("no 429 after 15 reads")
	}
}

func devToken(t *testing.T, main, id, secret string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"notes:read notes:write"}}
	req, _ := http.NewRequest("POST", main+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.AccessToken == "" {
		t.Fatalf("token for %s: %d %v", id, resp.StatusCode, err)
	}
	return body.AccessToken
}
