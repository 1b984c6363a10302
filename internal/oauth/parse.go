package oauth

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Parameter bounds. Generous for real clients, small enough that a request
// cannot make the server store or echo megabytes.
const (
	maxParamLen = 4096
	maxScopes   = 64
	maxNonceLen = 512
)

// AuthorizeRequest is a parsed authorization request (RFC 6749 §4.1.1,
// RFC 7636 §4.3, OIDC Core §3.1.2.1, RFC 8707 §2).
type AuthorizeRequest struct {
	ResponseType        string
	ClientID            string
	RedirectURI         string
	Scopes              []string
	State               string
	CodeChallenge       string
	CodeChallengeMethod string
	Nonce               string
	Prompt              []string
	MaxAge              int // -1 when absent
	// ACRValues is OIDC Core §3.1.2.1 acr_values, space-separated, in
	// order of preference (ACRMFA asks for the second factor).
	ACRValues    []string
	Resource     string
	ResponseMode string
	DPoPJKT      string // RFC 9449 §10 dpop_jkt

	HasRequestObject bool // request (RFC 9101), which is not supported
	HasRequestURI    bool // request_uri (RFC 9101 / PAR), not supported
}

// ParseError is a malformed request. Redirectable is false when the
// problem is the client_id or redirect_uri, which must never lead to a
// redirect (RFC 6749 §4.1.2.1).
type ParseError struct {
	*Error
	Redirectable bool
}

// single returns the parameter's one value. RFC 6749 §3.1: "Request and
// response parameters MUST NOT be included more than once." An empty value
// is treated as absent (§3.1 also says so).
func single(v url.Values, name string) (string, *Error) {
	vals := v[name]
	switch len(vals) {
	case 0:
		return "", nil
	case 1:
	default:
		return "", oerr(ErrInvalidRequest, "the %s parameter appears more than once", name)
	}
	s := vals[0]
	if len(s) > maxParamLen {
		return "", oerr(ErrInvalidRequest, "the %s parameter is too long", name)
	}
	if !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "", oerr(ErrInvalidRequest, "the %s parameter has invalid characters", name)
	}
	return s, nil
}

// ParseAuthorizeRequest reads the parameters of an authorization request.
// It checks syntax only; the client's registration is checked by the
// server.
func ParseAuthorizeRequest(v url.Values) (*AuthorizeRequest, *ParseError) {
	r := &AuthorizeRequest{MaxAge: -1}
	var e *Error
	// client_id and redirect_uri first: their errors are not redirectable.
	if r.ClientID, e = single(v, "client_id"); e != nil {
		return r, &ParseError{e, false}
	}
	if r.RedirectURI, e = single(v, "redirect_uri"); e != nil {
		return r, &ParseError{e, false}
	}
	if r.ClientID == "" {
		return r, &ParseError{oerr(ErrInvalidRequest, "client_id is required"), false}
	}
	if r.RedirectURI == "" {
		return r, &ParseError{oerr(ErrInvalidRequest, "redirect_uri is required"), false}
	}
	// state next, so that later errors can carry it back.
	if r.State, e = single(v, "state"); e != nil {
		return r, &ParseError{e, true}
	}
	if e := parseAuthorizeParams(v, r); e != nil {
		return r, &ParseError{e, true}
	}
	return r, nil
}

// parseAuthorizeParams parses the parameters after client_id,
// redirect_uri and state into r; its errors are redirectable.
func parseAuthorizeParams(v url.Values, r *AuthorizeRequest) *Error {
	var e *Error
	fields := []struct {
		name string
		dst  *string
	}{
		{"response_type", &r.ResponseType},
		{"code_challenge", &r.CodeChallenge},
		{"code_challenge_method", &r.CodeChallengeMethod},
		{"nonce", &r.Nonce},
		{"response_mode", &r.ResponseMode},
		{"dpop_jkt", &r.DPoPJKT},
	}
	for _, f := range fields {
		if *f.dst, e = single(v, f.name); e != nil {
			return e
		}
	}
	scope, e := single(v, "scope")
	if e != nil {
		return e
	}
	if r.Scopes, e = parseScope(scope); e != nil {
		return e
	}
	prompt, e := single(v, "prompt")
	if e != nil {
		return e
	}
	if r.Prompt, e = parsePrompt(prompt); e != nil {
		return e
	}
	acr, e := single(v, "acr_values")
	if e != nil {
		return e
	}
	r.ACRValues = strings.Fields(acr)
	maxAge, e := single(v, "max_age")
	if e != nil {
		return e
	}
	if maxAge != "" {
		n, err := strconv.Atoi(maxAge)
		if err != nil || n < 0 || n > 1<<30 {
			return oerr(ErrInvalidRequest, "max_age must be a non-negative integer")
		}
		r.MaxAge = n
	}
	switch res := v["resource"]; len(res) {
	case 0:
	case 1:
		if r.Resource, e = single(v, "resource"); e != nil {
			return e
		}
	default:
		// RFC 8707 §2 allows several; a token here has one audience.
		return oerr(ErrInvalidTarget, "request one resource at a time")
	}
	if r.DPoPJKT != "" && !validJKT(r.DPoPJKT) {
		// RFC 9449 §10: the base64url SHA-256 JWK thumbprint (RFC 7638).
		return oerr(ErrInvalidRequest, "dpop_jkt is not a JWK SHA-256 thumbprint")
	}
	if len(r.Nonce) > maxNonceLen {
		return oerr(ErrInvalidRequest, "nonce is too long")
	}
	r.HasRequestObject = v.Has("request")
	r.HasRequestURI = v.Has("request_uri")
	return nil
}

