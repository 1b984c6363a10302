// Package testkit holds the helpers every package's tests share: one fake
// clock, one test master key, free loopback ports with a polling wait, and
// golden files refreshed with -update.
//
// It is imported by _test.go files only and imports nothing but the
// standard library, so any package's internal tests can use it without an
// import cycle. It parses nothing: each package turns the test master key
// into its own type with its own parser.
package testkit
