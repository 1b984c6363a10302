package secrets

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

const testSecret = "hunter2-s3cr3t-value"

// leaks reports whether out holds the secret in any common encoding.
func leaks(out string) bool {
	for _, enc := range []string{testSecret, fmt.Sprintf("%x", testSecret), fmt.Sprintf("%X", testSecret), "104, 117, 110", "104 117 110"} {
		if strings.Contains(out, enc) {
			return true
		}
	}
	return false
}

func TestValueRedactsEveryVerb(t *testing.T) {
	v := NewValue([]byte(testSecret))
	type holder struct {
		Name string
		V    Value
		P    *Value
	}
	h := holder{Name: "x", V: v, P: &v}
	type hidden struct {
		name string
		v    Value
		p    *Value
		vs   []Value
	}
	u := hidden{name: "x", v: v, p: &v, vs: []Value{v}}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T%v", "%10s", "%-20q", "% x", "%#x", "%o", "%b", "%c", "%U"} {
		for _, arg := range []any{v, &v, h, &h, u, &u, []Value{v}, map[string]Value{"k": v}, [1]Value{v}} {
			out := fmt.Sprintf(verb, arg)
			if leaks(out) {
				t.Errorf("%s of %T leaks: %s", verb, arg, out)
			}
		}
	}
	if got := fmt.Sprint(v); got != redacted {
		t.Errorf("Sprint = %q", got)
	}
	if v.String() != redacted || v.GoString() != redacted {
		t.Error("String/GoString not redacted")
	}
}

func TestValueRedactsInJSONTextAndErrors(t *testing.T) {
	v := NewValue([]byte(testSecret))
	b, err := json.Marshal(struct {
		V Value            `json:"v"`
		M map[string]Value `json:"m"`
		P *Value           `json:"p"`
	}{V: v, M: map[string]Value{"a": v}, P: &v})
	if err != nil {
		t.Fatal(err)
	}
	if leaks(string(b)) || !strings.Contains(string(b), `"v":"[REDACTED]"`) {
		t.Errorf("json: %s", b)
	}
	txt, _ := v.MarshalText()
	if string(txt) != redacted {
		t.Errorf("text: %s", txt)
	}
	e := fmt.Errorf("opening %v: %w", v, errors.New("boom"))
	if leaks(e.Error()) {
		t.Errorf("error leaks: %s", e)
	}
	e2 := fmt.Errorf("with %+v and %q", struct{ V Value }{v}, v)
	if leaks(e2.Error()) {
		t.Errorf("error leaks: %s", e2)
	}
}

func TestValueRedactsInSlog(t *testing.T) {
	v := NewValue([]byte(testSecret))
	for _, mk := range []func(*bytes.Buffer) slog.Handler{
		func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
		func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
	} {
		var buf bytes.Buffer
		l := slog.New(mk(&buf))
		l.Info("msg", "value", v, "ptr", &v, slog.Any("any", v), slog.Group("g", "v", v), "struct", struct{ V Value }{v}, "hidden", struct{ v Value }{v})
		l.With("w", v).Error("again", "err", fmt.Errorf("x %v", v))
		if leaks(buf.String()) {
			t.Errorf("slog leaks: %s", buf.String())
		}
		if !strings.Contains(buf.String(), redacted) {
			t.Errorf("slog: no redaction marker: %s", buf.String())
		}
	}
}

func TestValueBytesCopiesAndEqual(t *testing.T) {
	src := []byte(testSecret)
	v := NewValue(src)
	src[0] = 'X'
	if string(v.Bytes()) != testSecret {
		t.Fatal("NewValue did not copy")
	}
	b := v.Bytes()
	b[0] = 'Y'
	if string(v.Bytes()) != testSecret {
		t.Fatal("Bytes did not copy")
	}
	if v.Len() != len(testSecret) {
		t.Fatal("Len")
	}
	if !v.Equal(NewValue([]byte(testSecret))) || v.Equal(NewValue([]byte("other"))) || v.Equal(Value{}) {
		t.Fatal("Equal")
	}
	if (Value{}).Len() != 0 || (Value{}).Bytes() != nil || !(Value{}).Equal(NewValue(nil)) {
		t.Fatal("zero Value")
	}
}
