package jwtauth

import (
	"context"
	"testing"
	"time"
)

// recordingReplay records the keys and deadlines it is asked about.
type recordingReplay struct {
	memReplay
	keys  []string
	until []time.Time
}

func (r *recordingReplay) Seen(ctx context.Context, key string, until time.Time) (bool, error) {
	r.keys = append(r.keys, key)
	r.until = append(r.until, until)
	return r.memReplay.Seen(ctx, key, until)
}

// TestProofChecker: the token endpoint's proof check (no access token):
// a valid proof gives its key's thumbprint; a second use is a replay; the
// replay key is the normalized method, URI and jti, remembered for the
// whole accepted iat window (iat + MaxAge + 2 leeway); the checks of
// VerifyDPoP apply (htm, htu, nonce); a failing cache is not a rejection
// but still refuses the proof.
func TestProofChecker(t *testing.T) {
	f := newDPoPFixture(t)
	ctx := context.Background()
	rec := &recordingReplay{}
	pc, err := NewProofChecker(DPoPConfig{Replay: rec}, 10*time.Second, fixedClock)
	if err != nil {
		t.Fatal(err)
	}
	noAth := func(_, c map[string]any) {
		delete(c, "ath")
		c["htm"] = "POST"
		c["htu"] = "HTTPS://API.example.test:443/notes?q"
	}
	p := f.proof(t, nil, noAth)
	jkt, err := pc.Check(ctx, p, "POST", testHTU)
	if err != nil || jkt != f.jkt {
		t.Fatalf("valid proof: %q %v", jkt, err)
	}
	if len(rec.keys) != 1 || rec.keys[0][:len("POST https://api.example.test/notes ")] != "POST https://api.example.test/notes " {
		t.Fatalf("replay key %q; want the normalized method, URI and jti", rec.keys)
	}
	if want := testNow.Add(60*time.Second + 20*time.Second); !rec.until[0].Equal(want) {
		t.Fatalf("remembered until %s, want %s (the whole iat window)", rec.until[0], want)
	}
	if _, err := pc.Check(ctx, p, "POST", testHTU); ReasonOf(err) != ReasonDPoPReplay {
		t.Fatalf("second use: %v", err)
	}
	if _, err := pc.Check(ctx, f.proof(t, nil, noAth), "GET", testHTU); ReasonOf(err) != ReasonDPoPMismatch {
		t.Fatalf("other method: %v", err)
	}
	if _, err := pc.Check(ctx, f.proof(t, nil, noAth), "POST", "https://api.example.test/other"); ReasonOf(err) != ReasonDPoPMismatch {
		t.Fatalf("other URI: %v", err)
	}
	if len(rec.keys) != 2 {
		t.Fatalf("invalid proofs reached the replay cache: %q", rec.keys)
	}
	nonced, _ := NewProofChecker(DPoPConfig{Replay: &memReplay{}, Nonces: fixedNonce("n-1")}, 0, fixedClock)
	if _, err := nonced.Check(ctx, f.proof(t, nil, noAth), "POST", testHTU); ReasonOf(err) != ReasonDPoPNonce {
		t.Fatalf("no nonce: %v", err)
	}
	if _, err := nonced.Check(ctx, f.proof(t, nil, noAth, func(_, c map[string]any) { c["nonce"] = "n-1" }), "POST", testHTU); err != nil {
		t.Fatalf("with the nonce: %v", err)
	}
	down, _ := NewProofChecker(DPoPConfig{Replay: &memReplay{fail: true}}, 0, fixedClock)
	if _, err := down.Check(ctx, f.proof(t, nil, noAth), "POST", testHTU); err == nil || ReasonOf(err) != "" {
		t.Fatalf("cache down: %v; want a plain error", err)
	}
	if _, err := NewProofChecker(DPoPConfig{}, 0, nil); err == nil {
		t.Fatal("a checker without a replay cache")
	}
	if _, err := NewProofChecker(DPoPConfig{Replay: &memReplay{}, Algorithms: []string{HS256}}, 0, nil); err == nil {
		t.Fatal("an HMAC proof algorithm accepted")
	}
}

// TestInspectReturnsBoundTokens: Inspect returns a DPoP-bound token with
// its JKT (for revocation and introspection) where Verify refuses it, and
// refuses what Verify refuses otherwise.
func TestInspectReturnsBoundTokens(t *testing.T) {
	f := newDPoPFixture(t)
	v := dpopVerifier(t, &memReplay{})
	ctx := context.Background()
	if _, err := v.Verify(ctx, f.token); ReasonOf(err) != ReasonDPoPRequired {
		t.Fatalf("Verify: %v", err)
	}
	c, err := v.Inspect(ctx, f.token)
	if err != nil || c.JKT != f.jkt {
		t.Fatalf("Inspect: %+v %v", c, err)
	}
	if _, err := v.Inspect(ctx, f.token[:len(f.token)-2]+"AA"); err == nil {
		t.Fatal("Inspect accepted a forged token")
	}
}
