package gateway

import (
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
)

var authSelf = &AuthSpec{Issuer: "self", Audience: []string{"https://notes.example.test"}, Scopes: []string{"notes:read"}}

func prefixRoute(name, host, prefix string, methods ...string) RouteSpec {
	return RouteSpec{Name: name, Host: host, PathPrefix: prefix, Methods: methods, Auth: authSelf}
}

func exactRoute(name, host, path string, methods ...string) RouteSpec {
	return RouteSpec{Name: name, Host: host, Path: path, Methods: methods, Auth: authSelf}
}

func mustCompile(t testing.TB, specs ...RouteSpec) *Router {
	t.Helper()
	rt, err := Compile(specs)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return rt
}

func TestCompileRefuses(t *testing.T) {
	ok := prefixRoute("ok", "", "/api", "GET")
	with := func(f func(*RouteSpec)) RouteSpec { s := ok; f(&s); return s }
	for _, tc := range []struct {
		name string
		spec RouteSpec
		want string
	}{
		{"reject/no-auth", with(func(s *RouteSpec) { s.Auth = nil }), "no auth: write auth: none to serve it without authentication"},
		{"reject/auth-and-none", with(func(s *RouteSpec) { s.Public = true }), "both an auth rule and auth: none"},
		{"reject/name-empty", with(func(s *RouteSpec) { s.Name = "" }), "name must match"},
		{"reject/name-upper", with(func(s *RouteSpec) { s.Name = "Notes" }), "name must match"},
		{"reject/name-underscore", with(func(s *RouteSpec) { s.Name = "notes_read" }), "name must match"},
		{"reject/name-leading-hyphen", with(func(s *RouteSpec) { s.Name = "-notes" }), "name must match"},
		{"reject/name-trailing-hyphen", with(func(s *RouteSpec) { s.Name = "notes-" }), "name must match"},
		{"reject/name-double-hyphen", with(func(s *RouteSpec) { s.Name = "notes--read" }), "name must match"},
		{"reject/name-too-long", with(func(s *RouteSpec) { s.Name = strings.Repeat("a", 64) }), "at most 63 bytes"},
		{"reject/path-and-prefix", with(func(s *RouteSpec) { s.Path = "/api" }), "both path and path_prefix"},
		{"reject/no-path", with(func(s *RouteSpec) { s.PathPrefix = "" }), "neither path nor path_prefix"},
		{"reject/prefix-relative", with(func(s *RouteSpec) { s.PathPrefix = "api" }), "path_prefix: gateway: path refused"},
		{"reject/prefix-dot-segment", with(func(s *RouteSpec) { s.PathPrefix = "/api/../admin" }), "dot segment"},
		{"reject/prefix-double-slash", with(func(s *RouteSpec) { s.PathPrefix = "/api//notes" }), "empty segment"},
		{"reject/prefix-not-canonical", with(func(s *RouteSpec) { s.PathPrefix = "/%61pi" }), `path_prefix is not canonical: write "/api"`},
		{"reject/path-lowercase-escape", with(func(s *RouteSpec) { s.PathPrefix = ""; s.Path = "/caf%c3%a9" }), `path is not canonical: write "/caf%C3%A9"`},
		{"reject/host-trailing-dot", with(func(s *RouteSpec) { s.Host = "notes.example." }), "host must be"},
		{"reject/host-non-ascii", with(func(s *RouteSpec) { s.Host = "nötes.example" }), "host must be"},
		{"reject/host-userinfo", with(func(s *RouteSpec) { s.Host = "user@notes.example" }), "host must be"},
		{"reject/host-port-zero", with(func(s *RouteSpec) { s.Host = "notes.example:0" }), "host must be"},
		{"reject/host-port-leading-zero", with(func(s *RouteSpec) { s.Host = "notes.example:080" }), "host must be"},
		{"reject/host-port-too-big", with(func(s *RouteSpec) { s.Host = "notes.example:65536" }), "host must be"},
		{"reject/host-empty-label", with(func(s *RouteSpec) { s.Host = "notes..example" }), "host must be"},
		{"reject/host-ipv6-not-canonical", with(func(s *RouteSpec) { s.Host = "[0:0::1]" }), "host must be"},
		{"reject/host-ipv6-zone", with(func(s *RouteSpec) { s.Host = "[fe80::1%25eth0]" }), "host must be"},
		{"reject/host-ipv6-v4", with(func(s *RouteSpec) { s.Host = "[1.2.3.4]" }), "host must be"},
		{"reject/host-wildcard", with(func(s *RouteSpec) { s.Host = "*.example" }), "host must be"},
		{"reject/methods-missing", with(func(s *RouteSpec) { s.Methods = nil }), "no methods"},
		{"reject/method-lowercase", with(func(s *RouteSpec) { s.Methods = []string{"get"} }), `method "get" is not an uppercase RFC 9110 token`},
		{"reject/method-space", with(func(s *RouteSpec) { s.Methods = []string{"GET POST"} }), "not an uppercase RFC 9110 token"},
		{"reject/method-empty", with(func(s *RouteSpec) { s.Methods = []string{""} }), "not an uppercase RFC 9110 token"},
		{"reject/method-twice", with(func(s *RouteSpec) { s.Methods = []string{"GET", "GET"} }), "method GET listed twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt, err := Compile([]RouteSpec{tc.spec})
			if err == nil || rt != nil {
				t.Fatalf("Compile accepted %+v", tc.spec)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "gateway: route 0 (") {
				t.Fatalf("error %q, want it to name route 0 and contain %q", err, tc.want)
			}
		})
	}
}

