package httpx

import "strings"

// scrubSecrets removes credentials embedded in free text, typically an
// error message that quotes a DSN or URL: the password of a URL's userinfo
// ("postgres://user:pw@host" → "postgres://user:[REDACTED]@host"), the
// credentials after "Bearer " or "Basic ", and the value of key=value pairs
// whose key is sensitive (password=…, client_secret=…, code=…). Key-based
// redaction cannot see these, and error text is exactly where connection
// strings end up (OWASP Logging Cheat Sheet, "Data to exclude"). Text with
// none of the markers is returned as is, without allocating.
func scrubSecrets(s string) string {
	if strings.IndexByte(s, '=') < 0 && !strings.Contains(s, "://") &&
		!containsFold(s, "bearer ") && !containsFold(s, "basic ") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	i := 0
	for i < len(s) {
		switch {
		case s[i] == '=' && isSensitiveKey(wordBefore(s, i)):
			b.WriteString("=" + Redacted)
			i = secretEnd(s, i+1)
		case strings.HasPrefix(s[i:], "://"):
			b.WriteString("://")
			i += 3
			// userinfo ends at '@', before any '/', '?', '#' or space.
			end := strings.IndexAny(s[i:], "/?# \t\n\"'")
			if end < 0 {
				end = len(s) - i
			}
			at := strings.LastIndexByte(s[i:i+end], '@')
			if at < 0 {
				continue
			}
			user, _, hasPw := strings.Cut(s[i:i+at], ":")
			b.WriteString(user)
			if hasPw {
				b.WriteString(":" + Redacted)
			}
			b.WriteByte('@')
			i += at + 1
		case hasPrefixFold(s[i:], "bearer ") || hasPrefixFold(s[i:], "basic "):
			sp := strings.IndexByte(s[i:], ' ')
			b.WriteString(s[i : i+sp+1])
			b.WriteString(Redacted)
			i = secretEnd(s, i+sp+1)
		default:
			b.WriteByte(s[i])
			i++
		}
	}
	return b.String()
}

// wordBefore returns the key-like word ending just before s[i].
func wordBefore(s string, i int) string {
	j := i
	for j > 0 {
		c := s[j-1]
		if c == '_' || c == '-' || c == '.' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			j--
			continue
		}
		break
	}
	return s[j:i]
}

// secretEnd returns the index where a secret value starting at i ends: a
// quoted value ends after its closing quote, an already redacted one after
// the marker (so scrubbing twice changes nothing), others at valueEnd.
func secretEnd(s string, i int) int {
	if i >= len(s) {
		return i
	}
	if strings.HasPrefix(s[i:], Redacted) {
		return i + len(Redacted)
	}
	if q := s[i]; q == '"' || q == '\'' {
		if j := strings.IndexByte(s[i+1:], q); j >= 0 {
			return i + 1 + j + 1
		}
		return len(s)
	}
	return valueEnd(s, i)
}

// valueEnd returns the index where a value starting at i ends: at
// whitespace, a separator or a quote.
func valueEnd(s string, i int) int {
	for i < len(s) {
		switch s[i] {
		case ' ', '\t', '\n', '\r', '&', ';', ',', '"', '\'', ')', ']', '}', '>':
			return i
		}
		i++
	}
	return i
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// containsFold reports whether s contains the lower-case ASCII word sub,
// ignoring case; it jumps between candidate first letters.
func containsFold(s, sub string) bool {
	first := string([]byte{sub[0], sub[0] - ('a' - 'A')})
	for i := 0; i < len(s); {
		j := strings.IndexAny(s[i:], first)
		if j < 0 {
			return false
		}
		if hasPrefixFold(s[i+j:], sub) {
			return true
		}
		i += j + 1
	}
	return false
}
