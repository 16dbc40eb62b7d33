package billing

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/audit"
	"github.com/parleyhq/parley/internal/platform/authz"
	"github.com/parleyhq/parley/internal/platform/db"
	"github.com/parleyhq/parley/internal/platform/events"
	"github.com/parleyhq/parley/internal/platform/mail"
)

// Alert event types.
const (
	EventCreditsLow      = "credits.low"
	EventCreditsDepleted = "credits.depleted"
)

// BillingSettings are a workspace's billing settings.
type BillingSettings struct {
	WorkspaceID string `json:"workspaceId"`
	// LowBalanceThreshold: when a movement takes the available balance from at or above it to
	// below it, credits.low is published and the owner is mailed. "0" turns the alert off
	// (credits.depleted, at zero, always applies).
	LowBalanceThreshold       string `json:"lowBalanceThreshold" example:"5" doc:"credits.low fires when available falls below this (decimal credits); 0 = off."`
	LowBalanceThresholdMicros int64  `json:"lowBalanceThresholdMicros" example:"5000000"`
}

// SettingsInput is what PATCH …/billing/settings takes; a nil field is left as it is.
type SettingsInput struct {
	// LowBalanceThreshold in micro-credits (0 = off).
	LowBalanceThreshold *int64
}

// Settings returns the workspace's billing settings (every role; API keys with usage:read).
// Errors: NotFound, Forbidden.
func (s *Service) Settings(ctx context.Context, wsID string) (BillingSettings, error) {
	if _, err := authz.Require(ctx, wsID, authz.BillingView); err != nil {
		return BillingSettings{}, err
	}
	acct, err := s.st.available(ctx, s.db.Read, wsID)
	if err != nil {
		return BillingSettings{}, err
	}
	return newSettings(wsID, acct.threshold), nil
}

func newSettings(wsID string, threshold int64) BillingSettings {
	return BillingSettings{WorkspaceID: wsID, LowBalanceThreshold: FormatCredits(threshold), LowBalanceThresholdMicros: threshold}
}

// UpdateSettings changes the workspace's billing settings (the owner: authz.BillingManage) and
// writes an audit entry billing.settings_updated. Setting a threshold above the current balance
// does not alert by itself: alerts fire on movements that cross it. Errors: NotFound, Forbidden,
// Invalid.
func (s *Service) UpdateSettings(ctx context.Context, wsID string, in SettingsInput) (BillingSettings, error) {
	if _, err := authz.Require(ctx, wsID, authz.BillingManage); err != nil {
		return BillingSettings{}, err
	}
	if in.LowBalanceThreshold != nil && *in.LowBalanceThreshold < 0 {
		return BillingSettings{}, apierr.Validation(apierr.FieldError{Location: "body.lowBalanceThreshold", Message: "must not be negative", Value: *in.LowBalanceThreshold})
	}
	var out BillingSettings
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		if in.LowBalanceThreshold == nil {
			acct, err := s.st.available(ctx, tx, wsID)
			out = newSettings(wsID, acct.threshold)
			return err
		}
		if err := s.st.setThreshold(ctx, tx, wsID, *in.LowBalanceThreshold); err != nil {
			return err
		}
		out = newSettings(wsID, *in.LowBalanceThreshold)
		return audit.Record(ctx, tx, s.now(), audit.Entry{WorkspaceID: wsID, Action: "billing.settings_updated", ResourceType: "workspace",
			ResourceID: wsID, Changes: []string{"lowBalanceThreshold"}})
	})
	return out, err
}

// availableAcct is the available row of a workspace: its balance, the low-balance threshold and
// the credits of its active lots.
type availableAcct struct {
	balance, threshold, expiring int64
}

// available reads the workspace's available row (zeros when it does not exist yet).
func (store) available(ctx context.Context, q db.Querier, wsID string) (availableAcct, error) {
	var a availableAcct
	err := q.QueryRowContext(ctx, `SELECT balance, low_threshold, expiring FROM billing_accounts WHERE workspace_id = $1 AND kind = 'available'`, wsID).
		Scan(&a.balance, &a.threshold, &a.expiring)
	if errors.Is(err, sql.ErrNoRows) {
		return availableAcct{}, nil
	}
	return a, err
}

// setThreshold sets the workspace's low-balance threshold (creating the available row, at 0, if
// it does not exist yet: an empty account with no transfers, which Verify accepts).
func (store) setThreshold(ctx context.Context, q db.Querier, wsID string, threshold int64) error {
	_, err := q.ExecContext(ctx, `INSERT INTO billing_accounts (workspace_id, kind, balance, low_threshold) VALUES ($1, 'available', 0, $2)
ON CONFLICT (workspace_id, kind) DO UPDATE SET low_threshold = excluded.low_threshold`, wsID, threshold)
	return err
}

