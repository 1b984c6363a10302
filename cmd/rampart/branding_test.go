package main

import (
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeBranding: ui.product_name and ui.logo_file reach every page
// and /static/logo; `config check` refuses a missing logo file, as serve
// would.
func TestServeBranding(t *testing.T) {
	dir := t.TempDir()
	logo := writeFile(t, dir, "logo.svg", `<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>`)
	base, _ := authServer(t, "ui: {product_name: 'Acme ID', logo_file: '"+logo+"'}\n")
	resp, err := http.Get(base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `id="product">Acme ID</span>`) || !strings.Contains(string(body), `src="/static/logo"`) {
		t.Fatalf("login page lacks the branding:\n%s", body)
	}
	resp, err = http.Get(base + "/static/logo")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/svg+xml" || !strings.Contains(string(got), "<svg") {
		t.Fatalf("logo: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	cfg, _ := freshConfig(t, "ui: {logo_file: '"+filepath.Join(dir, "missing.png")+"'}\n")
	if code, out, errOut := cli(t, "", "config", "check", "--config", cfg); code != 1 || !strings.Contains(out+errOut, "ui.logo_file") {
		t.Fatalf("config check with a missing logo: %d %s %s", code, out, errOut)
	}
}
