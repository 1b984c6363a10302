package agent

import (
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// goodResponse returns a valid enrolment answer from ca for a fresh key,
// the key and its PEM.
func goodResponse(t testing.TB, ca *fakeCA, id string, mutate func(*x509.Certificate)) (svidResponse, *issuedKey) {
	t.Helper()
	k := &issuedKey{}
	var err error
	if k.key, k.pem, err = newKey(); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(0xabc), NotBefore: now.Add(-time.Minute), NotAfter: now.Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, BasicConstraintsValid: true,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		URIs:        []*url.URL{spiffeid.RequireFromString(id).URL()}}
	if mutate != nil {
		mutate(tmpl)
	}
	leaf := signCert(t, tmpl, ca.inter, k.key.Public(), ca.interKey)
	return svidResponse{SPIFFEID: id, SVID: string(encodeCerts([]*x509.Certificate{leaf, ca.inter})),
		Bundle: string(ca.bundlePEM()), CRL: string(pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: ca.crl()})),
		ExpiresAt: leaf.NotAfter.UTC().Format(time.RFC3339), Serial: "abc"}, k
}

type issuedKey struct {
	key crypto.Signer
	pem []byte
}

func TestDecodeSVIDResponse(t *testing.T) {
	ca := newFakeCA(t, testTD)
	for _, tc := range []struct {
		name   string
		change func(*svidResponse)
		want   string
	}{
		{"ok", func(*svidResponse) {}, ""},
		{"reject/not-json", func(r *svidResponse) { r.SPIFFEID = "\x00" }, ""},
		{"reject/id-mismatch", func(r *svidResponse) { r.SPIFFEID = "spiffe://example.test/svc/b" }, "svid names"},
		{"reject/id-non-canonical", func(r *svidResponse) { r.SPIFFEID = "spiffe://example.test/svc//a" }, "spiffe_id"},
		{"reject/serial", func(r *svidResponse) { r.Serial = "abd" }, "serial"},
		{"reject/serial-not-hex", func(r *svidResponse) { r.Serial = "xyz" }, "serial"},
		{"reject/expires-at", func(r *svidResponse) { r.ExpiresAt = time.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339) }, "expires_at"},
		{"reject/expires-at-format", func(r *svidResponse) { r.ExpiresAt = "tomorrow" }, "expires_at"},
		{"reject/no-svid", func(r *svidResponse) { r.SVID = "" }, "svid"},
		{"reject/key-in-chain", func(r *svidResponse) { r.SVID += "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n" }, "PRIVATE KEY"},
		{"reject/no-bundle", func(r *svidResponse) { r.Bundle = "" }, "bundle"},
		{"reject/crl-missing", func(r *svidResponse) { r.CRL = "" }, "crl"},
		{"reject/crl-twice", func(r *svidResponse) { r.CRL += r.CRL }, "crl"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := goodResponse(t, ca, svcA, nil)
			tc.change(&r)
			body, _ := json.Marshal(r)
			if tc.name == "reject/not-json" {
				body = []byte(`{"spiffe_id":`)
			}
			_, err := decodeSVIDResponse(body)
			if strings.HasPrefix(tc.name, "ok") {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("decode = %v, want an error with %q", err, tc.want)
			}
		})
	}
	t.Run("reject/two-uri-sans", func(t *testing.T) {
		r, _ := goodResponse(t, ca, svcA, func(c *x509.Certificate) {
			c.URIs = append(c.URIs, spiffeid.RequireFromString("spiffe://example.test/svc/b").URL())
		})
		body, _ := json.Marshal(r)
		if _, err := decodeSVIDResponse(body); err == nil {
			t.Fatal("an SVID with two URI SANs accepted")
		}
	})
	t.Run("reject/trailing-data", func(t *testing.T) {
		r, _ := goodResponse(t, ca, svcA, nil)
		body, _ := json.Marshal(r)
		if _, err := decodeSVIDResponse(append(body, []byte(`{}`)...)); err == nil {
			t.Fatal("trailing data accepted")
		}
	})
}

// TestNewSVIDRefusals: answers that decode but must not be trusted.
func TestNewSVIDRefusals(t *testing.T) {
	ca := newFakeCA(t, testTD)
	other := newFakeCA(t, "other.test")
	td := ca.td
	for _, tc := range []struct {
		name  string
		build func(t *testing.T) (*issued, *issuedKey)
		want  spiffeid.ID
		err   string
	}{
		{"ok", func(t *testing.T) (*issued, *issuedKey) { return decodeGood(t, ca, svcA, nil) }, spiffeid.ID{}, ""},
		{"reject/other-key", func(t *testing.T) (*issued, *issuedKey) {
			iss, _ := decodeGood(t, ca, svcA, nil)
			_, k := decodeGood(t, ca, svcA, nil)
			return iss, k
		}, spiffeid.ID{}, "not for the agent's key"},
		{"reject/not-requested-id", func(t *testing.T) (*issued, *issuedKey) { return decodeGood(t, ca, svcA, nil) },
			spiffeid.RequireFromString("spiffe://example.test/svc/b"), "asked for"},
		{"reject/other-trust-domain", func(t *testing.T) (*issued, *issuedKey) {
			return decodeGood(t, other, "spiffe://other.test/svc/a", nil)
		},
			spiffeid.ID{}, "not of trust domain"},
		{"reject/bundle-swapped", func(t *testing.T) (*issued, *issuedKey) {
			iss, k := decodeGood(t, ca, svcA, nil)
			iss.bundle = []*x509.Certificate{newFakeCA(t, testTD).root}
			return iss, k
		}, spiffeid.ID{}, "does not verify"},
		{"reject/crl-from-other-root", func(t *testing.T) (*issued, *issuedKey) {
			iss, k := decodeGood(t, ca, svcA, nil)
			iss.crl, _ = x509.ParseRevocationList(newFakeCA(t, testTD).crl())
			return iss, k
		}, spiffeid.ID{}, "CRL is not signed"},
		{"reject/ca-leaf", func(t *testing.T) (*issued, *issuedKey) {
			return decodeGood(t, ca, svcA, func(c *x509.Certificate) { c.IsCA = true; c.KeyUsage |= x509.KeyUsageCertSign })
		}, spiffeid.ID{}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			iss, k := tc.build(t)
			if iss == nil {
				if tc.name == "reject/ca-leaf" {
					return // refused already by the decoder (mtls.IDFromCert)
				}
				t.Fatal("decode failed")
			}
			_, err := newSVID(iss, k.key, k.pem, td, tc.want, time.Now())
			if tc.name == "ok" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("newSVID = %v, want an error with %q", err, tc.err)
			}
		})
	}
}

// decodeGood decodes a good answer (nil when the decoder refuses it).
func decodeGood(t *testing.T, ca *fakeCA, id string, mutate func(*x509.Certificate)) (*issued, *issuedKey) {
	t.Helper()
	r, k := goodResponse(t, ca, id, mutate)
	body, _ := json.Marshal(r)
	iss, err := decodeSVIDResponse(body)
	if err != nil {
		return nil, k
	}
	return iss, k
}
