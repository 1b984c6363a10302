package input

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxPointers bounds sanitize_html: the parser tracks the pointers that
// match the current path in one 64-bit mask.
const maxPointers = 64

// maxPointerLen bounds the pointers reported in errors: a pointer names
// object keys taken from the body, and 50 errors naming 1 MiB keys would
// turn a small request into a huge answer.
const maxPointerLen = 256

// pointer is a compiled RFC 6901 JSON pointer.
type pointer struct {
	text   string
	tokens []token
}

// token is one reference token: name is the unescaped member name and
// index the array index it also denotes, -1 when it is not one (RFC 6901
// §4: "0" or digits without a leading zero; "-" is never an existing
// element).
type token struct {
	name  string
	index int
}

// parsePointer compiles an RFC 6901 pointer: "" (the whole document) or
// "/"-separated tokens where "~0" is "~" and "~1" is "/".
func parsePointer(s string) (pointer, error) {
	if s == "" {
		return pointer{text: s}, nil
	}
	if !utf8.ValidString(s) {
		return pointer{}, fmt.Errorf("%q is not valid UTF-8", s)
	}
	if s[0] != '/' {
		return pointer{}, fmt.Errorf("%q must be empty or start with \"/\" (RFC 6901 §3), e.g. /body", s)
	}
	parts := strings.Split(s[1:], "/")
	p := pointer{text: s, tokens: make([]token, len(parts))}
	for i, part := range parts {
		name, err := unescapeToken(part)
		if err != nil {
			return pointer{}, fmt.Errorf("%q: %w", s, err)
		}
		p.tokens[i] = token{name: name, index: arrayIndex(name)}
	}
	return p, nil
}

func unescapeToken(s string) (string, error) {
	if !strings.Contains(s, "~") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '~' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 == len(s) || (s[i+1] != '0' && s[i+1] != '1') {
			return "", fmt.Errorf("\"~\" must be followed by 0 or 1 (RFC 6901 §3; write ~0 for ~ and ~1 for /)")
		}
		b.WriteByte("~/"[s[i+1]-'0'])
		i++
	}
	return b.String(), nil
}

func arrayIndex(s string) int {
	if s == "" || len(s) > 9 || (len(s) > 1 && s[0] == '0') {
		return -1
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return -1
		}
	}
	n, _ := strconv.Atoi(s)
	return n
}

var tokenEscaper = strings.NewReplacer("~", "~0", "/", "~1")

// formatPointer writes tokens as an RFC 6901 pointer. A pointer longer
// than maxPointerLen is shortened to its longest ancestor that fits, so
// that it stays a valid pointer to the place (or a container of it).
func formatPointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		esc := tokenEscaper.Replace(t)
		if b.Len()+1+len(esc) > maxPointerLen {
			break
		}
		b.WriteByte('/')
		b.WriteString(esc)
	}
	return b.String()
}
