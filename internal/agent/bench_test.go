package agent

import (
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"
)

// BenchmarkSocketSVID: one GET /v1/svid answered from the held SVID (what
// every mtls.SocketSource poll costs the agent).
func BenchmarkSocketSVID(b *testing.B) {
	ca := newFakeCA(b, testTD)
	r, k := goodResponse(b, ca, svcA, nil)
	body, _ := json.Marshal(r)
	iss, err := decodeSVIDResponse(body)
	if err != nil {
		b.Fatal(err)
	}
	s, err := newSVID(iss, k.key, k.pem, ca.td, iss.id, iss.chain[0].NotBefore.Add(1))
	if err != nil {
		b.Fatal(err)
	}
	h := newHolder()
	h.set(s)
	sh := &socketHandler{h: h, now: func() time.Time { return s.cert.Leaf.NotBefore.Add(time.Minute) }, metrics: newMetrics().handler(), pollMax: longPollMax, maxWait: maxWaiters}
	mux := sh.routes()
	req := httptest.NewRequest("GET", "/v1/svid", nil)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatal(rec.Code)
		}
	}
}

// BenchmarkDecodeSVIDResponse: decoding one enrolment answer.
func BenchmarkDecodeSVIDResponse(b *testing.B) {
	ca := newFakeCA(b, testTD)
	r, _ := goodResponse(b, ca, svcA, nil)
	body, _ := json.Marshal(r)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeSVIDResponse(body); err != nil {
			b.Fatal(err)
		}
	}
}
