package keys_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/keys"
	"github.com/rampart-auth/rampart/internal/store/sqlstore"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
)

// secretsOf returns the byte strings that must never be stored in clear for
// a private key: its PKCS#8 DER and its raw private scalars, in binary and
// in the text encodings a careless store might use.
func secretsOf(t *testing.T, k keys.ActiveKey) map[string][]byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k.Signer)
	if err != nil {
		t.Fatal(err)
	}
	raw := map[string][]byte{"pkcs8": der}
	switch p := k.Signer.(type) {
	case *ecdsa.PrivateKey:
		d, err := p.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		raw["ecdsa-d"] = d
	case ed25519.PrivateKey:
		raw["ed25519-seed"] = p.Seed()
	case *rsa.PrivateKey:
		raw["rsa-d"], raw["rsa-p"], raw["rsa-q"] = p.D.Bytes(), p.Primes[0].Bytes(), p.Primes[1].Bytes()
	default:
		t.Fatalf("unexpected key type %T", k.Signer)
	}
	out := map[string][]byte{}
	for name, b := range raw {
		out[k.Algorithm+"/"+name] = b
		out[k.Algorithm+"/"+name+"/hex"] = []byte(hex.EncodeToString(b))
		out[k.Algorithm+"/"+name+"/b64url"] = []byte(base64.RawURLEncoding.EncodeToString(b))
		out[k.Algorithm+"/"+name+"/b64"] = []byte(base64.RawStdEncoding.EncodeToString(b))
	}
	return out
}

// TestDatabaseHoldsNoPrivateKeyInClear generates a key of every algorithm,
// then searches the stored rows (and, for SQLite, the raw database files)
// for any private key material.
func TestDatabaseHoldsNoPrivateKeyInClear(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			drv, dsn := storetest.DSN(t, driver)
			st, err := sqlstore.Open(ctx, drv, dsn, sqlstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if _, err := st.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			clock := newClock()
			secrets := map[string][]byte{}
			for i, alg := range []string{keys.AlgES256, keys.AlgEdDSA, keys.AlgRS256, keys.AlgPS256} {
				o := testOpts(st.Keys(), testMaster(t), clock, &recorder{})
				o.Algorithm, o.RSABits = alg, 2048
				m := newManager(t, o)
				if i == 0 {
					if err := m.Init(ctx, "system"); err != nil {
						t.Fatal(err)
					}
				} else {
					if _, err := m.Rotate(ctx, "cli"); err != nil {
						t.Fatal(err)
					}
					clock.Add(time.Hour)
					if err := m.Tick(ctx); err != nil {
						t.Fatal(err)
					}
				}
				ak, err := m.Signer()
				if err != nil || ak.Algorithm != alg {
					t.Fatalf("%s: Signer = %v, %v", alg, ak, err)
				}
				for name, b := range secretsOf(t, ak) {
					secrets[name] = b
				}
			}

			// Every column of every row, as the database returns it.
			rows, err := st.SQL().QueryContext(ctx, `SELECT kid, algorithm, state, public_jwk, private_enc FROM signing_keys`)
			if err != nil {
				t.Fatal(err)
			}
			var dump bytes.Buffer
			n := 0
			for rows.Next() {
				var kid, alg, state, pub string
				var enc []byte
				if err := rows.Scan(&kid, &alg, &state, &pub, &enc); err != nil {
					t.Fatal(err)
				}
				if (len(enc) == 0) != (state == string(keys.StateRemoved)) {
					t.Fatalf("key %s (%s) holds %d bytes of sealed private key", kid, state, len(enc))
				}
				dump.WriteString(kid + alg + state + pub)
				dump.Write(enc)
				n++
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			rows.Close()
			if n != 4 {
				t.Fatalf("%d keys stored, want 4", n)
			}
			assertAbsent(t, "rows", dump.Bytes(), secrets)

			if driver == sqlstore.SQLite {
				// The raw files, WAL included, before and after a checkpoint.
				for _, phase := range []string{"open", "closed"} {
					if phase == "closed" {
						_ = st.Close()
					}
					for _, f := range []string{dsn, dsn + "-wal", dsn + "-shm"} {
						b, err := os.ReadFile(f)
						if os.IsNotExist(err) {
							continue
						}
						if err != nil {
							t.Fatal(err)
						}
						assertAbsent(t, phase+" "+f, b, secrets)
					}
				}
			}
		})
	}
}

func assertAbsent(t *testing.T, where string, hay []byte, secrets map[string][]byte) {
	t.Helper()
	if len(hay) == 0 {
		t.Fatalf("%s: nothing to search", where)
	}
	for name, s := range secrets {
		if len(s) < 16 {
			t.Fatalf("secret %s is too short (%d bytes) to search for", name, len(s))
		}
		if bytes.Contains(hay, s) {
			t.Fatalf("%s holds %s in clear", where, name)
		}
	}
}
