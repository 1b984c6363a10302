package adminapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/rampart-auth/rampart/internal/admin"
	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/httpx"
)

// maxBody bounds a request body: the largest (a client with its redirect
// URIs and scopes) is a few KiB.
const maxBody = 64 << 10

// route is one operation: its ServeMux pattern and handler.
type route struct {
	pattern string
	handler func(*API, http.ResponseWriter, *http.Request)
}

// table lists every operation, in the order openapi.json documents them.
var table = []route{
	{"GET " + Prefix + "/clients", (*API).listClients},
	{"POST " + Prefix + "/clients", (*API).createClient},
	{"GET " + Prefix + "/clients/{id}", (*API).getClient},
	{"DELETE " + Prefix + "/clients/{id}", (*API).deleteClient},
	{"POST " + Prefix + "/clients/{id}/rotate-secret", (*API).rotateSecret},
	{"POST " + Prefix + "/clients/{id}/retire-secret", (*API).retireSecret},
	{"POST " + Prefix + "/clients/{id}/disable", (*API).disableClient},
	{"POST " + Prefix + "/clients/{id}/enable", (*API).enableClient},
	{"GET " + Prefix + "/users", (*API).listUsers},
	{"POST " + Prefix + "/users", (*API).createUser},
	{"GET " + Prefix + "/users/{id}", (*API).getUser},
	{"POST " + Prefix + "/users/{id}/disable", (*API).disableUser},
	{"POST " + Prefix + "/users/{id}/enable", (*API).enableUser},
	{"PUT " + Prefix + "/users/{id}/role", (*API).setRole},
	{"POST " + Prefix + "/users/{id}/reset-password", (*API).resetPassword},
	{"GET " + Prefix + "/users/{id}/sessions", (*API).listSessions},
	{"DELETE " + Prefix + "/users/{id}/sessions", (*API).endSessions},
	{"GET " + Prefix + "/keys", (*API).listKeys},
	{"POST " + Prefix + "/keys/rotate", (*API).rotateKey},
	{"POST " + Prefix + "/keys/{kid}/revoke", (*API).revokeKey},
	{"GET " + Prefix + "/audit", (*API).queryAudit},
}

// Routes returns the pattern of every operation ("GET /admin/api/v1/clients").
func Routes() []string {
	out := make([]string, 0, len(table))
	for _, r := range table {
		out = append(out, r.pattern)
	}
	return out
}

func (a *API) routes() {
	for _, r := range table {
		h := r.handler
		a.mux.HandleFunc(r.pattern, func(w http.ResponseWriter, req *http.Request) { h(a, w, req) })
	}
}

// pathID returns the {name} path value and notes it for the audit event.
func pathID(r *http.Request, name string) string {
	v := r.PathValue(name)
	// Recorded bounded: an id is at most 128 bytes; a longer one is not
	// an id and fails the lookup anyway.
	if len(v) <= 128 {
		callOf(r).object = v
	}
	return v
}

// writeJSON answers v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v)
}

// fail answers a use case's error: the admin package's own error kinds
// carry a message written for the operator (safe to show); anything else
// is logged and answered as a bare 500 (RFC 9457 §5: no internal detail).
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	var inv *admin.InvalidError
	var nf *admin.NotFoundError
	var cf *admin.ConflictError
	switch {
	case errors.As(err, &inv):
		httpx.WriteProblem(w, r, http.StatusBadRequest, "", inv.Error())
	case errors.As(err, &nf):
		httpx.WriteProblem(w, r, http.StatusNotFound, "", nf.Error())
	case errors.As(err, &cf):
		httpx.WriteProblem(w, r, http.StatusConflict, "", cf.Error())
	default:
		a.o.Logger.ErrorContext(r.Context(), "admin api", "route", callOf(r).route, "err", err)
		httpx.WriteProblem(w, r, http.StatusInternalServerError, "", "")
	}
}

// decode reads a JSON object body into v strictly: the media type must be
// application/json, the body at most maxBody, one object, no unknown or
// duplicate member (a typo must not silently become a default: a client
// "publc": true would otherwise be created confidential).
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		httpx.WriteProblem(w, r, http.StatusUnsupportedMediaType, "", "the body must be application/json")
		return false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			httpx.WriteProblem(w, r, http.StatusRequestEntityTooLarge, "", fmt.Sprintf("the body is larger than %d bytes", maxBody))
			return false
		}
		httpx.WriteProblem(w, r, http.StatusBadRequest, "", "the body could not be read")
		return false
	}
	if err := checkJSONObject(body); err != nil {
		httpx.WriteProblem(w, r, http.StatusBadRequest, "", err.Error())
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		httpx.WriteProblem(w, r, http.StatusBadRequest, "", describeJSONError(err))
		return false
	}
	return true
}

// describeJSONError turns a decoding error into a message that names the
// member and the expected type, without echoing the input.
func describeJSONError(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return fmt.Sprintf("member %q must be a %s", te.Field, te.Type.String())
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("the body is not valid JSON (at byte %d)", se.Offset)
	}
	if msg := err.Error(); len(msg) > len("json: unknown field ") && msg[:len("json: unknown field ")] == "json: unknown field " {
		return "unknown member " + msg[len("json: unknown field "):]
	}
	return "the body does not match the operation's schema"
}

// queryInt parses an optional integer query parameter within [lo, hi].
func queryInt(r *http.Request, name string, def, lo, hi int64) (int64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%s must be an integer from %d to %d", name, lo, hi)
	}
	return n, nil
}

// queryTime parses an optional RFC 3339 time query parameter.
func queryTime(r *http.Request, name string) (time.Time, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s must be an RFC 3339 time such as 2026-12-03T10:00:00Z", name)
	}
	return t, nil
}

func (a *API) queryAudit(w http.ResponseWriter, r *http.Request) {
	q := audit.Query{Action: r.URL.Query().Get("action"), Actor: r.URL.Query().Get("actor"),
		Target: r.URL.Query().Get("target"), Outcome: r.URL.Query().Get("outcome")}
	var err error
	if q.AfterSeq, err = queryInt(r, "after", 0, 0, 1<<62); err == nil {
		var lim int64
		if lim, err = queryInt(r, "limit", 100, 1, audit.MaxQueryLimit); err == nil {
			q.Limit = int(lim)
			if q.Since, err = queryTime(r, "since"); err == nil {
				q.Until, err = queryTime(r, "until")
			}
		}
	}
	if err == nil {
		for _, v := range []string{q.Action, q.Actor, q.Target, q.Outcome} {
			if len(v) > 512 {
				err = errors.New("a filter value is longer than 512 bytes")
			}
		}
	}
	if err != nil {
		httpx.WriteProblem(w, r, http.StatusBadRequest, "", err.Error())
		return
	}
	recs, err := a.o.Service.QueryAudit(r.Context(), q)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := map[string]any{"records": recs}
	if len(recs) == q.Limit {
		out["next_after"] = recs[len(recs)-1].Seq
	}
	writeJSON(w, http.StatusOK, out)
}
