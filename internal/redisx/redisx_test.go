package redisx

import (
	"context"
	"os"
	"strings"
	"testing"
)

func TestOpen(t *testing.T) {
	if _, err := Open(context.Background(), "http://:secret@x"); err == nil || strings.Contains(err.Error(), "secret") {
		t.Fatalf("malformed URL: err %v (must fail without echoing the password)", err)
	}
	url := os.Getenv("RAMPART_TEST_REDIS_URL")
	if url == "" {
		t.Skip("set RAMPART_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/0) to run the Redis test")
	}
	c, err := Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := Check(c)(context.Background()); err != nil {
		t.Fatal(err)
	}
}
