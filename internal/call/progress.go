package call

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/parleyhq/parley/internal/billing"
	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/id"
)

// change is one report about a call: a provider callback, the dialer's result, a hang-up, the
// sweep.
type change struct {
	status         string
	source         string
	providerCallID string
	duration       int // seconds, when the reporter knows them
	reason         string
	providerReason string
	at             time.Time // when it happened, when the reporter says; else now
}

var errMoved = errors.New("call: moved concurrently")

// advance applies a report to a call: it moves the call forward when the report is ahead of its
// state and records the report in the timeline either way. A report at or behind the call's
// state (late, duplicate, out of order) changes nothing; an ended call never moves again. On the
// end, in the same transaction: the hold is settled with the metered minutes, the concurrency
// slot is freed, and call.completed or call.failed is published.
func (s *Service) advance(ctx context.Context, wsID, callID string, ch change) (Call, bool, error) {
	for range 10 {
		out, applied, err := s.advanceOnce(ctx, wsID, callID, ch)
		if errors.Is(err, errMoved) {
			continue
		}
		return out, applied, err
	}
	return Call{}, false, fmt.Errorf("call %s: too many concurrent changes", callID)
}

func (s *Service) advanceOnce(ctx context.Context, wsID, callID string, ch change) (Call, bool, error) {
	var out Call
	var applied bool
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		c, err := s.get(ctx, tx, wsID, callID)
		if err != nil {
			return err
		}
		now := s.now()
		if c.ProviderCallID == "" && ch.providerCallID != "" {
			c.ProviderCallID = ch.providerCallID
		}
		entry := TimelineEntry{ID: id.New(id.Event), Status: ch.status, Source: ch.source, CreatedAt: now, Detail: ch.providerReason}
		if !advances(c.Status, ch.status) {
			entry.Detail = fmt.Sprintf("ignored: the call is %s", c.Status)
			if ch.providerReason != "" {
				entry.Detail += " (" + ch.providerReason + ")"
			}
			if err := s.st.setProviderCallID(ctx, tx, wsID, callID, c.ProviderCallID, now); err != nil {
				return err
			}
			out, applied = c, false
			return s.st.addEvent(ctx, tx, wsID, callID, entry)
		}
		from := c.Status
		at := ch.at
		if at.IsZero() || at.After(now) {
			at = now
		}
		c.Status, c.UpdatedAt = ch.status, now
		switch ch.status {
		case Initiating:
			c.InitiatingAt = &at
		case Ringing:
			c.RingingAt = &at
		case InProgress:
			c.InProgressAt = &at
			if c.Note == "" {
				c.Note = NoRuntimeNote
			}
		}
		if Final(ch.status) {
			if err := s.end(ctx, tx, &c, ch, at); err != nil {
				return err
			}
		}
		ok, err := s.st.save(ctx, tx, c, from)
		if err != nil {
			return err
		}
		if !ok {
			return errMoved
		}
		entry.Applied = true
		if err := s.st.addEvent(ctx, tx, wsID, callID, entry); err != nil {
			return err
		}
		if typ := eventType(c.Status); typ != "" {
			if err := publish(ctx, tx, typ, c); err != nil {
				return err
			}
		}
		if Final(c.Status) {
			for _, h := range s.onEnd {
				if err := h(ctx, tx, view(c)); err != nil {
					return fmt.Errorf("end hook of call %s: %w", c.ID, err)
				}
			}
		}
		out, applied = c, true
		return nil
	})
	return view(out), applied, err
}

// end fills in a call's end and, in tx, settles its hold and frees its slot.
func (s *Service) end(ctx context.Context, tx *sql.Tx, c *Call, ch change, at time.Time) error {
	c.EndedAt = &at
	c.EndReason = ch.reason
	if c.EndReason == "" {
		c.EndReason = defaultReason(ch.status)
	}
	c.ProviderReason = ch.providerReason
	c.DurationSeconds = 0
	if answered(ch.status) || (ch.status == Canceled && c.InProgressAt != nil) {
		c.DurationSeconds = ch.duration
		if c.DurationSeconds <= 0 && c.InProgressAt != nil {
			c.DurationSeconds = int((at.Sub(*c.InProgressAt) + time.Second - 1) / time.Second)
		}
	}
	// Lock order, as in Place: the workspace's slot row, then its balances (else a place and an
	// end racing on PostgreSQL deadlock).
	if err := s.st.freeSlot(ctx, tx, c.WorkspaceID); err != nil {
		return err
	}
	sys := system(ctx)
	cost, err := s.billing.Rate(sys, c.WorkspaceID, billing.Usage{Kind: billing.UsageCallSeconds, Quantity: int64(c.DurationSeconds), Provider: pricedAs(c.Provider)})
	if err != nil {
		return err
	}
	h, err := s.billing.SettleTx(sys, tx, c.WorkspaceID, c.ID, min(cost, c.holdMicros))
	switch {
	case errors.Is(err, apierr.Conflict):
		// The hold expired (the call outlived its hold's TTL without news): its credits went
		// back to available; the call is not charged.
		h = billing.Hold{}
	case err != nil:
		return fmt.Errorf("settle call %s: %w", c.ID, err)
	}
	c.CostMicros = h.SettledMicros
	if cost > h.SettledMicros {
		c.Note = fmt.Sprintf("the call ran past its reserved credits: %s credits were not charged", billing.FormatCredits(cost-h.SettledMicros))
	}
	return nil
}

func defaultReason(status string) string {
	switch status {
	case Completed:
		return "completed"
	case Busy:
		return "the line was busy"
	case NoAnswer:
		return "no answer"
	case Voicemail:
		return "an answering machine answered"
	case Failed:
		return "the call failed at the provider"
	case Canceled:
		return "canceled"
	}
	return status
}
