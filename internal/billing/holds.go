package billing

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/id"
)

// DefaultHoldTTL is a hold's lifetime when Reserve is given none.
const DefaultHoldTTL = 15 * time.Minute

// ReserveInput is what a reservation takes.
type ReserveInput struct {
	WorkspaceID string
	// Reference names the hold in the workspace (e.g. the call ID); it is also the idempotency
	// key of the reservation.
	Reference string
	Amount    int64
	// TTL is how long the hold lives unless extended or resolved (default DefaultHoldTTL).
	TTL time.Duration
}

// Reserve moves credits from available to held under a new hold (trusted callers only). The same
// reference and input again returns the same hold; another input is 409 idempotency_conflict.
// Errors: Forbidden, Invalid, PaymentRequired (insufficient_credits: nothing is held), Conflict.
func (s *Service) Reserve(ctx context.Context, in ReserveInput) (Hold, error) {
	var out Hold
	err := s.db.Tx(ctx, func(tx *sql.Tx) (err error) {
		out, err = s.ReserveTx(ctx, tx, in)
		return err
	})
	return out, err
}

// ReserveTx is Reserve inside the caller's transaction (a call's start, which also writes the
// call): the hold exists exactly when the transaction commits. Like every Tx function it may be
// run again if the transaction is retried.
func (s *Service) ReserveTx(ctx context.Context, tx *sql.Tx, in ReserveInput) (Hold, error) {
	if _, err := requireTrusted(ctx); err != nil {
		return Hold{}, err
	}
	if err := validKey("reference", in.Reference); err != nil {
		return Hold{}, err
	}
	if err := validAmount("amount", in.Amount); err != nil {
		return Hold{}, err
	}
	if in.TTL <= 0 {
		in.TTL = DefaultHoldTTL
	}
	now := s.now()
	h := Hold{ID: id.New(id.Hold), WorkspaceID: in.WorkspaceID, Reference: in.Reference, AmountMicros: in.Amount,
		ReservedMicros: in.Amount, Status: HoldActive, ExpiresAt: now.Add(in.TTL), CreatedAt: now, UpdatedAt: now}
	op := operation{wsID: in.WorkspaceID, key: "reserve:" + in.Reference, hash: hashInput(KindReserve, in.Amount, in.TTL), actor: actorOf(ctx), now: now,
		legs: []leg{{kind: KindReserve, from: Available, to: Held, amount: in.Amount, holdID: h.ID, reference: in.Reference}}}
	res, err := s.postOnce(ctx, tx, op)
	if err != nil {
		return Hold{}, err
	}
	if res.Replayed {
		return s.st.hold(ctx, tx, in.WorkspaceID, in.Reference)
	}
	return h, s.st.insertHold(ctx, tx, h)
}

// ExtendInput is what extending a hold takes.
type ExtendInput struct {
	WorkspaceID string
	Reference   string
	Amount      int64
	// Key makes the extension idempotent (e.g. "minute-3"); unique per hold.
	Key string
	// TTL, when positive, moves the hold's expiry to now + TTL.
	TTL time.Duration
}

// Extend adds credits to a live hold (trusted callers only). A refusal (insufficient_credits)
// tells a call to end. Errors: Forbidden, Invalid, NotFound (no such hold), PaymentRequired,
// Conflict (hold_not_active, idempotency_conflict).
func (s *Service) Extend(ctx context.Context, in ExtendInput) (Hold, error) {
	var out Hold
	err := s.db.Tx(ctx, func(tx *sql.Tx) (err error) {
		out, err = s.ExtendTx(ctx, tx, in)
		return err
	})
	return out, err
}

// ExtendTx is Extend inside the caller's transaction.
func (s *Service) ExtendTx(ctx context.Context, tx *sql.Tx, in ExtendInput) (Hold, error) {
	if _, err := requireTrusted(ctx); err != nil {
		return Hold{}, err
	}
	if err := validKey("reference", in.Reference); err != nil {
		return Hold{}, err
	}
	if err := validKey("key", in.Key); err != nil {
		return Hold{}, err
	}
	if err := validAmount("amount", in.Amount); err != nil {
		return Hold{}, err
	}
	now := s.now()
	var expires time.Time
	if in.TTL > 0 {
		expires = now.Add(in.TTL)
	}
	h, err := s.st.hold(ctx, tx, in.WorkspaceID, in.Reference)
	if errors.Is(err, sql.ErrNoRows) {
		return Hold{}, apierr.NotFoundf("hold")
	}
	if err != nil {
		return Hold{}, err
	}
	op := operation{wsID: in.WorkspaceID, key: "extend:" + in.Reference + ":" + in.Key, hash: hashInput(KindExtend, in.Amount, in.TTL),
		actor: actorOf(ctx), now: now,
		legs: []leg{{kind: KindExtend, from: Available, to: Held, amount: in.Amount, holdID: h.ID, reference: in.Reference}}}
	res, err := s.postOnce(ctx, tx, op)
	if err != nil {
		return Hold{}, err
	}
	if !res.Replayed {
		ok, err := s.st.extendHold(ctx, tx, in.WorkspaceID, in.Reference, in.Amount, expires, now)
		if err != nil {
			return Hold{}, err
		}
		if !ok {
			return Hold{}, errHoldNotActive
		}
	}
	return s.st.hold(ctx, tx, in.WorkspaceID, in.Reference)
}

