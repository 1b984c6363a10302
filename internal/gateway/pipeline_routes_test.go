package gateway

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rampart-auth/rampart/internal/config"
)

// TestShuffleShardIsolation: eight upstreams, shards of two, keyed by the
// tenant claim. Tenant "evil" kills both upstreams of its shard; tenants
// whose shards share no upstream with it keep a 100 % success rate, and
// evil is never served by another tenant's upstream.
func TestShuffleShardIsolation(t *testing.T) {
	h := newHarness(t, nil)
	ups := make([]*echo, 8)
	urls := make([]string, 8)
	for i := range ups {
		ups[i] = newEcho(t, h)
		urls[i] = ups[i].srv.URL
	}
	rc := route("notes", "/api/notes", urls, selfAuth())
	rc.ShuffleShard = &config.ShuffleShard{Key: "claim:tenant", Size: 2}
	h.cfg.Gateway.Routes = []config.GatewayRoute{rc}
	if err := h.gw.Load(h.cfg); err != nil {
		t.Fatal(err)
	}
	sh, err := NewSharder(urls, 2, []byte(strings.Repeat("s", 32)))
	if err != nil {
		t.Fatal(err)
	}
	evil := sh.Shard("evil")
	var others []string
	for i := 0; len(others) < 5 && i < 1000; i++ {
		name := "tenant-" + strconv.Itoa(i)
		if sh.Shard(name)&evil == 0 {
			others = append(others, name)
		}
	}
	if len(others) < 5 {
		t.Fatal("no disjoint tenants found")
	}
	// evil's requests kill its upstreams.
	for _, i := range evil.AppendTo(nil) {
		ups[i].srv.Close()
	}
	evilTok := h.token(t, map[string]any{"tenant": "evil"})
	for i := 0; i < 20; i++ {
		resp := h.do(t, "GET", "/api/notes", evilTok)
		if resp.StatusCode != 502 && resp.StatusCode != 503 {
			t.Fatalf("evil request %d: %d, want 502/503 (never another shard's upstream)", i, resp.StatusCode)
		}
	}
	for _, name := range others {
		tok := h.token(t, map[string]any{"tenant": name})
		for i := 0; i < 20; i++ {
			if resp := h.do(t, "GET", "/api/notes", tok); resp.StatusCode != 200 {
				t.Fatalf("tenant %s request %d: %d", name, i, resp.StatusCode)
			}
		}
	}
	for _, i := range evil.AppendTo(nil) {
		if n := ups[i].count(); n != 0 {
			t.Errorf("dead upstream %d served %d", i, n)
		}
	}
	if n := h.counter(t, "rampart_gateway_upstream_errors_total", "route", "notes"); n < 20 {
		t.Errorf("upstream errors counted %v", n)
	}
}

// TestInputRulesThroughGateway: schema violations get 422 with pointers
// and never reach the upstream; sanitized fields arrive clean; oversized
// and wrongly typed bodies get 413 and 415.
func TestInputRulesThroughGateway(t *testing.T) {
	h := newHarness(t, nil)
	up := newEcho(t, h)
	schema := filepath.Join(t.TempDir(), "note.json")
	if err := os.WriteFile(schema, []byte(`{"type":"object","additionalProperties":false,"required":["title","body"],
"properties":{"title":{"type":"string","minLength":1,"maxLength":50},"body":{"type":"string"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	rc := route("notes", "/api/notes", []string{up.srv.URL}, selfAuth())
	rc.Request = config.RouteRequest{MaxBodyBytes: 512, ContentTypes: []string{"application/json"}, JSONSchema: schema, SanitizeHTML: []string{"/body"}}
	h.cfg.Gateway.Routes = []config.GatewayRoute{rc}
	if err := h.gw.Load(h.cfg); err != nil {
		t.Fatal(err)
	}
	tok := h.token(t, nil)
	send := func(body, ctype string) *http.Response {
		return h.doBody(t, "POST", "/api/notes", tok, strings.NewReader(body), "Content-Type", ctype)
	}
	resp := send(`{"title":"","body":"x","admin":true}`, "application/json")
	var p struct {
		Errors []struct{ Pointer, Detail string } `json:"errors"`
	}
	if err := json.Unmarshal([]byte(readBody(t, resp)), &p); err != nil || resp.StatusCode != 422 || len(p.Errors) < 2 {
		t.Fatalf("schema violation: %d %+v %v", resp.StatusCode, p, err)
	}
	if resp := send(`{"title":"t","body":"`+strings.Repeat("x", 600)+`"}`, "application/json"); resp.StatusCode != 413 {
		t.Errorf("oversized: %d", resp.StatusCode)
	}
	if resp := send(`{"title":"t","body":"x"}`, "text/plain"); resp.StatusCode != 415 {
		t.Errorf("wrong type: %d", resp.StatusCode)
	}
	if resp := send(`{"title":"t","body":"x","body":"<script>alert(1)</script>"}`, "application/json"); resp.StatusCode != 400 {
		t.Errorf("duplicate member: %d", resp.StatusCode)
	}
	if up.count() != 0 {
		t.Fatal("a refused body reached the upstream")
	}
	resp = send(`{"title":"t","body":"<p>hi<img src=x onerror=alert(1)><a href=\"javascript:alert(1)\">x</a></p>"}`, "application/json")
	if resp.StatusCode != 200 {
		t.Fatalf("valid note: %d %s", resp.StatusCode, readBody(t, resp))
	}
	got := up.last(t)
	if strings.Contains(got.Body, "onerror") || strings.Contains(got.Body, "javascript") || !strings.Contains(got.Body, "hi") {
		t.Errorf("upstream got %q", got.Body)
	}
	if got.Header.Get("Content-Length") == "" && got.Header.Get("Transfer-Encoding") != "" {
		t.Errorf("body not sent with its length: %v", got.Header)
	}
}

// TestSecurityHeadersOnEveryAnswer: the route's headers are on the
// gateway's refusals and on upstream answers, once each, with the route's
// overrides.
func TestSecurityHeadersOnEveryAnswer(t *testing.T) {
	h := newHarness(t, nil)
	up := newEcho(t, h)
	rc := route("notes", "/api/notes", []string{up.srv.URL}, selfAuth())
	rc.SecurityHeaders = map[string]string{"X-Frame-Options": "SAMEORIGIN", "Referrer-Policy": ""}
	h.cfg.Gateway.Routes = []config.GatewayRoute{rc}
	if err := h.gw.Load(h.cfg); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{"", h.token(t, nil)} {
		resp := h.do(t, "GET", "/api/notes", tok)
		if v := resp.Header.Values("X-Frame-Options"); len(v) != 1 || v[0] != "SAMEORIGIN" {
			t.Errorf("status %d: X-Frame-Options %q", resp.StatusCode, v)
		}
		if v := resp.Header.Values("X-Content-Type-Options"); len(v) != 1 || v[0] != "nosniff" {
			t.Errorf("status %d: X-Content-Type-Options %q", resp.StatusCode, v)
		}
		if resp.Header.Get("Referrer-Policy") != "" {
			t.Errorf("status %d: removed header present", resp.StatusCode)
		}
	}
}
