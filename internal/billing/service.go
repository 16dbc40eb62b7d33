package billing

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
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

// Errors.
var (
	errInsufficient = apierr.New(apierr.PaymentRequired, "insufficient_credits", "the workspace has too few credits available")
	// ErrInsufficientCredits is errInsufficient, for callers to compare with errors.Is.
	ErrInsufficientCredits = errInsufficient
	errConflict            = apierr.New(apierr.Conflict, "idempotency_conflict", "this idempotency key was already used with another input")
	errHoldNotActive       = apierr.New(apierr.Conflict, "hold_not_active", "the hold is already settled, released or expired")
	errExceedsHold         = apierr.New(apierr.Invalid, "exceeds_hold", "the actual cost is more than the hold holds; extend the hold first")
	errTrustedOnly         = apierr.New(apierr.Forbidden, "trusted_caller_only", "only the operator and Parley's own runtime may move credits")
)

// MaxKeyLength bounds idempotency keys and references.
const MaxKeyLength = 200

// Service is the billing service.
type Service struct {
	db  *db.DB
	st  store
	now func() time.Time
}

// NewService builds the service; now is the clock (time.Now in production).
func NewService(d *db.DB, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{db: d, now: func() time.Time { return now().UTC().Truncate(time.Millisecond) }}
}

// requireTrusted admits the system principal only (operator CLI, in-process runtime, jobs).
func requireTrusted(ctx context.Context) (*authz.Principal, error) {
	p, ok := authz.FromContext(ctx)
	if !ok {
		return nil, authz.ErrUnauthenticated
	}
	if p.Kind != authz.KindSystem {
		return nil, errTrustedOnly
	}
	return p, nil
}

func actorOf(ctx context.Context) string {
	if p, ok := authz.FromContext(ctx); ok {
		return p.ActorID()
	}
	return "system"
}

// hashInput is the fingerprint of an operation's input, compared when its key is used again.
func hashInput(parts ...any) string {
	var b strings.Builder
	for _, p := range parts {
		fmt.Fprint(&b, p)
		b.WriteByte(0)
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:16])
}

func validKey(field, key string) error {
	if key == "" || len(key) > MaxKeyLength {
		return apierr.Validation(apierr.FieldError{Location: "body." + field, Message: field + " must be 1 to " + strconv.Itoa(MaxKeyLength) + " characters", Value: key})
	}
	return nil
}

func validAmount(field string, micros int64) error {
	if micros <= 0 {
		return apierr.Validation(apierr.FieldError{Location: "body." + field, Message: field + " must be more than zero", Value: micros})
	}
	return nil
}

// postOnce posts op in tx; when its key was used before it returns the first result (Replayed)
// if the input hash matches, and 409 idempotency_conflict otherwise.
func (s *Service) postOnce(ctx context.Context, tx *sql.Tx, op operation) (Result, error) {
	ts, err := s.st.post(ctx, tx, op)
	if errors.Is(err, errReplay) {
		return s.replay(ctx, tx, op.wsID, op.key, op.hash)
	}
	if err != nil {
		return Result{}, err
	}
	return Result{Transfers: ts}, nil
}

func (s *Service) replay(ctx context.Context, q db.Querier, wsID, key, hash string) (Result, error) {
	ts, h, err := s.st.byKey(ctx, q, wsID, key)
	if err != nil {
		return Result{}, err
	}
	if h != hash {
		return Result{}, errConflict
	}
	return Result{Transfers: ts, Replayed: true}, nil
}

// GrantInput is what a grant takes.
type GrantInput struct {
	WorkspaceID string
	// Amount in micro-credits, more than zero.
	Amount int64
	// Key is the idempotency key (the CLI makes one per invocation unless given).
	Key    string
	Reason string
	// ExpiresAt, when not zero, makes the credits expire then (it must be in the future): what is
	// left of them is moved out by the expiry job (see doc.go, "Expiry").
	ExpiresAt time.Time
}

// Grant adds credits to the workspace's available account from the platform's grants account
// (trusted callers only: the operator). It writes an audit entry credits.granted and publishes
// credits.added. Errors: Forbidden, NotFound (no such workspace), Invalid, Conflict
// (idempotency_conflict).
func (s *Service) Grant(ctx context.Context, in GrantInput) (Result, error) {
	if _, err := requireTrusted(ctx); err != nil {
		return Result{}, err
	}
	if err := validAmount("amount", in.Amount); err != nil {
		return Result{}, err
	}
	if err := validKey("key", in.Key); err != nil {
		return Result{}, err
	}
	now := s.now()
	if !in.ExpiresAt.IsZero() {
		in.ExpiresAt = in.ExpiresAt.UTC().Truncate(time.Millisecond)
		if !in.ExpiresAt.After(now) {
			return Result{}, apierr.Validation(apierr.FieldError{Location: "body.expiresAt", Message: "expiresAt must be in the future", Value: in.ExpiresAt})
		}
	}
	var res Result
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		ok, err := s.st.workspaceExists(ctx, tx, in.WorkspaceID)
		if err != nil {
			return err
		}
		if !ok {
			return apierr.NotFoundf("workspace")
		}
		res, err = s.grantTx(ctx, tx, in.WorkspaceID, KindGrant, "grant:"+in.Key, in.Amount, in.Reason, in.ExpiresAt, now)
		return err
	})
	return res, err
}

