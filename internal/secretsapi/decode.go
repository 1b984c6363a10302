package secretsapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/rampart-auth/rampart/internal/httpx"
	"github.com/rampart-auth/rampart/internal/secrets"
)

// errBadRequest is a refusal of the request's form (400), with a safe
// public message.
type errBadRequest struct{ msg string }

func (e errBadRequest) Error() string { return e.msg }

func badRequest(format string, args ...any) error { return errBadRequest{fmt.Sprintf(format, args...)} }

// errTooLarge: the body is over MaxBodyBytes (413).
var errTooLarge = errors.New("the body is larger than 128 KiB")

// errMediaType: the body is not application/json (415).
var errMediaType = errors.New("the body must be application/json")

// ParsePathArg parses the raw (still percent-encoded) path of a request
// after the operation segment. The path grammar (secrets.ParsePath) has
// no character that needs percent-encoding, so any '%' is refused before
// anything is decoded: "%2e%2e", "%2f" and every other encoded form of a
// separator or dot cannot become one (OWASP Path Traversal; CWE-22,
// CWE-174 double decoding). The path is never cleaned: "..", ".", "//"
// and a trailing slash are refused by the grammar, not resolved.
func ParsePathArg(raw string) (secrets.Path, error) {
	if strings.ContainsRune(raw, '%') {
		return "", badRequest("a secret path is not percent-encoded (only a-z, 0-9, '.', '_', '-' and '/')")
	}
	p, err := secrets.ParsePath(raw)
	if err != nil {
		return "", badRequest("%s", publicInvalid(err))
	}
	return p, nil
}

// parsePrefixArg parses a list prefix: empty (everything the caller may
// list) or a path.
func parsePrefixArg(raw string) (secrets.Prefix, error) {
	if raw == "" {
		return secrets.ParsePrefix("*")
	}
	p, err := ParsePathArg(raw)
	if err != nil {
		return secrets.Prefix{}, err
	}
	return secrets.ParsePrefix(string(p))
}

// publicInvalid strips the package prefix of an ErrInvalid message (its
// detail names the rule broken, never more than the caller sent).
func publicInvalid(err error) string {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, secrets.ErrInvalid.Error()+": ")
	msg = strings.TrimPrefix(msg, "secrets: ")
	return msg
}

// query parses the query string strictly: only names in allowed, each at
// most once (a second value read one way here and another way by a proxy
// is refused, like a duplicate JSON member).
func query(r *http.Request, allowed ...string) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, badRequest("the query string is malformed")
	}
	for k, vs := range q {
		if !contains(allowed, k) {
			return nil, badRequest("unknown query parameter %q", k)
		}
		if len(vs) != 1 {
			return nil, badRequest("query parameter %q is given more than once", k)
		}
	}
	return q, nil
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// queryInt parses an optional positive integer query parameter.
func queryInt(q url.Values, name string) (*int64, error) {
	s, ok := q[name]
	if !ok {
		return nil, nil
	}
	n, err := strconv.ParseInt(s[0], 10, 64)
	if err != nil || n < 0 {
		return nil, badRequest("query parameter %q is a non-negative integer", name)
	}
	return &n, nil
}

// DecodeBody reads a JSON object body into v strictly: the media type
// application/json, at most MaxBodyBytes, exactly one object, no
// duplicate member (httpx.CheckJSONObject) and no unknown member (a typo
// such as "cass" must not become a write without check-and-set). When
// optional, an empty body without a Content-Type leaves v as it is.
func DecodeBody(w http.ResponseWriter, r *http.Request, v any, optional bool) error {
	if optional && r.ContentLength == 0 && r.Header.Get("Content-Type") == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return errMediaType
	}
	if r.ContentLength > MaxBodyBytes {
		return errTooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errTooLarge
		}
		return badRequest("the body could not be read")
	}
	return decodeJSON(body, v)
}

// decodeJSON is DecodeBody's parser (the fuzz target).
func decodeJSON(body []byte, v any) error {
	if err := httpx.CheckJSONObject(body); err != nil {
		return badRequest("%s", err.Error())
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("%s", describeJSONError(err))
	}
	return nil
}

// describeJSONError names the member (one of the operation's own) and
// the expected type, never echoing the input (a value must never come
// back in an error).
func describeJSONError(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return fmt.Sprintf("member %q must be a %s", te.Field, te.Type.String())
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("the body is not valid JSON (at byte %d)", se.Offset)
	}
	if strings.HasPrefix(err.Error(), "json: unknown field ") {
		// Not named: a member name is caller input, and a value sent as
		// a name by mistake must not come back in the answer or the log.
		return "the body has a member this operation does not take"
	}
	return "the body does not match the operation's schema"
}

// writeError answers err as problem+json. The manager's errors map to
// 400, 403, 404, 409, 410 and 500; a tampered row is 500 "integrity check
// failed" with no more detail (the audit event and the log have it).
// Only a message known to be public reaches the client.
func writeError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	var br errBadRequest
	var ne errNoEngine
	switch {
	case errors.As(err, &br):
		httpx.WriteProblem(w, r, http.StatusBadRequest, "", br.msg)
	case errors.As(err, &ne):
		httpx.WriteProblem(w, r, http.StatusNotFound, "", ne.Error())
	case errors.Is(err, errTooLarge):
		w.Header().Set("Connection", "close")
		httpx.WriteProblem(w, r, http.StatusRequestEntityTooLarge, "", errTooLarge.Error())
	case errors.Is(err, errMediaType):
		httpx.WriteProblem(w, r, http.StatusUnsupportedMediaType, "", errMediaType.Error())
	case errors.Is(err, secrets.ErrTampered):
		httpx.WriteProblem(w, r, http.StatusInternalServerError, "", "integrity check failed")
	case errors.Is(err, secrets.ErrForbidden):
		// The same answer whether or not the path exists: the manager
		// refuses before it reads the store (no existence oracle).
		httpx.WriteProblem(w, r, http.StatusForbidden, "", "the policy does not grant this operation on this path")
	case errors.Is(err, secrets.ErrInvalid):
		httpx.WriteProblem(w, r, http.StatusBadRequest, "", publicInvalid(err))
	case errors.Is(err, secrets.ErrNotFound):
		httpx.WriteProblem(w, r, http.StatusNotFound, "", "no such secret, version, label or lease")
	case errors.Is(err, secrets.ErrConflict):
		httpx.WriteProblem(w, r, http.StatusConflict, "", "check-and-set failed: the secret or label changed")
	case errors.Is(err, secrets.ErrDeleted):
		httpx.WriteProblem(w, r, http.StatusGone, "", "the version is deleted (undelete restores it)")
	case errors.Is(err, secrets.ErrDestroyed):
		httpx.WriteProblem(w, r, http.StatusGone, "", "the version is destroyed")
	default:
		logger.ErrorContext(r.Context(), "secretsapi: operation failed", "route", r.Method+" "+opOf(r), "err", err)
		httpx.WriteProblem(w, r, http.StatusInternalServerError, "", "")
	}
}

// opOf returns the operation segment of the request's path (for logs: a
// value-free route label, never the caller's path; writeError runs only
// for a matched route).
func opOf(r *http.Request) string {
	rest, _ := strings.CutPrefix(r.URL.EscapedPath(), Prefix+"/")
	op, _, _ := strings.Cut(rest, "/")
	return op
}

// writeJSON answers status with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		httpx.WriteProblem(w, nil, http.StatusInternalServerError, "", "")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
