package gateway

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// MaxPathLen is the longest escaped request path Canonicalize accepts, in
// bytes. 8 KiB is the request-line budget of the common servers a gateway
// fronts (nginx large_client_header_buffers 8k, Apache LimitRequestLine
// 8190), so a longer path could not reach the upstream unchanged anyway.
const MaxPathLen = 8 << 10

// ErrPath is wrapped by every refusal of Canonicalize and RequestPath:
// errors.Is(err, ErrPath) holds and the caller answers 400. The error's
// text names the rule that refused the path; it carries no input bytes, so
// it is safe to log and cheap to return.
var ErrPath = errors.New("gateway: path refused")

type pathError struct{ msg string }

func newPathError(reason string) *pathError {
	return &pathError{msg: ErrPath.Error() + ": " + reason}
}

func (e *pathError) Error() string { return e.msg }

// Is makes every refusal match ErrPath.
func (e *pathError) Is(target error) bool { return target == ErrPath }

// The refusals, one per rule (see Canonicalize for the reasons).
var (
	errNotAbsolute    = newPathError("does not start with /")
	errTooLong        = newPathError("longer than 8 KiB")
	errBadEscape      = newPathError("malformed percent-escape")
	errEncodedSlash   = newPathError("encoded slash (%2F)")
	errBackslash      = newPathError("backslash")
	errNUL            = newPathError("NUL byte")
	errControl        = newPathError("control character")
	errParam          = newPathError("path parameter (;)")
	errEncodedDelim   = newPathError("encoded ? or #")
	errRawChar        = newPathError("character not allowed unencoded")
	errInvalidUTF8    = newPathError("invalid or overlong UTF-8")
	errDoubleEncoding = newPathError("double percent-encoding")
	errEmptySegment   = newPathError("empty segment (//)")
	errDotSegment     = newPathError("dot segment (. or ..)")
	errSpaceEdge      = newPathError("segment starts or ends with a space")
	errTarget         = newPathError("request target is not origin-form or absolute-form")
)

