package oauth

import (
	"errors"
	"io"
	"strings"
	"time"
)

// Device authorization grant (RFC 8628): the domain of a device request
// and its codes. The endpoint is in device_authorize.go, the grant in
// grant_device_code.go and the page in device_page.go, each with the
// slice of storage it consumes (deviceSaver, devicePoller, deviceDecider).

// GrantDeviceCode is the device authorization grant type (RFC 8628 §3.4).
const GrantDeviceCode = "urn:ietf:params:oauth:grant-type:device_code"

// Device request parameters.
const (
	// DeviceCodeTTL: RFC 8628 §3.2 leaves expires_in to the server; ten
	// minutes is long enough to walk to a computer and sign in, and bounds
	// how long a guessable user code is live (§5.1).
	DeviceCodeTTL = 10 * time.Minute
	// DeviceInterval is the polling interval given out (RFC 8628 §3.2,
	// default 5 s) and DeviceSlowDown what a too-fast poll adds to it
	// (§3.5: "increased by 5 seconds for this and all subsequent
	// requests").
	DeviceInterval = 5 * time.Second
	DeviceSlowDown = 5 * time.Second
)

// Device request states.
const (
	DevicePending  = "pending"
	DeviceApproved = "approved"
	DeviceDenied   = "denied"
)

// DeviceCode is a device authorization request, stored by the SHA-256 of
// its device_code (the code itself is never stored).
type DeviceCode struct {
	Hash      []byte // SHA-256 of the device_code, 32 bytes
	UserCode  string // normalized: 8 letters of userCodeAlphabet
	ClientID  string
	Scopes    []string
	Audience  []string
	CreatedAt time.Time
	ExpiresAt time.Time
	Status    string // DevicePending, DeviceApproved or DeviceDenied
	// The user who decided, when, and how they had signed in.
	UserID    string
	AuthTime  time.Time
	AMR       []string
	DecidedAt time.Time
	// LastPollAt is the last token request for the code (zero before the
	// first) and Interval the current polling interval.
	LastPollAt time.Time
	Interval   time.Duration
	RedeemedAt time.Time // zero until tokens were issued
}

// DeviceDecision is what a user decided about a pending request.
type DeviceDecision struct {
	UserCode string
	Status   string // DeviceApproved or DeviceDenied
	UserID   string
	AuthTime time.Time
	AMR      []string
	At       time.Time
}

// userCodeAlphabet is RFC 8628 §6.1's example: 20 consonants without
// vowels (no words) and without look-alikes (no 0/O, 1/I/L confusion
// with digits), easy to type on any keyboard. 8 characters give
// 20^8 ≈ 2^34.6 codes (§6.1: "34.5 bits of entropy").
const userCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ"

// userCodeLen is the number of characters of a user code.
const userCodeLen = 8

// newUserCode draws a normalized user code uniformly from the alphabet
// (rejection sampling: bytes ≥ 240 would bias the first 16 letters).
func newUserCode(rnd io.Reader) (string, error) {
	out := make([]byte, 0, userCodeLen)
	buf := make([]byte, 16)
	for len(out) < userCodeLen {
		if _, err := io.ReadFull(rnd, buf); err != nil {
			return "", err
		}
		for _, b := range buf {
			if b < 240 && len(out) < userCodeLen {
				out = append(out, userCodeAlphabet[int(b)%len(userCodeAlphabet)])
			}
		}
	}
	return string(out), nil
}

// errUserCode is a user code that cannot be one.
var errUserCode = errors.New("oauth: not a user code")

// NormalizeUserCode turns what a user typed into a stored user code:
// letters in either case, with or without the dash (and spaces, which
// people type when they read a code aloud), RFC 8628 §6.1 ("case
// insensitive", "ignore ... punctuation"). Anything else is errUserCode.
func NormalizeUserCode(s string) (string, error) {
	if len(s) > 32 {
		return "", errUserCode
	}
	var b strings.Builder
	b.Grow(userCodeLen)
	dashes := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '-':
			dashes++
			if dashes > 1 {
				return "", errUserCode
			}
			continue
		case c == ' ' || c == '\t':
			continue
		case c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		}
		if strings.IndexByte(userCodeAlphabet, c) < 0 || b.Len() == userCodeLen {
			return "", errUserCode
		}
		b.WriteByte(c)
	}
	if b.Len() != userCodeLen {
		return "", errUserCode
	}
	return b.String(), nil
}

// displayUserCode is a normalized user code as shown: XXXX-XXXX.
func displayUserCode(code string) string {
	if len(code) != userCodeLen {
		return code
	}
	return code[:4] + "-" + code[4:]
}
