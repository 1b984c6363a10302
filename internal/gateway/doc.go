// Package gateway holds the building blocks of Rampart's identity-aware
// reverse proxy (issue 12): the canonical form of a request path, the
// filtering of identity and forwarding headers, the signed identity
// assertion passed to upstreams, and the shuffle sharding of tenants over a
// route's upstreams. The proxy itself (routes, listeners,
// limits, upstream pools) is not built yet, and nothing here is served.
package gateway
