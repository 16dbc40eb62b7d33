package identity

import (
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/parleyhq/parley/internal/platform/apierr"
)

// User is a person with an account.
type User struct {
	ID        string    `json:"id" doc:"User ID (user_…)."`
	Email     string    `json:"email" doc:"Email address, as the user typed it."`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"createdAt"`
}

// Session is a signed-in browser (or CLI) session.
type Session struct {
	ID         string
	UserID     string
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time
}

// normalizeEmail validates an email address and returns it trimmed and its lower-cased key.
func normalizeEmail(s string) (email, key string, err error) {
	email = strings.TrimSpace(s)
	a, perr := mail.ParseAddress(email)
	if perr != nil || a.Address != email || !strings.Contains(email[strings.LastIndexByte(email, '@')+1:], ".") || len(email) > 254 {
		return "", "", apierr.Validation(apierr.FieldError{Location: "body.email", Message: "not a valid email address", Value: s})
	}
	return email, strings.ToLower(email), nil
}

func validName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if utf8.RuneCountInString(name) > 100 {
		return "", apierr.Validation(apierr.Field("name", "name must be at most 100 characters"))
	}
	return name, nil
}
