package main

import (
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

var (
	csrfRE       = regexp.MustCompile(`name="csrf_token" value="([^"]*)"`)
	regexpReturn = regexp.MustCompile(`name="return" value="([^"]*)"`)
)

// loginAttempt signs in through the real page (fresh browser each time).
func loginAttempt(t *testing.T, base, user, pass string) *http.Response {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfRE.FindStringSubmatch(string(body))
	if m == nil {
		t.Fatalf("no CSRF token on the login page: %s", body)
	}
	form := url.Values{"csrf_token": {html.UnescapeString(m[1])}, "username": {user}, "password": {pass}, "return": {""}}
	req, _ := http.NewRequest(http.MethodPost, base+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// TestLoginLimitFromConfigOnRedis: rate_limits from the YAML apply to the
// real sign-in page, fleet-wide on Redis when it is configured.
func TestLoginLimitFromConfigOnRedis(t *testing.T) {
	redisURL := os.Getenv("RAMPART_TEST_REDIS_URL")
	extra := "rate_limits: {login_per_username: {rate: 1, period: 1h, burst: 3}}\n"
	if redisURL != "" {
		extra += fmt.Sprintf("redis: {url: '%s'}\n", redisURL)
	} else {
		t.Log("running on the in-process store: set RAMPART_TEST_REDIS_URL to run it on Redis")
	}
	base, _ := authServer(t, extra)
	user := fmt.Sprintf("victim%d", time.Now().UnixNano()) // Redis outlives test runs
	var codes []int
	for i := 0; i < 4; i++ {
		codes = append(codes, loginAttempt(t, base, user, "not the password").StatusCode)
	}
	if fmt.Sprint(codes) != "[401 401 401 429]" {
		t.Fatalf("statuses %v, want [401 401 401 429]", codes)
	}
}
