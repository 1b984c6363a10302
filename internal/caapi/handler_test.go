package caapi

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/ca"
	"github.com/rampart-auth/rampart/internal/httpx"
)

// serve runs one request through the enrolment mux as the listener does
// (problem answers for the mux's own 404/405).
func serve(h *Handlers, r *http.Request) *httptest.ResponseRecorder {
	mux := http.NewServeMux()
	h.RegisterEnrolment(mux)
	w := httptest.NewRecorder()
	httpx.MuxProblems(mux).ServeHTTP(w, r)
	return w
}

func svidRequest(body, auth string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, PathSVID, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	return r
}

func csrBody(t testing.TB) string {
	b, _ := json.Marshal(map[string]string{"csr": testCSR(t, "spiffe://example.org/svc/a")})
	return string(b)
}

// wantProblem asserts an RFC 9457 answer with status.
func wantProblem(t *testing.T, w *httptest.ResponseRecorder, status int) map[string]any {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status %d, want %d: %s", w.Code, status, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != httpx.ContentTypeProblem {
		t.Fatalf("content type %q, want %s", ct, httpx.ContentTypeProblem)
	}
	var p map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	if p["status"] != float64(status) || p["type"] == nil || p["title"] == nil {
		t.Fatalf("problem %v", p)
	}
	return p
}

func TestSVIDIssues(t *testing.T) {
	const token = "rjt1.abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ.0123456789-_abcdefghijklmnopqrstuvwxyzABCDEF"
	cases := []struct {
		name  string
		auth  string
		state func(t *testing.T) (cert *x509.Certificate)
		check func(t *testing.T, c ca.Credential)
	}{
		{"accept/join-token", "Bearer " + token, nil, func(t *testing.T, c ca.Credential) {
			if jt, ok := c.(ca.JoinTokenCred); !ok || jt.Token != token {
				t.Fatalf("credential %#v", c)
			}
		}},
		{"accept/join-token-scheme-any-case", "bEARER " + token, nil, func(t *testing.T, c ca.Credential) {
			if _, ok := c.(ca.JoinTokenCred); !ok {
				t.Fatalf("credential %#v", c)
			}
		}},
		{"accept/client-credentials", "Basic c3ZjOnMzY3JldA==", nil, func(t *testing.T, c ca.Credential) {
			if cc, ok := c.(ca.ClientCred); !ok || cc.ClientID != "svc" {
				t.Fatalf("credential %#v", c)
			}
		}},
		{"accept/renewal-with-peer-certificate", "", func(t *testing.T) *x509.Certificate {
			return &x509.Certificate{Raw: []byte{9}}
		}, func(t *testing.T, c ca.Credential) {
			if pc, ok := c.(ca.PeerSVIDCred); !ok || len(pc.Chain) != 1 || pc.Chain[0].Raw[0] != 9 {
				t.Fatalf("credential %#v", c)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fa := &fakeAuthority{crl: testCRL(t, testNow.Add(10*time.Minute))}
			h := newTestHandlers(t, fa, fakeClients{}, 100)
			r := svidRequest(csrBody(t), tc.auth)
			if tc.state != nil {
				r.TLS = peerState(tc.state(t))
			}
			w := serve(h, r)
			if w.Code != http.StatusOK {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Fatalf("content type %q", ct)
			}
			if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
				t.Fatalf("cache control %q", cc)
			}
			var out map[string]string
			if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
				t.Fatal(err)
			}
			if out["spiffe_id"] != "spiffe://example.org/svc/a" || out["serial"] != "0a1b" || out["expires_at"] != "2026-12-03T13:00:00Z" {
				t.Fatalf("answer %v", out)
			}
			b1, rest := pem.Decode([]byte(out["svid"]))
			b2, rest := pem.Decode(rest)
			if b1 == nil || b2 == nil || len(rest) != 0 || b1.Type != "CERTIFICATE" || b1.Bytes[0] != 1 || b2.Bytes[0] != 4 {
				t.Fatalf("svid chain %q", out["svid"])
			}
			if crl, _ := pem.Decode([]byte(out["crl"])); crl == nil || crl.Type != "X509 CRL" {
				t.Fatalf("crl %q", out["crl"])
			}
			if !strings.HasPrefix(out["bundle"], "-----BEGIN CERTIFICATE-----") {
				t.Fatalf("bundle %q", out["bundle"])
			}
			reqs := fa.requests()
			if len(reqs) != 1 || reqs[0].ClientIP != "192.0.2.1" {
				t.Fatalf("requests %+v", reqs)
			}
			if blk, _ := pem.Decode([]byte(testCSR(t, ""))); blk == nil || len(reqs[0].CSR) == 0 {
				t.Fatal("no CSR handed to the CA")
			}
			tc.check(t, reqs[0].Cred)
		})
	}
}