// debitAvailable takes amount from the workspace's available balance if it has that much. ok is
// false, and nothing changed, when the balance is short.
//
// The common case is one plain conditional statement: the debit goes through when it cannot
// cross the low-balance threshold or reach zero (the balance after it stays at or above the
// threshold, or was below it already, and stays above zero) and the workspace has no expiring
// credits; after is then nil: there is nothing more to do. Otherwise — or when the balance is
// short — a second conditional statement debits and returns the row after the debit (after),
// for afterDebit's alerts and lots. So a debit costs one statement, and two only when it
// crosses, depletes, spends expiring credits or is refused.
func (store) debitAvailable(ctx context.Context, q db.Querier, wsID string, amount int64) (after *availableAcct, ok bool, err error) {
	res, err := q.ExecContext(ctx, `UPDATE billing_accounts SET balance = balance - $2
WHERE workspace_id = $1 AND kind = 'available' AND balance > $2 AND expiring = 0
AND (balance - $2 >= low_threshold OR balance < low_threshold)`, wsID, amount)
	if err != nil {
		return nil, false, err
	}
	if n, err := res.RowsAffected(); err != nil {
		return nil, false, err
	} else if n == 1 {
		return nil, true, nil
	}
	var a availableAcct
	err = q.QueryRowContext(ctx, `UPDATE billing_accounts SET balance = balance - $2
WHERE workspace_id = $1 AND kind = 'available' AND balance >= $2 RETURNING balance, low_threshold, expiring`, wsID, amount).
		Scan(&a.balance, &a.threshold, &a.expiring)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return &a, true, nil
}

// afterDebit does what a debit of amount from available, which left the row at after, entails,
// through q (the debit's transaction):
//   - alerts: credits.low when the balance went from at or above the threshold to below it, and
//     credits.depleted when it went from above zero to zero, each once per crossing (the
//     balance before is after+amount, so no state is kept: a later credit that lifts the balance
//     re-arms the alert by itself), with a mail to the owner;
//   - lots: when the workspace has expiring credits (after.expiring > 0) and consume is set, the
//     debit is taken from its lots, the one that expires first first; the portions taken are
//     returned (a transfer to another workspace carries their expiries along).
//
// after is nil when debitAvailable's plain statement did the debit: then nothing crossed and
// the workspace has no expiring credits.
func (st store) afterDebit(ctx context.Context, q db.Querier, wsID string, amount int64, afterP *availableAcct, consume bool, now time.Time) ([]lotPortion, error) {
	if afterP == nil {
		return nil, nil // debitAvailable's plain statement: nothing crossed, no lots
	}
	after := *afterP
	before := after.balance + amount
	low := after.threshold > 0 && before >= after.threshold && after.balance < after.threshold
	depleted := before > 0 && after.balance == 0
	if low || depleted {
		if err := st.alert(ctx, q, wsID, after, low, depleted, now); err != nil {
			return nil, err
		}
	}
	if !consume || after.expiring == 0 {
		return nil, nil
	}
	return st.consumeLots(ctx, q, wsID, min(amount, after.expiring), now)
}

// alert publishes credits.low and/or credits.depleted and mails the workspace's owner once.
func (store) alert(ctx context.Context, q db.Querier, wsID string, after availableAcct, low, depleted bool, now time.Time) error {
	data := map[string]any{"balance": FormatCredits(after.balance), "balanceMicros": after.balance,
		"threshold": FormatCredits(after.threshold), "thresholdMicros": after.threshold, "currency": "credits"}
	var subject, body string
	if low {
		if _, err := events.Publish(ctx, q, events.Event{WorkspaceID: wsID, Type: EventCreditsLow, CreatedAt: now, Data: data}); err != nil {
			return err
		}
	}
	if depleted {
		if _, err := events.Publish(ctx, q, events.Event{WorkspaceID: wsID, Type: EventCreditsDepleted, CreatedAt: now, Data: data}); err != nil {
			return err
		}
	}
	var name string
	if err := q.QueryRowContext(ctx, `SELECT name FROM workspaces WHERE id = $1`, wsID).Scan(&name); errors.Is(err, sql.ErrNoRows) {
		return nil // a deleted workspace has no one to tell
	} else if err != nil {
		return err
	}
	if depleted {
		subject = "Parley: no credits left in " + name
		body = fmt.Sprintf("The workspace %s (%s) has no credits available any more: new calls are refused until credits are added.\n", name, wsID)
	} else {
		subject = "Parley: credits low in " + name
		body = fmt.Sprintf("The workspace %s (%s) has %s credits available, below its low-balance threshold of %s.\n",
			name, wsID, FormatCredits(after.balance), FormatCredits(after.threshold))
	}
	body += "\nSee the Billing page of the workspace, or GET /v1/workspaces/" + wsID + "/billing/balance.\n"
	rows, err := q.QueryContext(ctx, `SELECT u.email FROM workspace_members m JOIN users u ON u.id = m.user_id
WHERE m.workspace_id = $1 AND m.role = 'owner' ORDER BY u.email`, wsID)
	if err != nil {
		return err
	}
	var to []string
	for rows.Next() {
		var e string
		if err := rows.Scan(&e); err != nil {
			rows.Close()
			return err
		}
		to = append(to, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, addr := range to {
		if _, err := mail.Enqueue(ctx, q, now, addr, subject, body); err != nil {
			return err
		}
	}
	return nil
}
