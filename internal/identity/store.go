package identity

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/parleyhq/parley/internal/platform/db"
)

// store is identity's SQL. Users and sessions are not workspace-owned: they are keyed by user.
type store struct{}

var errNoRows = sql.ErrNoRows

// insertUser inserts u; ok is false when the email is taken.
func (store) insertUser(ctx context.Context, q db.Querier, u User, emailKey, hash string) (bool, error) {
	res, err := q.ExecContext(ctx, `INSERT INTO users (id, email, email_normalized, name, password_hash, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (email_normalized) DO NOTHING`,
		u.ID, u.Email, emailKey, u.Name, hash, db.Time(u.CreatedAt))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func (store) userByEmail(ctx context.Context, q db.Querier, emailKey string) (User, string, error) {
	var u User
	var hash string
	err := q.QueryRowContext(ctx, `SELECT id, email, name, created_at, password_hash FROM users WHERE email_normalized = $1`, emailKey).
		Scan(&u.ID, &u.Email, &u.Name, (*db.Time)(&u.CreatedAt), &hash)
	return u, hash, err
}

func (store) userByID(ctx context.Context, q db.Querier, userID string) (User, string, error) {
	var u User
	var hash string
	err := q.QueryRowContext(ctx, `SELECT id, email, name, created_at, password_hash FROM users WHERE id = $1`, userID).
		Scan(&u.ID, &u.Email, &u.Name, (*db.Time)(&u.CreatedAt), &hash)
	return u, hash, err
}

func (store) setPassword(ctx context.Context, q db.Querier, userID, hash string, now time.Time) error {
	_, err := q.ExecContext(ctx, `UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1`, userID, hash, db.Time(now))
	return err
}

func (store) updateName(ctx context.Context, q db.Querier, userID, name string, now time.Time) error {
	_, err := q.ExecContext(ctx, `UPDATE users SET name = $2, updated_at = $3 WHERE id = $1`, userID, name, db.Time(now))
	return err
}

func (store) insertSession(ctx context.Context, q db.Querier, s Session, tokenHash, ip, ua string) error {
	_, err := q.ExecContext(ctx, `INSERT INTO sessions (id, token_hash, user_id, created_at, last_seen_at, expires_at, ip, user_agent)
VALUES ($1, $2, $3, $4, $4, $5, $6, $7)`, s.ID, tokenHash, s.UserID, db.Time(s.CreatedAt), db.Time(s.ExpiresAt), ip, ua)
	return err
}

// sessionByTokenHash returns a live (not revoked) session; expiry is the caller's check.
func (store) sessionByTokenHash(ctx context.Context, q db.Querier, tokenHash string) (Session, error) {
	var s Session
	err := q.QueryRowContext(ctx, `SELECT id, user_id, created_at, last_seen_at, expires_at FROM sessions WHERE token_hash = $1 AND revoked_at IS NULL`, tokenHash).
		Scan(&s.ID, &s.UserID, (*db.Time)(&s.CreatedAt), (*db.Time)(&s.LastSeenAt), (*db.Time)(&s.ExpiresAt))
	return s, err
}

func (store) touchSession(ctx context.Context, q db.Querier, sessionID string, now time.Time) error {
	_, err := q.ExecContext(ctx, `UPDATE sessions SET last_seen_at = $2 WHERE id = $1`, sessionID, db.Time(now))
	return err
}

func (store) revokeSession(ctx context.Context, q db.Querier, userID, sessionID string, now time.Time) error {
	_, err := q.ExecContext(ctx, `UPDATE sessions SET revoked_at = $3 WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL`, sessionID, userID, db.Time(now))
	return err
}

func (store) revokeAllSessions(ctx context.Context, q db.Querier, userID string, now time.Time) error {
	_, err := q.ExecContext(ctx, `UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL`, userID, db.Time(now))
	return err
}

func (store) insertReset(ctx context.Context, q db.Querier, tokenHash, userID string, now, expires time.Time) error {
	_, err := q.ExecContext(ctx, `INSERT INTO password_resets (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)`,
		tokenHash, userID, db.Time(now), db.Time(expires))
	return err
}

// useReset stamps a live reset token as used and returns its user; errNoRows when the token is
// unknown, used or expired.
func (store) useReset(ctx context.Context, q db.Querier, tokenHash string, now time.Time) (string, error) {
	var userID string
	err := q.QueryRowContext(ctx, `UPDATE password_resets SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $3 RETURNING user_id`,
		tokenHash, db.Time(now), db.Millis(now)).Scan(&userID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", errNoRows
	}
	return userID, err
}
