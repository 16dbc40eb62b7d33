package call

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/parleyhq/parley/internal/billing"
	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/db"
	"github.com/parleyhq/parley/internal/platform/id"
)

// ExtendMargin is how far ahead of an answered call's reserved minutes the hold is extended: a
// call whose reserved credits would run out within it gets ReserveSeconds more.
const ExtendMargin = 2 * time.Minute

// ExtendHolds extends the credit holds of answered calls about to outlive them, by another
// ReserveSeconds at the call-minute price, and hangs up the calls whose workspace cannot pay for
// more ("a refused extension tells the call to end"). It returns how many holds it extended and
// how many calls it ended. The sweep job runs it every minute.
func (s *Service) ExtendHolds(ctx context.Context) (extended, hungUp int, err error) {
	rows, err := s.db.Read.QueryContext(ctx, `SELECT `+callCols+` FROM calls WHERE status = 'in_progress' ORDER BY updated_at LIMIT 1000`)
	if err != nil {
		return 0, 0, err
	}
	live, err := scanCalls(rows)
	if err != nil {
		return 0, 0, err
	}
	sys := system(ctx)
	now := s.now()
	for _, c := range live {
		if c.InProgressAt == nil {
			continue
		}
		talked := int64((now.Sub(*c.InProgressAt) + ExtendMargin) / time.Second)
		need, err := s.billing.Rate(sys, c.WorkspaceID, billing.Usage{Kind: billing.UsageCallSeconds, Quantity: talked, Provider: pricedAs(c.Provider)})
		if err != nil {
			return extended, hungUp, err
		}
		if need <= c.holdMicros {
			continue
		}
		more, err := s.billing.Rate(sys, c.WorkspaceID, billing.Usage{Kind: billing.UsageCallSeconds, Quantity: s.opts.ReserveSeconds, Provider: pricedAs(c.Provider)})
		if err != nil {
			return extended, hungUp, err
		}
		more = max(more, need-c.holdMicros)
		err = s.db.Tx(ctx, func(tx *sql.Tx) error {
			if _, err := s.billing.ExtendTx(sys, tx, billing.ExtendInput{WorkspaceID: c.WorkspaceID, Reference: c.ID, Amount: more,
				Key: fmt.Sprintf("to-%d", c.holdMicros+more), TTL: StaleLive}); err != nil {
				return err
			}
			res, err := tx.ExecContext(ctx, `UPDATE calls SET hold_micros = hold_micros + $3, updated_at = $4 WHERE workspace_id = $1 AND id = $2 AND status = 'in_progress'`,
				c.WorkspaceID, c.ID, more, db.Time(now))
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return errMoved // ended meanwhile: roll the extension back
			}
			return s.st.addEvent(ctx, tx, c.WorkspaceID, c.ID, TimelineEntry{ID: id.New(id.Event), Status: InProgress, Source: "billing", Applied: true,
				Detail: "hold extended by " + billing.FormatCredits(more) + " credits", CreatedAt: now})
		})
		switch {
		case err == nil:
			extended++
		case errors.Is(err, errMoved), errors.Is(err, apierr.Conflict):
		case errors.Is(err, apierr.PaymentRequired):
			if err := s.endForCredits(ctx, c); err != nil {
				return extended, hungUp, err
			}
			hungUp++
		default:
			return extended, hungUp, err
		}
	}
	return extended, hungUp, nil
}

// endForCredits hangs up a call its workspace can no longer pay for.
func (s *Service) endForCredits(ctx context.Context, c Call) error {
	if err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		return s.st.addEvent(ctx, tx, c.WorkspaceID, c.ID, TimelineEntry{ID: id.New(id.Event), Status: InProgress, Source: "billing", Applied: false,
			Detail: "insufficient credits to extend the call: hanging up", CreatedAt: s.now()})
	}); err != nil {
		return err
	}
	prov, _, err := s.telephony.Adapter(ctx, c.WorkspaceID, c.CredentialID)
	if err == nil && c.ProviderCallID != "" {
		err = prov.Hangup(ctx, c.ProviderCallID)
	}
	if err != nil {
		// The provider could not be asked: end the call here; its hold covers what was reserved.
		_, _, err = s.advance(ctx, c.WorkspaceID, c.ID, change{status: Completed, source: "billing", reason: "ended: insufficient credits"})
	}
	return err
}

func scanCalls(rows *sql.Rows) ([]Call, error) {
	defer rows.Close()
	var out []Call
	for rows.Next() {
		c, err := scanCall(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
