package workspace

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"time"

	"github.com/parleyhq/parley/internal/platform/authz"
	"github.com/parleyhq/parley/internal/platform/db"
)

// The team's SQL: memberships and invitations. Every method takes the workspace ID and puts it in
// its WHERE clause, except invitationByTokenHash: an invitation link names no workspace, so the
// accept, decline and preview paths find the invitation by the SHA-256 of its token (a unique
// index) and then use the workspace ID stored on it for everything that follows.

// member returns one membership; sql.ErrNoRows when the user is not a member of the workspace.
func (store) member(ctx context.Context, q db.Querier, wsID, userID string) (Member, error) {
	var m Member
	var role string
	err := q.QueryRowContext(ctx, `SELECT u.id, u.email, u.name, m.role, m.created_at FROM workspace_members m JOIN users u ON u.id = m.user_id
WHERE m.workspace_id = $1 AND m.user_id = $2`, wsID, userID).Scan(&m.UserID, &m.Email, &m.Name, &role, (*db.Time)(&m.JoinedAt))
	m.Role = authz.Role(role)
	return m, err
}

// memberCursor is the position after which a page of members continues (newest first).
type memberCursor struct {
	joinedAt time.Time
	userID   string
}

// listMembers lists the workspace's members, newest first (by join time, then user ID), after
// the cursor (zero: from the newest).
func (store) listMembers(ctx context.Context, q db.Querier, wsID string, after memberCursor, limit int) ([]Member, error) {
	before := int64(math.MaxInt64)
	if after.userID != "" {
		before = db.Millis(after.joinedAt)
	}
	rows, err := q.QueryContext(ctx, `SELECT u.id, u.email, u.name, m.role, m.created_at FROM workspace_members m JOIN users u ON u.id = m.user_id
WHERE m.workspace_id = $1 AND (m.created_at < $2 OR (m.created_at = $2 AND m.user_id < $3))
ORDER BY m.created_at DESC, m.user_id DESC LIMIT $4`, wsID, before, after.userID, limit)
	return scanMembers(rows, err)
}

