package config_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/gateway"
)

// TestRouteRulesAgreeWithGateway: config mirrors the gateway's route-name
// rule and bounds (it may not import the gateway), so a name `config
// check` accepts is one gateway.Compile accepts, and the reverse.
func TestRouteRulesAgreeWithGateway(t *testing.T) {
	if config.MaxRouteNameLen != gateway.MaxRouteNameLen || config.MaxRouteUpstreams != gateway.MaxUpstreams {
		t.Fatalf("bounds differ: name %d/%d, upstreams %d/%d", config.MaxRouteNameLen, gateway.MaxRouteNameLen, config.MaxRouteUpstreams, gateway.MaxUpstreams)
	}
	names := []string{"a", "notes-read", "a-b-c", "0", "9x", strings.Repeat("a", 63), strings.Repeat("a", 64),
		"-a", "a-", "a--b", "A", "a_b", "a.b", "a b", "é", "", "a\x00"}
	for _, n := range names {
		y := fmt.Sprintf("gateway:\n  routes:\n    - {name: %q, match: {path: /a, methods: [GET]}, upstreams: ['http://127.0.0.1:1'], auth: none}\n", n)
		_, cerr := config.Parse([]byte(y))
		_, gerr := gateway.Compile([]gateway.RouteSpec{{Name: n, Path: "/a", Methods: []string{"GET"}, Public: true}})
		if (cerr == nil) != (gerr == nil) {
			t.Errorf("name %q: config says %v, gateway says %v", n, cerr, gerr)
		}
	}
}

// TestExampleCompiles: the example, validated by config, is a
// route table the gateway compiles: the two checks fit together.
func TestExampleCompiles(t *testing.T) {
	c, err := config.Load(filepath.Join("testdata", "gateway-example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var specs []gateway.RouteSpec
	for _, r := range c.Gateway.Routes {
		s := gateway.RouteSpec{Name: r.Name, Host: r.Match.Host, Path: r.Match.Path, PathPrefix: r.Match.PathPrefix,
			Methods: r.Match.Methods, Public: r.Auth.None}
		if r.Auth.Set && !r.Auth.None {
			s.Auth = &gateway.AuthSpec{Issuer: r.Auth.Issuer, Audience: r.Auth.Audience, Scopes: r.Auth.Scopes, Claims: r.Auth.Claims, DPoP: r.Auth.DPoP}
		}
		specs = append(specs, s)
	}
	if _, err := gateway.Compile(specs); err != nil {
		t.Fatal(err)
	}
}
