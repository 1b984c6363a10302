package kms

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"strings"
	"testing"
)

// legacySeal is a ciphertext as sealed before versioning: nonce || ct ||
// tag under the version-1 KEK, no header.
func legacySeal(t testing.TB, k *KEK, ad, pt []byte) []byte {
	t.Helper()
	return k.aead.Seal(nil, nil, pt, ad) // #nosec G407 -- random-nonce AEAD, as KEK.Seal
}

func TestSealHeader(t *testing.T) {
	k := testKEK(t, testKeyBytes, 0x01020304)
	ct, err := k.Seal([]byte("ad"), []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ct[:HeaderSize], []byte{'r', 'k', 1, 1, 2, 3, 4}) {
		t.Fatalf("header % x", ct[:HeaderSize])
	}
	if v, body, ok := ParseHeader(ct); !ok || v != 0x01020304 || len(body) != len(ct)-HeaderSize {
		t.Fatalf("ParseHeader = %d, %d bytes, %v", v, len(body), ok)
	}
	if CiphertextVersion(ct) != 0x01020304 || CiphertextVersion([]byte("legacy")) != 1 {
		t.Fatal("CiphertextVersion")
	}
}

func TestOpenVersions(t *testing.T) {
	ad, pt := []byte("rampart/signing-key/v1/kid"), []byte("private key")
	v1 := testKEK(t, testKeyBytes, 1)
	v2 := testKEK(t, testKeyBytes, 2) // the same master key as another version: only the version differs
	other2 := testKEK(t, bytes.Repeat([]byte{9}, 32), 2)
	legacy := legacySeal(t, v1, ad, pt)
	c1, _ := v1.Seal(ad, pt)
	c2, _ := v2.Seal(ad, pt)

	for name, tc := range map[string]struct {
		k *KEK
		c []byte
	}{"accept/legacy-at-v1": {v1, legacy}, "accept/header-v1": {v1, c1}, "accept/header-v2": {v2, c2}} {
		t.Run(name, func(t *testing.T) {
			if got, err := tc.k.Open(ad, tc.c); err != nil || !bytes.Equal(got, pt) {
				t.Fatalf("Open = %q, %v", got, err)
			}
		})
	}
	setVersion := func(c []byte, v byte) []byte { c = bytes.Clone(c); c[HeaderSize-1] = v; return c }
	tests := []struct {
		name     string
		k        *KEK
		c        []byte
		version  bool   // errors.Is ErrVersion
		contains string // in the message
	}{
		{"reject/legacy-at-v2", v2, legacy, true, "version 2"},
		{"reject/v1-at-v2", v2, c1, true, "sealed under key version 1, this master key is version 2"},
		{"reject/v2-at-v1", v1, c2, true, "sealed under key version 2, this master key is version 1"},
		{"reject/version-byte-flipped-to-3", v2, setVersion(c2, 3), true, "version 3"},
		// The header is authenticated: claiming the key's own version on a
		// ciphertext of another version fails authentication.
		{"reject/version-byte-flipped-to-match", v2, setVersion(c1, 2), false, "authentication failed"},
		{"reject/format-byte", v2, func() []byte { c := bytes.Clone(c2); c[2] = 2; return c }(), true, "no version header"},
		{"reject/other-master-key-same-version", other2, c2, false, "authentication failed"},
		{"reject/wrong-ad", v2, c2, false, "authentication failed"},
		{"reject/header-only", v2, c2[:HeaderSize], false, "too short"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			useAD := ad
			if strings.HasSuffix(tc.name, "wrong-ad") {
				useAD = []byte("rampart/signing-key/v1/other")
			}
			got, err := tc.k.Open(useAD, tc.c)
			if err == nil {
				t.Fatalf("Open accepted: %q", got)
			}
			if errors.Is(err, ErrVersion) != tc.version || !strings.Contains(err.Error(), tc.contains) {
				t.Fatalf("err = %v, want version=%v containing %q", err, tc.version, tc.contains)
			}
		})
	}
}

// TestOpenLegacyWithMagicNonce: a legacy ciphertext whose random nonce
// happens to start like a header (odds 2^-24) still opens at version 1,
// and a forged prefix on a legacy ciphertext does not.
func TestOpenLegacyWithMagicNonce(t *testing.T) {
	mk, _ := newMasterKey(testKeyBytes)
	v1 := testKEK(t, testKeyBytes, 1)
	ad, pt := []byte("ad"), []byte("pt")
	block, err := aes.NewCipher(mk.Derive(LabelKEK))
	if err != nil {
		t.Fatal(err)
	}
	g, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	nonce := []byte("rk\x01\x00\x00\x00\x01nonce")
	c := g.Seal(bytes.Clone(nonce), nonce, pt, ad)
	if got, err := v1.Open(ad, c); err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("legacy ciphertext with a magic nonce: %q, %v", got, err)
	}
	if _, err := testKEK(t, testKeyBytes, 2).Open(ad, c); !errors.Is(err, ErrVersion) {
		t.Fatalf("at version 2: %v", err)
	}
	forged := legacySeal(t, v1, ad, pt)
	forged[0], forged[1], forged[2] = 'r', 'k', 1
	if _, err := v1.Open(ad, forged); err == nil {
		t.Fatal("a forged prefix opened")
	}
}

// FuzzOpen: neither the header parser nor Open panics on any input, and
// what the parser accepts is consistent.
func FuzzOpen(f *testing.F) {
	v1 := testKEK(f, testKeyBytes, 1)
	v2 := testKEK(f, testKeyBytes, 2)
	ad := []byte("rampart/data-key/v1/csrf")
	c1, _ := v1.Seal(ad, []byte("k"))
	c2, _ := v2.Seal(ad, []byte("k"))
	f.Add(c1)
	f.Add(c2)
	f.Add(legacySeal(f, v1, ad, []byte("k")))
	f.Add([]byte("rk\x01"))
	f.Add([]byte("rk\x01\x00\x00\x00\x02"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, c []byte) {
		v, body, ok := ParseHeader(c)
		if ok && (len(body) != len(c)-HeaderSize || CiphertextVersion(c) != v) {
			t.Fatalf("inconsistent header parse: %d %d", v, len(body))
		}
		for _, k := range []*KEK{v1, v2} {
			if pt, err := k.Open(ad, c); err == nil && !bytes.Equal(pt, []byte("k")) {
				t.Fatalf("opened to an unexpected plaintext %q", pt)
			}
		}
	})
}
