package jwtauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"unicode/utf8"
)

// checkJSONObject checks that data is exactly one JSON object, valid per
// RFC 8259, without duplicate member names at any depth and nested at most
// maxJSONDepth levels. Duplicate members are refused because parsers
// disagree on which one wins (RFC 8725 §2.x, RFC 7515 §5.2: "MUST either
// reject"), so a gateway and a service could see different claims. Escaped
// names are compared unescaped ("s\u0075b" duplicates "sub").
//
// It is a hand-written scanner rather than json.Decoder.Token because it
// runs on every uncached verification and allocates nothing for ordinary
// tokens.
func checkJSONObject(data []byte) error { return checkJSONObjectNames(data, nil) }

// checkJSONObjectNames is checkJSONObject that also refuses a top-level
// member whose name is not one of names but equals one of them under
// Unicode case folding ("ISS", "Alg", "\u212aid" with a Kelvin sign).
// encoding/json matches struct fields case-insensitively, so without this
// {"iss":"a","ISS":"b"} would be read as iss "b" here and as "a" by every
// case-sensitive consumer of the same token: one token, two meanings
// (RFC 8725 §2.x on parser differentials; RFC 7519 §4: names are
// case-sensitive). names lists the members this package decodes.
func checkJSONObjectNames(data []byte, names [][]byte) error {
	s := scanner{data: data, names: names}
	s.skipSpace()
	if s.pos >= len(s.data) || s.data[s.pos] != '{' {
		return errors.New("not a JSON object")
	}
	if err := s.value(0); err != nil {
		return err
	}
	s.skipSpace()
	if s.pos != len(s.data) {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

// maxJSONDepth bounds nesting in headers and claims.
const maxJSONDepth = 32

var errJSON = errors.New("invalid JSON")

type scanner struct {
	data  []byte
	pos   int
	names [][]byte // decoded top-level member names (see checkJSONObjectNames)
}

// Member names decoded with encoding/json, per kind of object.
var (
	headerNames   = nameList("alg", "kid", "typ", "cty", "crit", "b64", "jku", "x5u", "jwk", "x5c", "x5t", "x5t#S256", "zip", "enc")
	claimNames    = nameList("iss", "sub", "aud", "exp", "nbf", "iat", "jti", "client_id", "scope", "cnf")
	proofNames    = nameList("jti", "htm", "htu", "iat", "ath", "nonce")
	jwkNames      = nameList("kty", "crv", "alg", "kid", "use", "key_ops", "x", "y", "n", "e", "d", "p", "q", "dp", "dq", "qi", "k", "x5c", "x5u", "x5t", "x5t#S256")
	jwkSetNames   = nameList("keys")
	metadataNames = nameList("issuer", "jwks_uri")
)

func nameList(names ...string) [][]byte {
	out := make([][]byte, len(names))
	for i, n := range names {
		out[i] = []byte(n)
	}
	return out
}

// checkFold refuses name when it case-folds to a decoded name without
// being it.
func checkFold(name []byte, names [][]byte) error {
	for _, n := range names {
		if bytes.EqualFold(name, n) && !bytes.Equal(name, n) {
			return errors.New("member " + strconvQuote(name) + " differs from " + strconvQuote(n) + " only in case")
		}
	}
	return nil
}

func (s *scanner) skipSpace() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

func (s *scanner) value(depth int) error {
	s.skipSpace()
	if s.pos >= len(s.data) {
		return errJSON
	}
	switch c := s.data[s.pos]; {
	case c == '{':
		return s.object(depth + 1)
	case c == '[':
		return s.array(depth + 1)
	case c == '"':
		_, _, err := s.str()
		return err
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	}
	return errJSON
}

func (s *scanner) literal(lit string) error {
	if !bytes.HasPrefix(s.data[s.pos:], []byte(lit)) {
		return errJSON
	}
	s.pos += len(lit)
	return nil
}

// number accepts the RFC 8259 number grammar.
func (s *scanner) number() error {
	d := s.data
	start := s.pos
	if err := s.numberSyntax(); err != nil {
		return err
	}
	// A number beyond float64's range (a 400-digit integer, 1e999) is
	// refused, as encoding/json refuses to decode it: the scanner must not
	// accept what the claims decoder then reads differently (parser
	// differential, RFC 8725 §3.8 spirit). Short plain numbers, which is
	// every NumericDate, cannot overflow and skip the check (no
	// allocation); 15 digits stay far below 1.8e308.
	if lit := d[start:s.pos]; len(lit) > 15 || bytes.ContainsAny(lit, "eE") {
		if _, err := strconv.ParseFloat(string(lit), 64); err != nil {
			return errJSON
		}
	}
	return nil
}

// numberSyntax scans an RFC 8259 §6 number.
func (s *scanner) numberSyntax() error {
	d := s.data
	if s.pos < len(d) && d[s.pos] == '-' {
		s.pos++
	}
	switch {
	case s.pos < len(d) && d[s.pos] == '0':
		s.pos++
	case s.pos < len(d) && d[s.pos] >= '1' && d[s.pos] <= '9':
		s.digits()
	default:
		return errJSON
	}
	if s.pos < len(d) && d[s.pos] == '.' {
		s.pos++
		if !s.digits() {
			return errJSON
		}
	}
	if s.pos < len(d) && (d[s.pos] == 'e' || d[s.pos] == 'E') {
		s.pos++
		if s.pos < len(d) && (d[s.pos] == '+' || d[s.pos] == '-') {
			s.pos++
		}
		if !s.digits() {
			return errJSON
		}
	}
	return nil
}

func (s *scanner) digits() bool {
	start := s.pos
	for s.pos < len(s.data) && s.data[s.pos] >= '0' && s.data[s.pos] <= '9' {
		s.pos++
	}
	return s.pos > start
}

// str scans a string starting at '"' and returns its raw contents (between
// the quotes) and whether it holds escapes.
func (s *scanner) str() ([]byte, bool, error) {
	s.pos++ // opening quote
	start, escaped := s.pos, false
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		switch {
		case c == '"':
			raw := s.data[start:s.pos]
			s.pos++
			if !utf8.Valid(raw) {
				return nil, false, errors.New("invalid UTF-8 in a JSON string")
			}
			return raw, escaped, nil
		case c == '\\':
			escaped = true
			if s.pos+1 >= len(s.data) {
				return nil, false, errJSON
			}
			switch s.data[s.pos+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.pos += 2
			case 'u':
				if s.pos+6 > len(s.data) || !isHex4(s.data[s.pos+2:s.pos+6]) {
					return nil, false, errJSON
				}
				s.pos += 6
			default:
				return nil, false, errJSON
			}
		case c < 0x20:
			return nil, false, errJSON
		default:
			s.pos++
		}
	}
	return nil, false, errJSON
}

func isHex4(b []byte) bool {
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func (s *scanner) array(depth int) error {
	if depth > maxJSONDepth {
		return errors.New("nested too deeply")
	}
	s.pos++ // '['
	s.skipSpace()
	if s.pos < len(s.data) && s.data[s.pos] == ']' {
		s.pos++
		return nil
	}
	for {
		if err := s.value(depth); err != nil {
			return err
		}
		s.skipSpace()
		if s.pos >= len(s.data) {
			return errJSON
		}
		switch s.data[s.pos] {
		case ',':
			s.pos++
		case ']':
			s.pos++
			return nil
		default:
			return errJSON
		}
	}
}

func (s *scanner) object(depth int) error {
	if depth > maxJSONDepth {
		return errors.New("nested too deeply")
	}
	s.pos++              // '{'
	var small [24][]byte // member names of this object, on the stack for small objects
	names := small[:0]
	s.skipSpace()
	if s.pos < len(s.data) && s.data[s.pos] == '}' {
		s.pos++
		return nil
	}
	for {
		s.skipSpace()
		if s.pos >= len(s.data) || s.data[s.pos] != '"' {
			return errJSON
		}
		name, escaped, err := s.str()
		if err != nil {
			return err
		}
		if escaped {
			// Rare: compare the unescaped name.
			var u string
			if err := json.Unmarshal(append(append([]byte{'"'}, name...), '"'), &u); err != nil {
				return errJSON
			}
			name = []byte(u)
		}
		for _, n := range names {
			if bytes.Equal(n, name) {
				return errors.New("duplicate member " + strconvQuote(name))
			}
		}
		names = append(names, name)
		if depth == 1 && s.names != nil {
			if err := checkFold(name, s.names); err != nil {
				return err
			}
		}
		s.skipSpace()
		if s.pos >= len(s.data) || s.data[s.pos] != ':' {
			return errJSON
		}
		s.pos++
		if err := s.value(depth); err != nil {
			return err
		}
		s.skipSpace()
		if s.pos >= len(s.data) {
			return errJSON
		}
		switch s.data[s.pos] {
		case ',':
			s.pos++
		case '}':
			s.pos++
			return nil
		default:
			return errJSON
		}
	}
}

func strconvQuote(b []byte) string {
	q, _ := json.Marshal(string(b))
	return string(q)
}
