package httpx

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"
)

// Middleware wraps a handler.
type Middleware = func(http.Handler) http.Handler

// Chain wraps h in mws so that mws[0] is the outermost: a request passes
// through mws[0], mws[1], … and then h.
func Chain(h http.Handler, mws ...Middleware) http.Handler {
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
}

// routeLabel is the matched ServeMux pattern, or "unmatched". Raw paths are
// never used: they are attacker-chosen, unbounded (metric cardinality) and
// may carry identifiers.
func routeLabel(r *http.Request) string {
	if r.Pattern == "" {
		return "unmatched"
	}
	return r.Pattern
}

// AccessLog writes one info line per request after it completes: method,
// route (the matched pattern, r.Pattern), status, bytes, duration_ms,
// client_ip, proto, the request id (from the context) and the validated
// client_request_id when the client sent one. It never logs the path's
// query string, which can carry authorization codes and tokens, nor any
// header, which can carry credentials (OWASP Logging Cheat Sheet, "Data to
// exclude").
func AccessLog(logger *slog.Logger) Middleware {
	logger = orDefault(logger)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			rw := wrapWriter(w)
			defer func() {
				// Deferred so a panic that an outer Recover handles, or
				// http.ErrAbortHandler, still leaves a line.
				status := rw.statusOr()
				if p := recover(); p != nil {
					if !rw.wroteHeader() {
						status = http.StatusInternalServerError
					}
					defer panic(p)
				}
				attrs := []slog.Attr{
					slog.String("method", methodLabel(r.Method)),
					slog.String("route", routeLabel(r)),
					slog.Int("status", status),
					slog.Int64("bytes", rw.bytes),
					slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
					slog.String("client_ip", ClientIP(r)),
					slog.String("proto", r.Proto),
				}
				if c := clientRequestIDFrom(r.Context()); c != "" {
					attrs = append(attrs, slog.String("client_request_id", c))
				}
				logger.LogAttrs(r.Context(), slog.LevelInfo, "http request", attrs...)
			}()
			next.ServeHTTP(rw, r)
		})
	}
}

// Recover turns a panic in the handler into a 500 problem response with no
// detail, and logs the panic value and stack at error level with the
// request id. Stack traces and panic messages reveal code paths and data,
// so clients never see them (OWASP Error Handling Cheat Sheet; RFC 9457
// §5). http.ErrAbortHandler is re-raised untouched: it is the documented
// way to abort a response and the server handles it quietly. When the
// response had already started, a clean error can no longer be sent, so
// the connection is aborted rather than leaving a truncated body that
// looks complete.
func Recover(logger *slog.Logger) Middleware {
	logger = orDefault(logger)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rw := wrapWriter(w)
			defer func() {
				p := recover()
				if p == nil {
					return
				}
				if p == http.ErrAbortHandler { // compared by identity, as net/http does
					panic(p)
				}
				logger.LogAttrs(r.Context(), slog.LevelError, "panic serving request",
					slog.String("panic", fmt.Sprint(p)),
					slog.String("stack", string(debug.Stack())),
					slog.String("method", methodLabel(r.Method)),
					slog.String("route", routeLabel(r)),
				)
				if rw.wroteHeader() {
					panic(http.ErrAbortHandler)
				}
				h := rw.Header()
				// Nothing the failed handler prepared may leak into the error:
				// no cookie it meant to set, no redirect it meant to send.
				h.Del("Set-Cookie")
				h.Del("Location")
				h.Del("Content-Disposition")
				WriteProblem(rw, r, http.StatusInternalServerError, "", "")
			}()
			next.ServeHTTP(rw, r)
		})
	}
}

// methodLabel bounds the method to the registered set: the method is
// client-chosen text, so an unknown one would otherwise create a metric
// series (and log value) per attacker string.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions,
		http.MethodConnect, http.MethodTrace:
		return m
	}
	return "OTHER"
}