func TestCompileAccepts(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec RouteSpec
	}{
		{"accept/auth-none", RouteSpec{Name: "health", Path: "/healthz", Methods: []string{"GET"}, Public: true}},
		{"accept/name-63", prefixRoute(strings.Repeat("a", 63), "", "/", "GET")},
		{"accept/host-port", prefixRoute("a", "notes.example:8443", "/", "GET")},
		{"accept/host-ipv6", prefixRoute("a", "[::1]:8081", "/", "GET")},
		{"accept/host-ipv4", prefixRoute("a", "127.0.0.1", "/", "GET")},
		{"accept/host-punycode", prefixRoute("a", "xn--ntes-5qa.example", "/", "GET")},
		{"accept/method-extension", prefixRoute("a", "", "/", "PROPFIND", "M-SEARCH")},
		{"accept/prefix-trailing-slash", prefixRoute("a", "", "/api/notes/", "GET")},
		{"accept/path-escaped", exactRoute("a", "", "/caf%C3%A9", "GET")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Compile([]RouteSpec{tc.spec}); err != nil {
				t.Fatalf("Compile: %v", err)
			}
		})
	}
}

// TestCompileReportsEveryProblem checks that one Compile call names every
// broken route, and every problem of one route, at once.
func TestCompileReportsEveryProblem(t *testing.T) {
	_, err := Compile([]RouteSpec{
		{Name: "Bad_Name", PathPrefix: "/a/../b", Methods: []string{"get", "PUT", "PUT", "X Y"}},
		prefixRoute("dup", "", "/x", "GET"),
		prefixRoute("dup", "", "/y", "GET"),
		prefixRoute("ok", "", "/z", "GET"),
	})
	if err == nil {
		t.Fatal("Compile accepted broken routes")
	}
	for _, want := range []string{
		`gateway: route 0 ("Bad_Name"): name must match`,
		`gateway: route 0 ("Bad_Name"): path_prefix: gateway: path refused: dot segment`,
		`gateway: route 0 ("Bad_Name"): method "get"`,
		`gateway: route 0 ("Bad_Name"): method PUT listed twice`,
		`gateway: route 0 ("Bad_Name"): method "X Y"`,
		`gateway: route 0 ("Bad_Name"): no auth`,
		`gateway: route 2 ("dup"): name already used by route 1`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), `route 3`) {
		t.Errorf("error names the valid route 3:\n%v", err)
	}
	var errs interface{ Unwrap() []error }
	if !errors.As(err, &errs) || len(errs.Unwrap()) != 7 {
		t.Errorf("want 7 joined errors, got %v", err)
	}
}