// memberByEmail reports whether a user with the email key is a member of the workspace.
func (store) memberByEmail(ctx context.Context, q db.Querier, wsID, emailKey string) (bool, error) {
	var one int
	err := q.QueryRowContext(ctx, `SELECT 1 FROM workspace_members m JOIN users u ON u.id = m.user_id
WHERE m.workspace_id = $1 AND u.email_normalized = $2`, wsID, emailKey).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// setRole changes a non-owner's role to admin or member; ok is false when no such non-owner
// membership exists. The owner's row is never touched here (transfer is the only way).
func (store) setRole(ctx context.Context, q db.Querier, wsID, userID string, role authz.Role) (bool, error) {
	res, err := q.ExecContext(ctx, `UPDATE workspace_members SET role = $3 WHERE workspace_id = $1 AND user_id = $2 AND role <> 'owner'`,
		wsID, userID, string(role))
	return affected(res, err)
}

// removeMember deletes a non-owner's membership; ok is false when there is none. The owner
// cannot be removed (the WHERE clause says so, whatever the caller checked before).
func (store) removeMember(ctx context.Context, q db.Querier, wsID, userID string) (bool, error) {
	res, err := q.ExecContext(ctx, `DELETE FROM workspace_members WHERE workspace_id = $1 AND user_id = $2 AND role <> 'owner'`, wsID, userID)
	return affected(res, err)
}

// demoteOwner makes the owner an admin; ok is false when userID is not the owner.
func (store) demoteOwner(ctx context.Context, q db.Querier, wsID, userID string) (bool, error) {
	res, err := q.ExecContext(ctx, `UPDATE workspace_members SET role = 'admin' WHERE workspace_id = $1 AND user_id = $2 AND role = 'owner'`, wsID, userID)
	return affected(res, err)
}

// promoteOwner makes a member the owner; the partial unique index workspace_members_one_owner
// fails it unless the previous owner was demoted first (in the same transaction).
func (store) promoteOwner(ctx context.Context, q db.Querier, wsID, userID string) (bool, error) {
	res, err := q.ExecContext(ctx, `UPDATE workspace_members SET role = 'owner' WHERE workspace_id = $1 AND user_id = $2 AND role <> 'owner'`, wsID, userID)
	return affected(res, err)
}

// userEmailKey is the normalized email of a user (users are not workspace-owned).
func (store) userEmailKey(ctx context.Context, q db.Querier, userID string) (string, error) {
	var key string
	err := q.QueryRowContext(ctx, `SELECT email_normalized FROM users WHERE id = $1`, userID).Scan(&key)
	return key, err
}

const invCols = `i.id, i.workspace_id, i.email, i.email_normalized, i.role, i.status, i.invited_by, i.send_count, i.created_at, i.sent_at, i.expires_at`

func scanInvitation(sc interface{ Scan(...any) error }, inv *Invitation, extra ...any) error {
	var role string
	err := sc.Scan(append([]any{&inv.ID, &inv.WorkspaceID, &inv.Email, &inv.emailKey, &role, &inv.Status, &inv.InvitedBy, &inv.SendCount,
		(*db.Time)(&inv.CreatedAt), (*db.Time)(&inv.SentAt), (*db.Time)(&inv.ExpiresAt)}, extra...)...)
	inv.Role = authz.Role(role)
	return err
}

// insertInvitation writes a pending invitation; ok is false when the workspace already has a
// pending invitation to the address (the partial unique index invitations_one_pending).
func (store) insertInvitation(ctx context.Context, q db.Querier, inv Invitation, tokenHash string) (bool, error) {
	res, err := q.ExecContext(ctx, `INSERT INTO invitations (id, workspace_id, email, email_normalized, role, token_hash, invited_by, status, send_count, created_at, sent_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', 1, $8, $8, $9) ON CONFLICT DO NOTHING`,
		inv.ID, inv.WorkspaceID, inv.Email, inv.emailKey, string(inv.Role), tokenHash, inv.InvitedBy, db.Time(inv.CreatedAt), db.Time(inv.ExpiresAt))
	return affected(res, err)
}

// pendingInvitationTo returns the workspace's pending invitation to the address (expired or
// not); sql.ErrNoRows when there is none.
func (store) pendingInvitationTo(ctx context.Context, q db.Querier, wsID, emailKey string) (Invitation, error) {
	var inv Invitation
	err := scanInvitation(q.QueryRowContext(ctx, `SELECT `+invCols+` FROM invitations i
WHERE i.workspace_id = $1 AND i.email_normalized = $2 AND i.status = 'pending'`, wsID, emailKey), &inv)
	return inv, err
}

// invitation returns one of the workspace's invitations; sql.ErrNoRows when it has no such one.
func (store) invitation(ctx context.Context, q db.Querier, wsID, invID string) (Invitation, error) {
	var inv Invitation
	err := scanInvitation(q.QueryRowContext(ctx, `SELECT `+invCols+` FROM invitations i WHERE i.workspace_id = $1 AND i.id = $2`, wsID, invID), &inv)
	return inv, err
}

// listPendingInvitations lists the workspace's pending, unexpired invitations, newest first, with
// IDs below beforeID.
func (store) listPendingInvitations(ctx context.Context, q db.Querier, wsID string, now time.Time, beforeID string, limit int) ([]Invitation, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+invCols+` FROM invitations i
WHERE i.workspace_id = $1 AND i.status = 'pending' AND i.expires_at > $2 AND ($3 = '' OR i.id < $3)
ORDER BY i.id DESC LIMIT $4`, wsID, db.Millis(now), beforeID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Invitation
	for rows.Next() {
		var inv Invitation
		if err := scanInvitation(rows, &inv); err != nil {
			return nil, err
		}
		out = append(out, inv)
	}
	return out, rows.Err()
}

// resendInvitation gives a pending invitation a new token and expiry (the old token stops
// working at once); ok is false when it is not pending.
func (store) resendInvitation(ctx context.Context, q db.Querier, wsID, invID, tokenHash string, now, expires time.Time) (bool, error) {
	res, err := q.ExecContext(ctx, `UPDATE invitations SET token_hash = $3, sent_at = $4, expires_at = $5, send_count = send_count + 1
WHERE workspace_id = $1 AND id = $2 AND status = 'pending'`, wsID, invID, tokenHash, db.Time(now), db.Time(expires))
	return affected(res, err)
}

// closeInvitation moves a pending invitation to status (accepted, declined, revoked or expired);
// ok is false when it is no longer pending. A live invitation — one that may be accepted or
// declined — must also be unexpired at now (zero now: expiry does not matter, as for revoking).
func (store) closeInvitation(ctx context.Context, q db.Querier, wsID, invID, status, acceptedBy string, now, liveAt time.Time) (bool, error) {
	var by any
	if acceptedBy != "" {
		by = acceptedBy
	}
	var live int64
	if !liveAt.IsZero() {
		live = db.Millis(liveAt)
	}
	res, err := q.ExecContext(ctx, `UPDATE invitations SET status = $3, closed_at = $4, accepted_by = $5
WHERE workspace_id = $1 AND id = $2 AND status = 'pending' AND expires_at > $6`, wsID, invID, status, db.Time(now), by, live)
	return affected(res, err)
}

// invitationByTokenHash finds an invitation by the hash of its token, with its workspace's name
// and its inviter's name and email — the one lookup that does not start from a workspace ID
// (see above). sql.ErrNoRows when no invitation has that token.
func (store) invitationByTokenHash(ctx context.Context, q db.Querier, tokenHash string) (invitationRecord, error) {
	var r invitationRecord
	err := scanInvitation(q.QueryRowContext(ctx, `SELECT `+invCols+`, w.name, u.name, u.email FROM invitations i
JOIN workspaces w ON w.id = i.workspace_id JOIN users u ON u.id = i.invited_by WHERE i.token_hash = $1`, tokenHash),
		&r.Invitation, &r.workspaceName, &r.inviterName, &r.inviterEmail)
	return r, err
}

// invitationRecord returns one of the workspace's invitations with the names the mail shows.
func (store) invitationRecord(ctx context.Context, q db.Querier, wsID, invID string) (invitationRecord, error) {
	var r invitationRecord
	err := scanInvitation(q.QueryRowContext(ctx, `SELECT `+invCols+`, w.name, u.name, u.email FROM invitations i
JOIN workspaces w ON w.id = i.workspace_id JOIN users u ON u.id = i.invited_by WHERE i.workspace_id = $1 AND i.id = $2`, wsID, invID),
		&r.Invitation, &r.workspaceName, &r.inviterName, &r.inviterEmail)
	return r, err
}

func affected(res sql.Result, err error) (bool, error) {
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}