// Canonicalize returns the one form of an escaped request path that the
// gateway uses for route matching, rate-limit keys, audit and the request
// line sent upstream, or an error wrapping ErrPath. rawPath is the path as
// received on the wire: the path part of r.RequestURI (see RequestPath),
// never r.URL.Path (already decoded) nor r.URL.EscapedPath (which re-escapes
// the decoded path when the client's encoding is unusual, turning a %2F into
// a real /).
//
// The result is an escaped path: percent-decoding it once (url.PathUnescape)
// gives the decoded path, and since an encoded / is refused the two forms
// are in one-to-one correspondence, so one string serves matching and the
// upstream alike: set it as the outbound URL's RawPath (and its decoding as
// Path) and the upstream reads exactly the bytes the gateway matched.
// Canonicalize(out) == out. An already canonical path is returned as is,
// without allocating.
//
// The rules fail closed: what a careful client never sends is refused, not
// repaired, because every repair is a guess an upstream may make differently
// (CWE-551, authorization before canonicalization):
//
//   - The path starts with "/" and is at most MaxPathLen bytes.
//   - Unencoded bytes are limited to RFC 3986 §3.3 pchar and "/": unreserved,
//     sub-delims, ":" and "@". A literal "\" (IIS and Windows upstreams read it
//     as "/"), NUL, controls, raw non-ASCII, space, "?", "#", "[", "]" etc. are
//     refused.
//   - Percent-escapes are decoded exactly once; a malformed one ("%", "%G1",
//     IIS "%u002e") is refused. Decoded "/" (%2F, %2f) is refused: an upstream
//     that decodes before splitting sees a different path than the gateway
//     matched (Envoy CVE-2021-29492). Decoded "\", NUL and controls (< 0x20,
//     0x7F, and C1 U+0080–U+009F) are refused for the same reason, and
//     decoded "?" and "#" because an upstream that decodes and re-parses the
//     URL would cut the path there.
//   - ";" is refused, literal or encoded: Tomcat, Jetty and Spring strip
//     "/admin;x=y/" path parameters and "..;" tricks after the proxy matched
//     (CVE-2021-29492's family, Pomerium CVE-2023-33189). Stripping would be
//     a guess at one framework's rules.
//   - The decoded path is valid UTF-8; unicode/utf8 refuses overlong forms
//     (%C0%AE, %E0%80%AE for ".") and surrogates, the classic
//     dot-smuggling encodings.
//   - Double encoding is refused: if, after the one decode, a "%" is
//     followed by two hex digits (%252e, %252F, %25%32%65), an upstream that
//     decodes again would read a different path; "%" followed by anything
//     else (a literal "100%") is kept and re-encoded as %25.
//   - "." and ".." segments, literal or encoded (%2e, %2E%2e), are refused,
//     not resolved. RFC 3986 §5.2.4 has clients remove dot segments before a
//     request is sent (browsers, curl and Go's client all do), so only a
//     crafted request carries one, and resolving them is exactly where
//     proxies and upstreams disagreed (Envoy CVE-2019-9901, Ory Oathkeeper
//     GHSA-p224-6x5r-fjpm "/public/../admin").
//   - Empty segments ("//" anywhere) are refused rather than merged: whether
//     "//" equals "/" is the upstream's choice, and merging in the proxy but
//     not the upstream is the CVE-2019-9901 merge_slashes differential. A
//     single trailing "/" is kept: "/dir/" and "/dir" are different
//     resources to many upstreams.
//   - A segment may contain an encoded space but not start or end with one:
//     frameworks that trim path tokens read "/admin%20" as "/admin" after
//     the proxy matched it as something else (Spring CVE-2016-5007).
//
// The output is re-encoded deterministically (RFC 3986 §6.2.2): unreserved,
// sub-delims, ":", "@" and "/" are written as themselves, every other byte
// as %XX with uppercase hex, so "%7e" becomes "~", "%41" becomes "A" and
// "%c3%a9" becomes "%C3%A9".
func Canonicalize(rawPath string) (string, error) {
	if rawPath == "" || rawPath[0] != '/' {
		return "", errNotAbsolute
	}
	if len(rawPath) > MaxPathLen {
		return "", errTooLong
	}
	c := canonicalizer{raw: rawPath}
	for i := 1; i < len(rawPath); {
		// Fast path for the common byte: a literal pchar with no UTF-8
		// sequence or double-encoding check pending.
		if b := rawPath[i]; pchar[b] && c.seqNeed == 0 && c.pct == 0 {
			c.segLen++
			if b == '.' {
				c.segDots++
			}
			c.lastSP = false
			i++
			continue
		}
		n, err := c.step(i)
		if err != nil {
			return "", err
		}
		i += n
	}
	if err := c.endSegment(true); err != nil {
		return "", err
	}
	if !c.changed {
		return rawPath, nil
	}
	return rewrite(rawPath), nil
}

// canonicalizer is the state of the checking pass of one Canonicalize
// call; it lives on the stack. The output is written by rewrite, in a
// second pass run only when the path is valid but not yet canonical, so
// neither a canonical path nor a refused one allocates.
type canonicalizer struct {
	raw     string
	changed bool // some escape is not in canonical form

	segLen  int   // decoded bytes in the current segment
	segDots int   // how many of them are '.'
	lastSP  bool  // the segment's last decoded byte is a space
	pct     uint8 // double-encoding detector: 1 after a decoded '%', 2 after '%' and a hex digit

	seq     [utf8.UTFMax]byte // a multi-byte UTF-8 sequence being decoded
	seqLen  int
	seqNeed int
}

// step checks the token at raw[i] (a byte or a %XX escape), notes when it
// is not in canonical form, and returns its length.
func (c *canonicalizer) step(i int) (int, error) {
	b := c.raw[i]
	switch {
	case b == '/':
		return 1, c.endSegment(false)
	case b == '%':
		d, ok := unhex2(c.raw, i)
		if !ok {
			return 0, errBadEscape
		}
		if !canonicalEscape(c.raw[i+1:i+3], d) {
			c.changed = true
		}
		return 3, c.decoded(d)
	case pchar[b]:
		return 1, c.decoded(b)
	}
	return 0, rawRefusal(b)
}

