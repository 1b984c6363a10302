// Package gateway holds the building blocks of Rampart's identity-aware
// reverse proxy (issue 12): the canonical form of a request path, the
// filtering of identity and forwarding headers, and the signed identity
// assertion passed to upstreams, and the compiled route table that picks a
// request's route (Compile, Router.Match). The proxy itself (listeners,
// limits, upstream pools) is not built yet, and nothing here is served.
package gateway
