package input

import (
	"bytes"
	"slices"
	"unicode/utf8"

	"github.com/microcosm-cc/bluemonday"
)

// ugc is the one HTML policy, built once: a bluemonday Policy is safe for
// concurrent use once built, and building it per call would cost more
// than sanitizing.
//
// UGCPolicy is an allowlist for user-generated rich text (OWASP XSS
// Prevention Cheat Sheet, "HTML Sanitization"): it keeps formatting,
// lists, tables, links and images, and it already drops what runs code:
// <script>, <style>, <iframe>, <object>, <embed>, <form>, every on*
// attribute and the style attribute (bluemonday does not parse CSS, so it
// permits none). The settings below restate the guarantees Rampart
// promises rather than rely on the library's current defaults:
//
//   - URLs must parse, and only http, https, mailto and relative URLs are
//     kept: javascript:, vbscript: and data: (a data:text/html link is a
//     script) go with the attribute. bluemonday checks the scheme of the
//     URL as net/url parses it after HTML entity decoding, so
//     "jav&#x09;ascript:" and mixed case do not slip through.
//   - rel="nofollow" on every link: user links earn no search rank, which
//     removes the point of link spam.
//   - Fully qualified links open in a new tab with rel="nofollow noopener",
//     so the target page cannot script window.opener (reverse
//     tabnabbing; OWASP HTML5 Security Cheat Sheet, "Tabnabbing").
//     Relative links stay on the site and get nofollow only.
var ugc = func() *bluemonday.Policy {
	p := bluemonday.UGCPolicy()
	p.RequireParseableURLs(true)
	p.AllowURLSchemes("mailto", "http", "https")
	p.RequireNoFollowOnLinks(true)
	p.AddTargetBlankToFullyQualifiedLinks(true)
	return p
}()

// SanitizeHTML cleans untrusted rich text with the gateway's one UGC
// policy (see ugc above): the result keeps formatting and safe links and
// has no scripts, event handlers, style, or script-bearing URLs. Invalid
// UTF-8 is replaced first, so the result is always valid UTF-8.
func SanitizeHTML(s string) string {
	if !utf8.ValidString(s) {
		s = string(bytes.ToValidUTF8([]byte(s), []byte("\uFFFD")))
	}
	return ugc.Sanitize(s)
}

// sanitizeHits cleans the strings found at the sanitize pointers. A
// pointer at a non-string value is a 422 (errs); the strings that changed
// are spliced into a copy of body in place of the original literals, so
// every other byte (member order, numbers, spacing) is forwarded as the
// client sent it. Unchanged documents come back as body itself.
func sanitizeHits(body []byte, hits []hit, ptrs []pointer) ([]byte, []FieldError) {
	var errs []FieldError
	type edit struct {
		start, end int
		repl       string
	}
	var edits []edit
	for _, h := range hits {
		if !h.isString {
			errs = append(errs, FieldError{Pointer: ptrs[h.ptr].text, Detail: "must be a string to be sanitized"})
			continue
		}
		if clean := SanitizeHTML(h.str); clean != h.str {
			edits = append(edits, edit{h.start, h.end, clean})
		}
	}
	if len(errs) > 0 || len(edits) == 0 {
		return body, errs
	}
	slices.SortFunc(edits, func(a, b edit) int { return a.start - b.start })
	out := make([]byte, 0, len(body)+len(body)/8)
	at := 0
	for _, e := range edits {
		out = append(out, body[at:e.start]...)
		out = appendJSONString(out, e.repl)
		at = e.end
	}
	return append(out, body[at:]...), nil
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string literal. Besides the
// escapes RFC 8259 §7 requires, U+2028 and U+2029 are escaped: they end a
// line in JavaScript before ES2019, so a service that embeds the value in
// a script keeps working.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
