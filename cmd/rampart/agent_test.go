package main

import (
	"crypto/tls"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/testkit"
)

// TestAgentCommandErrors: flag mistakes and unusable credential files
// exit 2 before any network traffic; a CA that fails first-contact
// verification exits 1.
func TestAgentCommandErrors(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	part := base64.RawURLEncoding.EncodeToString(make([]byte, 32))
	token := writeFile(t, dir, "token", "rjt1."+part+"."+part+"\n")
	empty := writeFile(t, dir, "empty", "")
	garbage := writeFile(t, dir, "garbage", "not a token\n")
	certPEM, keyPEM, _ := testkit.CertPair(t, "impostor", time.Now().Add(-time.Hour), time.Now().Add(time.Hour), false)
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	impostor := "https://" + testkit.ServeTLS(t, &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{pair}})
	const server = "https://127.0.0.1:1"
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"usage/no-flags", nil, 2, "--server URL is required"},
		{"usage/http-server", []string{"--server", "http://127.0.0.1:1", "--join-token-file", token, "--out", out}, 2, "https"},
		{"usage/no-credential", []string{"--server", server, "--out", out}, 2, "credential is required"},
		{"usage/two-credentials", []string{"--server", server, "--join-token-file", token, "--client-id", "c", "--client-secret-file", token, "--out", out}, 2, "not both"},
		{"usage/no-out", []string{"--server", server, "--join-token-file", token}, 2, "--out DIR is required"},
		{"usage/bad-spiffe-id", []string{"--server", server, "--join-token-file", token, "--out", out, "--spiffe-id", "spiffe://A/b"}, 2, "--spiffe-id"},
		{"usage/key-type", []string{"--server", server, "--join-token-file", token, "--out", out, "--key-type", "rsa"}, 2, "--key-type"},
		{"usage/unknown-flag", []string{"--bogus"}, 2, "unknown flag"},
		{"usage/extra-argument", []string{"--server", server, "--join-token-file", token, "--out", out, "extra"}, 2, "unknown command"},
		{"usage/token-file-missing", []string{"--server", server, "--join-token-file", filepath.Join(dir, "nope"), "--out", out}, 2, "no such file"},
		{"usage/token-file-empty", []string{"--server", server, "--join-token-file", empty, "--out", out}, 2, "is empty"},
		{"usage/token-file-garbage", []string{"--server", server, "--join-token-file", garbage, "--out", out}, 2, "not a join token"},
		{"usage/client-without-bundle", []string{"--server", server, "--client-id", "c", "--client-secret-file", token, "--out", out}, 2, "--bundle-file"},
		{"fail/other-root", []string{"--server", impostor, "--join-token-file", token, "--out", filepath.Join(dir, "out2")}, 1, "pinned"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := cli(t, "", append([]string{"agent"}, tc.args...)...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, stdout, stderr)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Fatalf("stderr %q does not mention %q", stderr, tc.want)
			}
		})
	}
}

// TestAgentCommandStopsOnSIGTERM: SIGTERM stops the agent gracefully (exit
// 0) while it retries an unreachable CA, and the socket is removed.
func TestAgentCommandStopsOnSIGTERM(t *testing.T) {
	dir := t.TempDir()
	part := base64.RawURLEncoding.EncodeToString(make([]byte, 32))
	token := writeFile(t, dir, "token", "rjt1."+part+"."+part+"\n")
	sock := filepath.Join(dir, "agent.sock")
	done := make(chan int, 1)
	var stderr string
	go func() {
		code, _, errs := cli(t, "", "agent", "--server", "https://"+testkit.FreeAddr(t), "--join-token-file", token,
			"--out", filepath.Join(dir, "out"), "--socket", sock)
		stderr = errs
		done <- code
	}()
	// The socket exists once the signal handler is installed.
	testkit.WaitFor(t, "the agent socket", 10*time.Second, func() bool {
		_, err := os.Stat(sock)
		return err == nil
	})
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d after SIGTERM, want 0; stderr:\n%s", code, stderr)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the agent did not stop on SIGTERM")
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Fatalf("socket left after SIGTERM: %v", err)
	}
}
