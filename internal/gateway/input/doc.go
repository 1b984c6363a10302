// Package input enforces one gateway route's request: rules (issue 12,
// "Input"): a body size cap (413), an allowlist of media types (415), a
// JSON Schema (400 for a body that is not one strict JSON value, 422 with
// errors: [{pointer, detail}] for a schema violation) and HTML sanitizing
// of chosen string fields before the body is forwarded.
//
// A route's Spec compiles once (Compile) into immutable Rules, safe for
// concurrent use; Rules.Check runs per request, reads the body once
// through the cap and returns the exact bytes to send upstream.
//
// The JSON the gateway validates must be the JSON the service reads, or a
// schema can be bypassed by a document two parsers understand differently
// (RFC 8259 §4 leaves duplicate names undefined; OWASP Input Validation
// Cheat Sheet). So the body is parsed by a strict parser of our own that
// refuses what parsers disagree on: duplicate keys (after unescaping),
// invalid UTF-8 and lone surrogate escapes (RFC 8259 §8.1–8.2, RFC 7493
// §2.1), trailing data, nesting deeper than 64, and number literals too
// long to be exact anywhere (RFC 7493 §2.2).
package input
