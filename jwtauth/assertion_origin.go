package jwtauth

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"
)

// maxOriginLen bounds the input of NormalizeOrigin: "https://", a 253-byte
// DNS name and ":65535" fit with room to spare.
const maxOriginLen = 300

// NormalizeOrigin returns the canonical form of a web origin
// (RFC 6454 §6.2: scheme "://" host [":" port]) as the gateway's identity
// assertion carries it in aud: scheme and host in lower case, the scheme's
// default port dropped, an IPv6 literal in its RFC 5952 form in brackets.
// One trailing "/" is accepted and dropped; anything else is an error
// rather than a guess: a scheme other than http or https, user
// information, a path, a query, a fragment, percent-encoding, non-ASCII
// (give an IDN as its A-label), an empty or over-long DNS label, an
// IPv6 zone, a port outside 1–65535 or with leading zeros, and a host that
// a WHATWG URL parser would read as a non-canonical IPv4 address ("127.1",
// "0x7f.0.0.1", "010.0.0.1"). The minter and the verifier both use it, so
// they agree byte for byte on which service a token is for (an audience
// compared loosely could let a token minted for one upstream be accepted
// by another; RFC 8725 §3.9).
func NormalizeOrigin(s string) (string, error) {
	if len(s) > maxOriginLen {
		return "", errors.New("jwtauth: origin: too long")
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return "", errors.New("jwtauth: origin: want scheme://host[:port]")
	}
	scheme = strings.ToLower(scheme)
	if scheme != "http" && scheme != "https" {
		return "", errors.New("jwtauth: origin: scheme must be http or https")
	}
	rest = strings.TrimSuffix(rest, "/")
	if strings.ContainsAny(rest, "/?#@\\%") {
		return "", errors.New("jwtauth: origin: no path, query, fragment, user information or percent-encoding allowed")
	}
	host, port, err := splitOriginHost(rest)
	if err != nil {
		return "", err
	}
	if port, err = originPort(scheme, port); err != nil {
		return "", err
	}
	out := scheme + "://" + host
	if port != "" {
		out += ":" + port
	}
	return out, nil
}

// splitOriginHost splits and normalizes "host[:port]" with host a DNS
// name, an IPv4 address or a bracketed IPv6 address.
func splitOriginHost(hp string) (host, port string, err error) {
	if strings.HasPrefix(hp, "[") {
		end := strings.IndexByte(hp, ']')
		if end < 0 {
			return "", "", errors.New("jwtauth: origin: unclosed IPv6 literal")
		}
		a, perr := netip.ParseAddr(hp[1:end])
		if perr != nil || !a.Is6() || a.Zone() != "" {
			return "", "", errors.New("jwtauth: origin: bad IPv6 literal")
		}
		rest := hp[end+1:]
		if rest != "" {
			p, ok := strings.CutPrefix(rest, ":")
			if !ok {
				return "", "", errors.New("jwtauth: origin: junk after IPv6 literal")
			}
			port = p
			if port == "" {
				return "", "", errors.New("jwtauth: origin: empty port")
			}
		}
		return "[" + a.String() + "]", port, nil
	}
	host = hp
	if i := strings.LastIndexByte(hp, ':'); i >= 0 {
		host, port = hp[:i], hp[i+1:]
		if port == "" {
			return "", "", errors.New("jwtauth: origin: empty port")
		}
	}
	host, err = originDNSHost(host)
	return host, port, err
}

// originDNSHost lowercases and checks a DNS name or IPv4 address.
func originDNSHost(h string) (string, error) {
	if h == "" || len(h) > 253 {
		return "", errors.New("jwtauth: origin: empty or over-long host")
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return "", errors.New("jwtauth: origin: host may hold only ASCII letters, digits, '-', '_' and '.'")
		}
	}
	h = strings.ToLower(h)
	labels := strings.Split(h, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return "", errors.New("jwtauth: origin: empty or over-long host label")
		}
	}
	// WHATWG URL §3.5 (host parsing): a host whose last label is numeric
	// is an IPv4 address, and "127.1", "0x7f.1" or "0177.0.0.1" all mean
	// 127.0.0.1 to a browser-grade parser. Only the dotted-decimal form is
	// accepted, so one address has one spelling.
	if last := labels[len(labels)-1]; numericLabel(last) {
		a, err := netip.ParseAddr(h)
		if err != nil || !a.Is4() {
			return "", errors.New("jwtauth: origin: a numeric host must be a dotted-decimal IPv4 address")
		}
	}
	return h, nil
}

// numericLabel reports whether l reads as a WHATWG IPv4 number: decimal
// digits, or "0x" followed by hex digits.
func numericLabel(l string) bool {
	if hex, ok := strings.CutPrefix(l, "0x"); ok {
		for i := 0; i < len(hex); i++ {
			if !strings.ContainsRune("0123456789abcdef", rune(hex[i])) {
				return false
			}
		}
		return true
	}
	for i := 0; i < len(l); i++ {
		if l[i] < '0' || l[i] > '9' {
			return false
		}
	}
	return true
}

// originPort checks a port and drops the scheme's default.
func originPort(scheme, port string) (string, error) {
	if port == "" {
		return "", nil
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 || port[0] < '1' || port[0] > '9' {
		return "", errors.New("jwtauth: origin: port must be 1-65535 without leading zeros or sign")
	}
	if (scheme == "http" && n == 80) || (scheme == "https" && n == 443) {
		return "", nil
	}
	return port, nil
}