// parseScope splits a scope parameter (RFC 6749 §3.3: space-delimited
// scope-tokens), dropping duplicates and keeping the order.
func parseScope(s string) ([]string, *Error) {
	if s == "" {
		return nil, nil
	}
	var out []string
	for _, tok := range strings.Split(s, " ") {
		if tok == "" {
			continue
		}
		if !validScopeToken(tok) {
			return nil, oerr(ErrInvalidScope, "the scope parameter is malformed")
		}
		if !slices.Contains(out, tok) {
			out = append(out, tok)
		}
		if len(out) > maxScopes {
			return nil, oerr(ErrInvalidScope, "too many scopes")
		}
	}
	return out, nil
}

// parsePrompt reads OIDC Core §3.1.2.1 prompt: none must stand alone.
func parsePrompt(s string) ([]string, *Error) {
	if s == "" {
		return nil, nil
	}
	var out []string
	for _, p := range strings.Fields(s) {
		switch p {
		case "none", "login", "consent", "select_account":
		default:
			return nil, oerr(ErrInvalidRequest, "prompt %q is not supported", clip(p))
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	if slices.Contains(out, "none") && len(out) > 1 {
		return nil, oerr(ErrInvalidRequest, "prompt none cannot be combined with other values")
	}
	return out, nil
}

// clipLen is how many bytes of an untrusted value clip keeps.
const clipLen = 40

// clip shortens an untrusted value for an error description or a page to
// at most clipLen bytes plus "…", cutting on a rune boundary so the result
// stays valid UTF-8 whenever s is (a byte cut in the middle of a
// multi-byte character would make an invalid audit event or JSON text).
func clip(s string) string {
	if len(s) <= clipLen {
		return s
	}
	cut := clipLen
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// TokenRequest is a parsed token endpoint request (RFC 6749 §4.1.3, §4.4.2,
// §6, RFC 7636 §4.5, RFC 8707 §2).
type TokenRequest struct {
	GrantType    string
	Code         string
	RedirectURI  string
	CodeVerifier string
	RefreshToken string
	DeviceCode   string // RFC 8628 §3.4
	Scopes       []string
	ScopeGiven   bool
	Resource     string
	// Client credentials from the body (client_secret_post / none).
	ClientID     string
	ClientSecret string
	SecretGiven  bool
}

// ParseTokenRequest reads the form parameters of a token request. Client
// authentication by HTTP Basic is read by the server from the header.
func ParseTokenRequest(v url.Values) (*TokenRequest, *Error) {
	r := &TokenRequest{}
	var e *Error
	for _, f := range []struct {
		name string
		dst  *string
	}{
		{"grant_type", &r.GrantType},
		{"code", &r.Code},
		{"redirect_uri", &r.RedirectURI},
		{"code_verifier", &r.CodeVerifier},
		{"refresh_token", &r.RefreshToken},
		{"device_code", &r.DeviceCode},
		{"client_id", &r.ClientID},
		{"client_secret", &r.ClientSecret},
	} {
		if *f.dst, e = single(v, f.name); e != nil {
			return nil, e
		}
	}
	r.SecretGiven = v.Has("client_secret")
	scope, e := single(v, "scope")
	if e != nil {
		return nil, e
	}
	r.ScopeGiven = scope != ""
	if r.Scopes, e = parseScope(scope); e != nil {
		return nil, e
	}
	if len(v["resource"]) > 1 {
		return nil, oerr(ErrInvalidTarget, "request one resource at a time")
	}
	if r.Resource, e = single(v, "resource"); e != nil {
		return nil, e
	}
	if r.GrantType == "" {
		return nil, oerr(ErrInvalidRequest, "grant_type is required")
	}
	return r, nil
}

// validVerifier: RFC 7636 §4.1 code_verifier = 43*128unreserved.
func validVerifier(s string) bool {
	if len(s) < 43 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// validChallenge: an S256 challenge is the base64url of a SHA-256 digest:
// exactly 43 characters of the base64url alphabet.
func validChallenge(s string) bool {
	if len(s) != 43 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
