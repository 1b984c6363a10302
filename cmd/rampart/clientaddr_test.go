package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/testkit"
)

// syncBuf is a goroutine-safe log sink.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// proxiedServer runs the real serve with httpExtra inside the http mapping
// and extra at the top level, logging JSON at info level into logs. stop
// ends it (audit events are flushed by then).
func proxiedServer(t *testing.T, httpExtra, extra string) (base, cfgPath string, logs *syncBuf, stop func()) {
	t.Helper()
	dir := t.TempDir()
	keyFile := writeFile(t, dir, "master.key", testkit.MasterKeyHex+"\n")
	port := testkit.FreePort(t)
	base = fmt.Sprintf("http://127.0.0.1:%d", port)
	body := fmt.Sprintf("issuer: %s\ndata_dir: %s\nmaster_key_file: %s\nhttp: {listen: '127.0.0.1:%d', tls: {mode: off}%s}\nlog: {level: info, format: json}\n%s",
		base, filepath.Join(dir, "data"), keyFile, port, httpExtra, extra)
	cfgPath = writeFile(t, dir, "rampart.yaml", body)
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	logs = &syncBuf{}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, io.Discard, logs, ready) }()
	select {
	case <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("serve: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("serve did not start")
	}
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return base, cfgPath, logs, stop
}

// proxiedLogin signs in through the real page, each request carrying the
// given forwarding headers (the test client plays the proxy, or a client
// talking to the server directly).
func proxiedLogin(t *testing.T, base, user string, headers map[string]string) int {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 20 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(req *http.Request) (*http.Response, string) {
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/login", nil)
	_, body := do(req)
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF token on the login page: %s", body)
	}
	form := url.Values{"csrf_token": {html.UnescapeString(m[1])}, "username": {user}, "password": {"not the password"}, "return": {""}}
	req, _ = http.NewRequest(http.MethodPost, base+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	resp, _ := do(req)
	return resp.StatusCode
}

// TestClientAddressBehindProxy performs issue 10 and 16 through the real
// serve. The test client connects from 127.0.0.1; with 127.0.0.0/8 trusted
// it plays a proxy that appends X-Forwarded-For (or writes Forwarded) and
// passes the client's other headers through. A client rotating the header
// the proxy does not write must still hit the per-address sign-in limit,
// and the audit events and access log must name the client the proxy
// named, not the proxy. From an untrusted peer every header is ignored.
func TestClientAddressBehindProxy(t *testing.T) {
	const limit = "login_per_ip: {rate: 1, period: 1h, burst: 3}"
	cases := []struct {
		name, httpExtra, extra string
		// headers of attempt i (the attacker), and of a second client.
		attack    func(i int) map[string]string
		other     map[string]string
		want      string // the client address audit and access log must name
		otherWant string // and the one they name for the second client
	}{
		{
			// The deprecated key (it exists on the old code too, so this
			// case runs there and shows the bypass).
			name: "reject/rotated-forwarded-behind-xff-proxy", extra: "rate_limits: {trusted_proxies: ['127.0.0.0/8'], " + limit + "}\n",
			attack: func(i int) map[string]string {
				return map[string]string{"X-Forwarded-For": "198.51.100.7", "Forwarded": fmt.Sprintf("for=203.0.113.%d", i+1)}
			},
			other: map[string]string{"X-Forwarded-For": "198.51.100.8"}, want: "198.51.100.7", otherWant: "198.51.100.8",
		},
		{
			name: "reject/rotated-forwarded-behind-xff-proxy-http-key", httpExtra: ", trusted_proxies: ['127.0.0.0/8']", extra: "rate_limits: {" + limit + "}\n",
			attack: func(i int) map[string]string {
				return map[string]string{"X-Forwarded-For": "198.51.100.7", "Forwarded": fmt.Sprintf("for=203.0.113.%d", i+1)}
			},
			other: map[string]string{"X-Forwarded-For": "198.51.100.8"}, want: "198.51.100.7", otherWant: "198.51.100.8",
		},
		{
			name: "reject/rotated-xff-behind-forwarded-proxy", httpExtra: ", trusted_proxies: ['127.0.0.0/8'], client_ip_header: Forwarded", extra: "rate_limits: {" + limit + "}\n",
			attack: func(i int) map[string]string {
				return map[string]string{"Forwarded": `for="[2001:db8::7]:4711"`, "X-Forwarded-For": fmt.Sprintf("203.0.113.%d", i+1)}
			},
			other: map[string]string{"Forwarded": "for=198.51.100.8"}, want: "2001:db8::7", otherWant: "198.51.100.8",
		},
		{
			name: "reject/untrusted-peer-rotates-both", httpExtra: ", trusted_proxies: ['10.0.0.0/8']", extra: "rate_limits: {" + limit + "}\n",
			attack: func(i int) map[string]string {
				return map[string]string{"X-Forwarded-For": fmt.Sprintf("198.51.100.%d", i+1), "Forwarded": fmt.Sprintf("for=203.0.113.%d", i+1)}
			},
			want: "127.0.0.1",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			base, cfgPath, logs, stop := proxiedServer(t, tc.httpExtra, tc.extra)
			var codes []int
			for i := 0; i < 5; i++ {
				// A new username each time: only the per-address limit applies.
				codes = append(codes, proxiedLogin(t, base, fmt.Sprintf("sprayed%d", i), tc.attack(i)))
			}
			if fmt.Sprint(codes) != "[401 401 401 429 429]" {
				t.Fatalf("statuses %v, want [401 401 401 429 429]: the rotated header escaped the per-address limit", codes)
			}
			if tc.other != nil {
				// The believed header really decides: another client behind
				// the same proxy keeps its own budget.
				if st := proxiedLogin(t, base, "someone", tc.other); st != http.StatusUnauthorized {
					t.Fatalf("another client behind the proxy got %d, want 401", st)
				}
			}
			stop()

			var posts int
			sc := bufio.NewScanner(strings.NewReader(logs.String()))
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				var l map[string]any
				if json.Unmarshal(sc.Bytes(), &l) != nil || l["msg"] != "http request" || l["method"] != "POST" {
					continue
				}
				if posts++; posts <= 5 && l["client_ip"] != tc.want {
					t.Errorf("access log client_ip %v, want %s: %s", l["client_ip"], tc.want, sc.Text())
				}
			}
			if posts < 5 {
				t.Fatalf("%d POST lines in the access log, want at least 5", posts)
			}

			code, out, errOut := cli(t, "", "audit", "tail", "--config", cfgPath, "--json", "-n", "200")
			if code != 0 {
				t.Fatalf("audit tail: %d %s", code, errOut)
			}
			// Five attempts (three refused passwords, two rate-limit
			// refusals), all naming the attacker, and the second client's.
			got := map[string]int{}
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				var ev struct {
					Action     string `json:"action"`
					ClientAddr string `json:"client_addr"`
				}
				if json.Unmarshal([]byte(line), &ev) == nil && ev.Action == "auth.login" {
					got[ev.ClientAddr]++
				}
			}
			want := map[string]int{tc.want: 5}
			if tc.otherWant != "" {
				want[tc.otherWant] = 1
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("auth.login events by client_addr %v, want %v:\n%s", got, want, out)
			}
		})
	}
}