func TestCompileAmbiguous(t *testing.T) {
	for _, tc := range []struct {
		name  string
		specs []RouteSpec
		want  string
	}{
		{"reject/same-prefix-method", []RouteSpec{prefixRoute("a", "", "/api", "GET"), prefixRoute("b", "", "/api", "POST", "GET")},
			`gateway: route 1 ("b"): ambiguous: route 0 ("a") already serves GET`},
		{"reject/same-path-method", []RouteSpec{exactRoute("a", "h.example", "/x", "PUT"), exactRoute("b", "h.example", "/x", "PUT")},
			`route 1 ("b"): ambiguous: route 0 ("a") already serves PUT`},
		{"reject/host-case", []RouteSpec{prefixRoute("a", "H.example", "/", "GET"), prefixRoute("b", "h.EXAMPLE", "/", "GET")},
			`route 1 ("b"): ambiguous`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile(tc.specs)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
	// Same pattern, different methods, kinds or hosts: not ambiguous.
	mustCompile(t,
		prefixRoute("read", "", "/api", "GET"), prefixRoute("write", "", "/api", "POST"),
		exactRoute("exact", "", "/api", "GET"), prefixRoute("slash", "", "/api/", "GET"),
		prefixRoute("host", "h.example", "/api", "GET"), prefixRoute("port", "h.example:8443", "/api", "GET"))
}

func TestMatch(t *testing.T) {
	rt := mustCompile(t,
		prefixRoute("root", "", "/", "GET"),
		prefixRoute("api", "", "/api", "GET", "POST"),
		prefixRoute("notes", "", "/api/notes", "GET"),
		prefixRoute("notes-write", "", "/api/notes", "POST", "DELETE"),
		prefixRoute("files-below", "", "/api/files/", "PUT"),
		exactRoute("notes-exact", "", "/api/notes/export", "GET"),
		RouteSpec{Name: "health", Path: "/healthz", Methods: []string{"GET"}, Public: true},
		prefixRoute("admin-host", "admin.example", "/api", "GET"),
		prefixRoute("admin-port", "admin.example:8443", "/api/notes", "GET"),
		exactRoute("case", "", "/Case", "GET"),
		prefixRoute("v6", "[::1]", "/api", "GET"),
	)
	for _, tc := range []struct {
		name, method, host, path string
		want                     string // route name, or "" when not matched
		res                      MatchResult
	}{
		{"match/prefix-itself", "GET", "", "/api/notes", "notes", Matched},
		{"match/prefix-below", "GET", "", "/api/notes/1", "notes", Matched},
		{"match/longer-prefix-wins", "POST", "", "/api/notes/1", "notes-write", Matched},
		{"match/shorter-prefix-when-longer-misses", "GET", "", "/api/users", "api", Matched},
		{"match/segment-not-string-prefix", "GET", "", "/api/notesX", "api", Matched},
		{"match/segment-not-dot-suffix", "GET", "", "/api/notes.json", "api", Matched},
		{"match/exact-beats-prefix", "GET", "", "/api/notes/export", "notes-exact", Matched},
		{"match/exact-is-exact", "GET", "", "/api/notes/export/x", "notes", Matched},
		{"match/trailing-slash-prefix", "PUT", "", "/api/files/1", "files-below", Matched},
		{"match/trailing-slash-prefix-itself", "PUT", "", "/api/files/", "files-below", Matched},
		{"match/trailing-slash-prefix-not-parent", "GET", "", "/api/files", "api", Matched},
		{"match/root", "GET", "", "/anything", "root", Matched},
		{"match/public", "GET", "", "/healthz", "health", Matched},
		{"match/host-specific-wins", "GET", "admin.example", "/api/notes", "admin-host", Matched},
		{"match/host-case-insensitive", "GET", "ADMIN.Example", "/api/x", "admin-host", Matched},
		{"match/host-any-port", "GET", "admin.example:9999", "/api/x", "admin-host", Matched},
		{"match/host-port-wins", "GET", "admin.example:8443", "/api/notes/1", "admin-port", Matched},
		{"match/host-port-falls-to-host", "GET", "admin.example:8443", "/api/users", "admin-host", Matched},
		{"match/host-falls-to-hostless", "GET", "admin.example", "/other", "root", Matched},
		{"match/other-host-hostless", "GET", "notes.example", "/api/notes", "notes", Matched},
		{"match/ipv6", "GET", "[::1]:8081", "/api", "v6", Matched},
		{"match/path-case-significant", "GET", "", "/Case", "case", Matched},
		{"miss/path-case-significant", "GET", "", "/case", "root", Matched},
		{"miss/method-on-most-specific", "PATCH", "", "/api/notes/1", "", MethodNotAllowed},
		{"miss/no-fallthrough-to-broader", "GET", "", "/api/files/1", "", MethodNotAllowed},
		{"miss/method-case-significant", "get", "", "/api", "", MethodNotAllowed},
		{"miss/head-not-implied", "HEAD", "", "/healthz", "", MethodNotAllowed},
		{"miss/host-port-method", "POST", "admin.example:8443", "/api/notes", "", MethodNotAllowed},
		{"bad/host-trailing-dot", "GET", "admin.example.", "/api", "", BadHost},
		{"bad/host-userinfo", "GET", "u@admin.example", "/api", "", BadHost},
		{"bad/host-non-ascii", "GET", "admin.exämple", "/api", "", BadHost},
		{"bad/host-empty-port", "GET", "admin.example:", "/api", "", BadHost},
		{"bad/host-only-port", "GET", ":80", "/api", "", BadHost},
		{"bad/host-ipv6-unbracketed", "GET", "::1", "/api", "", BadHost},
		{"bad/host-ipv6-not-canonical", "GET", "[0:0::1]:8081", "/api", "", BadHost},
		{"bad/host-ipv6-leading-zeros", "GET", "[::0001]", "/api", "", BadHost},
		{"match/host-ipv6-upper", "GET", "[FE80::1]", "/api", "api", Matched},
		{"bad/host-too-long", "GET", strings.Repeat("a.", 130) + "a", "/api", "", BadHost},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, res := rt.Match(tc.method, tc.host, tc.path)
			got := ""
			if r != nil {
				got = r.Name()
			}
			if got != tc.want || res != tc.res {
				t.Fatalf("Match(%q, %q, %q) = %q, %v; want %q, %v", tc.method, tc.host, tc.path, got, res, tc.want, tc.res)
			}
		})
	}
}

