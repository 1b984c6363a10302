package gateway

import (
	"errors"
	"strings"
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
		{Name: "Bad_Name", PathPrefix: "/a/../b", Methods: []string{"get"}},
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
	if !errors.As(err, &errs) || len(errs.Unwrap()) != 5 {
		t.Errorf("want 5 joined errors, got %v", err)
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