// rawRefusal names the rule an unencoded byte outside pchar breaks.
func rawRefusal(b byte) error {
	switch {
	case b == '\\':
		return errBackslash
	case b == 0:
		return errNUL
	case b < 0x20 || b == 0x7f:
		return errControl
	case b == ';':
		return errParam
	}
	return errRawChar
}

// decoded checks one decoded byte of the current segment.
func (c *canonicalizer) decoded(d byte) error {
	if c.seqNeed > 0 || d >= utf8.RuneSelf {
		return c.multibyte(d)
	}
	switch {
	case d == '/':
		return errEncodedSlash
	case d == '\\':
		return errBackslash
	case d == 0:
		return errNUL
	case d < 0x20 || d == 0x7f:
		return errControl
	case d == ';':
		return errParam
	case d == '?' || d == '#':
		return errEncodedDelim
	}
	switch {
	case c.pct == 1 && isHex(d):
		c.pct = 2
	case c.pct == 1 && (d == 'u' || d == 'U'), c.pct == 2 && isHex(d):
		return errDoubleEncoding
	default:
		c.pct = 0
	}
	if d == '%' {
		c.pct = 1
	}
	if d == ' ' && c.segLen == 0 {
		return errSpaceEdge
	}
	c.segLen++
	c.lastSP = d == ' '
	if d == '.' {
		c.segDots++
	}
	return nil
}

// multibyte collects the bytes of one UTF-8 sequence and lets unicode/utf8
// judge it once complete: it refuses overlong forms, surrogates and values
// above U+10FFFF.
func (c *canonicalizer) multibyte(d byte) error {
	if c.seqNeed == 0 {
		c.seqNeed = seqLen(d)
		if c.seqNeed == 0 {
			return errInvalidUTF8
		}
		c.seq[0], c.seqLen = d, 1
		return nil
	}
	if d < 0x80 || d > 0xbf {
		return errInvalidUTF8
	}
	c.seq[c.seqLen] = d
	c.seqLen++
	if c.seqLen < c.seqNeed {
		return nil
	}
	r, size := utf8.DecodeRune(c.seq[:c.seqLen])
	if size != c.seqLen {
		return errInvalidUTF8
	}
	if r <= 0x9f { // C1 controls; ASCII never reaches here
		return errControl
	}
	c.segLen += c.seqLen
	c.seqNeed, c.pct, c.lastSP = 0, 0, false
	return nil
}

// seqLen is the length of the UTF-8 sequence lead byte b announces, or 0
// when b cannot start one.
func seqLen(b byte) int {
	switch {
	case b >= 0xc0 && b <= 0xdf:
		return 2
	case b >= 0xe0 && b <= 0xef:
		return 3
	case b >= 0xf0 && b <= 0xf7:
		return 4
	}
	return 0
}

// endSegment checks the segment that a '/' (or, when final, the end of the
// path) closes and starts the next one.
func (c *canonicalizer) endSegment(final bool) error {
	switch {
	case c.seqNeed > 0:
		return errInvalidUTF8
	case c.segLen == 0 && !final:
		return errEmptySegment
	case c.segLen > 0 && c.segLen <= 2 && c.segDots == c.segLen:
		return errDotSegment
	case c.lastSP:
		return errSpaceEdge
	}
	c.segLen, c.segDots, c.pct = 0, 0, 0
	return nil
}

// canonicalEscape reports whether the two hex digits hex, which decode to
// d, are d's canonical form: d needs escaping and hex is uppercase.
func canonicalEscape(hex string, d byte) bool {
	return !pchar[d] && hex[0] == upperHex[d>>4] && hex[1] == upperHex[d&0x0f]
}

