package caapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// BenchmarkDecodeRequest: the strict body parser of every enrolment
// request (JSON tokens + PEM), on a real P-256 CSR.
func BenchmarkDecodeRequest(b *testing.B) {
	body, _ := json.Marshal(map[string]string{"csr": testCSR(b, "spiffe://example.org/svc/a")})
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := decodeRequest(body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeRequestStdlib is the same body through encoding/json's
// Unmarshal into a struct (which would accept duplicates and unknown
// members), for comparison.
func BenchmarkDecodeRequestStdlib(b *testing.B) {
	body, _ := json.Marshal(map[string]string{"csr": testCSR(b, "spiffe://example.org/svc/a")})
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		var v struct {
			CSR string `json:"csr"`
		}
		if err := json.Unmarshal(body, &v); err != nil {
			b.Fatal(err)
		}
		if _, err := decodeCSRPEM(v.CSR); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSVIDHandler: the handler's own cost per enrolment (limit,
// media type, body, credential, answer), with a CA that answers at once;
// the CA's signing is measured in internal/ca (BenchmarkIssue*).
func BenchmarkSVIDHandler(b *testing.B) {
	fa := &fakeAuthority{crl: testCRL(b, testNow.Add(10*time.Minute))}
	h := newTestHandlers(b, fa, fakeClients{}, 1e6)
	mux := http.NewServeMux()
	h.RegisterEnrolment(mux)
	body, _ := json.Marshal(map[string]string{"csr": testCSR(b, "spiffe://example.org/svc/a")})
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, PathSVID, strings.NewReader(string(body)))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", "Bearer rjt1.abc.def")
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatal(w.Code)
		}
		fa.reqs = fa.reqs[:0]
	}
}
