package oauth_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"path"
	"testing"

	"github.com/rampart-auth/rampart/internal/testkit"
)

// TestDiscoveryGolden: both discovery documents, indented and with the
// test server's issuer replaced by {issuer}, are the golden files in
// testdata/discovery. Refresh with
// go test ./internal/oauth -run Golden -update (and review the diff). The
// server has the mTLS alias of the token endpoint (RFC 8705 §5), as serve
// with ca.listen does.
func TestDiscoveryGolden(t *testing.T) {
	e := newCertEnv(t, "sqlite")
	alias := "https://" + e.alias.Listener.Addr().String()
	for _, p := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"} {
		t.Run(path.Base(p), func(t *testing.T) {
			resp, err := http.Get(e.issuer + p)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			var doc bytes.Buffer
			if err := json.Indent(&doc, body, "", "  "); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, body)
			}
			doc.WriteByte('\n')
			got := bytes.ReplaceAll(doc.Bytes(), []byte(e.issuer), []byte("{issuer}"))
			got = bytes.ReplaceAll(got, []byte(alias), []byte("{ca}"))
			testkit.Golden(t, path.Join("discovery", path.Base(p)+".json"), got)
		})
	}
}
