package httpx

import "net/http"

// LimitBody caps request bodies at n bytes, so no request can make the
// server buffer or parse unbounded input (OWASP Denial of Service Cheat
// Sheet; CWE-770). A request that declares a Content-Length over n is
// answered 413 at once, before anything is read. Other bodies (chunked, or
// declared small and longer in fact) are wrapped in http.MaxBytesReader:
// reading past n fails with *http.MaxBytesError, which WriteError renders
// as 413, and the server closes the connection rather than read the rest.
//
// The body is replaced on the request in place (not on a copy), so
// AccessLog and Metrics outside still see the r.Pattern the mux sets.
// n <= 0 means the default of 1 MiB, never "unlimited".
func LimitBody(n int64) Middleware {
	if n <= 0 {
		n = 1 << 20
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > n {
				// The unread body is not drained: net/http closes the
				// connection after the response when a large body is left.
				w.Header().Set("Connection", "close")
				WriteProblem(w, r, http.StatusRequestEntityTooLarge, "", "The request body is too large.")
				return
			}
			if r.Body != nil && r.Body != http.NoBody {
				r.Body = http.MaxBytesReader(w, r.Body, n)
			}
			next.ServeHTTP(w, r)
		})
	}
}
