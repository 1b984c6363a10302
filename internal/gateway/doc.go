// Package gateway holds the building blocks of Rampart's identity-aware
// reverse proxy (issue 12): the canonical form of a request path, the
// compiled route table that picks a request's route (Compile,
// Router.Match), the filtering of identity and forwarding headers, the
// signed identity assertion passed to upstreams, and the shuffle sharding
// of tenants over a route's upstreams. The proxy itself (listeners,
// limits, upstream pools, the configuration that builds routes) is not
// built yet, and nothing here is served.
package gateway
