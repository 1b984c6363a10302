package app

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
)

// TestSecretsHTTPEndToEnd drives /secrets/v1/ of a real serve with real
// client_credentials tokens, on SQLite and PostgreSQL: the lifecycle of
// a secret (put, get, versions, labels with check-and-set, delete,
// undelete, destroy) under a policy, refusals without one, prefix
// confusion, traversal, spoofed identity headers and bad bodies (nothing
// written).
func TestSecretsHTTPEndToEnd(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			s := startSecretsServer(t, driver, "")
			app := s.token(t, "app", secAppSecret, "secrets")
			other := s.token(t, "other", secOtherSecret, "secrets")
			testSecretsLifecycle(t, s, app)
			testSecretsRefusals(t, s, app, other)
		})
	}
}

func testSecretsLifecycle(t *testing.T, s *secServer, tok string) {
	var w struct {
		Path    string   `json:"path"`
		Version int64    `json:"version"`
		Labels  []string `json:"labels"`
	}
	s.json(t, "PUT", "/secrets/v1/data/team/a/db", tok, map[string]any{"value": "first-value", "cas": 0, "metadata": map[string]string{"owner": "a"}}, 200, &w)
	if w.Version != 1 || w.Path != "team/a/db" || len(w.Labels) != 1 || w.Labels[0] != "current" {
		t.Fatalf("put: %+v", w)
	}
	s.json(t, "PUT", "/secrets/v1/data/team/a/db", tok, map[string]any{"value_base64": "AP8B", "cas": 1}, 200, &w)
	if w.Version != 2 {
		t.Fatalf("second put: %+v", w)
	}
	// A stale check-and-set: 409, nothing written.
	s.json(t, "PUT", "/secrets/v1/data/team/a/db", tok, map[string]any{"value": "stale", "cas": 1}, http.StatusConflict, nil)

	var got map[string]any
	code, hdr, body := s.do(t, "GET", "/secrets/v1/data/team/a/db", tok, "", nil)
	if code != 200 || hdr.Get("Cache-Control") != "no-store" || json.Unmarshal(body, &got) != nil {
		t.Fatalf("get: %d %v %s", code, hdr, body)
	}
	if got["value_base64"] != "AP8B" || got["value"] != nil || got["version"] != float64(2) {
		t.Fatalf("get binary: %v", got)
	}
	s.json(t, "GET", "/secrets/v1/data/team/a/db?version=1", tok, nil, 200, &got)
	if got["value"] != "first-value" || got["metadata"].(map[string]any)["owner"] != "a" {
		t.Fatalf("get v1: %v", got)
	}
	s.json(t, "GET", "/secrets/v1/data/team/a/db?label=previous", tok, nil, 200, &got)
	if got["version"] != float64(1) {
		t.Fatalf("previous: %v", got)
	}

	// Labels: a custom label with check-and-set.
	s.json(t, "PUT", "/secrets/v1/labels/team/a/db", tok, map[string]any{"label": "stable", "version": 1, "expect": 0}, 200, nil)
	s.json(t, "PUT", "/secrets/v1/labels/team/a/db", tok, map[string]any{"label": "stable", "version": 2, "expect": 0}, http.StatusConflict, nil)
	s.json(t, "PUT", "/secrets/v1/labels/team/a/db", tok, map[string]any{"label": "stable", "version": 2, "expect": 1}, 200, nil)
	var meta struct {
		CurrentVersion int64            `json:"current_version"`
		Labels         map[string]int64 `json:"labels"`
		Versions       []struct {
			Version   int64    `json:"version"`
			Labels    []string `json:"labels"`
			CreatedBy string   `json:"created_by"`
			DeletedAt *string  `json:"deleted_at"`
			Destroyed bool     `json:"destroyed"`
		} `json:"versions"`
	}
	s.json(t, "GET", "/secrets/v1/metadata/team/a/db", tok, nil, 200, &meta)
	if meta.CurrentVersion != 2 || meta.Labels["stable"] != 2 || meta.Labels["previous"] != 1 || len(meta.Versions) != 2 || meta.Versions[0].CreatedBy != "client:app" {
		t.Fatalf("metadata: %+v", meta)
	}
	if code, _, b := s.do(t, "DELETE", "/secrets/v1/labels/team/a/db?label=stable&expect=1", tok, "", nil); code != http.StatusConflict {
		t.Fatalf("label remove with a stale expect: %d %s", code, b)
	}
	if code, _, b := s.do(t, "DELETE", "/secrets/v1/labels/team/a/db?label=stable&expect=2", tok, "", nil); code != http.StatusNoContent {
		t.Fatalf("label remove: %d %s", code, b)
	}

	// Soft delete: 410 until undeleted.
	s.json(t, "POST", "/secrets/v1/delete/team/a/db", tok, map[string]any{"versions": []int64{2}}, http.StatusNoContent, nil)
	s.json(t, "GET", "/secrets/v1/data/team/a/db", tok, nil, http.StatusGone, nil)
	s.json(t, "GET", "/secrets/v1/metadata/team/a/db", tok, nil, 200, &meta)
	if meta.Versions[1].DeletedAt == nil {
		t.Fatalf("deleted_at missing: %+v", meta.Versions[1])
	}
	s.json(t, "POST", "/secrets/v1/undelete/team/a/db", tok, map[string]any{"versions": []int64{2}}, http.StatusNoContent, nil)
	s.json(t, "GET", "/secrets/v1/data/team/a/db", tok, nil, 200, nil)
	// Destroy one version: 410 for good; destroy all: 404.
	s.json(t, "POST", "/secrets/v1/destroy/team/a/db", tok, map[string]any{"versions": []int64{1}}, http.StatusNoContent, nil)
	s.json(t, "GET", "/secrets/v1/data/team/a/db?version=1", tok, nil, http.StatusGone, nil)
	s.json(t, "GET", "/secrets/v1/metadata/team/a/db", tok, nil, 200, &meta)
	if !meta.Versions[0].Destroyed {
		t.Fatalf("destroyed flag: %+v", meta.Versions[0])
	}
	s.json(t, "PUT", "/secrets/v1/data/team/a/keep", tok, map[string]any{"value": "kept"}, 200, nil)
	var list struct {
		Secrets []struct {
			Path           string `json:"path"`
			CurrentVersion int64  `json:"current_version"`
		} `json:"secrets"`
	}
	s.json(t, "GET", "/secrets/v1/list/team/a", tok, nil, 200, &list)
	if len(list.Secrets) != 2 || list.Secrets[0].Path != "team/a/db" || list.Secrets[1].Path != "team/a/keep" {
		t.Fatalf("list: %+v", list)
	}
	s.json(t, "POST", "/secrets/v1/destroy/team/a/db", tok, map[string]any{}, http.StatusNoContent, nil)
	s.json(t, "GET", "/secrets/v1/data/team/a/db", tok, nil, http.StatusNotFound, nil)
	s.json(t, "GET", "/secrets/v1/list/", tok, nil, 200, &list)
	if len(list.Secrets) != 1 || list.Secrets[0].Path != "team/a/keep" {
		t.Fatalf("list all: %+v", list)
	}
	// The rotation engine decides the policy before it looks for a
	// rotation (no existence oracle): app has no rotate capability; it
	// may read the path, so the status says there is no rotation.
	if code, _, b := s.do(t, "POST", "/secrets/v1/rotate/team/a/keep", tok, "", nil); code != http.StatusForbidden {
		t.Fatalf("rotate: %d %s, want 403", code, b)
	}
	if code, _, b := s.do(t, "GET", "/secrets/v1/rotation/team/a/keep", tok, "", nil); code != http.StatusNotFound {
		t.Fatalf("rotation status: %d %s, want 404", code, b)
	}
	// No dynamic credentials are configured: the lease routes answer 404
	// problem+json.
	for _, r := range [][2]string{{"POST", "/secrets/v1/leases/team/a/keep"}, {"GET", "/secrets/v1/leases/team/a/keep"}} {
		code, hdr, b := s.do(t, r[0], r[1], tok, "", nil)
		if code != 404 || hdr.Get("Content-Type") != "application/problem+json" || !strings.Contains(string(b), "configured for this path") {
			t.Fatalf("%v: %d %s", r, code, b)
		}
	}
}

