package httpx

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
)

// ContentTypeProblem is the RFC 9457 §3 media type of problem details.
const ContentTypeProblem = "application/problem+json"

// problem is an RFC 9457 problem details object. Type is always
// "about:blank" (§4.2.1): the status code says it all, and Title is then
// the status phrase. request_id and code are extension members (§3.2).
type problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail,omitempty"`
	Code      string `json:"code,omitempty"`
	RequestID string `json:"request_id,omitempty"`
}

// WriteProblem answers an RFC 9457 problem: {"type":"about:blank",
// "title","status","detail"?, "request_id"?} with Content-Type
// application/problem+json. title defaults to the status phrase. detail
// must be safe for the client to read: never an error's text, a stack or an
// internal name (RFC 9457 §5; OWASP Error Handling Cheat Sheet). The
// request id lets a user quote the failure to an operator, whose log lines
// carry the same id. The response is marked no-store: it describes one
// request.
func WriteProblem(w http.ResponseWriter, r *http.Request, status int, title, detail string) {
	writeProblem(w, r, problem{Status: status, Title: title, Detail: detail})
}

func writeProblem(w http.ResponseWriter, r *http.Request, p problem) {
	if p.Status < 400 || p.Status > 599 {
		p.Status = http.StatusInternalServerError
	}
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	p.Type = "about:blank"
	if r != nil {
		p.RequestID = RequestIDFrom(r.Context())
	}
	body, err := json.Marshal(p)
	if err != nil {
		// Only strings and an int: cannot happen.
		body = []byte(`{"type":"about:blank","title":"Internal Server Error","status":500}`)
	}
	h := w.Header()
	// Headers describing a body the handler may have planned no longer
	// apply (as in http.Error).
	h.Del("Content-Length")
	h.Del("Content-Encoding")
	h.Del("Etag")
	h.Del("Last-Modified")
	h[hContentType] = []string{ContentTypeProblem}
	h[hXCTO] = []string{"nosniff"}
	SetNoStore(w)
	w.WriteHeader(p.Status)
	_, _ = w.Write(append(body, '\n'))
}

const hContentType = "Content-Type"

// NotFound answers 404 as a problem. It is an http.HandlerFunc, for a
// catch-all route.
func NotFound(w http.ResponseWriter, r *http.Request) {
	WriteProblem(w, r, http.StatusNotFound, "", "")
}

// MethodNotAllowed answers 405 as a problem, with an Allow header listing
// allowed (RFC 9110 §15.5.6 requires it).
func MethodNotAllowed(w http.ResponseWriter, r *http.Request, allowed ...string) {
	if len(allowed) > 0 {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
	}
	WriteProblem(w, r, http.StatusMethodNotAllowed, "", "")
}

// MuxProblems wraps an http.ServeMux so that its own answers when no
// pattern matches, plain-text "404 page not found" and "405 method not
// allowed" (with the Allow header it computed), become problem responses
// like every other error. It must wrap the mux directly: it reads
// r.Pattern, which the mux sets on the request it is given before it calls
// the chosen handler. 404s and 405s written by matched routes pass
// through untouched.
func MuxProblems(mux http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(&muxProblemWriter{ResponseWriter: w, r: r}, r)
	})
}

type muxProblemWriter struct {
	http.ResponseWriter
	r       *http.Request
	swallow bool // the mux's own body is discarded after our problem
}

func (w *muxProblemWriter) WriteHeader(code int) {
	if w.swallow {
		return
	}
	if (code == http.StatusNotFound || code == http.StatusMethodNotAllowed) && w.r.Pattern == "" {
		w.swallow = true
		WriteProblem(w.ResponseWriter, w.r, code, "", "")
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *muxProblemWriter) Write(p []byte) (int, error) {
	if w.swallow {
		return len(p), nil
	}
	return w.ResponseWriter.Write(p)
}

// Flush passes through, so handlers behind the mux can stream.
func (w *muxProblemWriter) Flush() {
	if !w.swallow {
		_ = http.NewResponseController(w.ResponseWriter).Flush()
	}
}

// Unwrap exposes the underlying writer to http.ResponseController.
func (w *muxProblemWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Error is the error type at the HTTP boundary: Status is the response
// status, Code a stable machine-readable code and Public a message safe for
// the client; Err is the cause, which only the logs see. Handlers return it
// (or wrap it) and WriteError renders it.
type Error struct {
	Status int
	Code   string
	Public string
	Err    error
}

// Error describes the error for logs: code and cause.
func (e *Error) Error() string {
	msg := "httpx: " + e.Code
	switch {
	case e.Err != nil:
		msg += ": " + e.Err.Error()
	case e.Public != "":
		msg += ": " + e.Public
	}
	return msg
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// WriteError logs err with the request's context (so with its request id)
// and answers a problem that carries only public information:
//
//   - an *Error (anywhere in the chain): its Status, Code and Public
//     message; 5xx are logged at error level, 4xx at info;
//   - an *http.MaxBytesError (a body over LimitBody's limit): 413;
//   - anything else: 500 with no detail, logged at error level.
//
// The cause's text is never sent: it may name tables, files, hosts or
// values (OWASP Error Handling Cheat Sheet; RFC 9457 §5).
func WriteError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	if err == nil {
		return
	}
	logger = orDefault(logger)
	ctx := r.Context()
	var (
		he  *Error
		mbe *http.MaxBytesError
		p   problem
	)
	switch {
	case errors.As(err, &he):
		p = problem{Status: he.Status, Code: he.Code, Detail: he.Public}
		if p.Status < 400 || p.Status > 599 {
			p.Status = http.StatusInternalServerError
		}
	case errors.As(err, &mbe):
		p = problem{Status: http.StatusRequestEntityTooLarge, Detail: "The request body is too large."}
	default:
		p = problem{Status: http.StatusInternalServerError}
	}
	level := slog.LevelError
	switch {
	case p.Status < 500:
		level = slog.LevelInfo
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		// The client went away; nobody reads this answer.
		level = slog.LevelInfo
	}
	logger.LogAttrs(ctx, level, "request failed",
		slog.Int("status", p.Status),
		slog.String("route", routeLabel(r)),
		slog.String("error", err.Error()),
	)
	writeProblem(w, r, p)
}
