package main

import (
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/rampart-auth/rampart/internal/devicelogin"
)

// deviceClients is the configuration of the login tests: a public CLI
// client allowed the device grant and refresh tokens.
const deviceClients = `clients:
  - id: cli
    public: true
    grant_types: ['urn:ietf:params:oauth:grant-type:device_code', refresh_token]
    scopes: [openid, notes:read]
`

const loginPass = "a long device password"

// deviceServer runs serve with the device client and a user alice.
func deviceServer(t *testing.T) string {
	base, _ := deviceServerConfig(t)
	return base
}

// deviceServerConfig is deviceServer that also returns the config path.
func deviceServerConfig(t *testing.T) (string, string) {
	t.Helper()
	base, cfgPath := authServer(t, deviceClients)
	if code, out, errOut := cli(t, loginPass+"\n", "user", "create", "--config", cfgPath, "--username", "alice", "--password-stdin"); code != 0 {
		t.Fatalf("user create: %d %s %s", code, out, errOut)
	}
	return base, cfgPath
}

// loginRun is `rampart login` running in the background.
type loginRun struct {
	stdout, stderr *syncBuf
	done           chan int
}

func startLogin(args ...string) *loginRun {
	l := &loginRun{stdout: &syncBuf{}, stderr: &syncBuf{}, done: make(chan int, 1)}
	go func() { l.done <- run(append([]string{"login"}, args...), strings.NewReader(""), l.stdout, l.stderr) }()
	return l
}

var completeRE = regexp.MustCompile(`\(or open (\S+)\)`)

// verifyURL waits for the command to print the verification_uri_complete.
func (l *loginRun) verifyURL(t *testing.T) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := completeRE.FindStringSubmatch(l.stderr.String()); m != nil {
			return m[1]
		}
		select {
		case code := <-l.done:
			t.Fatalf("login exited %d before printing the code: %s", code, l.stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("login printed no verification URL: %q", l.stderr.String())
	return ""
}

func (l *loginRun) wait(t *testing.T) int {
	t.Helper()
	select {
	case code := <-l.done:
		return code
	case <-time.After(2 * time.Minute):
		t.Fatalf("login did not finish: %s", l.stderr.String())
		return -1
	}
}

// TestLoginDeviceFlowInChromium: `rampart login` against a running server,
// the device page completed in headless Chromium (sign in, the code
// prefilled from verification_uri_complete, the phishing warning, Allow):
// the command prints the token response on stdout and exits 0.
func TestLoginDeviceFlowInChromium(t *testing.T) {
	chromiumPath(t) // skip before any server starts
	base := deviceServer(t)
	l := startLogin("--issuer", base, "--client-id", "cli", "--scope", "openid notes:read")
	verify := l.verifyURL(t)
	if !strings.HasPrefix(verify, base+"/device?user_code=") {
		t.Fatalf("verification_uri_complete %q", verify)
	}
	tctx := browserCtx(t, verify)
	ctx := tctx
	fail := func(step string, err error) {
		t.Helper()
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		t.Fatalf("browser %s: %v (at %s)", step, err, loc)
	}
	if err := chromedp.Do(tctx,
		chromedp.WaitVisible(chromedp.CSS(`#username`)),
		chromedp.SendKeys(chromedp.CSS(`#username`), "alice"),
		chromedp.SendKeys(chromedp.CSS(`#password`), loginPass),
		chromedp.Click(chromedp.CSS(`#sign-in`)),
		chromedp.WaitVisible(chromedp.CSS(`#continue`)),
		chromedp.Click(chromedp.CSS(`#continue`)),
		chromedp.WaitVisible(chromedp.CSS(`#allow`)),
	); err != nil {
		fail("sign in and code", err)
	}
	warning, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS(`#device-warning`)))
	if err != nil {
		fail("warning", err)
	}
	client, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS(`#device-client`)))
	if err != nil {
		fail("client", err)
	}
	if !strings.Contains(warning, "someone may have sent you this code") || client != "cli" {
		t.Fatalf("confirmation page: warning %q client %q", warning, client)
	}
	if err := chromedp.Do(tctx, chromedp.Click(chromedp.CSS(`#allow`)), chromedp.WaitVisible(chromedp.CSS(`#device-done`))); err != nil {
		fail("allow", err)
	}
	if code := l.wait(t); code != 0 {
		t.Fatalf("login exit %d: %s", code, l.stderr.String())
	}
	var tok map[string]any
	if err := json.Unmarshal([]byte(l.stdout.String()), &tok); err != nil {
		t.Fatalf("stdout is not the token JSON: %q", l.stdout.String())
	}
	for _, k := range []string{"access_token", "refresh_token", "id_token"} {
		if s, _ := tok[k].(string); s == "" {
			t.Errorf("no %s in %v", k, tok)
		}
	}
}

