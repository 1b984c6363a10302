package config

import (
	"strings"
	"testing"
)

// TestDynamicTemplatesUseTheEnginesCheck: a dynamic role whose statements
// hold a placeholder the engine would refuse (pgdyn.CheckTemplate) fails
// config check, naming the key.
func TestDynamicTemplatesUseTheEnginesCheck(t *testing.T) {
	base := "secrets:\n  databases:\n    - {name: main, dsn_env: PGDSN}\n  dynamic:\n" +
		"    - {path: db/app, database: main, creation_statements: [%s], revocation_statements: [%s]}\n"
	for name, tc := range map[string]struct{ create, revoke, key string }{
		"reject/unknown-in-creation":   {"'CREATE ROLE {{name}} PASSWORD {{secret}}'", "'SELECT 1'", "secrets.dynamic[0].creation_statements"},
		"reject/unclosed-in-creation":  {"'CREATE ROLE {{name'", "'SELECT 1'", "secrets.dynamic[0].creation_statements"},
		"reject/unknown-in-revocation": {"'CREATE ROLE {{name}}'", "'DROP ROLE {{user}}'", "secrets.dynamic[0].revocation_statements"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(strings.Replace(strings.Replace(base, "%s", tc.create, 1), "%s", tc.revoke, 1)))
			if err == nil || !strings.Contains(err.Error(), tc.key) || !strings.Contains(err.Error(), "placeholder") && !strings.Contains(err.Error(), "not closed") {
				t.Fatalf("%v, want a refusal naming %s", err, tc.key)
			}
		})
	}
	ok := strings.Replace(strings.Replace(base, "%s", "'CREATE ROLE {{name}} LOGIN PASSWORD {{password}} VALID UNTIL {{expiration}}'", 1), "%s", "'REVOKE ALL ON SCHEMA public FROM {{name}}'", 1)
	if _, err := Parse([]byte(ok)); err != nil {
		t.Fatalf("a valid role refused: %v", err)
	}
}
