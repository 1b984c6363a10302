package gateway

import "net/netip"

// maxHostLen bounds a host[:port]: a 253-byte DNS name (RFC 1035 §2.3.4)
// and ":65535".
const maxHostLen = 253 + 6

// foldHost appends the lowercase form of host to dst and reports the
// length of its name part (without the port), or false when host is not
// a DNS name of LDH labels (RFC 1123 §2.1, at most 63 bytes each) or a
// bracketed IPv6 literal (RFC 3986 §3.2.2), optionally followed by ":"
// and a port 1–65535 without leading zeros. "" is valid and stays "".
// Non-ASCII names are refused: IDNA mapping is out of scope, and the
// xn-- form is ASCII.
func foldHost(dst []byte, host string) ([]byte, int, bool) {
	if len(host) > maxHostLen {
		return nil, 0, false
	}
	name, port := host, ""
	if len(host) > 0 && host[0] == '[' {
		end := 0
		for end < len(host) && host[end] != ']' {
			end++
		}
		if end == len(host) {
			return nil, 0, false
		}
		name, port = host[:end+1], host[end+1:]
		if !validIPv6Literal(name) {
			return nil, 0, false
		}
	} else {
		for i := len(host) - 1; i >= 0; i-- {
			if host[i] == ':' {
				name, port = host[:i], host[i:]
				break
			}
		}
		if host != "" && !validDNSName(name) {
			return nil, 0, false
		}
	}
	if port != "" && !validPort(port) {
		return nil, 0, false
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst, len(name), true
}

// validDNSName reports whether s is 1–253 bytes of dot-separated labels of
// letters, digits and inner hyphens, each 1–63 bytes, with no trailing dot.
func validDNSName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	label := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.':
			if label == 0 || s[i-1] == '-' {
				return false
			}
			label = 0
			continue
		case c == '-':
			if label == 0 {
				return false
			}
		case !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'):
			return false
		}
		label++
		if label > 63 {
			return false
		}
	}
	return label > 0 && s[len(s)-1] != '-'
}

// validIPv6Literal reports whether s is a bracketed IPv6 address without a
// zone, spelled in its RFC 5952 canonical form but for case: "[0:0::1]"
// names the host "[::1]" names, and like a trailing dot it would miss that
// host's routes and fall to the host-less ones, so it is refused.
func validIPv6Literal(s string) bool {
	if len(s) < 4 || s[0] != '[' || s[len(s)-1] != ']' {
		return false
	}
	inner := s[1 : len(s)-1]
	for i := 0; i < len(inner); i++ {
		if c := inner[i]; c != ':' && c != '.' && !isHex(c) {
			return false // also keeps ParseAddr's allocating errors off the common refusals
		}
	}
	a, err := netip.ParseAddr(inner)
	if err != nil || !a.Is6() {
		return false
	}
	var buf [64]byte
	canon := a.AppendTo(buf[:0])
	if len(canon) != len(inner) {
		return false
	}
	for i := range canon {
		c := inner[i]
		if 'A' <= c && c <= 'F' {
			c += 'a' - 'A'
		}
		if c != canon[i] {
			return false
		}
	}
	return true
}

// validPort reports whether p is ":" and a decimal 1–65535 without a
// leading zero.
func validPort(p string) bool {
	if len(p) < 2 || len(p) > 6 || p[0] != ':' || p[1] == '0' {
		return false
	}
	n := 0
	for i := 1; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
		n = n*10 + int(p[i]-'0')
	}
	return n <= 65535
}
