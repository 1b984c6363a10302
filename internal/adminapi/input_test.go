package adminapi_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/rampart-auth/rampart/internal/adminapi"
)

func jsonInt(n int64) string    { return strconv.FormatInt(n, 10) }
func urlEscape(s string) string { return url.QueryEscape(s) }

// TestHostileBodies: every malformed, oversized or ambiguous body is a
// 4xx problem that names the mistake and creates nothing.
func TestHostileBodies(t *testing.T) {
	f := newFixture(t, "sqlite")
	path := adminapi.Prefix + "/clients"
	cases := []struct {
		name, ct, body string
		status         int
	}{
		{"no content type", "", `{"client_id":"x","grant_types":["client_credentials"]}`, http.StatusUnsupportedMediaType},
		{"form", "application/x-www-form-urlencoded", `client_id=x`, http.StatusUnsupportedMediaType},
		{"not json", "application/json", `client_id=x`, http.StatusBadRequest},
		{"array", "application/json", `[{"client_id":"x"}]`, http.StatusBadRequest},
		{"two values", "application/json", `{"client_id":"x","grant_types":["client_credentials"]} {}`, http.StatusBadRequest},
		{"duplicate member", "application/json", `{"client_id":"x","public":false,"grant_types":["client_credentials"],"public":true}`, http.StatusBadRequest},
		{"unknown member (typo)", "application/json", `{"client_id":"x","publc":true,"grant_types":["client_credentials"]}`, http.StatusBadRequest},
		{"wrong type", "application/json", `{"client_id":7}`, http.StatusBadRequest},
		{"deep", "application/json", `{"scopes":` + strings.Repeat("[", 50) + strings.Repeat("]", 50) + `}`, http.StatusBadRequest},
		{"truncated", "application/json", `{"client_id":"x"`, http.StatusBadRequest},
		{"empty", "application/json", ``, http.StatusBadRequest},
		{"oversized", "application/json", `{"client_id":"` + strings.Repeat("a", 70<<10) + `"}`, http.StatusRequestEntityTooLarge},
		{"bad ttl", "application/json", `{"client_id":"x","grant_types":["client_credentials"],"access_token_ttl":"soon"}`, http.StatusBadRequest},
		{"negative ttl", "application/json", `{"client_id":"x","grant_types":["client_credentials"],"access_token_ttl":"-5m"}`, http.StatusBadRequest},
		{"bad grant", "application/json", `{"client_id":"x","grant_types":["password"]}`, http.StatusBadRequest},
		{"bad id", "application/json", `{"client_id":"../../etc","grant_types":["client_credentials"]}`, http.StatusBadRequest},
		{"script id", "application/json", `{"client_id":"<script>alert(1)</script>","grant_types":["client_credentials"]}`, http.StatusBadRequest},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, h, b := f.call(http.MethodPost, path, "admin", c.ct, []byte(c.body))
			if code != c.status {
				t.Fatalf("status %d, want %d: %s", code, c.status, b)
			}
			if h.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("content type %q", h.Get("Content-Type"))
			}
			var p struct {
				Status int
				Detail string
			}
			if err := json.Unmarshal(b, &p); err != nil || p.Status != c.status || p.Detail == "" {
				t.Fatalf("problem %s (%v)", b, err)
			}
			// A refused value may be named in the detail, but never as
			// markup a browser would run, and no internals.
			if strings.Contains(string(b), "<script>") || strings.Contains(strings.ToLower(p.Detail), "sql") {
				t.Fatalf("detail carries markup or internals: %s", b)
			}
		})
	}
	var list struct{ Clients []json.RawMessage }
	f.json(http.MethodGet, path, nil, http.StatusOK, &list)
	if len(list.Clients) != 1 { // the file's client only
		t.Fatalf("%d clients after hostile bodies", len(list.Clients))
	}
}

func TestUnknownRoutesAndMethods(t *testing.T) {
	f := newFixture(t, "sqlite")
	for _, c := range []struct {
		method, path string
		status       int
	}{
		{http.MethodGet, adminapi.Prefix + "/nothing", http.StatusNotFound},
		{http.MethodGet, adminapi.Prefix + "/", http.StatusNotFound},
		{http.MethodPut, adminapi.Prefix + "/clients", http.StatusMethodNotAllowed},
		{http.MethodGet, adminapi.Prefix + "/users/x/disable", http.StatusMethodNotAllowed},
	} {
		code, h, b := f.call(c.method, c.path, "", "", nil)
		if code != c.status || h.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("%s %s: %d %q %s", c.method, c.path, code, h.Get("Content-Type"), b)
		}
	}
}

// TestOpenAPIDocumentsEveryRoute: the served document is JSON, OpenAPI
// 3.1, and has an operation for every route the API serves, and no
// other.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	f := newFixture(t, "sqlite")
	code, h, b := f.call(http.MethodGet, adminapi.Prefix+"/openapi.json", "", "", nil)
	if code != http.StatusOK || h.Get("Content-Type") != "application/json" {
		t.Fatalf("openapi: %d %q", code, h.Get("Content-Type"))
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(b, &doc); err != nil || !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Fatalf("openapi document: %v %q", err, doc.OpenAPI)
	}
	documented := map[string]bool{}
	for p, ops := range doc.Paths {
		for m := range ops {
			if m == "parameters" {
				continue
			}
			documented[strings.ToUpper(m)+" "+adminapi.Prefix+p] = true
		}
	}
	served := map[string]bool{}
	for _, r := range adminapi.Routes() {
		served[r] = true
		if !documented[r] {
			t.Errorf("route %s is not in openapi.json", r)
		}
	}
	for r := range documented {
		if !served[r] {
			t.Errorf("openapi.json documents %s, which is not served", r)
		}
	}
}
