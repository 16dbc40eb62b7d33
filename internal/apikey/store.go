package apikey

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/parleyhq/parley/internal/platform/db"
)

// store is the SQL of API keys. Every method but byHash takes the workspace ID and filters on it.
type store struct{}

const keyCols = `id, workspace_id, name, prefix, last_four, scopes, mode, created_by, created_at, last_used_at, expires_at, revoked_at`

func scanKey(sc interface{ Scan(...any) error }) (APIKey, error) {
	var k APIKey
	var scopes, mode string
	var lastUsed, expires, revoked time.Time
	if err := sc.Scan(&k.ID, &k.WorkspaceID, &k.Name, &k.Prefix, &k.LastFour, &scopes, &mode, &k.CreatedBy,
		(*db.Time)(&k.CreatedAt), (*db.Time)(&lastUsed), (*db.Time)(&expires), (*db.Time)(&revoked)); err != nil {
		return APIKey{}, err
	}
	if err := json.Unmarshal([]byte(scopes), &k.Scopes); err != nil {
		return APIKey{}, fmt.Errorf("api key %s: scopes: %w", k.ID, err)
	}
	k.Mode = Mode(mode)
	k.LastUsedAt, k.ExpiresAt, k.RevokedAt = optional(lastUsed), optional(expires), optional(revoked)
	return k, nil
}

func optional(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func optionalTime(t *time.Time) db.Time {
	if t == nil {
		return db.Time{}
	}
	return db.Time(*t)
}

func (store) insert(ctx context.Context, q db.Querier, k APIKey, tokenHash string) error {
	scopes, err := json.Marshal(k.Scopes)
	if err != nil {
		return err
	}
	_, err = q.ExecContext(ctx, `INSERT INTO api_keys (id, workspace_id, name, token_hash, prefix, last_four, scopes, mode, created_by, created_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		k.ID, k.WorkspaceID, k.Name, tokenHash, k.Prefix, k.LastFour, string(scopes), string(k.Mode), k.CreatedBy,
		db.Time(k.CreatedAt), optionalTime(k.ExpiresAt))
	return err
}

// get returns the workspace's key; sql.ErrNoRows when there is none (or it is another's).
func (store) get(ctx context.Context, q db.Querier, wsID, keyID string) (APIKey, error) {
	return scanKey(q.QueryRowContext(ctx, `SELECT `+keyCols+` FROM api_keys WHERE workspace_id = $1 AND id = $2`, wsID, keyID))
}

// list returns the workspace's keys, revoked ones included, newest first, with IDs below beforeID.
func (store) list(ctx context.Context, q db.Querier, wsID, beforeID string, limit int) ([]APIKey, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+keyCols+` FROM api_keys
WHERE workspace_id = $1 AND ($2 = '' OR id < $2) ORDER BY id DESC LIMIT $3`, wsID, beforeID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []APIKey
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// revoke marks the workspace's key revoked; ok is false when it was already revoked or does not
// exist in the workspace.
func (store) revoke(ctx context.Context, q db.Querier, wsID, keyID string, now time.Time) (bool, error) {
	res, err := q.ExecContext(ctx, `UPDATE api_keys SET revoked_at = $3 WHERE workspace_id = $1 AND id = $2 AND revoked_at IS NULL`,
		wsID, keyID, db.Time(now))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// touch records a use of the workspace's key at now unless one was recorded less than
// a minute before (the caller checks first; the condition here stops concurrent writers).
func (store) touch(ctx context.Context, q db.Querier, wsID, keyID string, now time.Time) error {
	_, err := q.ExecContext(ctx, `UPDATE api_keys SET last_used_at = $3
WHERE workspace_id = $1 AND id = $2 AND (last_used_at IS NULL OR last_used_at <= $4)`,
		wsID, keyID, db.Time(now), db.Millis(now.Add(-time.Minute)))
	return err
}

// byHash finds a key by the hash of its token, in any workspace. It is the one store method
// without a workspace ID: authentication uses it to learn the workspace the token belongs to,
// and the principal it builds is confined to that workspace.
func (store) byHash(ctx context.Context, q db.Querier, tokenHash string) (APIKey, error) {
	return scanKey(q.QueryRowContext(ctx, `SELECT `+keyCols+` FROM api_keys WHERE token_hash = $1`, tokenHash))
}