func TestMatchNoRoute(t *testing.T) {
	rt := mustCompile(t, prefixRoute("notes", "", "/api/notes", "GET"), prefixRoute("h", "h.example", "/h", "GET"))
	for _, tc := range []struct{ name, host, path string }{
		{"miss/sibling", "", "/api/notesX"},
		{"miss/dot-suffix", "", "/api/notes.json"},
		{"miss/parent", "", "/api"},
		{"miss/root", "", "/"},
		{"miss/case", "", "/API/notes"},
		{"miss/other-host", "g.example", "/h"},
		{"miss/empty-host", "", "/h"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r, res := rt.Match("GET", tc.host, tc.path); r != nil || res != NoRoute {
				t.Fatalf("Match = %v, %v; want nil, no_route", r, res)
			}
		})
	}
	if s := NoRoute.Status(); s != 404 {
		t.Errorf("NoRoute.Status() = %d", s)
	}
	if s := MethodNotAllowed.Status(); s != 404 {
		t.Errorf("MethodNotAllowed.Status() = %d, want 404 (no route existence leak)", s)
	}
	if s := BadHost.Status(); s != 400 {
		t.Errorf("BadHost.Status() = %d", s)
	}
	if s := Matched.Status(); s != 0 {
		t.Errorf("Matched.Status() = %d", s)
	}
}

