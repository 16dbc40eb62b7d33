package billing

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/audit"
	"github.com/parleyhq/parley/internal/platform/authz"
	"github.com/parleyhq/parley/internal/platform/events"
	"github.com/parleyhq/parley/internal/platform/id"
)

// MaxReasonLength bounds the reason of a transfer.
const MaxReasonLength = 500

// TransferInput is what a transfer between two workspaces takes.
type TransferInput struct {
	ToWorkspaceID string
	// Amount in micro-credits, more than zero.
	Amount int64
	Reason string
	// Key, when not empty, makes the transfer idempotent in the ledger (the Idempotency-Key of
	// the request); empty: a new transfer each time.
	Key string
}

// WorkspaceTransfer is a transfer of credits between two workspaces: two ledger legs under one
// idempotency key, transfer_out in the source and transfer_in in the target.
type WorkspaceTransfer struct {
	ID              string      `json:"id" doc:"The transfer's idempotency key in both ledgers."`
	FromWorkspaceID string      `json:"fromWorkspaceId"`
	ToWorkspaceID   string      `json:"toWorkspaceId"`
	Amount          string      `json:"amount" example:"25"`
	AmountMicros    int64       `json:"amountMicros" example:"25000000"`
	Reason          string      `json:"reason,omitempty"`
	Out             LedgerEntry `json:"out" doc:"The source's ledger leg (available → grants)."`
	In              LedgerEntry `json:"in" doc:"The target's ledger leg (grants → available)."`
	// Replayed: the key was used before with the same input; this is the first transfer.
	Replayed  bool      `json:"replayed"`
	CreatedAt time.Time `json:"createdAt"`
}

var (
	errSameWorkspace = apierr.Validation(apierr.FieldError{Location: "body.toWorkspaceId", Message: "a transfer goes to another workspace"})
)

// Transfer moves credits from the workspace's available balance to another workspace's, both
// owned by the caller (authz.BillingManage on both; the target answers 404 to anyone who does
// not own it, as a workspace one cannot see). It is one transaction: transfer_out (available →
// grants) in the source and transfer_in (grants → available) in the target, with the same
// idempotency key, an audit entry in each workspace (credits.transferred_out /
// credits.transferred_in) and credits.added in the target. Expiring credits are spent first (see
// doc.go) and keep their expiry in the target. Errors: NotFound, Forbidden, Invalid,
// PaymentRequired (insufficient_credits: nothing moved), Conflict (idempotency_conflict).
func (s *Service) Transfer(ctx context.Context, fromWS string, in TransferInput) (WorkspaceTransfer, error) {
	if _, err := authz.Require(ctx, fromWS, authz.BillingManage); err != nil {
		return WorkspaceTransfer{}, err
	}
	if !strings.HasPrefix(in.ToWorkspaceID, id.Workspace+"_") {
		return WorkspaceTransfer{}, apierr.Validation(apierr.FieldError{Location: "body.toWorkspaceId", Message: "not a workspace ID (ws_…)", Value: in.ToWorkspaceID})
	}
	if in.ToWorkspaceID == fromWS {
		return WorkspaceTransfer{}, errSameWorkspace
	}
	if _, err := authz.Require(ctx, in.ToWorkspaceID, authz.BillingManage); err != nil {
		if errors.Is(err, authz.ErrUnauthenticated) {
			return WorkspaceTransfer{}, err
		}
		return WorkspaceTransfer{}, apierr.NotFoundf("workspace")
	}
	if err := validAmount("amount", in.Amount); err != nil {
		return WorkspaceTransfer{}, err
	}
	if len(in.Reason) > MaxReasonLength {
		return WorkspaceTransfer{}, apierr.Validation(apierr.FieldError{Location: "body.reason", Message: "at most 500 characters"})
	}
	key := "transfer:" + id.New(id.Transfer)
	if in.Key != "" {
		// The caller's key, scoped to the caller (two people's keys never meet).
		key = "transfer:" + hashInput(actorOf(ctx), in.Key)
	}
	hash := hashInput(fromWS, in.ToWorkspaceID, in.Amount, in.Reason)
	var out WorkspaceTransfer
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = s.transferTx(ctx, tx, fromWS, in, key, hash)
		return err
	})
	return out, err
}

func (s *Service) transferTx(ctx context.Context, tx *sql.Tx, fromWS string, in TransferInput, key, hash string) (WorkspaceTransfer, error) {
	now, actor := s.now(), actorOf(ctx)
	wt := WorkspaceTransfer{ID: key, FromWorkspaceID: fromWS, ToWorkspaceID: in.ToWorkspaceID, Amount: FormatCredits(in.Amount),
		AmountMicros: in.Amount, Reason: in.Reason, CreatedAt: now}
	var carried []lotPortion
	outOp := operation{wsID: fromWS, key: key, hash: hash, actor: actor, now: now, consumed: &carried,
		legs: []leg{{kind: KindTransferOut, from: Available, to: Grants, amount: in.Amount, reference: in.ToWorkspaceID, reason: in.Reason}}}
	inOp := operation{wsID: in.ToWorkspaceID, key: key, hash: hash, actor: actor, now: now,
		legs: []leg{{kind: KindTransferIn, from: Grants, to: Available, amount: in.Amount, reference: fromWS, reason: in.Reason}}}
	// The two workspaces' rows are written in the order of their IDs, so two opposite transfers
	// never wait for each other's locks in a cycle.
	ops := []*operation{&outOp, &inOp}
	if in.ToWorkspaceID < fromWS {
		ops = []*operation{&inOp, &outOp}
	}
	for _, op := range ops {
		ts, err := s.st.post(ctx, tx, *op)
		if errors.Is(err, errReplay) {
			// Written before under this key: the first result, or a conflict.
			first, err := s.replay(ctx, tx, fromWS, key, hash)
			if err != nil {
				return WorkspaceTransfer{}, err
			}
			second, err := s.replay(ctx, tx, in.ToWorkspaceID, key, hash)
			if err != nil {
				return WorkspaceTransfer{}, err
			}
			wt.Out, wt.In, wt.Replayed, wt.CreatedAt = first.Transfers[0], second.Transfers[0], true, first.Transfers[0].CreatedAt
			return wt, nil
		}
		if err != nil {
			return WorkspaceTransfer{}, err
		}
		if op == &outOp {
			wt.Out = ts[0]
		} else {
			wt.In = ts[0]
		}
	}
	// Expiring credits keep their expiry in the target.
	for _, p := range carried {
		if err := s.st.addLot(ctx, tx, in.ToWorkspaceID, wt.In.ID, p.amount, p.expiresAt, now); err != nil {
			return WorkspaceTransfer{}, err
		}
	}
	for _, e := range []audit.Entry{
		{WorkspaceID: fromWS, Action: "credits.transferred_out", ResourceType: "transfer", ResourceID: wt.Out.ID, Changes: []string{"available"}},
		{WorkspaceID: in.ToWorkspaceID, Action: "credits.transferred_in", ResourceType: "transfer", ResourceID: wt.In.ID, Changes: []string{"available"}},
	} {
		if err := audit.Record(ctx, tx, now, e); err != nil {
			return WorkspaceTransfer{}, err
		}
	}
	_, err := events.Publish(ctx, tx, events.Event{WorkspaceID: in.ToWorkspaceID, Type: "credits.added", CreatedAt: now,
		Data: map[string]any{"transfer": wt.In, "amount": wt.Amount, "amountMicros": wt.AmountMicros, "kind": KindTransferIn, "fromWorkspaceId": fromWS}})
	return wt, err
}