// rewrite returns the canonical form of a path Canonicalize has checked:
// an escape of a byte that needs none becomes the byte, every other escape
// is written in uppercase, the rest is copied.
func rewrite(raw string) string {
	var b strings.Builder
	b.Grow(len(raw))
	for i := 0; i < len(raw); i++ {
		if raw[i] != '%' {
			b.WriteByte(raw[i])
			continue
		}
		d, _ := unhex2(raw, i)
		i += 2
		if pchar[d] {
			b.WriteByte(d)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(upperHex[d>>4])
		b.WriteByte(upperHex[d&0x0f])
	}
	return b.String()
}

const upperHex = "0123456789ABCDEF"

// pchar marks the bytes a canonical path carries unencoded within a
// segment: RFC 3986 §3.3 pchar (unreserved, sub-delims, ":" and "@") minus
// ";", which Canonicalize refuses.
var pchar = func() (t [256]bool) {
	for _, s := range []string{
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~", // unreserved
		"!$&'()*+,=", // sub-delims without ';'
		":@",
	} {
		for i := 0; i < len(s); i++ {
			t[s[i]] = true
		}
	}
	return t
}()

// unhex2 decodes the escape "%XY" at s[i], reporting false when it is
// truncated or X or Y is not a hex digit.
func unhex2(s string, i int) (byte, bool) {
	if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
		return 0, false
	}
	return unhex(s[i+1])<<4 | unhex(s[i+2]), true
}

func isHex(b byte) bool {
	return '0' <= b && b <= '9' || 'a' <= b && b <= 'f' || 'A' <= b && b <= 'F'
}

func unhex(b byte) byte {
	switch {
	case b <= '9':
		return b - '0'
	case b <= 'F':
		return b - 'A' + 10
	}
	return b - 'a' + 10
}

// RequestPath returns the escaped path part of a request target as it came
// on the wire (r.RequestURI), to be passed to Canonicalize. It accepts the
// origin-form "/p?q" and the absolute-form "http://host/p?q" that RFC 9112
// §3.2.2 obliges servers to accept (an empty path there is "/", RFC 9110
// §4.2.3); the query is cut off at the first "?". The asterisk-form "*" and
// the authority-form of CONNECT name no resource on a route and are refused.
//
// The raw target is used rather than r.URL.EscapedPath: when the client's
// escaping is not what net/url would produce, EscapedPath re-escapes the
// decoded r.URL.Path, and a %2F the client sent comes back as "/", so the
// encoded-slash rule could not see it.
func RequestPath(requestURI string) (string, error) {
	p := requestURI
	if !strings.HasPrefix(p, "/") {
		rest, ok := cutHTTPScheme(p)
		if !ok {
			return "", errTarget
		}
		i := strings.IndexAny(rest, "/?#")
		switch {
		case i < 0 || rest[i] == '?':
			return "/", nil
		case rest[i] == '#':
			return "", errTarget
		}
		p = rest[i:]
	}
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	return p, nil
}

// cutHTTPScheme strips a case-insensitive "http://" or "https://" from s.
func cutHTTPScheme(s string) (string, bool) {
	for _, scheme := range [...]string{"http://", "https://"} {
		if len(s) >= len(scheme) && strings.EqualFold(s[:len(scheme)], scheme) {
			return s[len(scheme):], true
		}
	}
	return "", false
}

// SegmentPrefix reports whether the canonical path lies under prefix,
// comparing whole segments: "/api/notes" matches "/api/notes" and
// "/api/notes/1" but never "/api/notesX" or "/api/notes.json", the
// string-prefix confusion behind many route bypasses. A prefix ending in
// "/" ("/api/notes/") matches only paths below it ("/api/notes/",
// "/api/notes/1"), not "/api/notes" itself; "/" matches every path. A
// prefix that does not start with "/" matches nothing (fail closed). Both
// arguments must be canonical (Canonicalize); comparing a canonical path
// with a raw prefix is the differential this package exists to remove.
func SegmentPrefix(path, prefix string) bool {
	if prefix == "" || prefix[0] != '/' || !strings.HasPrefix(path, prefix) {
		return false
	}
	return len(path) == len(prefix) || prefix[len(prefix)-1] == '/' || path[len(prefix)] == '/'
}
