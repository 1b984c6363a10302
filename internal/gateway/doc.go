// Package gateway is Rampart's identity-aware reverse proxy (issue 12,
// docs/gateway.md): the canonical form of a request path, the compiled
// route table (Compile, Router.Match), each route's pipeline (a jwtauth
// verifier per issuer and audience, composed ratelimit limits, the input
// rules of package input, an upstream pool of package upstream), the
// filtering of identity and forwarding headers, the signed identity
// assertion passed to upstreams, shuffle sharding of tenants, and the
// atomic reload of the route table (Gateway.Load, Gateway.Reload).
package gateway
