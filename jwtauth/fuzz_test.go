package jwtauth

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// FuzzVerify: any string given to Verify is rejected or accepted without a
// panic, and a rejection always carries a Reason.
func FuzzVerify(f *testing.F) {
	k := keys(f)
	for _, tc := range attackBattery(f) {
		f.Add(tc.token)
	}
	f.Add(token(f, ES256, k.ec, "ec1", goodClaims()))
	f.Add("e30.e30.")
	v := testVerifier(f, nil)
	f.Fuzz(func(t *testing.T, tok string) {
		_, err := v.Verify(context.Background(), tok)
		if err != nil && ReasonOf(err) == "" {
			t.Fatalf("rejection without a reason: %v", err)
		}
	})
}

// FuzzDPoPProof: any proof string is handled without a panic.
func FuzzDPoPProof(f *testing.F) {
	f.Add("e30.e30.", "GET", "https://api.example.test/notes")
	f.Add(`eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7fX0.e30.AA`, "POST", "http://[::1]:80/x?y#z")
	v := testVerifier(f, func(c *Config) { c.DPoP = DPoPConfig{Replay: &memReplay{}} })
	f.Fuzz(func(t *testing.T, proof, method, htu string) {
		_, _, _, err := v.checkProof(proof, method, htu, "token")
		if err == nil {
			t.Fatalf("a fuzzed proof was accepted: %q", proof)
		}
		if ReasonOf(err) == "" {
			t.Fatalf("rejection without a reason: %v", err)
		}
	})
}

// FuzzCheckJSONObject compares the hand-written scanner with encoding/json:
// whatever it accepts is valid JSON, an object, and free of duplicates;
// whatever encoding/json sees as a duplicate-free object, it accepts.
func FuzzCheckJSONObject(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1}`, `{"a":1,"a":2}`, `{"a":{"b":[1,{"c":2,"c":3}]}}`, `{"s\u0075b":1,"sub":2}`,
		`{"a":"\ud800"}`, `{"a":1e5,"b":-0.5E-3,"c":null,"d":true}`, `{"a":1e999}`, `{"a":-1e999}`, `{"a":1e-999}`, `[1]`, `{"a":01}`, `{"a":1} x`, "{\"a\":\"\x01\"}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got := checkJSONObject(data) == nil
		want := referenceObjectCheck(data) == nil
		if got != want {
			t.Fatalf("scanner accepts=%v, reference accepts=%v for %q", got, want, data)
		}
	})
}

// referenceObjectCheck is the slow, obviously-correct check built on
// encoding/json, plus the one deliberate difference: encoding/json accepts
// invalid UTF-8 inside strings (replacing it), the scanner refuses it
// (RFC 8259 §8.1, RFC 7519 §7.2).
func referenceObjectCheck(data []byte) error {
	if !json.Valid(data) || !utf8.Valid(data) {
		return errJSON
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return errJSON
	}
	return refObject(dec, 1)
}

func refObject(dec *json.Decoder, depth int) error {
	if depth > maxJSONDepth {
		return errJSON
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, _ := dec.Token()
		name := tok.(string)
		if seen[name] {
			return errJSON
		}
		seen[name] = true
		if err := refValue(dec, depth); err != nil {
			return err
		}
	}
	_, err := dec.Token()
	return err
}

func refValue(dec *json.Decoder, depth int) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	if d == '{' {
		return refObject(dec, depth+1)
	}
	if depth+1 > maxJSONDepth {
		return errJSON
	}
	for dec.More() {
		if err := refValue(dec, depth+1); err != nil {
			return err
		}
	}
	_, err = dec.Token()
	return err
}
