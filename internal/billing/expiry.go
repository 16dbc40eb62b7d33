package billing

import (
	"context"
	"database/sql"
	"time"

	"github.com/parleyhq/parley/internal/platform/authz"
)

// ExpireCredits moves the unspent part of every lot due by now, up to limit lots, out of its
// workspace (trusted callers only: the expiry job) and returns how many lots it expired. Each
// lot is its own transaction: under the lock of the workspace's available row, the lot is marked
// expired and what remained of it leaves through a transfer of kind expire (available → grants,
// idempotency key "expire:<lot ID>"), so nothing disappears silently. A lot fully spent expires
// with no transfer.
func (s *Service) ExpireCredits(ctx context.Context, limit int) (int, error) {
	if _, err := requireTrusted(ctx); err != nil {
		return 0, err
	}
	due, err := s.st.dueLots(ctx, s.db.Read, s.now(), limit)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, l := range due {
		var ok bool
		err := s.db.Tx(ctx, func(tx *sql.Tx) (err error) {
			ok, err = s.expireLotTx(ctx, tx, l, s.now())
			return err
		})
		if err != nil {
			return n, err
		}
		if ok {
			n++
		}
	}
	return n, nil
}

func (s *Service) expireLotTx(ctx context.Context, tx *sql.Tx, l Lot, now time.Time) (bool, error) {
	if _, err := s.st.lockAvailable(ctx, tx, l.WorkspaceID); err != nil {
		return false, err
	}
	remaining, ok, err := s.st.expireLot(ctx, tx, l.WorkspaceID, l.ID)
	if err != nil || !ok || remaining == 0 {
		return ok, err
	}
	// The lot's part of the expiring sum goes with it; the debit below must not take from the
	// other lots.
	if _, err := tx.ExecContext(ctx, `UPDATE billing_accounts SET expiring = expiring - $2 WHERE workspace_id = $1 AND kind = 'available'`,
		l.WorkspaceID, remaining); err != nil {
		return false, err
	}
	op := operation{wsID: l.WorkspaceID, key: "expire:" + l.ID, hash: hashInput(KindExpire, l.ID, remaining), actor: actorOf(ctx), now: now, skipLots: true,
		legs: []leg{{kind: KindExpire, from: Available, to: Grants, amount: remaining, reference: l.ID,
			reason: "credits of " + l.TransferID + " expired " + l.ExpiresAt.Format(time.RFC3339)}}}
	if _, err := s.postOnce(ctx, tx, op); err != nil {
		return false, err
	}
	return true, nil
}

// Lots returns the workspace's credit lots (expiring credits), active first (every role;
// usage:read).
func (s *Service) Lots(ctx context.Context, wsID string) ([]Lot, error) {
	if _, err := authz.Require(ctx, wsID, authz.BillingView); err != nil {
		return nil, err
	}
	return s.st.lots(ctx, s.db.Read, wsID, 100)
}
