package workspace

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/audit"
	"github.com/parleyhq/parley/internal/platform/authz"
	"github.com/parleyhq/parley/internal/platform/db"
	"github.com/parleyhq/parley/internal/platform/events"
	"github.com/parleyhq/parley/internal/platform/page"
)

// ListMembers returns a page of the workspace's members, newest first (any member).
// Errors: NotFound for non-members, Invalid for a bad cursor.
func (s *Service) ListMembers(ctx context.Context, wsID, cursor string, limit int) (page.Page[Member], error) {
	if _, err := authz.Require(ctx, wsID, authz.MembersView); err != nil {
		return page.Page[Member]{}, err
	}
	limit = page.Limit(limit)
	after, err := decodeMemberCursor(cursor)
	if err != nil {
		return page.Page[Member]{}, err
	}
	rows, err := s.st.listMembers(ctx, s.db.Read, wsID, after, limit+1)
	if err != nil {
		return page.Page[Member]{}, err
	}
	return page.Of(rows, limit, func(m Member) string {
		return strconv.FormatInt(db.Millis(m.JoinedAt), 10) + "." + m.UserID
	}), nil
}

func decodeMemberCursor(cursor string) (memberCursor, error) {
	raw, err := page.Decode(cursor)
	if err != nil || raw == "" {
		return memberCursor{}, err
	}
	ms, userID, ok := strings.Cut(raw, ".")
	n, perr := strconv.ParseInt(ms, 10, 64)
	if !ok || perr != nil || userID == "" {
		return memberCursor{}, apierr.Validation(apierr.FieldError{Location: "query.cursor", Message: "not a valid cursor", Value: cursor})
	}
	return memberCursor{joinedAt: time.UnixMilli(n).UTC(), userID: userID}, nil
}

// GetMember returns one member (any member). Errors: NotFound.
func (s *Service) GetMember(ctx context.Context, wsID, userID string) (Member, error) {
	if _, err := authz.Require(ctx, wsID, authz.MembersView); err != nil {
		return Member{}, err
	}
	m, err := s.st.member(ctx, s.db.Read, wsID, userID)
	if errors.Is(err, sql.ErrNoRows) {
		return Member{}, memberNotFound()
	}
	return m, err
}

// ChangeRole sets a member's role to admin or member (owner, admin). Nobody is made owner this
// way (Invalid ownership_transfer_required), and the owner's own role changes only by transfer:
// an admin who tries gets Forbidden owner_protected, the owner Invalid ownership_transfer_required.
// Errors: NotFound (not a member), Forbidden insufficient_role.
func (s *Service) ChangeRole(ctx context.Context, wsID, userID string, role authz.Role) (Member, error) {
	p, err := authz.Require(ctx, wsID, authz.MembersManage)
	if err != nil {
		return Member{}, err
	}
	if role == authz.Owner {
		return Member{}, errTransferRequired
	}
	if !role.Valid() {
		return Member{}, apierr.Validation(apierr.FieldError{Location: "body.role", Message: "role must be admin or member", Value: string(role)})
	}
	now := s.now()
	var m Member
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		var err error
		m, err = s.st.member(ctx, tx, wsID, userID)
		if errors.Is(err, sql.ErrNoRows) {
			return memberNotFound()
		}
		if err != nil {
			return err
		}
		if m.Role == authz.Owner {
			if userID == p.UserID {
				return errTransferRequired
			}
			return errOwnerProtected
		}
		if m.Role == role {
			return nil
		}
		ok, err := s.st.setRole(ctx, tx, wsID, userID, role)
		if err != nil {
			return err
		}
		if !ok {
			return errMembershipChanged
		}
		previous := m.Role
		m.Role = role
		if err := audit.Record(ctx, tx, now, audit.Entry{WorkspaceID: wsID, Action: "member.role_changed", ResourceType: "member", ResourceID: userID, Changes: []string{"role"}}); err != nil {
			return err
		}
		_, err = events.Publish(ctx, tx, events.Event{WorkspaceID: wsID, Type: "member.role_changed", CreatedAt: now,
			Data: map[string]any{"member": m, "previousRole": previous}})
		return err
	})
	if err != nil {
		return Member{}, err
	}
	p.Forget(wsID)
	return m, nil
}

var errMembershipChanged = apierr.New(apierr.Conflict, "membership_changed", "the membership changed meanwhile; reload and try again")

// RemoveMember removes a member from the workspace (owner, admin); they lose access on their
// very next request, their sessions stay. Removing yourself is leaving (see Leave). The owner
// cannot be removed: an admin gets Forbidden owner_protected, the owner Conflict owner_cannot_leave.
// Errors: NotFound (not a member), Forbidden insufficient_role.
func (s *Service) RemoveMember(ctx context.Context, wsID, userID string) error {
	p, err := authz.Require(ctx, wsID, authz.MembersManage)
	if err != nil {
		return err
	}
	if userID == p.UserID {
		return s.leave(ctx, p, wsID)
	}
	now := s.now()
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		m, err := s.st.member(ctx, tx, wsID, userID)
		if errors.Is(err, sql.ErrNoRows) {
			return memberNotFound()
		}
		if err != nil {
			return err
		}
		if m.Role == authz.Owner {
			return errOwnerProtected
		}
		ok, err := s.st.removeMember(ctx, tx, wsID, userID)
		if err != nil {
			return err
		}
		if !ok {
			return errMembershipChanged
		}
		if err := audit.Record(ctx, tx, now, audit.Entry{WorkspaceID: wsID, Action: "member.removed", ResourceType: "member", ResourceID: userID}); err != nil {
			return err
		}
		_, err = events.Publish(ctx, tx, events.Event{WorkspaceID: wsID, Type: "member.removed", CreatedAt: now,
			Data: map[string]any{"member": m, "reason": "removed"}})
		return err
	})
}

// Leave takes the signed-in user out of the workspace (any member but the owner, who gets
// Conflict owner_cannot_leave and must transfer ownership first). Errors: NotFound.
func (s *Service) Leave(ctx context.Context, wsID string) error {
	p, err := authz.Require(ctx, wsID, authz.MembersView)
	if err != nil {
		return err
	}
	if p.Kind != authz.KindUser {
		return authz.ErrUnauthenticated
	}
	return s.leave(ctx, p, wsID)
}

func (s *Service) leave(ctx context.Context, p *authz.Principal, wsID string) error {
	now := s.now()
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		m, err := s.st.member(ctx, tx, wsID, p.UserID)
		if errors.Is(err, sql.ErrNoRows) {
			return apierr.NotFoundf("workspace")
		}
		if err != nil {
			return err
		}
		if m.Role == authz.Owner {
			return errOwnerCannotLeave
		}
		ok, err := s.st.removeMember(ctx, tx, wsID, p.UserID)
		if err != nil {
			return err
		}
		if !ok {
			return errMembershipChanged
		}
		if err := audit.Record(ctx, tx, now, audit.Entry{WorkspaceID: wsID, Action: "member.left", ResourceType: "member", ResourceID: p.UserID}); err != nil {
			return err
		}
		_, err = events.Publish(ctx, tx, events.Event{WorkspaceID: wsID, Type: "member.removed", CreatedAt: now,
			Data: map[string]any{"member": m, "reason": "left"}})
		return err
	})
	if err == nil {
		p.Forget(wsID)
	}
	return err
}
