package httpx_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rampart-auth/rampart/internal/httpx"
)

func TestCallJSON(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			if r.Header.Get("Authorization") != "Bearer tok" || r.Header.Get("Content-Type") != "application/json" {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			_, _ = w.Write([]byte(`{"n":7}`))
		case "/none":
			w.WriteHeader(http.StatusNoContent)
		case "/refused":
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"title":"Forbidden","detail":"no policy"}`))
		case "/garbage":
			_, _ = w.Write([]byte(`{"n":"the-secret-value-in-a-bad-answer"`))
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	var out struct{ N int }
	if err := httpx.CallJSON(ctx, srv.Client(), "POST", srv.URL+"/ok", "tok", map[string]int{"a": 1}, &out, "test API"); err != nil || out.N != 7 {
		t.Fatalf("ok: %v %+v", err, out)
	}
	if err := httpx.CallJSON(ctx, srv.Client(), "DELETE", srv.URL+"/none", "", nil, &out, "test API"); err != nil {
		t.Fatalf("204: %v", err)
	}
	err := httpx.CallJSON(ctx, srv.Client(), "GET", srv.URL+"/refused", "", nil, &out, "test API")
	var ae *httpx.APIError
	if !errors.As(err, &ae) || ae.Status != 403 || ae.Detail != "no policy" || err.Error() != "the server answered 403 Forbidden: no policy" {
		t.Fatalf("refusal: %v", err)
	}
	err = httpx.CallJSON(ctx, srv.Client(), "GET", srv.URL+"/garbage", "", nil, &out, "test API")
	if err == nil || strings.Contains(err.Error(), "secret-value") || !strings.Contains(err.Error(), "test API") {
		t.Fatalf("a bad answer: %v", err)
	}
	if err := httpx.CallJSON(ctx, srv.Client(), "GET", "http://127.0.0.1:1/x", "", nil, nil, "test API"); err == nil || !strings.Contains(err.Error(), "cannot reach the test API") {
		t.Fatalf("unreachable: %v", err)
	}
}
