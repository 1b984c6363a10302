package caapi

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"mime"
	"strings"
)

// errBadRequest is a request body the endpoint refuses (400); its text
// is safe to send.
type errBadRequest string

func (e errBadRequest) Error() string { return string(e) }

// decodeRequest parses an enrolment body, {"csr": "<PEM CERTIFICATE
// REQUEST>"}, strictly: one JSON object, the one member csr (a string) once
// and nothing else, no trailing data; the PEM holds exactly one block of
// type CERTIFICATE REQUEST without headers and nothing but whitespace
// around it. It returns the CSR's DER, still to be parsed and checked by
// the CA. Duplicate and unknown members are refused rather than resolved
// (two parsers reading one body differently is how smuggling starts; RFC
// 8259 §4 leaves duplicates undefined).
func decodeRequest(body []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, errBadRequest("The body must be a JSON object {\"csr\": \"<PEM certificate request>\"}.")
	}
	var csr *string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, errBadRequest("The body is not valid JSON.")
		}
		key, _ := tok.(string)
		if key != "csr" {
			return nil, errBadRequest("The only member of the body is csr.")
		}
		if csr != nil {
			return nil, errBadRequest("csr appears more than once.")
		}
		tok, err = dec.Token()
		if err != nil {
			return nil, errBadRequest("The body is not valid JSON.")
		}
		s, ok := tok.(string)
		if !ok {
			return nil, errBadRequest("csr must be a string holding a PEM certificate request.")
		}
		csr = &s
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, errBadRequest("The body is not valid JSON.")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errBadRequest("The body holds data after the JSON object.")
	}
	if csr == nil {
		return nil, errBadRequest("csr is missing.")
	}
	return decodeCSRPEM(*csr)
}

// decodeCSRPEM returns the DER of the one CERTIFICATE REQUEST block in s.
func decodeCSRPEM(s string) ([]byte, error) {
	block, rest := pem.Decode([]byte(s))
	if block == nil {
		return nil, errBadRequest("csr is not PEM.")
	}
	if block.Type != "CERTIFICATE REQUEST" || len(block.Headers) > 0 {
		return nil, errBadRequest("csr must be one PEM block of type CERTIFICATE REQUEST.")
	}
	// Nothing before or after the block, and no second (or skipped,
	// malformed) block: pem.Decode passes over text it cannot read.
	if len(bytes.TrimSpace(rest)) > 0 || !strings.HasPrefix(strings.TrimSpace(s), "-----BEGIN") || strings.Count(s, "-----BEGIN") != 1 {
		return nil, errBadRequest("csr must hold exactly one certificate request and nothing else.")
	}
	return block.Bytes, nil
}

// jsonContentType reports whether a Content-Type header is
// application/json, with at most a charset parameter of utf-8 (RFC 8259
// §8.1: JSON is UTF-8).
func jsonContentType(values []string) bool {
	if len(values) != 1 {
		return false
	}
	mt, params, err := mime.ParseMediaType(values[0])
	if err != nil || mt != "application/json" {
		return false
	}
	for k, v := range params {
		if k != "charset" || !strings.EqualFold(v, "utf-8") {
			return false
		}
	}
	return true
}

// Credential kinds in the Authorization header.
const (
	authNone = iota
	authBearer
	authBasic
)

// maxTokenLen bounds a bearer token: a join token is about 100 characters.
const maxTokenLen = 512

// parseAuthorization reads the Authorization header: none, a Bearer token
// (RFC 6750 §2.1: the scheme is case-insensitive, RFC 9110 §11.1; the token
// is b64token characters) or Basic (decoded by the client authenticator).
// More than one header, another scheme or a malformed token is an error.
func parseAuthorization(values []string) (kind int, token string, err error) {
	switch len(values) {
	case 0:
		return authNone, "", nil
	case 1:
	default:
		return 0, "", errBadRequest("Send one Authorization header.")
	}
	scheme, rest, _ := strings.Cut(values[0], " ")
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		token = strings.TrimLeft(rest, " ")
		if token == "" || len(token) > maxTokenLen || !b64token(token) {
			return 0, "", errUnauthorized
		}
		return authBearer, token, nil
	case strings.EqualFold(scheme, "Basic"):
		return authBasic, "", nil
	default:
		return 0, "", errUnauthorized
	}
}

var errUnauthorized = errors.New("caapi: unsupported or malformed credential")

// b64token reports whether s is RFC 6750 §2.1's b64token: 1*( ALPHA /
// DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func b64token(s string) bool {
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~+/", c) >= 0) {
			break
		}
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}
