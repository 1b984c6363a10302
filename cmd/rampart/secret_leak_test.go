package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/store/sqlstore"
)

// TestSecretValuesNeverLeak writes distinctive values through the HTTP
// API and the CLI (on the store and remote), reads them back, provokes
// refusals that carry them (check-and-set conflict, forbidden path,
// duplicate and unknown JSON members, an invalid label), renders one to
// a file, then greps every log line of the server (debug level), every
// CLI stderr, every audit event and every byte of the data directory
// (the SQLite database, its WAL and everything else): none holds a
// value, raw or base64.
func TestSecretValuesNeverLeak(t *testing.T) {
	ts, logs := secretServer(t)
	ctx := context.Background()
	canaries := []string{"CANARY-api-7f3a9c01d2", "CANARY-cli-local-55e1b7", "CANARY-cli-remote-a9d0f3", "CANARY-refused-c0ffee42", "CANARY-render-b16b00b5"}
	binary := "\x00CANARY-binary-0ddba11\xff"
	tok := ts.tokenFile(t, "app", secCLIAppSecret)
	bearer := loadBearer(t, tok)
	var stderrs strings.Builder

	api := func(method, path, ct, body string) int {
		t.Helper()
		req, _ := http.NewRequest(method, ts.base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+bearer)
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		resp, err := ts.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 400 {
			for _, c := range append(canaries, binary) {
				if bytes.Contains(b, []byte(c)) {
					t.Fatalf("%s %s: a refusal echoes a value: %s", method, path, b)
				}
			}
		}
		return resp.StatusCode
	}
	j := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	// Through the API: writes, reads, refusals.
	if c := api("PUT", "/secrets/v1/data/team/a/api", "application/json", j(map[string]any{"value": canaries[0]})); c != 200 {
		t.Fatalf("put: %d", c)
	}
	api("PUT", "/secrets/v1/data/team/a/bin", "application/json", j(map[string]any{"value_base64": base64.StdEncoding.EncodeToString([]byte(binary))}))
	api("GET", "/secrets/v1/data/team/a/api", "", "")
	api("GET", "/secrets/v1/data/team/a/bin", "", "")
	for _, r := range []struct{ method, path, body string }{
		{"PUT", "/secrets/v1/data/team/a/api", j(map[string]any{"value": canaries[3], "cas": 7})},
		{"PUT", "/secrets/v1/data/team/ab/api", j(map[string]any{"value": canaries[3]})},
		{"PUT", "/secrets/v1/data/team/a/api", `{"value":"` + canaries[3] + `","value":"` + canaries[3] + `"}`},
		{"PUT", "/secrets/v1/data/team/a/api", `{"value":"` + canaries[3] + `","` + canaries[3] + `":1}`},
		{"PUT", "/secrets/v1/data/team/a/api", j(map[string]any{"value": canaries[3], "labels": []string{"Bad Label"}})},
		{"PUT", "/secrets/v1/data/team/a/api", `{"value":` + canaries[3] + `}`},
		{"PUT", "/secrets/v1/data/team/a/../api", j(map[string]any{"value": canaries[3]})},
	} {
		if c := api(r.method, r.path, "application/json", r.body); c < 400 {
			t.Fatalf("%s %s accepted: %d", r.method, r.path, c)
		}
	}
	// Through the CLI, on the store and remote.
	cliRun := func(stdin string, args ...string) string {
		t.Helper()
		_, out, errs := cli(t, stdin, args...)
		stderrs.WriteString(errs)
		return out
	}
	cliRun(canaries[1], "secret", "put", "team/a/local", "--value-stdin", "--config", ts.cfgPath)
	if out := cliRun("", "secret", "get", "team/a/local", "--config", ts.cfgPath); out != canaries[1] {
		t.Fatalf("local get: %q", out)
	}
	cliRun(canaries[3], "secret", "put", "team/a/local", "--value-stdin", "--cas", "9", "--config", ts.cfgPath)
	cliRun(canaries[2], "secret", "put", "team/a/remote", "--value-stdin", "--issuer", ts.base, "--token-file", tok)
	cliRun("", "secret", "get", "team/a/remote", "--json", "--issuer", ts.base, "--token-file", tok)
	cliRun(canaries[3], "secret", "put", "team/ab/remote", "--value-stdin", "--issuer", ts.base, "--token-file", tok)
	cliRun(canaries[3], "secret", "put", "team/a/remote", "--value-stdin", "--label", "NOPE", "--issuer", ts.base, "--token-file", tok)
	cliRun(canaries[4], "secret", "put", "team/a/render", "--value-stdin", "--config", ts.cfgPath)
	rendered := filepath.Join(t.TempDir(), "out")
	cliRun("", "secret", "render", "--issuer", ts.base, "--token-file", tok, "--secret", "team/a/render="+rendered, "--once")
	if b, _ := os.ReadFile(rendered); string(b) != canaries[4] {
		t.Fatalf("render wrote %q", b)
	}
	if err := ts.stop(); err != nil {
		t.Fatalf("serve: %v", err)
	}

	forms := func(v string) [][]byte {
		return [][]byte{[]byte(v), []byte(base64.StdEncoding.EncodeToString([]byte(v))), []byte(base64.RawURLEncoding.EncodeToString([]byte(v)))}
	}
	var all [][]byte
	for _, c := range append(canaries, binary) {
		all = append(all, forms(c)...)
	}
	all = append(all, []byte("CANARY-binary-0ddba11"))
	check := func(where string, b []byte) {
		t.Helper()
		for _, f := range all {
			if bytes.Contains(b, f) {
				t.Errorf("%s holds a secret value (%q)", where, f)
			}
		}
	}
	if !strings.Contains(logs.String(), "secret") || strings.Count(logs.String(), "\n") < 10 {
		t.Fatalf("the server logged almost nothing; the grep would prove nothing:\n%s", logs.String())
	}
	check("the server's log", []byte(logs.String()))
	check("the CLI's stderr", []byte(stderrs.String()))

	// Every audit event.
	cfg, err := config.Load(ts.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlstore.Open(ctx, cfg.Store.Driver, cfg.Store.DSN, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var events, secretEvents int
	for after := int64(0); ; {
		recs, err := db.Audit().QueryAudit(ctx, audit.Query{AfterSeq: after, Limit: audit.MaxQueryLimit})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			b, _ := json.Marshal(r)
			check("audit event "+r.Action, b)
			events++
			if strings.HasPrefix(r.Action, "secret.") {
				secretEvents++
			}
			after = r.Seq
		}
		if len(recs) < audit.MaxQueryLimit {
			break
		}
	}
	_ = db.Close()
	if secretEvents < 15 {
		t.Fatalf("%d secret events among %d: the grep would prove little", secretEvents, events)
	}
	// Every byte of the data directory: the database, its WAL, the rest.
	files := 0
	err = filepath.WalkDir(cfg.DataDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p) // #nosec G304 -- the test's own data directory
		if err != nil {
			return err
		}
		files++
		check(p, b)
		return nil
	})
	if err != nil || files == 0 {
		t.Fatalf("data dir: %d files, %v", files, err)
	}
}

// loadBearer reads the access token of a token file.
func loadBearer(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file) // #nosec G304 -- the test's own file
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		AccessToken string `json:"access_token"`
	}
	if json.Unmarshal(b, &v) != nil || v.AccessToken == "" {
		t.Fatalf("token file %s", b)
	}
	return v.AccessToken
}
