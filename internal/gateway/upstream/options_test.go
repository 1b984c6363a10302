package upstream

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseTargetNormalizes(t *testing.T) {
	cases := []struct{ in, url, origin string }{
		{"http://127.0.0.1:9001", "http://127.0.0.1:9001", "http://127.0.0.1:9001"},
		{"HTTPS://Notes.Example.TEST:443/", "https://notes.example.test", "https://notes.example.test"},
		{"http://svc:80/api/v1/", "http://svc/api/v1", "http://svc"},
		{"https://[2001:DB8::0001]:8443/base", "https://[2001:db8::1]:8443/base", "https://[2001:db8::1]:8443"},
		{"http://svc/a-b_c.d~e", "http://svc/a-b_c.d~e", "http://svc"},
	}
	for _, c := range cases {
		tg, err := parseTarget(c.in)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if tg.URL.String() != c.url || tg.Origin != c.origin {
			t.Errorf("%q: %q / %q, want %q / %q", c.in, tg.URL, tg.Origin, c.url, c.origin)
		}
	}
}

func TestValidateRefuses(t *testing.T) {
	ok := []string{"https://a.internal"}
	cases := []struct {
		name string
		o    Options
		want string // in the error
	}{
		{"reject/no-urls", Options{}, "no upstream URLs"},
		{"reject/scheme", Options{URLs: []string{"ftp://a"}}, "scheme must be http or https"},
		{"reject/no-scheme", Options{URLs: []string{"a.internal:80"}}, "want http(s)://"},
		{"reject/userinfo", Options{URLs: []string{"http://user:pw@a"}}, "no user information"},
		{"reject/userinfo-confusion", Options{URLs: []string{"http://good.example@evil.example"}}, "no user information"},
		{"reject/query", Options{URLs: []string{"http://a/?x=1"}}, "no query or fragment"},
		{"reject/fragment", Options{URLs: []string{"http://a/#f"}}, "no query or fragment"},
		{"reject/percent", Options{URLs: []string{"http://a/%2e%2e"}}, "no percent-encoding"},
		{"reject/backslash", Options{URLs: []string{"http://a\\@b"}}, "backslash"},
		{"reject/dot-segment", Options{URLs: []string{"http://a/x/../y"}}, "no . or .. segment"},
		{"reject/empty-segment", Options{URLs: []string{"http://a//x"}}, "no empty segment"},
		{"reject/path-char", Options{URLs: []string{"http://a/x;y"}}, "only letters"},
		{"reject/bad-port", Options{URLs: []string{"http://a:99999"}}, "urls[0]"},
		{"reject/octal-ip", Options{URLs: []string{"http://0177.0.0.1"}}, "dotted-decimal"},
		{"reject/too-long", Options{URLs: []string{"http://a/" + strings.Repeat("x", 3000)}}, "longer than"},
		{"reject/duplicate", Options{URLs: []string{"http://a:80", "HTTP://A/"}}, "the same upstream as urls[0]"},
		{"reject/too-many", Options{URLs: make([]string, 65)}, "at most 64"},
		{"reject/shard-other-size", Options{URLs: ok, Shard: fakeSharder{n: 2}}, "built over 2 upstreams, the route lists 1"},
		{"reject/health-path-relative", Options{URLs: ok, Health: Health{Path: "healthz"}}, "must start with /"},
		{"reject/health-path-fragment", Options{URLs: ok, Health: Health{Path: "/h#x"}}, "no fragment"},
		{"reject/health-path-space", Options{URLs: ok, Health: Health{Path: "/h x"}}, "visible ASCII"},
		{"reject/health-path-bad-escape", Options{URLs: ok, Health: Health{Path: "/h%zz"}}, "not a request path"},
		{"reject/health-timeout", Options{URLs: ok, Health: Health{Path: "/h", Interval: time.Second, Timeout: 2 * time.Second}}, "longer than the interval"},
		{"reject/health-negative", Options{URLs: ok, Health: Health{Unhealthy: -1}}, "must not be negative"},
		{"reject/ejection-max", Options{URLs: ok, Ejection: Ejection{BaseTime: time.Minute, MaxTime: time.Second}}, "max time"},
		{"reject/ejection-negative", Options{URLs: ok, Ejection: Ejection{BaseTime: -1}}, "must not be negative"},
		{"reject/tls-on-http", Options{URLs: []string{"http://a"}, TLS: TLS{CAFile: "ca.pem"}}, "no upstream URL is https"},
		{"reject/tls-cert-alone", Options{URLs: ok, TLS: TLS{CertFile: "c.pem"}}, "go together"},
		{"reject/tls-server-name", Options{URLs: ok, TLS: TLS{ServerName: "a b"}}, "server_name"},
		{"reject/tls-server-name-port", Options{URLs: ok, TLS: TLS{ServerName: "a:443"}}, "server_name"},
		{"reject/timeouts", Options{URLs: ok, DialTimeout: -time.Second}, "must not be negative"},
		{"reject/tls-spiffe-on-http", Options{URLs: []string{"http://a"}, TLS: TLS{SPIFFEID: "spiffe://td/svc/a"}}, "no upstream URL is https"},
		{"reject/tls-spiffe-not-canonical", Options{URLs: ok, TLS: TLS{SPIFFEID: "spiffe://TD/svc/a"}}, "canonical workload SPIFFE ID"},
		{"reject/tls-spiffe-trust-domain-only", Options{URLs: ok, TLS: TLS{SPIFFEID: "spiffe://td"}}, "canonical workload SPIFFE ID"},
		{"reject/tls-spiffe-with-ca", Options{URLs: ok, TLS: TLS{SPIFFEID: "spiffe://td/svc/a", CAFile: "ca.pem"}}, "excludes ca_file"},
		{"reject/tls-spiffe-with-server-name", Options{URLs: ok, TLS: TLS{SPIFFEID: "spiffe://td/svc/a", ServerName: "a"}}, "excludes ca_file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.o.Route = "r%d"
			err := Validate(c.o)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want one containing %q", err, c.want)
			}
			if !strings.HasPrefix(err.Error(), `upstream: route "r%d": `) {
				t.Errorf("err %q does not name the route", err)
			}
			if _, err := New(c.o); err == nil {
				t.Error("New accepted what Validate refused")
			}
		})
	}
}