// TestConfigCheckDeprecatedProxies: `config check` prints the deprecation
// notice of rate_limits.trusted_proxies and refuses a conflicting pair.
func TestConfigCheckDeprecatedProxies(t *testing.T) {
	dir := t.TempDir()
	keyFile := writeFile(t, dir, "master.key", testkit.MasterKeyHex+"\n")
	head := fmt.Sprintf("issuer: http://127.0.0.1:8080\ndata_dir: %s\nmaster_key_file: %s\n", filepath.Join(dir, "data"), keyFile)
	alias := writeFile(t, dir, "alias.yaml", head+"rate_limits: {trusted_proxies: ['10.0.0.0/8']}\n")
	code, out, errOut := cli(t, "", "config", "check", "--config", alias)
	if code != 0 || !strings.Contains(out, "notice: rate_limits.trusted_proxies is deprecated") {
		t.Fatalf("alias: exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	conflict := writeFile(t, dir, "conflict.yaml", head+"http: {trusted_proxies: ['192.0.2.0/24']}\nrate_limits: {trusted_proxies: ['10.0.0.0/8']}\n")
	code, _, errOut = cli(t, "", "config", "check", "--config", conflict)
	if code != 1 || !strings.Contains(errOut, "rate_limits.trusted_proxies") {
		t.Fatalf("conflict: exit %d, stderr %s", code, errOut)
	}
}