func TestSVIDRefusals(t *testing.T) {
	good := csrBody(t)
	csr := testCSR(t, "spiffe://example.org/svc/a")
	js := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	const bearer = "Bearer rjt1.abc.def"
	cases := []struct {
		name    string
		req     func() *http.Request
		fa      *fakeAuthority
		clients ClientAuthenticator
		status  int
		check   func(t *testing.T, w *httptest.ResponseRecorder)
	}{
		{name: "reject/no-credential", req: func() *http.Request { return svidRequest(good, "") }, status: 401, check: wantBearerChallenge},
		{name: "reject/unknown-scheme", req: func() *http.Request { return svidRequest(good, "Digest x=y") }, status: 401, check: wantBearerChallenge},
		{name: "reject/bearer-empty", req: func() *http.Request { return svidRequest(good, "Bearer ") }, status: 401},
		{name: "reject/bearer-bad-characters", req: func() *http.Request { return svidRequest(good, "Bearer rjt1.a b\x00") }, status: 401},
		{name: "reject/bearer-too-long", req: func() *http.Request { return svidRequest(good, "Bearer "+strings.Repeat("a", 600)) }, status: 401},
		{name: "reject/two-authorization-headers", req: func() *http.Request {
			r := svidRequest(good, bearer)
			r.Header.Add("Authorization", "Basic c3ZjOnMzY3JldA==")
			return r
		}, status: 400},
		{name: "reject/basic-wrong-secret", req: func() *http.Request { return svidRequest(good, "Basic c3ZjOndyb25n") }, clients: fakeClients{}, status: 401,
			check: func(t *testing.T, w *httptest.ResponseRecorder) {
				wantBearerChallenge(t, w)
				if v := w.Header().Values("WWW-Authenticate"); len(v) != 2 || !strings.HasPrefix(v[1], "Basic ") {
					t.Fatalf("challenges %q", v)
				}
			}},
		{name: "reject/basic-without-authenticator", req: func() *http.Request { return svidRequest(good, "Basic c3ZjOnMzY3JldA==") }, clients: nilClients, status: 401},
		{name: "reject/basic-budget-spent", req: func() *http.Request { return svidRequest(good, "Basic c3ZjOnMzY3JldA==") },
			clients: fakeClients{err: &AuthError{Status: 429, RetryAfter: 90 * time.Second}}, status: 429, check: wantRetryAfter("90")},
		{name: "reject/basic-unavailable", req: func() *http.Request { return svidRequest(good, "Basic c3ZjOnMzY3JldA==") },
			clients: fakeClients{err: &AuthError{Status: 503, RetryAfter: time.Second}}, status: 503, check: wantRetryAfter("1")},
		{name: "reject/basic-other-error", req: func() *http.Request { return svidRequest(good, "Basic c3ZjOnMzY3JldA==") },
			clients: fakeClients{err: errors.New("db down")}, status: 503},
		{name: "reject/ca-unauthorized", req: func() *http.Request { return svidRequest(good, bearer) },
			fa: &fakeAuthority{err: &ca.Error{Code: ca.CodeUnauthorized, Public: "invalid credential", Err: errors.New("token used")}}, status: 401,
			check: func(t *testing.T, w *httptest.ResponseRecorder) {
				wantBearerChallenge(t, w)
				if strings.Contains(w.Body.String(), "token used") {
					t.Fatal("the cause leaked to the client")
				}
			}},
		{name: "reject/ca-forbidden", req: func() *http.Request { return svidRequest(good, bearer) },
			fa: &fakeAuthority{err: &ca.Error{Code: ca.CodeForbidden, Public: "the SPIFFE ID is not allowed"}}, status: 403},
		{name: "reject/ca-bad-csr", req: func() *http.Request { return svidRequest(good, bearer) },
			fa: &fakeAuthority{err: &ca.Error{Code: ca.CodeBadRequest, Public: "bad CSR"}}, status: 400},
		{name: "reject/ca-unavailable", req: func() *http.Request { return svidRequest(good, bearer) },
			fa: &fakeAuthority{err: &ca.Error{Code: ca.CodeUnavailable, Public: "the CA is unavailable", Err: errors.New("pq: connection refused")}}, status: 503,
			check: func(t *testing.T, w *httptest.ResponseRecorder) {
				if w.Header().Get("Retry-After") == "" || strings.Contains(w.Body.String(), "pq:") {
					t.Fatalf("headers %v body %s", w.Header(), w.Body)
				}
			}},
		{name: "reject/ca-other-error", req: func() *http.Request { return svidRequest(good, bearer) },
			fa: &fakeAuthority{err: errors.New("internal detail")}, status: 500,
			check: func(t *testing.T, w *httptest.ResponseRecorder) {
				if strings.Contains(w.Body.String(), "internal detail") {
					t.Fatal("the cause leaked to the client")
				}
			}},
		{name: "reject/crl-unavailable-after-issue", req: func() *http.Request { return svidRequest(good, bearer) },
			fa: &fakeAuthority{crlErr: errors.New("down")}, status: 503},
		{name: "reject/no-content-type", req: func() *http.Request {
			r := svidRequest(good, bearer)
			r.Header.Del("Content-Type")
			return r
		}, status: 415},
		{name: "reject/form-content-type", req: func() *http.Request {
			r := svidRequest(good, bearer)
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}, status: 415},
		{name: "reject/json-latin1", req: func() *http.Request {
			r := svidRequest(good, bearer)
			r.Header.Set("Content-Type", "application/json; charset=latin1")
			return r
		}, status: 415},
		{name: "reject/two-content-types", req: func() *http.Request {
			r := svidRequest(good, bearer)
			r.Header.Add("Content-Type", "application/json")
			return r
		}, status: 415},
		{name: "reject/declared-oversized", req: func() *http.Request {
			r := svidRequest(strings.Repeat(" ", MaxBodyBytes+1), bearer)
			return r
		}, status: 413},
		{name: "reject/chunked-oversized", req: func() *http.Request {
			r := svidRequest("", bearer)
			r.Body = io.NopCloser(strings.NewReader(`{"csr":"` + strings.Repeat("A", MaxBodyBytes+10) + `"}`))
			r.ContentLength = -1
			return r
		}, status: 413},
		{name: "reject/empty-body", req: func() *http.Request { return svidRequest("", bearer) }, status: 400},
		{name: "reject/array", req: func() *http.Request { return svidRequest(`["csr"]`, bearer) }, status: 400},
		{name: "reject/not-json", req: func() *http.Request { return svidRequest(`csr=abc`, bearer) }, status: 400},
		{name: "reject/missing-csr", req: func() *http.Request { return svidRequest(`{}`, bearer) }, status: 400},
		{name: "reject/csr-not-string", req: func() *http.Request { return svidRequest(`{"csr": 12}`, bearer) }, status: 400},
		{name: "reject/csr-object", req: func() *http.Request { return svidRequest(`{"csr": {"a": 1}}`, bearer) }, status: 400},
		{name: "reject/duplicate-csr", req: func() *http.Request {
			return svidRequest(js(map[string]string{"csr": csr})[:len(js(map[string]string{"csr": csr}))-1]+`,"csr":"x"}`, bearer)
		}, status: 400},
		{name: "reject/unknown-member", req: func() *http.Request { return svidRequest(`{"csr": "x", "ttl": "24h"}`, bearer) }, status: 400},
		{name: "reject/trailing-data", req: func() *http.Request { return svidRequest(good+`{}`, bearer) }, status: 400},
		{name: "reject/csr-not-pem", req: func() *http.Request { return svidRequest(js(map[string]string{"csr": "MIIB..."}), bearer) }, status: 400},
		{name: "reject/csr-wrong-pem-type", req: func() *http.Request {
			return svidRequest(js(map[string]string{"csr": strings.ReplaceAll(csr, "CERTIFICATE REQUEST", "CERTIFICATE")}), bearer)
		}, status: 400},
		{name: "reject/two-csrs", req: func() *http.Request { return svidRequest(js(map[string]string{"csr": csr + csr}), bearer) }, status: 400},
		{name: "reject/junk-before-pem", req: func() *http.Request { return svidRequest(js(map[string]string{"csr": "hello\n" + csr}), bearer) }, status: 400},
		{name: "reject/malformed-block-before-pem", req: func() *http.Request {
			return svidRequest(js(map[string]string{"csr": "-----BEGIN X-----\n!!\n" + csr}), bearer)
		}, status: 400},
		{name: "reject/pem-headers", req: func() *http.Request {
			return svidRequest(js(map[string]string{"csr": strings.Replace(csr, "-----\n", "-----\nProc-Type: 4,ENCRYPTED\n\n", 1)}), bearer)
		}, status: 400},
		{name: "reject/get-method", req: func() *http.Request { return httptest.NewRequest(http.MethodGet, PathSVID, nil) }, status: 405},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fa := tc.fa
			if fa == nil {
				fa = &fakeAuthority{}
			}
			if fa.crl == nil && fa.crlErr == nil {
				fa.crl = testCRL(t, testNow.Add(10*time.Minute))
			}
			clients := tc.clients
			if clients == nilClients {
				clients = nil
			} else if clients == nil {
				clients = fakeClients{}
			}
			w := serve(newTestHandlers(t, fa, clients, 100), tc.req())
			wantProblem(t, w, tc.status)
			if tc.check != nil {
				tc.check(t, w)
			}
			if tc.fa == nil && (tc.status == 400 || tc.status == 401 || tc.status == 413 || tc.status == 415) {
				if n := len(fa.requests()); n != 0 {
					t.Fatalf("a refused request reached the CA (%d calls)", n)
				}
			}
		})
	}
}