// GrantWelcomeTx grants the welcome credits of a new workspace, in tx: the transaction that
// creates the workspace (workspace creation calls it; no authorisation of its own). It is
// idempotent by workspace ID. amount ≤ 0 grants nothing.
func (s *Service) GrantWelcomeTx(ctx context.Context, tx *sql.Tx, wsID string, amount int64, now time.Time) error {
	if amount <= 0 {
		return nil
	}
	_, err := s.grantTx(ctx, tx, wsID, KindWelcome, "welcome:"+wsID, amount, "welcome credits", time.Time{}, now.UTC().Truncate(time.Millisecond))
	return err
}

func (s *Service) grantTx(ctx context.Context, tx *sql.Tx, wsID, kind, key string, amount int64, reason string, expiresAt, now time.Time) (Result, error) {
	hash := hashInput(kind, amount, reason)
	if !expiresAt.IsZero() {
		hash = hashInput(kind, amount, reason, expiresAt.UnixMilli())
	}
	op := operation{wsID: wsID, key: key, hash: hash, actor: actorOf(ctx), now: now,
		legs: []leg{{kind: kind, from: Grants, to: Available, amount: amount, reason: reason}}}
	res, err := s.postOnce(ctx, tx, op)
	if err != nil || res.Replayed {
		return res, err
	}
	t := res.Transfers[0]
	if !expiresAt.IsZero() {
		if err := s.st.addLot(ctx, tx, wsID, t.ID, amount, expiresAt, now); err != nil {
			return Result{}, err
		}
	}
	if err := audit.Record(ctx, tx, now, audit.Entry{WorkspaceID: wsID, Action: "credits.granted", ResourceType: "transfer", ResourceID: t.ID,
		Changes: []string{"available"}}); err != nil {
		return Result{}, err
	}
	_, err = events.Publish(ctx, tx, events.Event{WorkspaceID: wsID, Type: "credits.added", CreatedAt: now,
		Data: map[string]any{"transfer": t, "amount": t.Amount, "amountMicros": t.AmountMicros, "kind": kind}})
	return res, err
}

// DebitInput is what a direct debit takes.
type DebitInput struct {
	WorkspaceID string
	Amount      int64
	// Key is the idempotency key, e.g. the usage record's ID.
	Key       string
	Reference string
	Reason    string
}

// Debit spends credits: available → revenue (trusted callers only). Errors: Forbidden, Invalid,
// PaymentRequired (insufficient_credits, nothing written), Conflict (idempotency_conflict).
func (s *Service) Debit(ctx context.Context, in DebitInput) (Result, error) {
	if _, err := requireTrusted(ctx); err != nil {
		return Result{}, err
	}
	if err := validAmount("amount", in.Amount); err != nil {
		return Result{}, err
	}
	if err := validKey("key", in.Key); err != nil {
		return Result{}, err
	}
	op := operation{wsID: in.WorkspaceID, key: "debit:" + in.Key, hash: hashInput(KindDebit, in.Amount, in.Reference, in.Reason),
		actor: actorOf(ctx), now: s.now(),
		legs: []leg{{kind: KindDebit, from: Available, to: Revenue, amount: in.Amount, reference: in.Reference, reason: in.Reason}}}
	var res Result
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		var err error
		res, err = s.postOnce(ctx, tx, op)
		return err
	})
	return res, err
}

// Balance returns the workspace's available and held credits (every role; API keys with
// usage:read). Errors: NotFound, Forbidden.
func (s *Service) Balance(ctx context.Context, wsID string) (Balance, error) {
	if _, err := authz.Require(ctx, wsID, authz.BillingView); err != nil {
		return Balance{}, err
	}
	now := s.now()
	a, h, err := s.st.balances(ctx, s.db.Read, wsID)
	if err != nil {
		return Balance{}, err
	}
	return newBalance(wsID, a, h, now), nil
}

// Ledger returns the workspace's transfers, newest first (every role; usage:read). Errors:
// NotFound, Forbidden, Invalid (cursor).
func (s *Service) Ledger(ctx context.Context, wsID, cursor string, limit int) (page.Page[LedgerEntry], error) {
	if _, err := authz.Require(ctx, wsID, authz.BillingView); err != nil {
		return page.Page[LedgerEntry]{}, err
	}
	return page.Fetch(cursor, limit, func(before string, n int) ([]LedgerEntry, error) {
		return s.st.list(ctx, s.db.Read, wsID, before, n)
	}, func(t LedgerEntry) string { return t.ID })
}
