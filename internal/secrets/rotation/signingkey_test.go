package rotation_test

import (
	"context"
	"crypto"
	"encoding/base64"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/rampart-auth/rampart/internal/secrets"
	"github.com/rampart-auth/rampart/internal/secrets/rotation"
)

func signingRotator(t testing.TB) rotation.Rotator {
	t.Helper()
	k, err := rotation.NewSigningKey(rotation.AlgES256)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func init() { crashRotators["signing_key"] = signingRotator }

// TestSigningKeyRotatorAlgorithms: each algorithm's value is a PKCS#8 PEM
// its Test accepts; a key of another algorithm, or not a key, is refused
// without the value in the error.
func TestSigningKeyRotatorAlgorithms(t *testing.T) {
	ctx := context.Background()
	vals := map[string]secrets.Value{}
	for _, alg := range []string{rotation.AlgES256, rotation.AlgEdDSA, rotation.AlgRS256, rotation.AlgPS256} {
		t.Run(alg, func(t *testing.T) {
			k, err := rotation.NewSigningKey(alg)
			if err != nil {
				t.Fatal(err)
			}
			v, err := k.NewValue(ctx, secrets.Secret{})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(v.Bytes()), "-----BEGIN PRIVATE KEY-----\n") {
				t.Fatal("not a PKCS#8 PEM")
			}
			if err := k.Test(ctx, secrets.Secret{Value: v}); err != nil {
				t.Fatal(err)
			}
			md, err := k.Metadata(ctx, v)
			if err != nil || md[rotation.MetaKID] == "" {
				t.Fatalf("metadata: %v %v", md, err)
			}
			if !strings.Contains(md[rotation.MetaPublicJWK], md[rotation.MetaKID]) {
				t.Fatalf("public_jwk for %s: %q", alg, md[rotation.MetaPublicJWK])
			}
			for _, s := range md {
				if len(s) > 2048 {
					t.Fatalf("a metadata value is longer than the Manager accepts: %d", len(s))
				}
			}
			vals[alg] = v
		})
	}
	es, _ := rotation.NewSigningKey(rotation.AlgES256)
	for name, v := range map[string]secrets.Value{
		"reject/eddsa-key-for-es256": vals[rotation.AlgEdDSA],
		"reject/rsa-key-for-es256":   vals[rotation.AlgRS256],
		"reject/garbage":             secrets.NewValue([]byte("not a key at all")),
		"reject/two-blocks":          secrets.NewValue(append(vals[rotation.AlgES256].Bytes(), vals[rotation.AlgES256].Bytes()...)),
	} {
		t.Run(name, func(t *testing.T) {
			err := es.Test(ctx, secrets.Secret{Value: v})
			if err == nil || strings.Contains(err.Error(), "PRIVATE KEY") || strings.Contains(err.Error(), "not a key at all") {
				t.Fatalf("Test: %v", err)
			}
		})
	}
	if _, err := rotation.NewSigningKey("HS256"); err == nil {
		t.Fatal("HS256 accepted")
	}
}

// TestSigningKeyRotation: through the engine, the secret's metadata gets
// the new key's public JWK with its RFC 7638 kid, other keys kept.
func TestSigningKeyRotation(t *testing.T) {
	ctx := context.Background()
	p := path(t, "team/jwt-signing")
	k := signingRotator(t)
	ev := newEnv(t, "sqlite", []rotation.Schedule{{Path: p, Rotator: "signing_key", Impl: k}})
	first, _ := k.NewValue(ctx, secrets.Secret{})
	if _, err := ev.m.Put(ctx, admin, p, first, secrets.PutOptions{Metadata: map[string]string{"owner": "team-a"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ev.e.Rotate(ctx, admin, p, rotation.Request{}); err != nil {
		t.Fatal(err)
	}
	cur := ev.checkRotated(t, p, k, 1, 2)
	if cur.Metadata["owner"] != "team-a" {
		t.Fatalf("metadata lost: %v", cur.Metadata)
	}
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON([]byte(cur.Metadata[rotation.MetaPublicJWK])); err != nil || !jwk.IsPublic() || jwk.Algorithm != "ES256" {
		t.Fatalf("public_jwk: %+v %v", jwk, err)
	}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil || jwk.KeyID != base64.RawURLEncoding.EncodeToString(tp) || cur.Metadata[rotation.MetaKID] != jwk.KeyID {
		t.Fatalf("kid %q is not the RFC 7638 thumbprint", jwk.KeyID)
	}
	// The JWK is the current value's public key: a JWS signed with the
	// value verifies under it.
	blk := cur.Value.Bytes()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: mustParseKey(t, blk)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	jws, _ := signer.Sign([]byte("x"))
	if _, err := jws.Verify(jwk.Key); err != nil {
		t.Fatalf("public_jwk does not verify the current key's signature: %v", err)
	}
	ev.noValue(t, "signing key", blk)
}

// TestSigningKeySurvivesKill9 runs the kill -9 matrix with the
// signing-key rotator (the harness is generic over the rotator).
func TestSigningKeySurvivesKill9(t *testing.T) {
	crashMatrix(t, "signing_key")
}
