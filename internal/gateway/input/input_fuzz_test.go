package input

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// FuzzCheck sends random bodies through the note rules (schema and one
// sanitized field): Check never panics, and a body it accepts is one
// valid JSON document.
func FuzzCheck(f *testing.F) {
	r := noteRules(f)
	for _, s := range []string{
		`{"title":"a","body":"<script>alert(1)</script><b>x</b>"}`,
		`{"title":"a","body":"b","tags":["x"],"priority":3,"author":{"email":"a@b.test"}}`,
		`{"title":"a","body":"b","title":"c"}`, `[[[[]]]]`, `{"title":"\ud83d\ude00","body":"\u003c"}`,
		`{"title":"a","body":"b"} x`, "", `{"title":1e400}`, `"str"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		out, p := r.Check(jsonReq(string(body)))
		if p != nil {
			if p.Status < 400 || p.Status > 499 || len(p.Errors) > maxFieldErrors {
				t.Fatalf("problem %+v", p)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("accepted %q, forwarded invalid JSON %q", body, out)
		}
	})
}

// FuzzSanitize: whatever the input, the output parsed as a browser
// parses it has no script element, event handler, style or script URL.
func FuzzSanitize(f *testing.F) {
	for _, s := range []string{
		`<script>alert(1)</script>`, `<img src=x onerror=alert(1)//`, `<a href="jav&#x09;ascript:alert(1)">x</a>`,
		`<svg><style><img src=x onerror=alert(1)>`, `<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>`,
		`<iframe srcdoc="<script>alert(1)</script>">`, `<p style="x:expression(alert(1))">`, `<a href=data:text/html,x>`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := SanitizeHTML(in)
		if f := xssFindings(out); len(f) > 0 {
			t.Fatalf("%q sanitized to %q: %v", in, out, f)
		}
		if strings.Contains(strings.ToLower(out), "<script") {
			t.Fatalf("%q sanitized to %q", in, out)
		}
	})
}

// FuzzParse compares the strict parser with encoding/json: whatever it
// accepts, encoding/json accepts and reads as the same value, so the
// gateway never validates a document the service would read otherwise.
func FuzzParse(f *testing.F) {
	for _, s := range []string{`{"a":[1,-2.5e3,true,null,"x\u00e9"]}`, `{"a":1,"a":2}`, `"\ud800"`, `0`, `[]`, `{"\u0061":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, _, err := parseDocument(data, true, nil)
		if err != nil {
			return
		}
		d := json.NewDecoder(bytes.NewReader(data))
		d.UseNumber()
		var want any
		if err := d.Decode(&want); err != nil {
			t.Fatalf("we accept %q, encoding/json does not: %v", data, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: we read %#v, encoding/json %#v", data, got, want)
		}
	})
}

func jsonUnmarshalNumber(data []byte, v *any) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	return d.Decode(v)
}
