package ca

import (
	"crypto/tls"
	"encoding/base64"
	"testing"

	"github.com/rampart-auth/rampart/internal/kms"
	"github.com/rampart-auth/rampart/internal/testkit"
)

// The keyring and its key-encryption keys are the Sealers the wiring
// passes to AutoTLS.
var (
	_ Sealer = (*kms.KEK)(nil)
	_ Sealer = (*kms.Keyring)(nil)
)

// testMasterKey returns the test kit's master key as the Sealer: its
// key-encryption key at version 1.
func testMasterKey(t testing.TB) *kms.KEK { return masterKeyFrom(t, testkit.MasterKey()) }

// otherMasterKey returns a master key different from testMasterKey's.
func otherMasterKey(t testing.TB) *kms.KEK { return masterKeyFrom(t, testkit.OtherMasterKey()) }

// masterKeyFrom returns the version-1 key-encryption key of the master
// key with the raw bytes b (what a store that never rotated holds).
func masterKeyFrom(t testing.TB, b []byte) *kms.KEK {
	t.Helper()
	mk, err := kms.LoadMasterKey("", base64.StdEncoding.EncodeToString(b))
	if err != nil {
		t.Fatal(err)
	}
	k, err := kms.NewKEK(mk, 1)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// testServer is an HTTPS server on 127.0.0.1:0.
type testServer struct{ Addr string }

// startServer serves HTTPS with cfg on 127.0.0.1:0 until the test ends.
func startServer(t *testing.T, cfg *tls.Config) *testServer {
	t.Helper()
	return &testServer{Addr: testkit.ServeTLS(t, cfg)}
}

// The certificate helpers are the test kit's.
var (
	mustWrite = testkit.WriteFile
	caPool    = testkit.CertPool
)
