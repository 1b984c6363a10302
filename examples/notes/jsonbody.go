package notes

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"unicode/utf8"
)

// maxJSONDepth bounds nesting in a request body; every body here is one
// flat object, so anything deeper is refused before it costs anything.
const maxJSONDepth = 8

// decodeStrict decodes a JSON object into dst, refusing what a lenient
// decoder would quietly accept and a JSON Schema validator (the gateway's)
// would read differently (a parser differential is a bypass: OWASP Input
// Validation Cheat Sheet, "syntactic validation"):
//
//   - a Content-Type other than application/json (415);
//   - invalid UTF-8 (encoding/json would replace it with U+FFFD);
//   - duplicate keys (RFC 8259 §4: the last-wins or first-wins choice
//     differs between parsers);
//   - a top-level key not in allowed, spelled exactly: encoding/json
//     matches field names case-insensitively, so "Title" would fill title
//     here while the gateway's schema saw an unknown member;
//   - unknown fields (DisallowUnknownFields), wrong types, trailing data.
func decodeStrict(r *http.Request, dst any, allowed ...string) error {
	if !isJSON(r.Header.Get("Content-Type")) {
		return fail(http.StatusUnsupportedMediaType, "unsupported_media_type", "Send application/json.")
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	if err := checkStrictJSON(body, allowed); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return &apiError{status: http.StatusBadRequest, code: "malformed_json",
			detail: "The body does not match the expected fields and types.", err: err}
	}
	return nil
}

// isJSON accepts application/json with at most a charset of utf-8.
func isJSON(ct string) bool {
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return false
	}
	for k, v := range params {
		if k != "charset" || (v != "utf-8" && v != "UTF-8") {
			return false
		}
	}
	return true
}

// checkStrictJSON checks that data is exactly one JSON object, valid
// UTF-8, at most maxJSONDepth deep, with no duplicate keys at any level
// and, at the top level, only the exact names in allowed. Its messages
// are safe for the client: they quote no input.
func checkStrictJSON(data []byte, allowed []string) *apiError {
	if !utf8.Valid(data) {
		return badJSON("The body is not valid UTF-8.")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return badJSON("The body must be one JSON object.")
	}
	if err := walkObject(dec, allowed); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return badJSON("The body has data after its JSON object.")
	}
	return nil
}

// badJSON is a 400 for a body that is not strict JSON; msg is public.
func badJSON(msg string) *apiError {
	return fail(http.StatusBadRequest, "malformed_json", msg)
}

var errInvalidJSON = badJSON("The body is not valid JSON.")

// frame is one open object or array while walking.
type frame struct {
	keys map[string]bool // nil for an array
}

// walkObject walks the object whose '{' was just read, iteratively (no
// recursion an attacker could deepen), to its matching '}'.
func walkObject(dec *json.Decoder, allowed []string) *apiError {
	stack := []frame{{keys: map[string]bool{}}}
	for len(stack) > 0 {
		top := &stack[len(stack)-1]
		if top.keys != nil && dec.More() {
			if err := readKey(dec, top, len(stack) == 1, allowed); err != nil {
				return err
			}
		}
		tok, err := dec.Token()
		if err != nil {
			return errInvalidJSON
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			if len(stack) >= maxJSONDepth {
				return badJSON(fmt.Sprintf("The body is nested deeper than %d levels.", maxJSONDepth))
			}
			f := frame{}
			if tok == json.Delim('{') {
				f.keys = map[string]bool{}
			}
			stack = append(stack, f)
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
	}
	return nil
}

func readKey(dec *json.Decoder, top *frame, topLevel bool, allowed []string) *apiError {
	tok, err := dec.Token()
	if err != nil {
		return errInvalidJSON
	}
	k, ok := tok.(string)
	if !ok {
		return errInvalidJSON
	}
	if top.keys[k] {
		return badJSON("The body repeats a member name.")
	}
	top.keys[k] = true
	if topLevel && !contains(allowed, k) {
		return badJSON("The body has a member that is not allowed (names are case-sensitive).")
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
