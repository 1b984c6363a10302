package jwtauth

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
)

// b64 is strict unpadded base64url: '=' padding, the standard alphabet and
// non-zero trailing bits are errors (RFC 7515 §2). Go's decoder still skips
// '\r' and '\n' even in strict mode, so decodeSegment checks the alphabet
// first: one token, one encoding.
var b64 = base64.RawURLEncoding.Strict()

// decodeSegment decodes one compact-JWS segment, refusing any byte outside
// the base64url alphabet (including CR and LF, which the decoder ignores).
func decodeSegment(s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return nil, errNotBase64URL
		}
	}
	return b64.DecodeString(s)
}

var errNotBase64URL = errors.New("not base64url")

// DefaultMaxTokenSize caps tokens before any decoding (8 KiB).
const DefaultMaxTokenSize = 8 << 10

// header holds the JOSE header members Rampart looks at. Members whose mere
// presence matters are json.RawMessage (non-nil when present).
type header struct {
	Alg  string          `json:"alg"`
	Kid  string          `json:"kid"`
	Typ  string          `json:"typ"`
	Crit json.RawMessage `json:"crit"`
	B64  json.RawMessage `json:"b64"`
	JKU  json.RawMessage `json:"jku"`
	X5U  json.RawMessage `json:"x5u"`
	JWK  json.RawMessage `json:"jwk"`
	X5C  json.RawMessage `json:"x5c"`
	Zip  json.RawMessage `json:"zip"`
	Enc  json.RawMessage `json:"enc"`
}

// parsed is a compact JWS split and decoded, not yet verified.
type parsed struct {
	header       header
	payload      []byte
	signature    []byte
	signingInput string // "<b64 header>.<b64 payload>", the bytes that are signed
}

// parseCompact splits and decodes a compact JWS strictly: exactly three
// non-empty-header parts, canonical base64url, header and payload JSON
// objects without duplicate members. allowJWK permits the "jwk" header
// (DPoP proofs carry their key there; access tokens never may).
func parseCompact(token string, maxSize int, allowJWK bool) (*parsed, error) {
	if len(token) > maxSize {
		return nil, reject(ReasonTooLarge, "token of %d bytes exceeds %d", len(token), maxSize)
	}
	h, rest, ok1 := strings.Cut(token, ".")
	p, s, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.Contains(s, ".") {
		return nil, reject(ReasonMalformed, "not three dot-separated parts")
	}
	if h == "" {
		return nil, reject(ReasonMalformed, "empty header")
	}
	hb, err := decodeSegment(h)
	if err != nil {
		return nil, reject(ReasonMalformed, "header is not canonical base64url")
	}
	pb, err := decodeSegment(p)
	if err != nil {
		return nil, reject(ReasonMalformed, "payload is not canonical base64url")
	}
	sb, err := decodeSegment(s)
	if err != nil {
		return nil, reject(ReasonMalformed, "signature is not canonical base64url")
	}
	out := &parsed{payload: pb, signature: sb, signingInput: token[:len(h)+1+len(p)]}
	if err := checkJSONObjectNames(hb, headerNames); err != nil {
		return nil, reject(ReasonMalformed, "header: %v", err)
	}
	if err := json.Unmarshal(hb, &out.header); err != nil {
		return nil, reject(ReasonMalformed, "header: wrong member types")
	}
	if err := checkHeader(&out.header, allowJWK); err != nil {
		return nil, err
	}
	payloadNames := claimNames
	if allowJWK {
		payloadNames = proofNames // a DPoP proof
	}
	if err := checkJSONObjectNames(pb, payloadNames); err != nil {
		return nil, reject(ReasonMalformed, "payload: %v", err)
	}
	return out, nil
}

// checkHeader applies the header rules that do not depend on the key.
func checkHeader(h *header, allowJWK bool) error {
	switch {
	case h.Alg == "":
		return reject(ReasonAlgNotAllowed, "no alg")
	case strings.EqualFold(h.Alg, "none"):
		// RFC 8725 §3.1: "none" is never acceptable, in any spelling.
		return reject(ReasonAlgNotAllowed, "alg none")
	case h.JKU != nil || h.X5U != nil:
		// RFC 8725 §3.10 / RFC 7515 §4.1.2, §4.1.5: fetching keys from
		// token-supplied URLs lets the attacker choose the key (and SSRF).
		return reject(ReasonForbiddenHeader, "jku/x5u headers are refused")
	case h.X5C != nil:
		return reject(ReasonForbiddenHeader, "x5c headers are refused")
	case h.JWK != nil && !allowJWK:
		// An embedded key is the attacker's key; never trust it.
		return reject(ReasonForbiddenHeader, "embedded jwk header is refused")
	case h.Crit != nil:
		// RFC 7515 §4.1.11: a recipient must reject a token whose crit lists
		// an extension it does not understand; Rampart understands none.
		return reject(ReasonCrit, "crit header present")
	case h.B64 != nil && string(h.B64) != "true":
		// RFC 7797 unencoded payloads change what is signed; refused.
		return reject(ReasonCrit, "b64 header is not true")
	case h.Zip != nil || h.Enc != nil:
		return reject(ReasonMalformed, "JWE or compressed payloads are not access tokens")
	case len(h.Kid) > 1024:
		return reject(ReasonUnknownKey, "kid too long")
	}
	return nil
}
