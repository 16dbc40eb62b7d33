package workspace

import (
	"context"
	"database/sql"
	"errors"

	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/audit"
	"github.com/parleyhq/parley/internal/platform/authz"
	"github.com/parleyhq/parley/internal/platform/events"
)

// Transfer is the outcome of an ownership transfer.
type Transfer struct {
	Owner         Member `json:"owner" doc:"The new owner."`
	PreviousOwner Member `json:"previousOwner" doc:"The former owner, now an admin."`
}

// TransferOwnership makes another member the owner and the caller an admin, in one transaction
// (owner only). Errors: Forbidden insufficient_role (not the owner), NotFound (not a member of the
// workspace), Invalid validation_failed on body.userId (the user is not a member of this
// workspace — whether or not they exist elsewhere — or is the caller).
func (s *Service) TransferOwnership(ctx context.Context, wsID, userID string) (Transfer, error) {
	p, err := authz.Require(ctx, wsID, authz.OwnershipTransfer)
	if err != nil {
		return Transfer{}, err
	}
	if p.Kind != authz.KindUser {
		// The system principal (operator CLI) has no membership to hand over.
		return Transfer{}, authz.ErrUnauthenticated
	}
	if userID == p.UserID {
		return Transfer{}, apierr.Validation(apierr.FieldError{Location: "body.userId", Message: "you already own this workspace; name another member", Value: userID})
	}
	now := s.now()
	var t Transfer
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		var err error
		t.Owner, err = s.st.member(ctx, tx, wsID, userID)
		if errors.Is(err, sql.ErrNoRows) {
			return notAMember(userID)
		}
		if err != nil {
			return err
		}
		// Demote first, then promote: the partial unique index allows one owner at a time.
		ok, err := s.st.demoteOwner(ctx, tx, wsID, p.UserID)
		if err != nil {
			return err
		}
		if !ok {
			// Ownership moved since the request was authorised.
			return apierr.New(apierr.Forbidden, "insufficient_role", "only the owner may transfer ownership")
		}
		if ok, err = s.st.promoteOwner(ctx, tx, wsID, userID); err != nil {
			return err
		}
		if !ok {
			return notAMember(userID)
		}
		if t.Owner, err = s.st.member(ctx, tx, wsID, userID); err != nil {
			return err
		}
		if t.PreviousOwner, err = s.st.member(ctx, tx, wsID, p.UserID); err != nil {
			return err
		}
		if err := audit.Record(ctx, tx, now, audit.Entry{WorkspaceID: wsID, Action: "workspace.ownership_transferred", ResourceType: "workspace", ResourceID: wsID,
			Changes: []string{"owner"}}); err != nil {
			return err
		}
		_, err = events.Publish(ctx, tx, events.Event{WorkspaceID: wsID, Type: "workspace.ownership_transferred", CreatedAt: now,
			Data: map[string]any{"ownerId": userID, "previousOwnerId": p.UserID}})
		return err
	})
	if err != nil {
		return Transfer{}, err
	}
	p.Forget(wsID)
	return t, nil
}

// notAMember is the answer to a transfer to someone who is not a member: a bad reference in the
// body (422), which says nothing about whether the user exists.
func notAMember(userID string) error {
	return apierr.Validation(apierr.FieldError{Location: "body.userId", Message: "not a member of this workspace; invite them first", Value: userID})
}
