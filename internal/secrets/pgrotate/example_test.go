package pgrotate_test

import (
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/rampart-auth/rampart/internal/secrets"
	"github.com/rampart-auth/rampart/internal/secrets/pgrotate"
)

// A consumer turns the secret's current value into a connection config.
func ExampleParseCredential() {
	v := secrets.NewValue([]byte(`{"username":"app_b","password":"vQ3m0eLxqk9Yf1c2RZ7o8T5uW4sH6jKpN0aBdCgEiF_"}`))
	cred, err := pgrotate.ParseCredential(v)
	if err != nil {
		panic(err)
	}
	base, err := pgx.ParseConfig("postgres://db.internal:5432/app?sslmode=verify-full")
	if err != nil {
		panic(err)
	}
	cc := cred.ConnConfig(base)
	fmt.Println(cc.User, cc.Host, cc.Database, cred.Password)
	// Output: app_b db.internal app [REDACTED]
}
