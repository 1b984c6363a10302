package httpx

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestLoggerRedactsSensitiveKeys(t *testing.T) {
	const secret = "s3cr3t-VALUE"
	cases := []struct {
		name   string
		attr   slog.Attr
		redact bool
	}{
		{"redact/token", slog.String("token", secret), true},
		{"redact/access_token", slog.String("access_token", secret), true},
		{"redact/refresh-token", slog.String("Refresh-Token", secret), true},
		{"redact/password", slog.String("password", secret), true},
		{"redact/Password-upper", slog.String("PASSWORD", secret), true},
		{"redact/authorization-header", slog.String("Authorization", "Bearer "+secret), true},
		{"redact/cookie", slog.String("Cookie", "sid="+secret), true},
		{"redact/set-cookie", slog.String("Set-Cookie", "sid="+secret), true},
		{"redact/client_secret", slog.String("client_secret", secret), true},
		{"redact/code_verifier", slog.String("code_verifier", secret), true},
		{"redact/master_key", slog.String("master_key", secret), true},
		{"redact/dsn", slog.String("dsn", "postgres://u:"+secret+"@h/db"), true},
		{"redact/auth-code", slog.String("code", secret), true},
		{"redact/non-string", slog.Any("secret", []byte(secret)), true},
		{"redact/inside-group", slog.Group("headers", slog.String("authorization", secret)), true},
		{"redact/group-named-sensitive", slog.Group("credentials", slog.String("value", secret)), true},
		{"keep/status_code", slog.String("status_code", secret), false},
		{"keep/user", slog.String("user", secret), false},
		{"keep/route", slog.String("route", secret), false},
	}
	for _, format := range []string{"json", "text"} {
		for _, tc := range cases {
			t.Run(format+"/"+tc.name, func(t *testing.T) {
				var buf bytes.Buffer
				NewLogger(&buf, "info", format).LogAttrs(context.Background(), slog.LevelInfo, "m", tc.attr)
				out := buf.String()
				if got := strings.Contains(out, secret); got == tc.redact {
					t.Fatalf("secret present = %v, want %v: %s", got, !tc.redact, out)
				}
				if tc.redact && !strings.Contains(out, Redacted) {
					t.Fatalf("no %s marker: %s", Redacted, out)
				}
			})
		}
	}
}

func TestLoggerRequestIDOnContextLines(t *testing.T) {
	var buf bytes.Buffer
	l := NewLogger(&buf, "debug", "json")
	ctx := WithRequestID(context.Background(), "req-1")
	l.InfoContext(ctx, "one")
	l.With("component", "x").WarnContext(ctx, "two")
	l.Info("three") // no context: no request id
	var lines []map[string]any
	for _, s := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, m)
	}
	if len(lines) != 3 {
		t.Fatalf("%d lines", len(lines))
	}
	for i, want := range []any{"req-1", "req-1", nil} {
		if got := lines[i]["request_id"]; got != want {
			t.Errorf("line %d request_id = %v, want %v", i, got, want)
		}
	}
	if RequestIDFrom(context.Background()) != "" {
		t.Error("empty context has a request id")
	}
}

func TestLoggerLevels(t *testing.T) {
	cases := []struct {
		level     string
		debugSeen bool
		infoSeen  bool
	}{
		{"debug", true, true},
		{"info", false, true},
		{"warn", false, false},
		{"error", false, false},
		{"nonsense", false, true}, // unknown: info
	}
	for _, tc := range cases {
		t.Run(tc.level, func(t *testing.T) {
			var buf bytes.Buffer
			l := NewLogger(&buf, tc.level, "json")
			l.Debug("dbg")
			l.Info("inf")
			if got := strings.Contains(buf.String(), "dbg"); got != tc.debugSeen {
				t.Errorf("debug seen = %v", got)
			}
			if got := strings.Contains(buf.String(), "inf"); got != tc.infoSeen {
				t.Errorf("info seen = %v", got)
			}
		})
	}
}

func TestScrubSecrets(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"keep/plain", "connection refused", "connection refused"},
		{"keep/status-code", "status_code=500 route=/x", "status_code=500 route=/x"},
		{"keep/url-without-password", "dial https://example.com/x failed", "dial https://example.com/x failed"},
		{"scrub/url-password", `parse "postgres://rampart:hunter2@db:5432/x": bad`, `parse "postgres://rampart:[REDACTED]@db:5432/x": bad`},
		{"scrub/url-user-only-kept", "redis://user@h:6379", "redis://user@h:6379"},
		{"scrub/libpq-password", "host=db user=r password=hunter2 sslmode=require", "host=db user=r password=[REDACTED] sslmode=require"},
		{"scrub/query-code", "GET /cb?code=AUTHCODE&state=s", "GET /cb?code=[REDACTED]&state=s"},
		{"scrub/client-secret", "client_secret=abc,next", "client_secret=[REDACTED],next"},
		{"scrub/bearer", "header Authorization: Bearer eyJhbGciOi.x.y rejected", "header Authorization: Bearer [REDACTED] rejected"},
		{"scrub/basic-lowercase", "basic dXNlcjpwdw==", "basic [REDACTED]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := scrubSecrets(tc.in); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestLoggerScrubsErrorText(t *testing.T) {
	var buf bytes.Buffer
	l := NewLogger(&buf, "info", "json")
	l.Error("store down", "error", errors.New(`dial "postgres://u:hunter2@db/x": refused`), "detail", "password=hunter2")
	if strings.Contains(buf.String(), "hunter2") {
		t.Fatalf("secret in log: %s", buf.String())
	}
}
