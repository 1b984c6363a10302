package httpx

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"
)

// DefaultReadyTimeout bounds all readiness checks together when Readyz is
// given no timeout.
const DefaultReadyTimeout = 2 * time.Second

var bodyOK = []byte(`{"status":"ok"}` + "\n")

// unavailable is the 503 body: check names only.
type unavailable struct {
	Status  string   `json:"status"`
	Failing []string `json:"failing"`
}

// Healthz answers 200 {"status":"ok"} while the process serves HTTP
// (liveness). It checks nothing else, so a slow database never gets the
// process restarted.
func Healthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSONBody(w, http.StatusOK, bodyOK)
	})
}

// Readyz runs every check concurrently, all within timeout (default
// DefaultReadyTimeout), and answers 200 {"status":"ok"} when all pass or
// 503 {"status":"unavailable","failing":["store"]} naming the checks that
// failed or did not finish in time. Errors go to the log (slog.Default,
// with the request id), never to the response: probe endpoints are often
// reachable by more people than the logs are, and error text names hosts,
// users and files (OWASP Error Handling Cheat Sheet). A panicking check
// counts as failing.
func Readyz(checks map[string]func(context.Context) error, timeout time.Duration) http.Handler {
	if timeout <= 0 {
		timeout = DefaultReadyTimeout
	}
	names := make([]string, 0, len(checks))
	for n := range checks {
		names = append(names, n)
	}
	slices.Sort(names)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		type result struct {
			name string
			err  error
		}
		// Buffered so a check that returns after the deadline can still
		// send and exit.
		results := make(chan result, len(names))
		for _, n := range names {
			go func(name string, check func(context.Context) error) {
				defer func() {
					if p := recover(); p != nil {
						results <- result{name, fmt.Errorf("panic: %v", p)}
					}
				}()
				results <- result{name, check(ctx)}
			}(n, checks[n])
		}
		pending := make(map[string]bool, len(names))
		for _, n := range names {
			pending[n] = true
		}
		var failing []string
	collect:
		for range names {
			select {
			case res := <-results:
				delete(pending, res.name)
				if res.err != nil {
					failing = append(failing, res.name)
					slog.Default().LogAttrs(r.Context(), slog.LevelWarn, "readiness check failed",
						slog.String("check", res.name), slog.String("error", res.err.Error()))
				}
			case <-ctx.Done():
				for n := range pending {
					failing = append(failing, n)
					slog.Default().LogAttrs(r.Context(), slog.LevelWarn, "readiness check timed out",
						slog.String("check", n), slog.Duration("timeout", timeout))
				}
				break collect
			}
		}
		if len(failing) == 0 {
			writeJSONBody(w, http.StatusOK, bodyOK)
			return
		}
		slices.Sort(failing)
		body, _ := json.Marshal(unavailable{Status: "unavailable", Failing: failing}) // strings only: cannot fail
		writeJSONBody(w, http.StatusServiceUnavailable, append(body, '\n'))
	})
}

// writeJSONBody writes a small JSON answer that no cache may keep: health
// changes from one moment to the next.
func writeJSONBody(w http.ResponseWriter, status int, body []byte) {
	w.Header()[hContentType] = []string{"application/json"}
	SetNoStore(w)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
