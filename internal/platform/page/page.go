// Package page is the list convention of every API: ?limit=&cursor= in, {"data": [...],
// "nextCursor": "..."} out, newest first, with an opaque cursor that encodes the last ID of the
// previous page (IDs sort by creation time, so the order is stable).
package page

import (
	"encoding/base64"

	"github.com/parleyhq/parley/internal/platform/apierr"
)

// DefaultLimit and MaxLimit bound ?limit=.
const (
	DefaultLimit = 50
	MaxLimit     = 100
)

// Page is one page of a list.
type Page[T any] struct {
	Data       []T    `json:"data"`
	NextCursor string `json:"nextCursor,omitempty" doc:"Pass as ?cursor= to get the next page; absent on the last page."`
}

// Limit clamps a requested limit.
func Limit(n int) int {
	if n <= 0 {
		return DefaultLimit
	}
	return min(n, MaxLimit)
}

// Encode makes an opaque cursor from the last ID of a page.
func Encode(lastID string) string { return base64.RawURLEncoding.EncodeToString([]byte(lastID)) }

// Decode reads a cursor made by Encode ("" = the first page).
func Decode(c string) (string, error) {
	if c == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) == 0 || len(b) > 100 {
		return "", apierr.Validation(apierr.FieldError{Location: "query.cursor", Message: "not a valid cursor", Value: c})
	}
	return string(b), nil
}

// Of builds a page from up to limit+1 rows (the extra row only says that there is a next page).
func Of[T any](rows []T, limit int, key func(T) string) Page[T] {
	p := Page[T]{Data: rows}
	if p.Data == nil {
		p.Data = []T{}
	}
	if len(rows) > limit {
		p.Data = rows[:limit]
		p.NextCursor = Encode(key(rows[limit-1]))
	}
	return p
}

// Fetch reads one page: it clamps limit, decodes cursor, asks fetch for up to limit+1 rows older
// than the cursor's ID, and builds the page.
func Fetch[T any](cursor string, limit int, fetch func(beforeID string, n int) ([]T, error), key func(T) string) (Page[T], error) {
	limit = Limit(limit)
	before, err := Decode(cursor)
	if err != nil {
		return Page[T]{}, err
	}
	rows, err := fetch(before, limit+1)
	if err != nil {
		return Page[T]{}, err
	}
	return Of(rows, limit, key), nil
}
