package gateway

import (
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// fuzzHosts are the hosts routes and requests are drawn from; the request
// side adds spellings (case, other ports, a trailing dot) Match must fold
// or refuse.
var (
	fuzzRouteHosts = []string{"", "a.example", "a.example:8443", "B.example"}
	fuzzReqHosts   = []struct {
		host string
		ok   bool
	}{
		{"", true}, {"a.example", true}, {"A.EXAMPLE:8443", true}, {"a.example:1", true},
		{"b.example", true}, {"c.example", true}, {"a.example.", false}, {"a.example:", false},
		{"[::1]", true}, {"a b", false},
	}
	fuzzSegments = []string{"a", "b", "ab", "A", "a.b", "%C3%A9"}
	fuzzMethods  = []string{"GET", "POST", "PUT", "get"}
)

// fuzzSpecs builds up to 16 routes from data, three bytes a route: host,
// kind and method set, then the path's segments.
func fuzzSpecs(data []byte) []RouteSpec {
	var specs []RouteSpec
	for len(data) >= 3 && len(specs) < 16 {
		h, k, m := data[0], data[1], data[2]
		data = data[3:]
		p := ""
		for i := 0; i < int(k>>4)%4; i++ {
			p += "/" + fuzzSegments[int(k>>(i%4))%len(fuzzSegments)]
		}
		if p == "" || k&2 != 0 {
			p += "/"
		}
		s := RouteSpec{Name: "r" + strconv.Itoa(len(specs)), Host: fuzzRouteHosts[int(h)%len(fuzzRouteHosts)], Public: true}
		if k&1 == 0 {
			s.PathPrefix = p
		} else {
			s.Path = p
		}
		for i, meth := range fuzzMethods[:3] {
			if m&(1<<i) != 0 {
				s.Methods = append(s.Methods, meth)
			}
		}
		if len(s.Methods) == 0 {
			s.Methods = []string{"GET"}
		}
		specs = append(specs, s)
	}
	return specs
}

// FuzzMatch compiles random route tables and checks Match against a
// brute-force reading of its contract on random canonical paths: no panic,
// and the same route and result as refMatch.
func FuzzMatch(f *testing.F) {
	f.Add([]byte{0, 0x10, 1, 1, 0x20, 3, 2, 0x13, 4}, uint8(0), uint8(1), "/a/b")
	f.Add([]byte{1, 0x00, 1, 0, 0x12, 1, 3, 0x21, 2}, uint8(1), uint8(2), "/ab/")
	f.Add([]byte{2, 0x30, 7, 0, 0x31, 1}, uint8(2), uint8(3), "/a/A/a.b")
	f.Add([]byte{0, 0x10, 1, 0, 0x10, 1}, uint8(0), uint8(0), "/a")
	f.Add([]byte{3, 0x20, 1}, uint8(0), uint8(4), "/b/%C3%A9")
	f.Add([]byte{}, uint8(3), uint8(6), "/")
	f.Fuzz(func(t *testing.T, data []byte, mi, hi uint8, raw string) {
		path, err := Canonicalize(raw)
		if err != nil {
			return
		}
		specs := fuzzSpecs(data)
		rt, err := Compile(specs)
		if err != nil {
			if !strings.Contains(err.Error(), "ambiguous") || !refAmbiguous(specs) {
				t.Fatalf("Compile(%+v): %v", specs, err)
			}
			return
		}
		if refAmbiguous(specs) {
			t.Fatalf("Compile accepted ambiguous %+v", specs)
		}
		method := fuzzMethods[int(mi)%len(fuzzMethods)]
		h := fuzzReqHosts[int(hi)%len(fuzzReqHosts)]
		r, res := rt.Match(method, h.host, path)
		want, wantRes := refMatch(specs, method, h.host, h.ok, path)
		got := -1
		if r != nil {
			got = r.Index()
		}
		if got != want || res != wantRes {
			t.Fatalf("Match(%q, %q, %q) = %d, %v; reference %d, %v\nspecs %+v", method, h.host, path, got, res, want, wantRes, specs)
		}
	})
}

// refKey is a route's (host, kind, pattern), host in lowercase.
func refKey(s RouteSpec) string {
	return strings.ToLower(s.Host) + " " + s.Path + " " + s.PathPrefix + " " + strconv.FormatBool(s.Path != "")
}

// refAmbiguous reports whether two specs share a key and a method.
func refAmbiguous(specs []RouteSpec) bool {
	seen := map[string]bool{}
	for _, s := range specs {
		for _, m := range s.Methods {
			k := refKey(s) + " " + m
			if seen[k] {
				return true
			}
			seen[k] = true
		}
	}
	return false
}

// refMatch is Match's contract read literally: of every route whose host
// and path match, take the one with the greatest (host level, exact,
// pattern length); then the route with that key that lists the method.
func refMatch(specs []RouteSpec, method, host string, hostOK bool, path string) (int, MatchResult) {
	if !hostOK {
		return -1, BadHost
	}
	lh := strings.ToLower(host)
	name := lh
	if i := strings.LastIndexByte(lh, ':'); i >= 0 && !strings.HasSuffix(lh, "]") {
		name = lh[:i]
	}
	best, bestLevel, bestExact, bestLen := -1, -1, false, -1
	for i, s := range specs {
		h := strings.ToLower(s.Host)
		level := -1
		switch {
		case h == "":
			level = 0
		case h == lh:
			level = 2
		case h == name:
			level = 1
		}
		exact, pattern := s.Path != "", s.PathPrefix
		if exact {
			pattern = s.Path
		}
		if level < 0 || exact && pattern != path || !exact && !SegmentPrefix(path, pattern) {
			continue
		}
		better := level > bestLevel ||
			level == bestLevel && (exact && !bestExact || exact == bestExact && len(pattern) > bestLen)
		if better {
			best, bestLevel, bestExact, bestLen = i, level, exact, len(pattern)
		}
	}
	if best < 0 {
		return -1, NoRoute
	}
	for i, s := range specs {
		if refKey(s) != refKey(specs[best]) {
			continue
		}
		for _, m := range s.Methods {
			if m == method {
				return i, Matched
			}
		}
	}
	return -1, MethodNotAllowed
}

// TestMatchReference runs FuzzMatch's comparison over a fixed grid of
// tables and requests, and checks that the grid reaches every outcome, so
// the reference is exercised on hits as well as misses.
func TestMatchReference(t *testing.T) {
	paths := []string{"/", "/a", "/a/", "/a/b", "/ab", "/A", "/a/b/ab", "/a.b", "/%C3%A9/a", "/b/ab/"}
	seen := map[MatchResult]int{}
	for seed := 0; seed < 300; seed++ {
		data := make([]byte, 3*(1+seed%7))
		for i := range data {
			data[i] = byte((seed*131 + i*37 + i*i*11) % 251)
		}
		specs := fuzzSpecs(data)
		rt, err := Compile(specs)
		if err != nil {
			continue
		}
		for _, p := range paths {
			for _, m := range fuzzMethods {
				for _, h := range fuzzReqHosts {
					r, res := rt.Match(m, h.host, p)
					want, wantRes := refMatch(specs, m, h.host, h.ok, p)
					got := -1
					if r != nil {
						got = r.Index()
					}
					if got != want || res != wantRes {
						t.Fatalf("Match(%q, %q, %q) = %d, %v; reference %d, %v\nspecs %+v", m, h.host, p, got, res, want, wantRes, specs)
					}
					seen[res]++
				}
			}
		}
	}
	for _, r := range []MatchResult{Matched, NoRoute, MethodNotAllowed, BadHost} {
		if seen[r] == 0 {
			t.Errorf("grid never reached %v: %v", r, seen)
		}
	}
	t.Logf("outcomes: %v", seen)
}

var (
	refDNSHost  = regexp.MustCompile(`^(?i)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$`)
	refIPv6Host = regexp.MustCompile(`^\[([^\]]*)\]$`)
)

// refHostOK is the host syntax Match documents, written independently of
// foldHost: an LDH name of at most 253 bytes or an RFC 5952 bracketed IPv6
// address, then optionally ":" and a port 1–65535 without a leading zero.
func refHostOK(host string) bool {
	if host == "" {
		return true
	}
	name, port := host, ""
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.HasSuffix(host, "]") {
		name, port = host[:i], host[i+1:]
		n, err := strconv.Atoi(port)
		if err != nil || port[0] < '1' || port[0] > '9' || n > 65535 {
			return false
		}
	}
	if m := refIPv6Host.FindStringSubmatch(name); m != nil {
		a, err := netip.ParseAddr(m[1])
		return err == nil && a.Is6() && a.Zone() == "" && a.String() == strings.ToLower(m[1])
	}
	return len(name) <= 253 && refDNSHost.MatchString(name)
}

// FuzzHost checks the host syntax shared by Compile and Match against
// refHostOK: no panic, the same verdict, and an accepted host folded to
// lowercase with its name part measured correctly.
func FuzzHost(f *testing.F) {
	for _, s := range []string{
		"", "a.example", "A.Example:8443", "a.example.", "a.example:", ":80", "a.example:080",
		"a.example:65536", "[::1]", "[::1]:8081", "[0:0::1]", "[FE80::1]", "[fe80::1%25eth0]",
		"[1.2.3.4]", "[::ffff:1.2.3.4]", "::1", "u@a.example", "a_b.example", "-a.example",
		"a-.example", "xn--ntes-5qa.example", "nötes.example", "a..b", strings.Repeat("a", 64) + ".example",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		var buf [maxHostLen]byte
		out, nameLen, ok := foldHost(buf[:0], host)
		if want := refHostOK(host); ok != want {
			t.Fatalf("foldHost(%q) ok = %v, reference %v", host, ok, want)
		}
		if !ok {
			return
		}
		if string(out) != strings.ToLower(host) {
			t.Fatalf("foldHost(%q) = %q", host, out)
		}
		if nameLen < len(out) && out[nameLen] != ':' || nameLen > len(out) {
			t.Fatalf("foldHost(%q) name length %d", host, nameLen)
		}
		if h, err := routeHost(host); err != nil || h != string(out) {
			t.Fatalf("routeHost(%q) = %q, %v", host, h, err)
		}
	})
}
