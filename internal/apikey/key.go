package apikey

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"hash/crc32"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/parleyhq/parley/internal/platform/apierr"
)

// Mode says whether a key is a live key or a test key.
type Mode string

const (
	Live Mode = "live"
	Test Mode = "test"
)

// Valid reports whether m is a known mode.
func (m Mode) Valid() bool { return m == Live || m == Test }

// Scopes lists every scope a key may carry, in their canonical order.
var Scopes = []string{
	"agents:read", "agents:write",
	"contacts:read", "contacts:write",
	"campaigns:read", "campaigns:write",
	"calls:read", "calls:write",
	"webhooks:read", "webhooks:write",
	"usage:read",
}

// Status is a key's state at the time it was read.
type Status string

const (
	Active  Status = "active"
	Revoked Status = "revoked"
	Expired Status = "expired"
)

// APIKey is an API key as lists show it: everything but the secret.
type APIKey struct {
	ID          string     `json:"id" doc:"The key's ID (key_…)."`
	WorkspaceID string     `json:"workspaceId"`
	Name        string     `json:"name"`
	Prefix      string     `json:"prefix" doc:"The start of the key, e.g. parley_live_ab12, to recognise it."`
	LastFour    string     `json:"lastFour" doc:"The last four characters of the key."`
	Scopes      []string   `json:"scopes"`
	Mode        Mode       `json:"mode" enum:"live,test"`
	Status      Status     `json:"status" enum:"active,revoked,expired" doc:"The key's state when this answer was made."`
	CreatedBy   string     `json:"createdBy" doc:"The user who created the key."`
	CreatedAt   time.Time  `json:"createdAt"`
	LastUsedAt  *time.Time `json:"lastUsedAt,omitempty" doc:"When the key last authenticated a request (updated at most once a minute)."`
	ExpiresAt   *time.Time `json:"expiresAt,omitempty" doc:"When the key stops working; absent: never."`
	RevokedAt   *time.Time `json:"revokedAt,omitempty" doc:"When the key was revoked; absent: not revoked."`
}

// statusAt computes the key's state at now (a function, not a method: huma cannot link the
// schema of a struct that embeds a type with methods).
func statusAt(k APIKey, now time.Time) Status {
	switch {
	case k.RevokedAt != nil:
		return Revoked
	case k.ExpiresAt != nil && !now.Before(*k.ExpiresAt):
		return Expired
	}
	return Active
}

// CreatedAPIKey is a new key with its secret, which no later answer contains.
type CreatedAPIKey struct {
	APIKey
	Secret string `json:"secret" doc:"The API key. This is the only time it is shown: store it now."`
}

// The token format: "parley_<mode>_" + randomLen base62 characters + checksumLen base62
// characters of the CRC32 of the random part.
const (
	tokenPrefix = "parley_"
	randomLen   = 32 // 32 × log2(62) ≈ 190.5 bits
	checksumLen = 6  // 62^6 > 2^32
	// TokenLen is the length of every API key.
	TokenLen = len(tokenPrefix) + len("live_") + randomLen + checksumLen
	// shownRandom is how many random characters the display prefix shows.
	shownRandom = 4
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// Errors of authentication: all 401, each with its own code.
var (
	ErrInvalidKey = apierr.New(apierr.Unauthenticated, "invalid_api_key", "the API key is malformed (send Authorization: Bearer parley_live_… or parley_test_…)")
	ErrUnknownKey = apierr.New(apierr.Unauthenticated, "unknown_api_key", "the API key is not known")
	ErrRevokedKey = apierr.New(apierr.Unauthenticated, "revoked_api_key", "the API key has been revoked")
	ErrExpiredKey = apierr.New(apierr.Unauthenticated, "expired_api_key", "the API key has expired")
)

// newToken returns a fresh secret of the mode.
func newToken(mode Mode) string {
	var b strings.Builder
	b.Grow(TokenLen)
	b.WriteString(tokenPrefix + string(mode) + "_")
	random := randomBase62(randomLen)
	b.WriteString(random)
	b.WriteString(checksum(random))
	return b.String()
}

// randomBase62 returns n uniformly random base62 characters from crypto/rand (rejection
// sampling: bytes ≥ 248 = 4×62 are dropped, so there is no modulo bias).
func randomBase62(n int) string {
	out := make([]byte, 0, n)
	buf := make([]byte, n+n/4)
	for len(out) < n {
		_, _ = rand.Read(buf) // crypto/rand.Read never fails (Go ≥ 1.24)
		for _, c := range buf {
			if c < 248 && len(out) < n {
				out = append(out, base62[c%62])
			}
		}
	}
	return string(out)
}

// checksum is the CRC32 (IEEE) of s in checksumLen base62 characters, zero-padded.
func checksum(s string) string {
	v := crc32.ChecksumIEEE([]byte(s))
	out := make([]byte, checksumLen)
	for i := checksumLen - 1; i >= 0; i-- {
		out[i] = base62[v%62]
		v /= 62
	}
	return string(out)
}

// parseToken checks a token's shape and checksum without touching the store and returns its
// mode. Errors: ErrInvalidKey.
func parseToken(token string) (Mode, error) {
	if len(token) != TokenLen || !strings.HasPrefix(token, tokenPrefix) {
		return "", ErrInvalidKey
	}
	rest := token[len(tokenPrefix):]
	mode, rest, ok := strings.Cut(rest, "_")
	if !ok || !Mode(mode).Valid() {
		return "", ErrInvalidKey
	}
	for i := 0; i < len(rest); i++ {
		if strings.IndexByte(base62, rest[i]) < 0 {
			return "", ErrInvalidKey
		}
	}
	random, sum := rest[:randomLen], rest[randomLen:]
	if checksum(random) != sum {
		return "", ErrInvalidKey
	}
	return Mode(mode), nil
}

// hashToken is what the store keeps of a token: its SHA-256, in hex.
func hashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// displayPrefix and lastFour are the parts of a token that lists show.
func displayPrefix(token string) string {
	return token[:len(tokenPrefix)+len("live_")+shownRandom]
}

func lastFour(token string) string { return token[len(token)-4:] }

// Bearer extracts the token of an Authorization header ("Bearer <token>", scheme
// case-insensitive). Errors: ErrInvalidKey for any other shape.
func Bearer(header string) (string, error) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", ErrInvalidKey
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return "", ErrInvalidKey
	}
	return token, nil
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

// validScopes checks scopes and returns them deduplicated, in the order of Scopes.
func validScopes(scopes []string) ([]string, error) {
	if len(scopes) == 0 {
		return nil, apierr.Validation(apierr.FieldError{Location: "body.scopes", Message: "give at least one scope; valid scopes: " + strings.Join(Scopes, ", ")})
	}
	var fields []apierr.FieldError
	for i, s := range scopes {
		if !slices.Contains(Scopes, s) {
			fields = append(fields, apierr.FieldError{Location: "body.scopes[" + strconv.Itoa(i) + "]",
				Message: "unknown scope " + strconv.Quote(truncate(s, 64)) + "; valid scopes: " + strings.Join(Scopes, ", "), Value: s})
		}
	}
	if len(fields) > 0 {
		return nil, apierr.Validation(fields...)
	}
	out := make([]string, 0, len(scopes))
	for _, s := range Scopes {
		if slices.Contains(scopes, s) {
			out = append(out, s)
		}
	}
	return out, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
