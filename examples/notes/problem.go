package notes

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
)

// contentTypeProblem is the RFC 9457 §3 media type.
const contentTypeProblem = "application/problem+json"

// fieldError is one violated rule of a request body: an RFC 6901 JSON
// pointer to the member and a message safe for the client. It has the
// shape of the gateway's 422 errors, so a client sees one format whether
// the gateway's schema or the service refused the body.
type fieldError struct {
	Pointer string `json:"pointer"`
	Detail  string `json:"detail"`
}

// problem is an RFC 9457 problem details object. Type is "about:blank"
// (§4.2.1): the status says what happened and Title is its phrase; code,
// errors and request_id are extension members (§3.2).
type problem struct {
	Type      string       `json:"type"`
	Title     string       `json:"title"`
	Status    int          `json:"status"`
	Detail    string       `json:"detail,omitempty"`
	Code      string       `json:"code,omitempty"`
	Errors    []fieldError `json:"errors,omitempty"`
	RequestID string       `json:"request_id,omitempty"`
}

// apiError is the one error type at this service's HTTP boundary: the
// status, a stable code and a public detail for the client, and the cause
// for the log only. The cause's text is never sent: it may name tables,
// columns or values (OWASP Error Handling Cheat Sheet; RFC 9457 §5).
type apiError struct {
	status int
	code   string
	detail string
	fields []fieldError
	err    error
}

func (e *apiError) Error() string {
	msg := "notes: " + e.code
	if e.err != nil {
		msg += ": " + e.err.Error()
	}
	return msg
}

func (e *apiError) Unwrap() error { return e.err }

func fail(status int, code, detail string) *apiError {
	return &apiError{status: status, code: code, detail: detail}
}

// errNotFound is the single answer for a note that is not the caller's:
// missing, someone else's and malformed ids all produce exactly these
// bytes, so the response is no oracle for which ids exist (OWASP
// Insecure Direct Object Reference Prevention Cheat Sheet).
var errNotFound = fail(http.StatusNotFound, "not_found", "")

// internalError wraps a cause that must reach the log and not the client.
func internalError(err error) *apiError {
	return &apiError{status: http.StatusInternalServerError, code: "internal", err: err}
}

// writeProblem answers p as application/problem+json, marked no-store
// (it describes one request) and nosniff.
func writeProblem(w http.ResponseWriter, p problem) {
	p.Type = "about:blank"
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	body, err := json.Marshal(p)
	if err != nil {
		// Strings, ints and a slice of strings: cannot happen.
		body = []byte(`{"type":"about:blank","title":"Internal Server Error","status":500}`)
		p.Status = http.StatusInternalServerError
	}
	h := w.Header()
	h.Set("Content-Type", contentTypeProblem)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(p.Status)
	_, _ = w.Write(append(body, '\n'))
}

// writeError logs err and answers its public part. A body over the cap
// (*http.MaxBytesError) is 413; anything that is not an *apiError is a 500
// with no detail.
func (s *Service) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var (
		ae  *apiError
		mbe *http.MaxBytesError
	)
	switch {
	case errors.As(err, &ae):
	case errors.As(err, &mbe):
		ae = fail(http.StatusRequestEntityTooLarge, "body_too_large", "The request body is larger than 64 KiB.")
	default:
		ae = internalError(err)
	}
	level := slog.LevelInfo
	if ae.status >= 500 && !(errors.Is(err, context.Canceled) && r.Context().Err() != nil) {
		level = slog.LevelError
	}
	s.log.LogAttrs(r.Context(), level, "notes: request refused",
		slog.Int("status", ae.status), slog.String("code", ae.code),
		slog.String("method", r.Method), slog.String("pattern", r.Pattern),
		slog.String("error", err.Error()))
	writeProblem(w, problem{Status: ae.status, Detail: ae.detail, Code: ae.code, Errors: ae.fields, RequestID: requestID(r)})
}

// writeJSON answers v as JSON with status. encoding/json escapes <, > and
// & by default, so a stored HTML body cannot be sniffed into markup even by
// a client that ignores Content-Type.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		writeProblem(w, problem{Status: http.StatusInternalServerError})
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
