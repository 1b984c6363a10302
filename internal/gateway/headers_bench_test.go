package gateway

import (
	"net/http"
	"net/netip"
	"testing"
)

// BenchmarkStripInboundBrowser is the common case: a browser's header set
// (13 headers, Connection: keep-alive, Authorization forwarded) with
// nothing to remove. Target: zero allocations.
func BenchmarkStripInboundBrowser(b *testing.B) {
	h := browserHeaders()
	b.ReportAllocs()
	for b.Loop() {
		StripInbound(h, true)
	}
	if len(h) != len(browserHeaders()) {
		b.Fatal("browser headers were removed")
	}
}

// BenchmarkStripInboundHostile removes every spoofing family, in odd
// spellings, and rewrites a Connection list naming them. Each iteration
// first refills the map from fixed slices (part of the measured time).
func BenchmarkStripInboundHostile(b *testing.B) {
	base := browserHeaders()
	hostile := http.Header{
		"X_forwarded_for":     {"10.0.0.1"},
		"X-Forwarded-Proto":   {"https"},
		"X-Forwarded-Host":    {"admin.internal"},
		"Forwarded":           {"for=10.0.0.2"},
		"X-Real-Ip":           {"10.0.0.3"},
		"True-Client-Ip":      {"10.0.0.4"},
		"X-Original-Url":      {"/admin"},
		"X_rampart_subject":   {"admin"},
		"X-Rampart-Scopes":    {"admin:all"},
		" X-Forwarded-For":    {"10.0.0.5"},
		"Proxy-Authorization": {"Basic x"},
		"Connection":          {"keep-alive, X-Rampart-Subject, X-Forwarded-For"},
	}
	h := make(http.Header, len(base)+len(hostile))
	b.ReportAllocs()
	for b.Loop() {
		for k, v := range base {
			h[k] = v
		}
		for k, v := range hostile {
			h[k] = v
		}
		StripInbound(h, false)
	}
	if len(h) != len(base)-1 { // Authorization not forwarded
		b.Fatalf("left %d headers: %q", len(h), h)
	}
}

// BenchmarkSetHeaders sets the forwarded and identity headers, as the
// gateway does once per request after StripInbound.
func BenchmarkSetHeaders(b *testing.B) {
	client := netip.MustParseAddr("2001:db8::7")
	scopes := []string{"notes:read", "notes:write"}
	h := browserHeaders()
	b.ReportAllocs()
	for b.Loop() {
		if err := SetForwarded(h, client, "https", "api.example.test:8443"); err != nil {
			b.Fatal(err)
		}
		if err := SetIdentity(h, "user-1", "cli", scopes, testAssertion); err != nil {
			b.Fatal(err)
		}
	}
}
