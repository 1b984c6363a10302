package oauth

import (
	"context"
	"errors"
	"io"
	"strings"
	"time"
)

// Device authorization grant (RFC 8628): the domain of a device request,
// its codes and its storage contract. The endpoint is in
// device_authorize.go, the grant in grant_device_code.go and the page in
// device_page.go.

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

// deviceStore is the storage of device requests. Every method is atomic
// and fleet-safe (conditional UPDATEs in one database).
type deviceStore interface {
	// SaveDevice stores a new pending request. A live request holding the
	// same user code is store.ErrConflict (the caller draws another
	// code); an expired one holding it is deleted first.
	SaveDevice(ctx context.Context, d *DeviceCode) error
	// DeviceByUserCode returns the pending, unexpired request with the
	// normalized user code; store.ErrNotFound otherwise.
	DeviceByUserCode(ctx context.Context, userCode string, now time.Time) (*DeviceCode, error)
	// DecideDevice records a decision on the pending, unexpired request
	// with the user code, once: store.ErrNotFound when there is no such
	// request (unknown, expired, or already decided).
	DecideDevice(ctx context.Context, d DeviceDecision) error
	// PollDevice records a token request for the code with hash by client
	// at now and returns the request as it is after the poll. When the
	// previous poll was less than the interval ago, the interval grows by
	// step (persisted) and slow is true. A request of another client is
	// returned unchanged (the caller refuses it). store.ErrNotFound if
	// there is no such code.
	PollDevice(ctx context.Context, hash []byte, clientID string, now time.Time, step time.Duration) (d *DeviceCode, slow bool, err error)
	// RedeemDevice marks the approved request redeemed and creates family
	// f (f.CodeHash = hash, client and user from the request) in one
	// transaction. When it was already redeemed it returns store.ErrUsed
	// and changes nothing (the caller revokes with RevokeCodeFamily);
	// store.ErrNotFound when there is no approved request with the hash.
	RedeemDevice(ctx context.Context, hash []byte, f *Family, now time.Time) (*DeviceCode, error)
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
