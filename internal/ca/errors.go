package ca

import "errors"

// ErrorCode classifies an Error for the enrolment API (H3 maps it to an
// HTTP status).
type ErrorCode int

// Error codes.
const (
	CodeBadRequest   ErrorCode = iota + 1 // 400: bad CSR, bad input
	CodeUnauthorized                      // 401: missing, invalid, used or expired credential
	CodeForbidden                         // 403: ID not allowed by the credential, revoked, DNS name not registered
	CodeUnavailable                       // 503: the CA cannot sign now (store down)
)

// Error is the one error type of the CA boundary: a code, a public
// message safe to show a client, and the cause for the logs.
type Error struct {
	Code   ErrorCode
	Public string
	Err    error
}

// Error returns the public message and the cause.
func (e *Error) Error() string {
	if e.Err == nil {
		return "ca: " + e.Public
	}
	return "ca: " + e.Public + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Lifecycle errors.
var (
	// ErrNotInitialized is returned by Open when the store holds no CA.
	ErrNotInitialized = errors.New("ca: the CA is not initialised (run `rampart ca init`)")
	// ErrExists is returned by Init when the store already holds a CA.
	ErrExists = errors.New("ca: a CA is already initialised in this store")
)

func badRequest(public string, err error) *Error {
	return &Error{Code: CodeBadRequest, Public: public, Err: err}
}

// publicUnauthorized is the one message of every unusable credential
// (unknown, used, expired, of another CA): a caller learns nothing about
// which (no token oracle).
const publicUnauthorized = "invalid credential"

func unauthorized(err error) *Error {
	return &Error{Code: CodeUnauthorized, Public: publicUnauthorized, Err: err}
}

func forbidden(public string, err error) *Error {
	return &Error{Code: CodeForbidden, Public: public, Err: err}
}

func unavailable(err error) *Error {
	return &Error{Code: CodeUnavailable, Public: "the CA is unavailable", Err: err}
}