// nilClients marks a case run without a client authenticator.
var nilClients ClientAuthenticator = fakeClients{err: errors.New("nil marker")}

func wantBearerChallenge(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	if got := w.Header().Get("WWW-Authenticate"); got != "Bearer" {
		t.Fatalf("WWW-Authenticate %q, want Bearer", got)
	}
}

func wantRetryAfter(secs string) func(t *testing.T, w *httptest.ResponseRecorder) {
	return func(t *testing.T, w *httptest.ResponseRecorder) {
		t.Helper()
		if got := w.Header().Get("Retry-After"); got != secs {
			t.Fatalf("Retry-After %q, want %s", got, secs)
		}
	}
}

// TestSVIDRateLimit: past the per-address burst, requests are refused
// with 429 and Retry-After before anything is parsed or checked, while
// another address is still served.
func TestSVIDRateLimit(t *testing.T) {
	fa := &fakeAuthority{crl: testCRL(t, testNow.Add(10*time.Minute))}
	h := newTestHandlers(t, fa, fakeClients{}, 3)
	rec := &recorder{}
	h.o.Audit = rec
	body := csrBody(t)
	for i := 0; i < 3; i++ {
		if w := serve(h, svidRequest(body, "Bearer rjt1.a.b")); w.Code != http.StatusOK {
			t.Fatalf("request %d: %d", i, w.Code)
		}
	}
	t.Run("reject/past-the-burst", func(t *testing.T) {
		w := serve(h, svidRequest("not even json", "Basic c3ZjOnMzY3JldA=="))
		wantProblem(t, w, http.StatusTooManyRequests)
		if w.Header().Get("Retry-After") == "" {
			t.Fatal("no Retry-After")
		}
		if n := len(fa.requests()); n != 3 {
			t.Fatalf("%d requests reached the CA, want 3", n)
		}
		if len(rec.events) != 1 || rec.events[0].Action != audit.ActionCASVIDIssue || rec.events[0].Outcome != audit.OutcomeDenied ||
			rec.events[0].Reason != "rate_limited_ip" || rec.events[0].ClientAddr != "192.0.2.1" {
			t.Fatalf("audit %+v", rec.events)
		}
	})
	t.Run("accept/other-address", func(t *testing.T) {
		r := svidRequest(body, "Bearer rjt1.a.b")
		r.RemoteAddr = "198.51.100.7:1234"
		if w := serve(h, r); w.Code != http.StatusOK {
			t.Fatalf("status %d", w.Code)
		}
	})
}

