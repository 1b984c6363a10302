package httpx

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
)

// HeaderRequestID is the response header carrying the request id.
const HeaderRequestID = "X-Request-Id"

// maxClientRequestID bounds the client-supplied request id we log: long
// enough for a UUID, a W3C trace id or a ULID with a prefix, short enough
// that a client cannot inflate every log line.
const maxClientRequestID = 64

// RequestID gives every request a fresh id: 128 random bits from
// crypto/rand in hex, put in the request context (see RequestIDFrom; every
// log line written with that context carries it) and in the X-Request-Id
// response header, so a user can quote it to an operator.
//
// An incoming X-Request-Id is not trusted as ours: a client could choose it
// to collide with another request's log lines or to inject text into logs
// and problem bodies (OWASP Logging Cheat Sheet, "log injection"). When it
// is short and made of safe characters it is kept only to be logged, as
// client_request_id, by AccessLog; otherwise it is dropped.
func RequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ri := &requestInfo{id: newRequestID()}
		if c := r.Header.Get(HeaderRequestID); validClientRequestID(c) {
			ri.clientID = c
		}
		w.Header().Set(HeaderRequestID, ri.id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, ri)))
	})
}

// newRequestID returns 128 random bits in lowercase hex: unguessable and
// unique without coordination (the birthday bound is 2^64 requests).
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+); it crashes the program instead.
	var out [32]byte
	hex.Encode(out[:], b[:])
	return string(out[:])
}

// validClientRequestID reports whether s, a client-supplied request id, is
// 1 to 64 characters of [A-Za-z0-9._:-]: enough for UUIDs, ULIDs and trace
// ids, and nothing that could break a log line or a JSON document.
func validClientRequestID(s string) bool {
	if s == "" || len(s) > maxClientRequestID {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '.', c == '_', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}
