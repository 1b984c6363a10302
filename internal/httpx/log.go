package httpx

import (
	"context"
	"io"
	"log/slog"
	"strings"
)

// Redacted replaces the value of every sensitive log attribute.
const Redacted = "[REDACTED]"

// sensitiveParts are matched as substrings of a lower-cased attribute key
// (with '-' folded to '_'), so "access_token", "X-Api-Key" and
// "client_secret" are all caught. A false positive costs a redacted value in
// a log line; a false negative leaks a credential to every log reader
// (OWASP Logging Cheat Sheet, "Data to exclude").
var sensitiveParts = []string{
	"password", "passwd", "secret", "token", "authorization", "cookie",
	"code_verifier", "master_key", "private_key", "api_key", "apikey",
	"dsn", "credential", "otp", "assertion", "session",
}

// sensitiveExact are keys too short or too common to match as substrings:
// "code" is the OAuth authorization code, but "status_code" is not secret.
var sensitiveExact = []string{"code", "key", "pin", "user_code", "device_code", "nonce"}

// isSensitiveKey reports whether values logged under key must be redacted.
func isSensitiveKey(key string) bool {
	switch key {
	// Fast path for the keys every line carries (slog's built-ins and the
	// access log's): the substring scan below is most of the logging cost.
	case slog.TimeKey, slog.LevelKey, slog.MessageKey, slog.SourceKey,
		"request_id", "client_request_id", "method", "route", "status",
		"bytes", "duration_ms", "client_ip", "proto", "error", "component":
		return false
	}
	k := strings.ReplaceAll(strings.ToLower(key), "-", "_")
	for _, s := range sensitiveExact {
		if k == s {
			return true
		}
	}
	for _, s := range sensitiveParts {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

// redactAttr is the handlers' ReplaceAttr: a leaf attribute whose key, or
// the name of any group it sits in, is sensitive gets the value Redacted.
// slog never passes group attributes themselves here, which is why the
// enclosing group names are checked.
//
// Other string and error values have credentials embedded in their text
// removed (scrubSecrets): an error quoting a DSN must not leak its
// password through an innocent key such as "error".
func redactAttr(groups []string, a slog.Attr) slog.Attr {
	if isSensitiveKey(a.Key) {
		return slog.String(a.Key, Redacted)
	}
	for _, g := range groups {
		if isSensitiveKey(g) {
			return slog.String(a.Key, Redacted)
		}
	}
	if cleanValueKey(a.Key) {
		return a
	}
	switch a.Value.Kind() {
	case slog.KindString:
		s := a.Value.String()
		if c := scrubSecrets(s); c != s {
			return slog.String(a.Key, c)
		}
	case slog.KindAny:
		if err, ok := a.Value.Any().(error); ok {
			return slog.String(a.Key, scrubSecrets(err.Error()))
		}
	}
	return a
}

// cleanValueKey reports keys whose values this package produces itself and
// that cannot hold credentials, so scrubbing them is skipped.
func cleanValueKey(key string) bool {
	switch key {
	case slog.TimeKey, slog.LevelKey, "request_id", "client_request_id", "method", "route",
		"status", "bytes", "duration_ms", "client_ip", "proto", "component":
		return true
	}
	return false
}

// NewLogger returns a structured logger writing to w. format is "json"
// (the default) or "text"; level is debug, info (the default for anything
// unrecognised), warn or error. Every record logged with a context (the
// ...Context methods) carries that context's request id as "request_id",
// and the values of sensitive keys (password, secret, token,
// authorization, cookie, code_verifier, client_secret, master_key, dsn, …)
// are replaced by "[REDACTED]"; credentials inside the text of other
// values and of the message (a URL's password, "Bearer …", password=…) are
// cut out too. A careless attribute or an error quoting a DSN cannot put a
// credential in the logs.
func NewLogger(w io.Writer, level, format string) *slog.Logger {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		lv = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lv, ReplaceAttr: redactAttr}
	var h slog.Handler
	if strings.EqualFold(format, "text") {
		h = slog.NewTextHandler(w, opts)
	} else {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(requestIDHandler{h})
}

// requestIDHandler adds the context's request id to every record. Records
// logged under WithGroup carry it inside that group.
type requestIDHandler struct{ next slog.Handler }

var _ slog.Handler = requestIDHandler{}

func (h requestIDHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

// Handle adds request_id. The Logger built the record and keeps no copy,
// so adding to it in place is safe.
func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestIDFrom(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.next.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return requestIDHandler{h.next.WithAttrs(as)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.next.WithGroup(name)}
}

// requestInfo is what RequestID stores in the request context.
type requestInfo struct {
	id       string // ours: 128 random bits, hex
	clientID string // the client's X-Request-Id, validated; only logged
}

type requestInfoKey struct{}

// WithRequestID returns ctx carrying id as the request id that log records
// and problem responses use.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestInfoKey{}, &requestInfo{id: id})
}

// RequestIDFrom returns the request id carried by ctx, or "".
func RequestIDFrom(ctx context.Context) string {
	if ri, ok := ctx.Value(requestInfoKey{}).(*requestInfo); ok {
		return ri.id
	}
	return ""
}

// clientRequestIDFrom returns the validated client-supplied request id, or "".
func clientRequestIDFrom(ctx context.Context) string {
	if ri, ok := ctx.Value(requestInfoKey{}).(*requestInfo); ok {
		return ri.clientID
	}
	return ""
}

// orDefault returns l, or slog.Default() when l is nil.
func orDefault(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.Default()
	}
	return l
}
