package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
)

// maxJSONDepth bounds nesting of a request body (the deepest API request
// is an object of arrays of strings, depth 2).
const maxJSONDepth = 8

// CheckJSONObject accepts exactly one JSON object, nested at most
// maxJSONDepth deep, in which no object has the same member twice.
// encoding/json keeps the last of two duplicates silently; another parser
// (a proxy, a log pipeline) may keep the first, so a duplicate is refused
// rather than read one way here and another way there (RFC 8259 §4: names
// SHOULD be unique; RFC 7493 §2.3 makes it a MUST).
func CheckJSONObject(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	type frame struct {
		object bool
		names  map[string]struct{}
		// wantName: inside an object, the next string token is a name.
		wantName bool
	}
	var stack []*frame
	first := true
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			if len(stack) != 0 || first {
				return errors.New("the body is not a complete JSON object")
			}
			return nil
		}
		if err != nil {
			return errors.New("the body is not valid JSON")
		}
		if first {
			if d, ok := tok.(json.Delim); !ok || d != '{' {
				return errors.New("the body must be a JSON object")
			}
		} else if len(stack) == 0 {
			return errors.New("the body holds more than one JSON value")
		}
		first = false
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.wantName {
			if name, ok := tok.(string); ok {
				if _, dup := top.names[name]; dup {
					return errors.New("the body has a duplicate member")
				}
				top.names[name] = struct{}{}
				top.wantName = false
				continue
			}
		}
		switch d := tok.(type) {
		case json.Delim:
			switch d {
			case '{', '[':
				if len(stack) >= maxJSONDepth {
					return errors.New("the body is nested too deeply")
				}
				stack = append(stack, &frame{object: d == '{', names: map[string]struct{}{}, wantName: d == '{'})
				continue
			case '}', ']':
				stack = stack[:len(stack)-1]
			}
		}
		// A value ended: the enclosing object expects a name next.
		if len(stack) > 0 && stack[len(stack)-1].object {
			stack[len(stack)-1].wantName = true
		}
	}
}
