package oauth

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// FuzzDPoPHeader: any DPoP header values (one or two) are read without
// panicking: two are always refused, an accepted value is non-empty, and
// the proof checker (the token endpoint's) refuses every value that is
// not a proof signed for the token endpoint, returning a thumbprint only
// for an accepted one.
func FuzzDPoPHeader(f *testing.F) {
	f.Add("eyJhbGciOiJFUzI1NiIsInR5cCI6ImRwb3Arand0In0.e30.AAAA", "", false)
	f.Add("a.b.c", "d.e.f", true)
	f.Add(" ", "", false)
	f.Add("eyJhbGciOiJub25lIiwidHlwIjoiZHBvcCtqd3QifQ.eyJqdGkiOiJ4In0.", "", false)
	f.Add("..", "", false)
	proofs, _, err := newProofChecker(nil, nil, time.Now)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, a, b string, two bool) {
		h := http.Header{}
		h.Add("DPoP", a)
		if two {
			h.Add("DPoP", b)
		}
		v, e := dpopHeader(h)
		if two {
			if e == nil || e.Code != ErrInvalidDPoPProof {
				t.Fatalf("two DPoP headers accepted: %v", e)
			}
			return
		}
		if e != nil {
			if e.Code != ErrInvalidDPoPProof || e.Description == "" {
				t.Fatalf("bad error %+v", e)
			}
			return
		}
		if v == "" {
			t.Fatal("an empty header accepted")
		}
		jkt, err := proofs.Check(context.Background(), v, http.MethodPost, "https://issuer.example"+PathToken)
		if err == nil && !validJKT(jkt) {
			t.Fatalf("accepted with thumbprint %q", jkt)
		}
	})
}
