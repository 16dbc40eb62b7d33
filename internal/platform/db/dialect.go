package db

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// retryable reports whether a PostgreSQL transaction failed for a reason that a retry can fix
// (serialization failure, deadlock).
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "40001" || pgErr.Code == "40P01"
	}
	return false
}

// Time is a time.Time stored as int64 Unix milliseconds UTC, identically on both dialects.
// Scan into (*db.Time)(&t) and bind db.Time(t). The zero time is stored as NULL.
type Time time.Time

// Value implements driver.Valuer.
func (t Time) Value() (driver.Value, error) {
	tt := time.Time(t)
	if tt.IsZero() {
		return nil, nil
	}
	return tt.UnixMilli(), nil
}

// Scan implements sql.Scanner.
func (t *Time) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*t = Time{}
	case int64:
		*t = Time(time.UnixMilli(v).UTC())
	default:
		return fmt.Errorf("db.Time: cannot scan %T", src)
	}
	return nil
}

// Ptr is t as an optional time: nil for a NULL (zero) value.
func (t Time) Ptr() *time.Time {
	if time.Time(t).IsZero() {
		return nil
	}
	v := time.Time(t)
	return &v
}

// OptTime is the stored form of an optional time: NULL for nil.
func OptTime(t *time.Time) Time {
	if t == nil {
		return Time{}
	}
	return Time(*t)
}

// Millis is the stored form of t (Unix milliseconds), for use in comparisons in SQL.
func Millis(t time.Time) int64 { return t.UnixMilli() }

// IsUniqueViolation reports whether err is a violation of the named unique constraint (or
// unique index). Conflicts are recognised by name, never by message text. It matters on
// PostgreSQL, where two transactions can race past a check; on SQLite every write transaction
// runs alone on the one writer, so a check inside the transaction cannot be raced.
func IsUniqueViolation(err error, constraint string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == constraint
}