func TestValidateAccepts(t *testing.T) {
	cases := []Options{
		{URLs: []string{"http://127.0.0.1:9001", "http://127.0.0.1:9002"}},
		{URLs: []string{"https://a", "https://b"}, Shard: fakeSharder{n: 2}, TLS: TLS{ServerName: "svc.internal"}},
		{URLs: []string{"https://a"}, Health: Health{Path: "/"}, Ejection: Ejection{Consecutive: -1}},
		{URLs: []string{"https://a"}, Health: Health{Path: "/health/ready?full=1&x=%20"}},
	}
	for i, o := range cases {
		if err := Validate(o); err != nil {
			t.Errorf("case %d: %v", i, err)
		}
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	err := Validate(Options{URLs: []string{"ftp://a", "http://b?x"}, Shard: fakeSharder{n: 9}})
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"urls[0]", "urls[1]", "built over 9"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q misses %q", err, want)
		}
	}
}

// fakeSharder answers index i for every tenant.
type fakeSharder struct{ n, i int }

func (f fakeSharder) N() int { return f.n }

func (f fakeSharder) ShardFor(_ string, healthy func(int) bool) (int, error) {
	if !healthy(f.i) {
		return -1, errors.New("down")
	}
	return f.i, nil
}

// TestPickDistrustsSharder: an index outside the pool (a Sharder built
// over another list) is refused, never a panic.
func TestPickDistrustsSharder(t *testing.T) {
	for _, i := range []int{-1, 2, 64} {
		p := mustPool(t, Options{URLs: []string{"http://a", "http://b"}, Shard: fakeSharder{n: 2, i: i}})
		if _, err := p.Pick("t"); !errors.Is(err, ErrNoHealthyUpstream) {
			t.Errorf("index %d: err %v", i, err)
		}
	}
	p := mustPool(t, Options{URLs: []string{"http://a"}, Shard: fakeSharder{n: 1}})
	if _, err := p.Pick(""); !errors.Is(err, ErrNoTenant) {
		t.Fatalf("err %v, want ErrNoTenant", err)
	}
}