// Settle resolves a hold with its actual cost: actual goes held → revenue, the rest held →
// available (trusted callers only). actual may be zero and may not exceed what the hold holds.
// Settling again with the same actual returns the same hold. Errors: Forbidden, Invalid
// (exceeds_hold), NotFound, Conflict (hold_not_active, idempotency_conflict).
func (s *Service) Settle(ctx context.Context, wsID, ref string, actual int64) (Hold, error) {
	if actual < 0 {
		return Hold{}, apierr.Validation(apierr.FieldError{Location: "body.actual", Message: "actual must not be negative", Value: actual})
	}
	return s.resolve(ctx, wsID, ref, HoldSettled, actual, time.Time{})
}

// Release resolves a hold by returning everything it holds to available (trusted callers
// only). Errors: as Settle.
func (s *Service) Release(ctx context.Context, wsID, ref string) (Hold, error) {
	return s.resolve(ctx, wsID, ref, HoldReleased, 0, time.Time{})
}

// Expire returns an active hold whose expiry has passed to available (trusted callers only: the
// expiry job). ok is false when the hold is not due or no longer active.
func (s *Service) Expire(ctx context.Context, wsID, ref string) (bool, error) {
	_, err := s.resolve(ctx, wsID, ref, HoldExpired, 0, s.now())
	if errors.Is(err, errHoldNotActive) || errors.Is(err, errNotDue) {
		return false, nil
	}
	return err == nil, err
}

var errNotDue = errors.New("billing: hold not due")

func (s *Service) resolve(ctx context.Context, wsID, ref, status string, actual int64, dueBy time.Time) (Hold, error) {
	var out Hold
	err := s.db.Tx(ctx, func(tx *sql.Tx) (err error) {
		out, err = s.resolveTx(ctx, tx, wsID, ref, status, actual, dueBy)
		return err
	})
	return out, err
}

// SettleTx is Settle inside the caller's transaction (a call's end, which also writes the call).
func (s *Service) SettleTx(ctx context.Context, tx *sql.Tx, wsID, ref string, actual int64) (Hold, error) {
	if actual < 0 {
		return Hold{}, apierr.Validation(apierr.FieldError{Location: "body.actual", Message: "actual must not be negative", Value: actual})
	}
	return s.resolveTx(ctx, tx, wsID, ref, HoldSettled, actual, time.Time{})
}

func (s *Service) resolveTx(ctx context.Context, tx *sql.Tx, wsID, ref, status string, actual int64, dueBy time.Time) (Hold, error) {
	if _, err := requireTrusted(ctx); err != nil {
		return Hold{}, err
	}
	if err := validKey("reference", ref); err != nil {
		return Hold{}, err
	}
	now := s.now()
	key := "resolve:" + ref
	hash := hashInput(status, actual)
	var out Hold
	err := func() error {
		holdID, held, ok, err := s.st.resolveHold(ctx, tx, wsID, ref, status, actual, actual, dueBy, now)
		if err != nil {
			return err
		}
		if !ok {
			h, err := s.st.hold(ctx, tx, wsID, ref)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				return apierr.NotFoundf("hold")
			case err != nil:
				return err
			case h.Status == HoldActive && h.ReservedMicros < actual:
				return errExceedsHold
			case h.Status == HoldActive:
				return errNotDue
			}
			if _, err := s.replay(ctx, tx, wsID, key, hash); errors.Is(err, errConflict) {
				return errHoldNotActive
			} else if err != nil {
				return err
			}
			out = h
			return nil
		}
		var legs []leg
		if actual > 0 {
			legs = append(legs, leg{kind: KindSettle, from: Held, to: Revenue, amount: actual, holdID: holdID, reference: ref})
		}
		if rest := held - actual; rest > 0 {
			kind := KindRelease
			if status == HoldExpired {
				kind = KindExpire
			}
			legs = append(legs, leg{kind: kind, from: Held, to: Available, amount: rest, holdID: holdID, reference: ref})
		}
		if len(legs) > 0 {
			if _, err := s.postOnce(ctx, tx, operation{wsID: wsID, key: key, hash: hash, actor: actorOf(ctx), now: now, legs: legs}); err != nil {
				return err
			}
		}
		out, err = s.st.hold(ctx, tx, wsID, ref)
		return err
	}()
	return out, err
}

// ExpireDue expires every hold due by now, up to limit, and returns how many it expired
// (trusted callers only: the expiry job).
func (s *Service) ExpireDue(ctx context.Context, limit int) (int, error) {
	if _, err := requireTrusted(ctx); err != nil {
		return 0, err
	}
	due, err := s.st.dueHolds(ctx, s.db.Read, s.now(), limit)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, h := range due {
		ok, err := s.Expire(ctx, h.WorkspaceID, h.Reference)
		if err != nil {
			return n, err
		}
		if ok {
			n++
		}
	}
	return n, nil
}