// pageClient completes the device page with plain HTTP, as a same-origin
// browser would post it.
type pageClient struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newPageClient(t *testing.T, base string) *pageClient {
	jar, _ := cookiejar.New(nil)
	return &pageClient{t: t, base: base, c: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
}

func (p *pageClient) send(method, u string, form url.Values) (int, string) {
	p.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, u, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", p.base)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	resp, err := p.c.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func formOf(body string) url.Values {
	v := url.Values{}
	for _, m := range hiddenRE.FindAllStringSubmatch(body, -1) {
		v.Set(m[1], html.UnescapeString(m[2]))
	}
	return v
}

// decide opens verify, signs in (the redirect chain ends on the device
// form), enters the prefilled code and answers decision.
func (p *pageClient) decide(verify, decision string) {
	p.t.Helper()
	_, login := p.send(http.MethodGet, verify, nil)
	f := formOf(login)
	f.Set("username", "alice")
	f.Set("password", loginPass)
	st, dev := p.send(http.MethodPost, p.base+"/login", f)
	if st != http.StatusOK || !strings.Contains(dev, `id="user_code"`) {
		p.t.Fatalf("after sign-in: %d %.300s", st, dev)
	}
	f = formOf(dev)
	u, _ := url.Parse(verify)
	f.Set("user_code", u.Query().Get("user_code"))
	st, confirm := p.send(http.MethodPost, p.base+"/device", f)
	if st != http.StatusOK || !strings.Contains(confirm, `id="allow"`) {
		p.t.Fatalf("confirmation: %d %.300s", st, confirm)
	}
	f = formOf(confirm)
	f.Set("decision", decision)
	if st, done := p.send(http.MethodPost, p.base+"/device", f); st != http.StatusOK {
		p.t.Fatalf("decision: %d %.300s", st, done)
	}
}

// TestLoginOutputFileAndDenial: --output replaces even a world-readable
// file with one readable by the owner only and prints nothing on stdout;
// a denied request exits 1 and says so (with a client made by `rampart
// client create`, which carries the device grant like a configured one).
func TestLoginOutputFileAndDenial(t *testing.T) {
	base, cfgPath := deviceServerConfig(t)
	out := filepath.Join(t.TempDir(), "tokens.json")
	if err := os.WriteFile(out, []byte("old"), 0o644); err != nil { // #nosec G306 -- the looser mode is the test's point
		t.Fatal(err)
	}
	l := startLogin("--issuer", base, "--client-id", "cli", "--output", out)
	newPageClient(t, base).decide(l.verifyURL(t), "allow")
	if code := l.wait(t); code != 0 || l.stdout.String() != "" {
		t.Fatalf("login exit %d stdout %q stderr %s", code, l.stdout.String(), l.stderr.String())
	}
	fi, err := os.Stat(out)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("output file mode %v %v, want 0600", fi.Mode(), err)
	}
	b, _ := os.ReadFile(out)
	if !strings.Contains(string(b), `"access_token"`) {
		t.Fatalf("output file %q", b)
	}

	if code, out, errs := cli(t, "", "client", "create", "--config", cfgPath, "--id", "made-cli", "--public",
		"--grant-type", "urn:ietf:params:oauth:grant-type:device_code", "--scope", "openid"); code != 0 {
		t.Fatalf("client create: %d %s %s", code, out, errs)
	}
	l = startLogin("--issuer", base, "--client-id", "made-cli")
	newPageClient(t, base).decide(l.verifyURL(t), "deny")
	if code := l.wait(t); code != 1 || !strings.Contains(l.stderr.String(), "denied") || l.stdout.String() != "" {
		t.Fatalf("denied login: exit %d stdout %q stderr %q", code, l.stdout.String(), l.stderr.String())
	}
}

// TestLoginUsage: missing flags and plain http to a non-loopback issuer
// are usage errors (exit 2) before anything is sent.
func TestLoginUsage(t *testing.T) {
	for _, args := range [][]string{
		{"login"},
		{"login", "--issuer", "https://auth.example.test"},
		{"login", "--issuer", "http://auth.example.test", "--client-id", "cli"},
		{"login", "--issuer", "auth.example.test", "--client-id", "cli"},
		{"login", "--issuer", "https://auth.example.test", "--client-id", "cli", "extra"},
	} {
		if code, _, errs := cli(t, "", args...); code != 2 {
			t.Errorf("%v: exit %d (%s), want 2", args, code, errs)
		}
	}
}

// TestLoginHonoursSlowDown: against the real server, a client that polls
// too soon is told slow_down and waits 5 s longer each time (RFC 8628
// §3.5); the sleeps are recorded, not slept.
func TestLoginHonoursSlowDown(t *testing.T) {
	base := deviceServer(t)
	var waits []time.Duration
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sleep := func(ctx context.Context, d time.Duration) error {
		waits = append(waits, d)
		if len(waits) == 4 {
			cancel()
			return ctx.Err()
		}
		return nil // poll at once: too soon for the server from the second poll on
	}
	_, err := devicelogin.Run(ctx, devicelogin.Options{Issuer: base, ClientID: "cli", Sleep: sleep})
	if err == nil {
		t.Fatal("login succeeded without a decision")
	}
	want := []time.Duration{5 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second}
	if len(waits) != len(want) {
		t.Fatalf("waits %v, want %v", waits, want)
	}
	for i := range want {
		if waits[i] != want[i] {
			t.Fatalf("waits %v, want %v", waits, want)
		}
	}
}