// TestRouteImmutable checks that neither the specs given to Compile nor
// the slices and maps a Route hands out can change the compiled table.
func TestRouteImmutable(t *testing.T) {
	auth := &AuthSpec{Issuer: "self", Scopes: []string{"a"}, Claims: map[string]string{"tenant": "acme"}}
	specs := []RouteSpec{{Name: "r", PathPrefix: "/api", Methods: []string{"GET"}, Auth: auth}}
	rt := mustCompile(t, specs...)
	specs[0].Methods[0] = "DELETE"
	auth.Scopes[0] = "b"
	auth.Claims["tenant"] = "evil"
	r, res := rt.Match("GET", "", "/api")
	if res != Matched {
		t.Fatalf("Match after mutating specs: %v", res)
	}
	r.Methods()[0] = "DELETE"
	a, ok := r.Auth()
	if !ok {
		t.Fatal("Auth() reports a public route")
	}
	a.Scopes[0] = "c"
	a.Claims["tenant"] = "evil"
	if _, res := rt.Match("DELETE", "", "/api"); res != MethodNotAllowed {
		t.Errorf("DELETE: %v", res)
	}
	if a, _ := r.Auth(); a.Scopes[0] != "a" || a.Claims["tenant"] != "acme" {
		t.Errorf("auth changed: %+v", a)
	}
	if r.Index() != 0 || r.Host() != "" || r.Pattern() != "/api" || r.Exact() || r.Public() {
		t.Errorf("accessors: %d %q %q %v %v", r.Index(), r.Host(), r.Pattern(), r.Exact(), r.Public())
	}
	if got := rt.Routes(); len(got) != 1 || got[0] != r {
		t.Errorf("Routes() = %v", got)
	}
}

func TestMatchDoesNotAllocate(t *testing.T) {
	rt := mustCompile(t, prefixRoute("a", "h.example", "/api/notes", "GET"), prefixRoute("b", "", "/", "GET"))
	for _, host := range []string{"", "H.Example:8443", "bad host", "[::1]:8081", "[0:0::1]"} {
		if n := testing.AllocsPerRun(100, func() { rt.Match("GET", host, "/api/notes/1/x") }); n != 0 {
			t.Errorf("Match(host %q) allocates %v times", host, n)
		}
	}
}

// TestMatchHostSpellingBypass pins the reason for the host rules: a host
// with a protected route and a public host-less catch-all. Every spelling
// of the protected host either reaches its route or is refused; none falls
// through to the public route.
func TestMatchHostSpellingBypass(t *testing.T) {
	rt := mustCompile(t,
		prefixRoute("admin", "admin.example", "/admin", "GET"),
		prefixRoute("admin-v6", "[2001:db8::1]", "/admin", "GET"),
		RouteSpec{Name: "public", PathPrefix: "/", Methods: []string{"GET"}, Public: true},
	)
	for _, tc := range []struct {
		name, host, want string
	}{
		{"bypass/exact", "admin.example", "admin"},
		{"bypass/upper", "ADMIN.EXAMPLE", "admin"},
		{"bypass/default-port", "admin.example:443", "admin"},
		{"bypass/other-port", "admin.example:8081", "admin"},
		{"bypass/trailing-dot", "admin.example.", ""},
		{"bypass/trailing-dot-port", "admin.example.:443", ""},
		{"bypass/ipv6-upper", "[2001:DB8::1]:443", "admin-v6"},
		{"bypass/ipv6-expanded", "[2001:db8:0:0:0:0:0:1]", ""},
		{"bypass/ipv6-zone", "[2001:db8::1%25eth0]", ""},
		{"bypass/percent-encoded", "admin%2eexample", ""},
		{"bypass/space", "admin.example ", ""},
		{"bypass/nul", "admin.example\x00", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, res := rt.Match("GET", tc.host, "/admin/users")
			switch {
			case tc.want == "" && res != BadHost:
				t.Fatalf("Match(host %q) = %v, %v; want bad_host", tc.host, r, res)
			case tc.want != "" && (r == nil || r.Name() != tc.want):
				t.Fatalf("Match(host %q) = %v, %v; want %s", tc.host, r, res, tc.want)
			}
		})
	}
}

// TestMatchConcurrent runs Match from many goroutines on one Router; with
// -race it checks that matching reads only.
func TestMatchConcurrent(t *testing.T) {
	rt := mustCompile(t, benchRoutes(60)...)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				svc := strconv.Itoa((g*500 + i) % 20)
				if r, res := rt.Match("GET", "svc"+svc+".example", "/api/v1/svc"+svc+"/x"); res != Matched || r.Pattern() != "/api/v1/svc"+svc {
					t.Errorf("svc %s: %v, %v", svc, r, res)
					return
				}
			}
		}()
	}
	wg.Wait()
}
