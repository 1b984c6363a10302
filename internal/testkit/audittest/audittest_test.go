package audittest_test

import (
	"context"
	"testing"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/testkit/audittest"
)

func TestRecorder(t *testing.T) {
	var r audittest.Recorder
	_ = r.Record(context.Background(), audit.Event{Actor: "cli", Action: "secret.read", Target: "team/a", Details: map[string]string{"version": "3"}})
	if len(r.All()) != 1 || !r.Contains("team/a") || !r.Contains("version") || !r.Contains("3") || r.Contains("absent") {
		t.Fatalf("recorder: %+v", r.All())
	}
	// Contains must not match across field boundaries.
	if r.Contains("clisecret") {
		t.Fatal("matched across fields")
	}
}
