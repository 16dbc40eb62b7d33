package workspace

import (
	"crypto/rand"
	"encoding/base64"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/authz"
)

// Workspace is an isolated tenant.
type Workspace struct {
	ID        string    `json:"id" doc:"The Workspace ID (ws_…): use it in API paths, webhook and telephony URLs, and support requests."`
	Name      string    `json:"name"`
	Slug      string    `json:"slug"`
	Timezone  string    `json:"timezone" doc:"IANA time zone, e.g. Europe/Berlin."`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// Membership is a workspace as one user sees it: with their role.
type Membership struct {
	Workspace
	Role authz.Role `json:"role" enum:"owner,admin,member" doc:"Your role in this workspace."`
}

// Member is a user's membership, as the team list (and the operator's CLI) shows it.
type Member struct {
	UserID   string     `json:"userId" doc:"The member's user ID (user_…)."`
	Email    string     `json:"email"`
	Name     string     `json:"name"`
	Role     authz.Role `json:"role" enum:"owner,admin,member"`
	JoinedAt time.Time  `json:"joinedAt"`
}

func validName(name string) (string, error) {
	name = strings.TrimSpace(name)
	n := utf8.RuneCountInString(name)
	if n == 0 || n > 100 {
		return "", apierr.Validation(apierr.FieldError{Location: "body.name", Message: "name must be 1 to 100 characters", Value: name})
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return "", apierr.Validation(apierr.FieldError{Location: "body.name", Message: "name must not contain control characters"})
		}
	}
	return name, nil
}

func validTimezone(tz string) (string, error) {
	if tz == "" {
		return "UTC", nil
	}
	if tz == "Local" || strings.HasPrefix(tz, "/") {
		return "", apierr.Validation(apierr.FieldError{Location: "body.timezone", Message: "not an IANA time zone name", Value: tz})
	}
	if _, err := time.LoadLocation(tz); err != nil {
		return "", apierr.Validation(apierr.FieldError{Location: "body.timezone", Message: "not an IANA time zone name (e.g. Europe/Berlin)", Value: tz})
	}
	return tz, nil
}

// slugify makes a URL-friendly slug from a name ("Acme Support!" → "acme-support").
func slugify(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
		if b.Len() >= 40 {
			break
		}
	}
	s := strings.Trim(b.String(), "-")
	if s == "" {
		s = "workspace"
	}
	return s
}

func randomSuffix() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return strings.ToLower(base64.RawURLEncoding.EncodeToString(b))
}
