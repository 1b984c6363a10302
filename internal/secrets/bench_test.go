package secrets_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"strconv"
	"testing"

	"github.com/rampart-auth/rampart/internal/secrets"
)

// BenchmarkGetCurrent: an in-process read of a current secret on SQLite:
// one store round trip (label → version join), one keyring open of the
// DEK, one AES-GCM open of the value, one audit record (in memory here).
func BenchmarkGetCurrent(b *testing.B) {
	e := newEnv(b, "sqlite")
	ctx := context.Background()
	p := path(b, "bench/db/password")
	e.put(b, p.String(), "correct horse battery staple 0123456789", secrets.PutOptions{})
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := e.m.Get(ctx, admin, p, secrets.Selector{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPut: a new version (seal, one transaction, pruning beyond the
// default ten versions) on SQLite.
func BenchmarkPut(b *testing.B) {
	e := newEnv(b, "sqlite")
	ctx := context.Background()
	p := path(b, "bench/db/password")
	v := val("correct horse battery staple 0123456789")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := e.m.Put(ctx, admin, p, v, secrets.PutOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawAESGCMOpen is the scale: one AES-256-GCM open of a
// 40-byte value (the envelope does two: the DEK, then the value).
func BenchmarkRawAESGCMOpen(b *testing.B) {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	block, _ := aes.NewCipher(key)
	aead, _ := cipher.NewGCM(block)
	nonce := make([]byte, 12)
	ct := aead.Seal(nil, nonce, []byte("correct horse battery staple 0123456789"), []byte("ad"+strconv.Itoa(1)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := aead.Open(nil, nonce, ct, []byte("ad1")); err != nil {
			b.Fatal(err)
		}
	}
}
