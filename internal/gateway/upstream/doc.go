// Package upstream holds a gateway route's upstream pool and the hardening
// of the responses that come back from it (issue 12, "Upstreams" and
// "Tenant isolation").
//
// A Pool owns one shared *http.Transport (connection pooling, HTTP/1.1 and
// HTTP/2 over TLS, TLS 1.2 or later, the route's CA and client
// certificate), picks a target per request (round-robin over the targets
// that are up, or over the up members of the tenant's shuffle shard: the
// Sharder option, *gateway.Sharder, passed in because package gateway
// imports this one), runs
// active health checks (Run) and ejects targets passively from what the
// proxy observes (Observe). respond.go turns the upstream's answer into
// one a client may see: identifying headers removed, security headers set,
// 5xx bodies replaced by problem+json.
//
// A proxy wires it so (package gateway's forwarder does the same with
// its own context value, calling Observe itself):
//
//	t, err := pool.Pick(tenant)        // ErrNoHealthyUpstream: answer 503 (WriteProblem)
//	r = r.WithContext(upstream.WithTarget(r.Context(), t))
//	proxy := &httputil.ReverseProxy{
//		Rewrite:        func(pr *httputil.ProxyRequest) { pr.SetURL(upstream.TargetFrom(pr.In.Context()).URL); ... },
//		Transport:      pool.Transport(),
//		ModifyResponse: upstream.ModifyResponse(sec),
//		ErrorHandler:   upstream.ErrorHandler(pool, sec),
//	}
package upstream
