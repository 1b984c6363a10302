// Package httpx holds the HTTP pieces every Rampart listener shares: the
// hardened server (timeouts, TLS, graceful shutdown), the middleware chain
// (request id, access log, panic recovery, security headers, body limits,
// metrics), RFC 9457 problem responses, health endpoints and the structured
// logger that redacts secrets.
//
// A listener is assembled as
//
//	h := httpx.Chain(httpx.MuxProblems(mux),
//		httpx.RequestID,
//		httpx.SecurityHeaders(tlsOn),
//		httpx.AccessLog(logger),
//		httpx.Metrics(m),
//		httpx.Recover(logger),
//		httpx.LimitBody(maxBody),
//	)
//
// The first middleware is the outermost. AccessLog and Metrics read the
// matched route from r.Pattern once the inner handler returns, which
// http.ServeMux sets on the *http.Request it receives; so any middleware
// between them and the mux must pass the same *http.Request through (the
// ones in this package do).
package httpx