func testSecretsRefusals(t *testing.T, s *secServer, app, other string) {
	ctx := context.Background()
	s.json(t, "PUT", "/secrets/v1/data/team/a/svc", app, map[string]any{"value": "v"}, 200, nil)
	writes := func() int {
		t.Helper()
		n := 0
		for _, p := range []string{"team/a/svc", "team/ab/svc", "team/a/new"} {
			code, _, _ := s.do(t, "GET", "/secrets/v1/metadata/"+p, app, "", nil)
			if code == 200 {
				var m struct {
					CurrentVersion int `json:"current_version"`
				}
				_, _, b := s.do(t, "GET", "/secrets/v1/metadata/"+p, app, "", nil)
				_ = json.Unmarshal(b, &m)
				n += m.CurrentVersion
			}
		}
		return n
	}
	before := writes()
	cases := []struct {
		name, method, path, tok, ct, body string
		want                              int
	}{
		{"reject/no-token", "GET", "/secrets/v1/data/team/a/svc", "", "", "", 401},
		{"reject/bad-token", "GET", "/secrets/v1/data/team/a/svc", "not.a.token", "", "", 401},
		{"reject/no-policy-existing", "GET", "/secrets/v1/data/team/a/svc", other, "", "", 403},
		{"reject/no-policy-missing", "GET", "/secrets/v1/data/team/a/nothing-here", other, "", "", 403},
		{"reject/prefix-confusion-read", "GET", "/secrets/v1/data/team/ab/svc", app, "", "", 403},
		{"reject/prefix-confusion-write", "PUT", "/secrets/v1/data/team/ab/svc", app, "application/json", `{"value":"x"}`, 403},
		{"reject/traversal-raw", "GET", "/secrets/v1/data/team/a/../ab/svc", app, "", "", 400},
		{"reject/traversal-encoded", "GET", "/secrets/v1/data/team/a/%2e%2e/ab/svc", app, "", "", 400},
		{"reject/traversal-encoded-upper", "GET", "/secrets/v1/data/team/a/%2E%2E/ab/svc", app, "", "", 400},
		{"reject/encoded-slash", "GET", "/secrets/v1/data/team%2fa/svc", app, "", "", 400},
		{"reject/double-slash", "GET", "/secrets/v1/data/team/a//svc", app, "", "", 400},
		{"reject/trailing-slash", "GET", "/secrets/v1/data/team/a/svc/", app, "", "", 400},
		{"reject/dot-segment", "GET", "/secrets/v1/data/team/a/./svc", app, "", "", 400},
		{"reject/upper-case", "GET", "/secrets/v1/data/team/A/svc", app, "", "", 400},
		{"reject/write-traversal", "PUT", "/secrets/v1/data/team/a/../ab/x", app, "application/json", `{"value":"x"}`, 400},
		{"reject/unknown-member", "PUT", "/secrets/v1/data/team/a/new", app, "application/json", `{"value":"x","cass":0}`, 400},
		{"reject/duplicate-member", "PUT", "/secrets/v1/data/team/a/new", app, "application/json", `{"value":"x","value":"y"}`, 400},
		{"reject/malformed", "PUT", "/secrets/v1/data/team/a/new", app, "application/json", `{"value":`, 400},
		{"reject/two-values", "PUT", "/secrets/v1/data/team/a/new", app, "application/json", `{"value":"x","value_base64":"eA=="}`, 400},
		{"reject/not-json", "PUT", "/secrets/v1/data/team/a/new", app, "text/plain", `value`, 415},
		{"reject/oversized", "PUT", "/secrets/v1/data/team/a/new", app, "application/json", `{"value":"` + strings.Repeat("x", 129<<10) + `"}`, 413},
		{"reject/unknown-op", "GET", "/secrets/v1/nothing/team/a/svc", app, "", "", 404},
		{"reject/wrong-method", "PATCH", "/secrets/v1/data/team/a/svc", app, "", "", 405},
		{"reject/bad-lease-id", "DELETE", "/secrets/v1/lease/..%2f..", app, "", "", 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body []byte
			if tc.body != "" {
				body = []byte(tc.body)
			}
			code, hdr, b := s.do(t, tc.method, tc.path, tc.tok, tc.ct, body)
			if code != tc.want {
				t.Fatalf("%d, want %d: %s", code, tc.want, b)
			}
			if hdr.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("content type %q", hdr.Get("Content-Type"))
			}
			if code == 401 && len(hdr.Values("WWW-Authenticate")) != 2 {
				t.Fatalf("401 without challenges: %v", hdr)
			}
			if strings.Contains(string(b), `"value"`) {
				t.Fatalf("a refusal echoes the body: %s", b)
			}
		})
	}
	if after := writes(); after != before {
		t.Fatalf("refused requests wrote: %d versions before, %d after", before, after)
	}
	t.Run("reject/spoofed-identity-headers", func(t *testing.T) {
		for _, tok := range []string{"", other} {
			code, _, _ := s.do(t, "GET", "/secrets/v1/data/team/a/svc", tok, "", nil,
				"X-Rampart-Subject", "app", "X-Rampart-Client", "app", "X-Rampart-Scopes", "secrets",
				"X-Forwarded-For", "127.0.0.1", "X-Forwarded-User", "app", "X-Forwarded-Client-Cert", "URI=spiffe://example.test/svc/billing")
			if code != 401 && code != 403 {
				t.Fatalf("token %q with spoofed headers: %d", tok, code)
			}
		}
	})
	t.Run("accept/refusals-audited", func(t *testing.T) {
		cli, err := OpenCLI(ctx, s.cfg, OSEnv(), CLINeeds{MasterKey: true}, "cli:test", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer cli.Close(ctx)
		recs, err := cli.DB.Audit().QueryAudit(ctx, audit.Query{Action: audit.ActionSecretRead, Limit: audit.MaxQueryLimit})
		if err != nil {
			t.Fatal(err)
		}
		var denied, forbidden bool
		for _, r := range recs {
			denied = denied || r.Outcome == audit.OutcomeDenied && r.Actor == "anonymous"
			forbidden = forbidden || r.Outcome == audit.OutcomeFailure && r.Reason == "forbidden" && r.Actor == "client:other"
		}
		if !denied || !forbidden {
			t.Fatalf("audit trail: denied %v forbidden %v in %d records", denied, forbidden, len(recs))
		}
	})
}
