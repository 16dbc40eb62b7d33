// Package apierr is Parley's one error model. Capabilities return errors that unwrap to a
// category (errors.Is(err, apierr.NotFound)) with a stable machine code; this package alone maps a
// category to an HTTP status and writes RFC 9457 problem+json bodies:
//
//	{"type": "...", "title": "Not Found", "status": 404, "detail": "...", "code": "not_found",
//	 "requestId": "req_...", "errors": [{"location": "body.email", "message": "..."}]}
//
// Anything that is not an *Error is an internal error: the client gets a generic 500 and the
// full error goes to the log only.
package apierr

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Categories. Compare with errors.Is.
var (
	BadRequest      = errors.New("bad request")
	Invalid         = errors.New("invalid")
	Unauthenticated = errors.New("unauthenticated")
	Forbidden       = errors.New("forbidden")
	NotFound        = errors.New("not found")
	Conflict        = errors.New("conflict")
	// PaymentRequired: the workspace has too few credits (insufficient_credits).
	PaymentRequired = errors.New("payment required")
	// PreconditionFailed: an If-Match header names a version that is no longer current.
	PreconditionFailed = errors.New("precondition failed")
	Gone               = errors.New("gone")
	TooLarge           = errors.New("too large")
	RateLimited        = errors.New("rate limited")
	Unavailable        = errors.New("unavailable")
	// BadGateway: an upstream the request needed (a telephony provider) refused or failed.
	BadGateway = errors.New("bad gateway")
)

var statusOf = map[error]int{
	BadRequest:         http.StatusBadRequest,
	Invalid:            http.StatusUnprocessableEntity,
	Unauthenticated:    http.StatusUnauthorized,
	Forbidden:          http.StatusForbidden,
	NotFound:           http.StatusNotFound,
	Conflict:           http.StatusConflict,
	PaymentRequired:    http.StatusPaymentRequired,
	PreconditionFailed: http.StatusPreconditionFailed,
	Gone:               http.StatusGone,
	TooLarge:           http.StatusRequestEntityTooLarge,
	RateLimited:        http.StatusTooManyRequests,
	Unavailable:        http.StatusServiceUnavailable,
	BadGateway:         http.StatusBadGateway,
}

// FieldError says what is wrong with one input field. Location is "body.<field>" for body fields
// (huma's convention), "path.<param>" or "query.<param>" for the others.
type FieldError struct {
	Location string `json:"location,omitempty"`
	Message  string `json:"message"`
	Value    any    `json:"value,omitempty"`
}

// Error is a client-facing error: a category, a stable code and a human-readable detail.
type Error struct {
	Category   error
	Code       string
	Detail     string
	Fields     []FieldError
	RetryAfter time.Duration
}

func (e *Error) Error() string        { return e.Code + ": " + e.Detail }
func (e *Error) Is(target error) bool { return target == e.Category }
func (e *Error) Unwrap() error        { return e.Category }

// GetHeaders gives huma the Retry-After header of a rate-limited error.
func (e *Error) GetHeaders() http.Header {
	if e.RetryAfter > 0 {
		return http.Header{"Retry-After": []string{strconv.Itoa(int((e.RetryAfter + time.Second - 1) / time.Second))}}
	}
	return nil
}

// New makes an error of the category with a stable code and a detail message.
func New(category error, code, detail string) *Error {
	return &Error{Category: category, Code: code, Detail: detail}
}

// Newf is New with a formatted detail.
func Newf(category error, code, format string, args ...any) *Error {
	return New(category, code, fmt.Sprintf(format, args...))
}

// NotFoundf is the usual "no such resource" error; it is also what another workspace's resource
// looks like, so it must never say whether the resource exists.
func NotFoundf(resource string) *Error {
	return New(NotFound, "not_found", resource+" not found")
}

// Validation makes a 422 validation_failed error for the fields.
func Validation(fields ...FieldError) *Error {
	detail := "validation failed"
	if len(fields) == 1 {
		detail = fields[0].Message
	}
	return &Error{Category: Invalid, Code: "validation_failed", Detail: detail, Fields: fields}
}

// Field is a FieldError on a body field.
func Field(name, message string) FieldError {
	return FieldError{Location: "body." + name, Message: message}
}

// Status is the HTTP status of err: its category's, or 500.
func Status(err error) int {
	var e *Error
	if errors.As(err, &e) {
		if s, ok := statusOf[e.Category]; ok {
			return s
		}
	}
	return http.StatusInternalServerError
}

// DefaultCode is the code used for an error that only has an HTTP status (huma's own errors,
// the router's 404 and 405).
func DefaultCode(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "bad_request"
	case http.StatusUnauthorized:
		return "unauthenticated"
	case http.StatusForbidden:
		return "forbidden"
	case http.StatusNotFound:
		return "not_found"
	case http.StatusMethodNotAllowed:
		return "method_not_allowed"
	case http.StatusConflict:
		return "conflict"
	case http.StatusPaymentRequired:
		return "payment_required"
	case http.StatusGone:
		return "gone"
	case http.StatusPreconditionFailed:
		return "precondition_failed"
	case http.StatusRequestEntityTooLarge:
		return "body_too_large"
	case http.StatusUnsupportedMediaType:
		return "unsupported_media_type"
	case http.StatusUnprocessableEntity:
		return "validation_failed"
	case http.StatusTooManyRequests:
		return "rate_limited"
	case http.StatusServiceUnavailable:
		return "unavailable"
	case http.StatusBadGateway:
		return "bad_gateway"
	}
	if status >= 500 {
		return "internal_error"
	}
	return "error"
}
