package adminapi

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzCheckJSONObject: the strict check never panics, accepts only what
// encoding/json accepts as one object, and refuses every duplicate member
// it is shown.
func FuzzCheckJSONObject(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1}`, `{"a":1,"a":2}`, `{"a":{"b":1,"b":2}}`, `{"a":[{"b":1},{"b":1}]}`, `[]`, `{"a":1} {}`, `{"a":"\u0061"}`, `{"a":1,"\u0061":2}`, `{`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := checkJSONObject(b)
		if err != nil {
			return
		}
		var m map[string]json.RawMessage
		dec := json.NewDecoder(bytes.NewReader(b))
		if e := dec.Decode(&m); e != nil || m == nil {
			t.Fatalf("accepted %q, which is not one JSON object: %v", b, e)
		}
		if dec.More() {
			t.Fatalf("accepted %q with a second value", b)
		}
	})
}

func TestCheckJSONObjectDuplicates(t *testing.T) {
	for _, s := range []string{`{"a":1,"a":2}`, `{"a":{"b":1,"b":2}}`, `{"x":[{"b":1,"b":1}]}`, `{"a":1,"\u0061":2}`} {
		if checkJSONObject([]byte(s)) == nil {
			t.Errorf("accepted %s", s)
		}
	}
	for _, s := range []string{`{"a":1,"b":{"a":1}}`, `{"x":[{"b":1},{"b":1}]}`, `{"a":[1,[2,[3]]],"b":"}"}`} {
		if err := checkJSONObject([]byte(s)); err != nil {
			t.Errorf("refused %s: %v", s, err)
		}
	}
}