func TestBundleAndCRL(t *testing.T) {
	fa := &fakeAuthority{crl: testCRL(t, testNow.Add(7*time.Minute))}
	h := newTestHandlers(t, fa, nil, 10)
	get := func(path string) *httptest.ResponseRecorder {
		mux := http.NewServeMux()
		h.RegisterPublic(mux)
		w := httptest.NewRecorder()
		httpx.MuxProblems(mux).ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		return w
	}
	t.Run("accept/bundle-jwks", func(t *testing.T) {
		w := get(PathBundle)
		if w.Code != 200 || w.Header().Get("Content-Type") != "application/json" || !json.Valid(w.Body.Bytes()) {
			t.Fatalf("%d %v %s", w.Code, w.Header(), w.Body)
		}
	})
	t.Run("accept/bundle-jwks-explicit", func(t *testing.T) {
		if w := get(PathBundle + "?format=jwks"); w.Code != 200 || w.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("%d %v", w.Code, w.Header())
		}
	})
	t.Run("accept/bundle-pem", func(t *testing.T) {
		w := get(PathBundle + "?format=pem")
		if w.Code != 200 || w.Header().Get("Content-Type") != "application/x-pem-file" || !strings.HasPrefix(w.Body.String(), "-----BEGIN CERTIFICATE") {
			t.Fatalf("%d %v %s", w.Code, w.Header(), w.Body)
		}
	})
	t.Run("reject/bundle-unknown-format", func(t *testing.T) { wantProblem(t, get(PathBundle+"?format=der"), 400) })
	t.Run("reject/bundle-two-formats", func(t *testing.T) { wantProblem(t, get(PathBundle+"?format=pem&format=jwks"), 400) })
	t.Run("reject/bundle-other-parameter", func(t *testing.T) { wantProblem(t, get(PathBundle+"?x=1"), 400) })
	t.Run("accept/crl", func(t *testing.T) {
		w := get(PathCRL)
		if w.Code != 200 || w.Header().Get("Content-Type") != "application/pkix-crl" {
			t.Fatalf("%d %v", w.Code, w.Header())
		}
		if cc := w.Header().Get("Cache-Control"); cc != "max-age=420" {
			t.Fatalf("Cache-Control %q, want max-age=420 (the time to nextUpdate)", cc)
		}
		if _, err := x509.ParseRevocationList(w.Body.Bytes()); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("accept/crl-past-next-update-not-cached", func(t *testing.T) {
		fa.crl = testCRL(t, testNow.Add(-time.Minute))
		if cc := get(PathCRL).Header().Get("Cache-Control"); cc != "max-age=0" {
			t.Fatalf("Cache-Control %q", cc)
		}
	})
	t.Run("reject/svid-not-on-public-mux", func(t *testing.T) {
		mux := http.NewServeMux()
		h.RegisterPublic(mux)
		w := httptest.NewRecorder()
		httpx.MuxProblems(mux).ServeHTTP(w, svidRequest(csrBody(t), "Bearer rjt1.a.b"))
		if w.Code != http.StatusNotFound && w.Code != http.StatusMethodNotAllowed {
			t.Fatalf("POST %s on the main listener: %d", PathSVID, w.Code)
		}
	})
	t.Run("reject/bundle-unavailable", func(t *testing.T) {
		fa.jwksErr = errors.New("down")
		wantProblem(t, get(PathBundle), 503)
	})
	t.Run("reject/crl-unavailable", func(t *testing.T) {
		fa.crlErr = errors.New("down")
		wantProblem(t, get(PathCRL), 503)
	})
	t.Run("reject/crl-garbage", func(t *testing.T) {
		fa.crlErr, fa.crl = nil, []byte("not a crl")
		wantProblem(t, get(PathCRL), 503)
	})
}

// recorder keeps the audit events of the handlers.
type recorder struct{ events []audit.Event }

func (r *recorder) Record(_ context.Context, e audit.Event) error {
	r.events = append(r.events, e)
	return nil
}
