package workspace

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/parleyhq/parley/internal/platform/authz"
	"github.com/parleyhq/parley/internal/platform/db"
)

type store struct{}

const wsCols = `w.id, w.name, w.slug, w.timezone, w.created_at, w.updated_at`

func scanWorkspace(sc interface{ Scan(...any) error }, w *Workspace, extra ...any) error {
	return sc.Scan(append([]any{&w.ID, &w.Name, &w.Slug, &w.Timezone, (*db.Time)(&w.CreatedAt), (*db.Time)(&w.UpdatedAt)}, extra...)...)
}

// insert creates the workspace; ok is false when the slug is taken.
func (store) insert(ctx context.Context, q db.Querier, w Workspace) (bool, error) {
	res, err := q.ExecContext(ctx, `INSERT INTO workspaces (id, name, slug, timezone, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)
ON CONFLICT (slug) DO NOTHING`, w.ID, w.Name, w.Slug, w.Timezone, db.Time(w.CreatedAt))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func (store) addMember(ctx context.Context, q db.Querier, wsID, userID string, role authz.Role, now time.Time) error {
	_, err := q.ExecContext(ctx, `INSERT INTO workspace_members (workspace_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)`,
		wsID, userID, string(role), db.Time(now))
	return err
}

// role is the user's role in the workspace; ok is false when the user is not a member.
func (store) role(ctx context.Context, q db.Querier, wsID, userID string) (authz.Role, bool, error) {
	var r string
	err := q.QueryRowContext(ctx, `SELECT role FROM workspace_members WHERE workspace_id = $1 AND user_id = $2`, wsID, userID).Scan(&r)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	return authz.Role(r), err == nil, err
}

func (store) get(ctx context.Context, q db.Querier, wsID string) (Workspace, error) {
	var w Workspace
	err := scanWorkspace(q.QueryRowContext(ctx, `SELECT `+wsCols+` FROM workspaces w WHERE w.id = $1`, wsID), &w)
	return w, err
}

// listForUser lists the user's workspaces, newest first, with IDs below beforeID.
func (store) listForUser(ctx context.Context, q db.Querier, userID, beforeID string, limit int) ([]Membership, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+wsCols+`, m.role FROM workspaces w JOIN workspace_members m ON m.workspace_id = w.id
WHERE m.user_id = $1 AND ($2 = '' OR w.id < $2) ORDER BY w.id DESC LIMIT $3`, userID, beforeID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Membership
	for rows.Next() {
		var m Membership
		var role string
		if err := scanWorkspace(rows, &m.Workspace, &role); err != nil {
			return nil, err
		}
		m.Role = authz.Role(role)
		out = append(out, m)
	}
	return out, rows.Err()
}

// listAll lists every workspace, newest first (operator CLI).
func (store) listAll(ctx context.Context, q db.Querier, limit int) ([]Workspace, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+wsCols+` FROM workspaces w ORDER BY w.id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Workspace
	for rows.Next() {
		var w Workspace
		if err := scanWorkspace(rows, &w); err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

func (store) members(ctx context.Context, q db.Querier, wsID string) ([]Member, error) {
	rows, err := q.QueryContext(ctx, `SELECT u.id, u.email, u.name, m.role, m.created_at FROM workspace_members m JOIN users u ON u.id = m.user_id
WHERE m.workspace_id = $1 ORDER BY m.created_at, u.id`, wsID)
	return scanMembers(rows, err)
}

// scanMembers reads rows of (user id, email, name, role, joined at) and closes them.
func scanMembers(rows *sql.Rows, err error) ([]Member, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Member
	for rows.Next() {
		var m Member
		var role string
		if err := rows.Scan(&m.UserID, &m.Email, &m.Name, &role, (*db.Time)(&m.JoinedAt)); err != nil {
			return nil, err
		}
		m.Role = authz.Role(role)
		out = append(out, m)
	}
	return out, rows.Err()
}

func (store) update(ctx context.Context, q db.Querier, w Workspace) error {
	_, err := q.ExecContext(ctx, `UPDATE workspaces SET name = $2, timezone = $3, updated_at = $4 WHERE id = $1`, w.ID, w.Name, w.Timezone, db.Time(w.UpdatedAt))
	return err
}

// delete removes the workspace and, through ON DELETE CASCADE, everything it owns; its audit
// entries (which have no foreign key, so the deletion itself can be recorded) go explicitly.
func (store) delete(ctx context.Context, q db.Querier, wsID string) (bool, error) {
	if _, err := q.ExecContext(ctx, `DELETE FROM audit_log WHERE workspace_id = $1`, wsID); err != nil {
		return false, err
	}
	res, err := q.ExecContext(ctx, `DELETE FROM workspaces WHERE id = $1`, wsID)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}
