package rotation_test

import (
	"context"
	"strings"
	"testing"

	"github.com/rampart-auth/rampart/internal/secrets"
	"github.com/rampart-auth/rampart/internal/secrets/rotation"
)

func TestRandomRotator(t *testing.T) {
	ctx := context.Background()
	for name, alphabet := range map[string]string{
		"alnum":           "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
		"hex":             "0123456789abcdef",
		"base64url":       "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
		"ascii-printable": "!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~",
	} {
		t.Run(name, func(t *testing.T) {
			r, err := rotation.NewRandom(4096, name)
			if err != nil {
				t.Fatal(err)
			}
			counts := map[byte]int{}
			const rounds = 32
			for range rounds {
				v, err := r.NewValue(ctx, secrets.Secret{})
				if err != nil {
					t.Fatal(err)
				}
				if err := r.Test(ctx, secrets.Secret{Value: v}); err != nil {
					t.Fatal(err)
				}
				for _, c := range v.Bytes() {
					if !strings.ContainsRune(alphabet, rune(c)) {
						t.Fatalf("%q is outside the alphabet", c)
					}
					counts[c]++
				}
			}
			// Uniform: every character appears, none far from the mean
			// (a modulo bias on alnum gives the first 8 characters 5/4
			// of the others' share; this bound catches it).
			mean := float64(rounds*4096) / float64(len(alphabet))
			if len(counts) != len(alphabet) {
				t.Fatalf("%d of %d characters drawn", len(counts), len(alphabet))
			}
			for c, n := range counts {
				if float64(n) < mean*0.9 || float64(n) > mean*1.1 {
					t.Fatalf("%q drawn %d times, mean %.0f", c, n, mean)
				}
			}
		})
	}
	r, _ := rotation.NewRandom(16, "hex")
	for name, v := range map[string]string{
		"reject/short":        "0123456789abcde",
		"reject/long":         "0123456789abcdef0",
		"reject/out-of-range": "0123456789abcdeF",
		"reject/empty":        "",
	} {
		t.Run(name, func(t *testing.T) {
			err := r.Test(ctx, secrets.Secret{Value: secrets.NewValue([]byte(v))})
			if err == nil || (v != "" && strings.Contains(err.Error(), v)) {
				t.Fatalf("Test: %v", err)
			}
		})
	}
	for _, bad := range []struct {
		n int
		a string
	}{{15, "alnum"}, {4097, "alnum"}, {32, "base64"}, {32, ""}} {
		if _, err := rotation.NewRandom(bad.n, bad.a); err == nil {
			t.Errorf("NewRandom(%d, %q) accepted", bad.n, bad.a)
		}
	}
}
