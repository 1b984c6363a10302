package notes_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/rampart-auth/rampart/examples/notes"
)

// registrationCases are hostile or malformed registrations, each with the
// status the service must answer and whether schemas/register.json must
// accept the document (the schema cannot express the password blocklist
// and class rules, so those pass the schema and fail here).
var registrationCases = []struct {
	name         string
	body         string
	status       int
	schemaPasses bool
}{
	{"reject/unknown-field", `{"username":"carol","email":"c@example.com","password":"Correct-Horse-42-battery","admin":true}`, 400, false},
	{"reject/duplicate-key", `{"username":"carol","username":"root","email":"c@example.com","password":"Correct-Horse-42-battery"}`, 400, true},
	{"reject/case-variant-key", `{"Username":"carol","email":"c@example.com","password":"Correct-Horse-42-battery"}`, 400, false},
	{"reject/case-variant-duplicate", `{"username":"carol","USERNAME":"root","email":"c@example.com","password":"Correct-Horse-42-battery"}`, 400, false},
	{"reject/array", `[{"username":"carol"}]`, 400, false},
	{"reject/string", `"carol"`, 400, false},
	{"reject/null", `null`, 400, false},
	{"reject/empty-object", `{}`, 422, false},
	{"reject/trailing-data", `{"username":"carol","email":"c@example.com","password":"Correct-Horse-42-battery"}{}`, 400, false},
	{"reject/truncated", `{"username":"carol","email":"c@example.com","password":"Correct-Hor`, 400, false},
	{"reject/number-username", `{"username":12345,"email":"c@example.com","password":"Correct-Horse-42-battery"}`, 400, false},
	{"reject/object-password", `{"username":"carol","email":"c@example.com","password":{"$ne":""}}`, 400, false},
	{"reject/null-username", `{"username":null,"email":"c@example.com","password":"Correct-Horse-42-battery"}`, 422, false},
	{"reject/deep-nesting", `{"username":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, 400, false},
	// encoding/json (and so the schema library) reads invalid UTF-8 as
	// U+FFFD: the schema passes it, the service refuses it.
	{"reject/invalid-utf8", "{\"username\":\"carol\",\"email\":\"c@example.com\",\"password\":\"Correct-Horse-42-\xff\xfe\"}", 400, true},
	{"reject/username-uppercase", reg("Carol", "c@example.com", "Correct-Horse-42-battery"), 422, false},
	{"reject/username-short", reg("ca", "c@example.com", "Correct-Horse-42-battery"), 422, false},
	{"reject/username-long", reg("c"+strings.Repeat("a", 32), "c@example.com", "Correct-Horse-42-battery"), 422, false},
	{"reject/username-digit-first", reg("1carol", "c@example.com", "Correct-Horse-42-battery"), 422, false},
	{"reject/username-cyrillic-a", reg("c\u0430rol", "c@example.com", "Correct-Horse-42-battery"), 422, false},
	{"reject/username-trailing-newline", reg("carol\n", "c@example.com", "Correct-Horse-42-battery"), 422, false},
	{"reject/username-space", reg("carol smith", "c@example.com", "Correct-Horse-42-battery"), 422, false},
	{"reject/username-nul", reg("carol\x00", "c@example.com", "Correct-Horse-42-battery"), 422, false},
	{"reject/email-display-name", reg("carol", "Carol <c@example.com>", "Correct-Horse-42-battery"), 422, false},
	{"reject/email-no-at", reg("carol", "carol.example.com", "Correct-Horse-42-battery"), 422, false},
	{"reject/email-too-long", reg("carol", strings.Repeat("c", 64)+"@"+strings.Repeat("d", 186)+".com", "Correct-Horse-42-battery"), 422, false},
	{"reject/email-header-injection", reg("carol", "c@example.com\r\nBcc: all@example.com", "Correct-Horse-42-battery"), 422, false},
	{"reject/email-spaces", reg("carol", " c@example.com", "Correct-Horse-42-battery"), 422, false},
	{"reject/email-quoted-local", reg("carol", `"c d"@example.com`, "Correct-Horse-42-battery"), 422, false},
	{"reject/email-empty", reg("carol", "", "Correct-Horse-42-battery"), 422, false},
	{"reject/password-short", reg("carol", "c@example.com", "Sh0rt!pass"), 422, false},
	{"reject/password-long", reg("carol", "c@example.com", strings.Repeat("Ab1!", 33)), 422, false},
	{"reject/password-long-bytes", reg("carol", "c@example.com", "Ab1!"+strings.Repeat("é", 63)), 422, true},
	{"reject/password-has-username", reg("carol", "c@example.com", "MyNameIsCarol-42!"), 422, true},
	{"reject/password-has-email", reg("carol", "zed.q@example.com", "x-ZED.Q-2026-x!"), 422, true},
	{"reject/password-common", reg("carol", "c@example.com", "P@ssw0rd1234"), 422, true},
	{"reject/password-common-padded", reg("carol", "c@example.com", "Welcome#2026!!"), 422, true},
	{"reject/password-leet", reg("carol", "c@example.com", "!!P@55w0rd!!99"), 422, true},
	{"reject/password-two-classes", reg("carol", "c@example.com", "correcthorsebattery42"), 422, true},
	{"reject/password-one-class", reg("carol", "c@example.com", "correcthorsebatterystaple"), 422, true},
	{"accept/strong", reg("carol", "c@example.com", "Correct-Horse-42-battery"), 201, true},
	{"accept/unicode-password", reg("dave_d", "d@example.com", "Ünïcödé-Pässwörd-7"), 201, true},
	{"accept/passphrase-spaces", reg("erin-e", "e@example.com", "purple Tuesday rain 88"), 201, true},
}

func reg(username, email, password string) string {
	return jsonBody(map[string]string{"username": username, "email": email, "password": password})
}

func TestRegistrationValidation(t *testing.T) {
	r := newRig(t, notes.DriverSQLite)
	for i, c := range registrationCases {
		t.Run(c.name, func(t *testing.T) {
			u := user{sub: fmt.Sprintf("subject-%d", i)}
			res := r.call(t, u, http.MethodPost, "/api/users", c.body)
			if c.status == http.StatusCreated {
				if res.status != c.status {
					t.Fatalf("%d %s", res.status, res.body)
				}
				return
			}
			p := wantProblem(t, res, c.status)
			if c.status == http.StatusUnprocessableEntity {
				errs, _ := p["errors"].([]any)
				if len(errs) == 0 {
					t.Fatalf("422 without errors[]: %v", p)
				}
				for _, field := range []string{"username", "email", "password"} {
					if strings.HasPrefix(c.name, "reject/"+field) && !hasPointer(errs, "/"+field) {
						t.Fatalf("422 does not point at /%s: %v", field, errs)
					}
				}
			}
			if strings.Contains(string(res.body), "Correct-Horse") || strings.Contains(string(res.body), "sql") {
				t.Fatalf("the problem echoes input or internals: %s", res.body)
			}
		})
	}
	if n := r.count(t, "notes_users"); n != 3 {
		t.Fatalf("%d accounts, want the 3 accepted ones", n)
	}
}

func TestRegistrationEnvelope(t *testing.T) {
	r := newRig(t, notes.DriverSQLite)
	good := reg("carol", "c@example.com", "Correct-Horse-42-battery")
	send := func(ct, body string) response {
		req, _ := http.NewRequest(http.MethodPost, r.srv.URL+"/api/users", strings.NewReader(body))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		req.Header.Set("X-Rampart-Assertion", r.mint(t, user{sub: "s-" + ct}, r.aud))
		return do(t, r.srv.Client(), req)
	}
	for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin1", "application/jsonx", "multipart/form-data; boundary=x"} {
		wantProblem(t, send(ct, good), http.StatusUnsupportedMediaType)
	}
	// Over the 64 KiB cap, with and without a Content-Length.
	big := `{"username":"carol","email":"c@example.com","password":"` + strings.Repeat("a", notes.MaxBodyBytes) + `"}`
	wantProblem(t, send("application/json", big), http.StatusRequestEntityTooLarge)
	req, _ := http.NewRequest(http.MethodPost, r.srv.URL+"/api/users", struct{ *strings.Reader }{strings.NewReader(big)})
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Rampart-Assertion", r.mint(t, user{sub: "chunked"}, r.aud))
	wantProblem(t, do(t, r.srv.Client(), req), http.StatusRequestEntityTooLarge)
	if res := send("application/json; charset=utf-8", good); res.status != http.StatusCreated {
		t.Fatalf("charset=utf-8: %d %s", res.status, res.body)
	}
}

func TestNoteValidation(t *testing.T) {
	r := newRig(t, notes.DriverSQLite)
	id := r.createNote(t, alice, "keep", "me")
	cases := []struct {
		name, body string
		status     int
	}{
		{"reject/no-title", `{"body":"x"}`, 422},
		{"reject/empty-title", `{"title":"","body":"x"}`, 422},
		{"reject/long-title", jsonBody(map[string]string{"title": strings.Repeat("é", 201)}), 422},
		{"reject/title-newline", jsonBody(map[string]string{"title": "a\nb"}), 422},
		{"reject/title-c1-control", jsonBody(map[string]string{"title": "a\u0085b"}), 422},
		{"reject/body-nul", jsonBody(map[string]string{"title": "t", "body": "a\x00b"}), 422},
		{"reject/body-32k-plus-1", jsonBody(map[string]string{"title": "t", "body": strings.Repeat("a", 32<<10+1)}), 422},
		{"reject/owner-field", `{"title":"t","body":"b","owner":"user-bob"}`, 400},
		{"reject/id-field", `{"title":"t","body":"b","id":1}`, 400},
		{"reject/duplicate-title", `{"title":"t","title":"u"}`, 400},
		{"reject/Title", `{"Title":"t"}`, 400},
		{"reject/number-body", `{"title":"t","body":5}`, 400},
		{"accept/title-200", jsonBody(map[string]string{"title": strings.Repeat("é", 200)}), 201},
		{"accept/body-32k", jsonBody(map[string]string{"title": "t", "body": strings.Repeat("a", 32<<10)}), 201},
		{"accept/body-hostile-html", jsonBody(map[string]string{"title": "t", "body": `<img src=x onerror=alert(1)><script>alert(1)</script>`}), 201},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := r.call(t, alice, http.MethodPost, "/api/notes", c.body)
			if res.status != c.status {
				t.Fatalf("POST: %d, want %d: %.300s", res.status, c.status, res.body)
			}
			if c.status != http.StatusCreated {
				wantProblem(t, res, c.status)
				wantProblem(t, r.call(t, alice, http.MethodPut, "/api/notes/"+itoa(id), c.body), c.status)
			}
		})
	}
	if got := r.call(t, alice, http.MethodGet, "/api/notes/"+itoa(id), "").json(t); got["title"] != "keep" {
		t.Fatalf("note changed by refused updates: %v", got)
	}
}

func TestSearchParameters(t *testing.T) {
	r := newRig(t, notes.DriverSQLite)
	for _, q := range []string{"q=a&q=b", "x=1", "q=a&x=1", "q=%ff", "q=a%00b", "q=" + strings.Repeat("a", 201), "q=%zz", "Q=a"} {
		wantProblem(t, r.call(t, alice, http.MethodGet, "/api/notes?"+q, ""), http.StatusBadRequest)
	}
	for _, q := range []string{"q=", "q=" + strings.Repeat("é", 200)} {
		if res := r.call(t, alice, http.MethodGet, "/api/notes?"+q, ""); res.status != http.StatusOK {
			t.Errorf("%s: %d %s", q, res.status, res.body)
		}
	}
}

func hasPointer(errs []any, ptr string) bool {
	for _, e := range errs {
		if m, ok := e.(map[string]any); ok && m["pointer"] == ptr {
			return true
		}
	}
	return false
}
