package billing

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/parleyhq/parley/internal/platform/db"
	"github.com/parleyhq/parley/internal/platform/id"
)

// lotPrefix prefixes the IDs of credit lots.
const lotPrefix = "lot"

// Lot statuses.
const (
	LotActive  = "active"
	LotExpired = "expired"
)

// Lot is the expiring part of the credits a grant (or a transfer in) brought to a workspace.
type Lot struct {
	ID          string    `json:"id"`
	WorkspaceID string    `json:"workspaceId"`
	TransferID  string    `json:"transferId" doc:"The grant or transfer that brought the credits."`
	Amount      int64     `json:"amountMicros"`
	Remaining   int64     `json:"remainingMicros" doc:"What is left unspent."`
	Status      string    `json:"status" enum:"active,expired"`
	ExpiresAt   time.Time `json:"expiresAt"`
	CreatedAt   time.Time `json:"createdAt"`
}

// lotPortion is part of a lot taken by a debit.
type lotPortion struct {
	amount    int64
	expiresAt time.Time
}

const lotCols = `id, workspace_id, transfer_id, amount, remaining, status, expires_at, created_at`

func scanLot(sc interface{ Scan(...any) error }) (Lot, error) {
	var l Lot
	err := sc.Scan(&l.ID, &l.WorkspaceID, &l.TransferID, &l.Amount, &l.Remaining, &l.Status, (*db.Time)(&l.ExpiresAt), (*db.Time)(&l.CreatedAt))
	return l, err
}

func scanLots(rows *sql.Rows, err error) ([]Lot, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Lot
	for rows.Next() {
		l, err := scanLot(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// addLot records an expiring lot of amount brought by the transfer, and adds it to the available
// row's expiring sum. The caller has just credited available with at least amount in q.
func (store) addLot(ctx context.Context, q db.Querier, wsID, transferID string, amount int64, expiresAt, now time.Time) error {
	if _, err := q.ExecContext(ctx, `INSERT INTO billing_credit_lots (`+lotCols+`) VALUES ($1, $2, $3, $4, $4, 'active', $5, $6)`,
		id.New(lotPrefix), wsID, transferID, amount, db.Time(expiresAt), db.Time(now)); err != nil {
		return fmt.Errorf("insert lot: %w", err)
	}
	_, err := q.ExecContext(ctx, `UPDATE billing_accounts SET expiring = expiring + $2 WHERE workspace_id = $1 AND kind = 'available'`, wsID, amount)
	return err
}

// consumeLots takes amount (at most the available row's expiring sum) from the workspace's
// active lots, the one that expires first first (then the oldest), and returns the portions.
func (store) consumeLots(ctx context.Context, q db.Querier, wsID string, amount int64, _ time.Time) ([]lotPortion, error) {
	lots, err := scanLots(q.QueryContext(ctx, `SELECT `+lotCols+` FROM billing_credit_lots
WHERE workspace_id = $1 AND status = 'active' AND remaining > 0 ORDER BY expires_at, id`, wsID))
	if err != nil {
		return nil, err
	}
	var out []lotPortion
	left := amount
	for _, l := range lots {
		if left == 0 {
			break
		}
		take := min(left, l.Remaining)
		if _, err := q.ExecContext(ctx, `UPDATE billing_credit_lots SET remaining = remaining - $3 WHERE workspace_id = $1 AND id = $2`, wsID, l.ID, take); err != nil {
			return nil, err
		}
		out = append(out, lotPortion{amount: take, expiresAt: l.ExpiresAt})
		left -= take
	}
	if left != 0 {
		return nil, fmt.Errorf("billing: %s: expiring sum above its lots by %d", wsID, left)
	}
	_, err = q.ExecContext(ctx, `UPDATE billing_accounts SET expiring = expiring - $2 WHERE workspace_id = $1 AND kind = 'available'`, wsID, amount)
	return out, err
}

// lockAvailable takes the write lock of the workspace's available row (a no-op update) before the
// expiry of a lot reads it, so the lot cannot change meanwhile (every change of a lot happens
// under that lock). ok is false when the row does not exist.
func (store) lockAvailable(ctx context.Context, q db.Querier, wsID string) (bool, error) {
	res, err := q.ExecContext(ctx, `UPDATE billing_accounts SET expiring = expiring WHERE workspace_id = $1 AND kind = 'available'`, wsID)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// expireLot marks the workspace's active lot expired and zeroes it, returning what remained;
// ok is false when it is not active (already expired). The caller holds the available row's
// lock (lockAvailable), so the lot does not change between the read and the update.
func (store) expireLot(ctx context.Context, q db.Querier, wsID, lotID string) (remaining int64, ok bool, err error) {
	err = q.QueryRowContext(ctx, `SELECT remaining FROM billing_credit_lots WHERE workspace_id = $1 AND id = $2 AND status = 'active'`, wsID, lotID).Scan(&remaining)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	_, err = q.ExecContext(ctx, `UPDATE billing_credit_lots SET status = 'expired', remaining = 0 WHERE workspace_id = $1 AND id = $2`, wsID, lotID)
	return remaining, err == nil, err
}

// dueLots lists active lots, in every workspace, that expired by now, in expiry order: the expiry
// sweep's operator-wide read (each is then expired through its own workspace).
func (store) dueLots(ctx context.Context, q db.Querier, now time.Time, limit int) ([]Lot, error) {
	return scanLots(q.QueryContext(ctx, `SELECT `+lotCols+` FROM billing_credit_lots WHERE status = 'active' AND expires_at <= $1
ORDER BY expires_at, id LIMIT $2`, db.Millis(now), limit))
}

// lots lists the workspace's lots, active first, then by expiry.
func (store) lots(ctx context.Context, q db.Querier, wsID string, limit int) ([]Lot, error) {
	return scanLots(q.QueryContext(ctx, `SELECT `+lotCols+` FROM billing_credit_lots WHERE workspace_id = $1
ORDER BY status, expires_at, id LIMIT $2`, wsID, limit))
}

// lotSums is Verify's operator-wide read: per workspace, the expiring sum kept on its available
// row and the remaining of its active lots.
func (store) lotSums(ctx context.Context, q db.Querier) (kept, lots map[string]int64, err error) {
	kept, lots = map[string]int64{}, map[string]int64{}
	rows, err := q.QueryContext(ctx, `SELECT workspace_id, expiring FROM billing_accounts WHERE kind = 'available' AND expiring <> 0`)
	if err != nil {
		return nil, nil, err
	}
	for rows.Next() {
		var ws string
		var v int64
		if err := rows.Scan(&ws, &v); err != nil {
			rows.Close()
			return nil, nil, err
		}
		kept[ws] = v
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	rows, err = q.QueryContext(ctx, `SELECT workspace_id, CAST(SUM(remaining) AS BIGINT) FROM billing_credit_lots WHERE status = 'active' GROUP BY workspace_id`)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var ws string
		var v int64
		if err := rows.Scan(&ws, &v); err != nil {
			return nil, nil, err
		}
		if v != 0 {
			lots[ws] = v
		}
	}
	return kept, lots, rows.Err()
}
