package billing

import (
	"context"
	"math"
	"math/bits"
	"time"

	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/authz"
)

// Usage is one metered usage record.
type Usage struct {
	ID         string // idempotency: one debit per ID per workspace
	CallID     string // optional
	AgentID    string // optional
	Kind       string // UsageCallSeconds, UsageSTTSeconds, UsageTTSCharacters, UsageLLMInputTokens, UsageLLMOutputTokens
	Quantity   int64
	Provider   string // for call_seconds: "platform" or "byop" ("sim" and "" are priced as platform)
	Model      string
	OccurredAt time.Time
}

// UsageResult is the outcome of one record of RecordUsage, in input order.
type UsageResult struct {
	ID string
	// Cost is what the record was rated, in micro-credits (on a replay: the first rating).
	Cost int64
	// Transfer is the debit written (or, when Replayed, the first one); zero when Cost is 0 or
	// the record was refused.
	Transfer LedgerEntry
	// Replayed: the ID was recorded before with the same content; nothing new was written.
	Replayed bool
	// Err is the record's own refusal: insufficient_credits (nothing written, the ID stays free
	// to send again after a top-up) or idempotency_conflict (the ID was used with other content).
	Err error
}

var errRatingOverflow = apierr.New(apierr.Invalid, "rating_overflow", "the cost of this usage does not fit in 64 bits of micro-credits")

// RateAmount is the rating rule: the cost in micro-credits of quantity units at price
// micro-credits per `per` units, rounded UP to the micro-credit (ceil(quantity × price / per)),
// computed exactly in 128 bits. It refuses negative inputs, per ≤ 0, and a cost above MaxInt64
// (rating_overflow).
func RateAmount(quantity, price, per int64) (int64, error) {
	if quantity < 0 || price < 0 || per <= 0 {
		return 0, apierr.Validation(apierr.FieldError{Location: "body.quantity", Message: "quantity and price must be zero or more", Value: quantity})
	}
	hi, lo := bits.Mul64(uint64(quantity), uint64(price))
	if hi >= uint64(per) { // the quotient would not fit in 64 bits
		return 0, errRatingOverflow
	}
	q, r := bits.Div64(hi, lo, uint64(per))
	if r > 0 {
		q++ // wraps to 0 when q was 2^64-1: caught below
	}
	if q > math.MaxInt64 || (q == 0 && r > 0) {
		return 0, errRatingOverflow
	}
	return int64(q), nil
}

// validUsage checks a record's kind, quantity and the lengths of its strings (field locations
// are prefixed with loc, e.g. "body.records[3].").
func validUsage(loc string, u Usage) []apierr.FieldError {
	var errs []apierr.FieldError
	if _, ok := PriceUnits[u.Kind]; !ok {
		errs = append(errs, apierr.FieldError{Location: loc + "kind", Message: "kind must be one of call_seconds, stt_seconds, tts_characters, llm_input_tokens, llm_output_tokens", Value: u.Kind})
	}
	if u.Quantity < 0 {
		errs = append(errs, apierr.FieldError{Location: loc + "quantity", Message: "quantity must be zero or more", Value: u.Quantity})
	}
	for _, f := range []struct{ name, v string }{{"provider", u.Provider}, {"model", u.Model}, {"callId", u.CallID}, {"agentId", u.AgentID}} {
		if len(f.v) > maxPriceKey {
			errs = append(errs, apierr.FieldError{Location: loc + f.name, Message: f.name + " must be at most 200 characters"})
		}
	}
	return errs
}

// rate prices u with the workspace's overrides over the platform book.
func rate(overrides map[string]map[string]int64, u Usage) (int64, error) {
	if errs := validUsage("body.", u); len(errs) > 0 {
		return 0, apierr.Validation(errs...)
	}
	p, _, err := price(DefaultPriceBook, overrides, u.Kind, u.Provider, u.Model)
	if err != nil {
		return 0, err
	}
	return RateAmount(u.Quantity, p, PriceUnits[u.Kind])
}

// requireRater admits the system principal (the call runtime, jobs, the operator) for any
// workspace, and otherwise whoever may view the workspace's billing (authz.BillingView: every
// role, API keys with usage:read).
func requireRater(ctx context.Context, wsID string) error {
	if p, ok := authz.FromContext(ctx); ok && p.Kind == authz.KindSystem {
		return nil
	}
	_, err := authz.Require(ctx, wsID, authz.BillingView)
	return err
}

// Rate prices one usage record for the workspace (its overrides over the platform book), in
// micro-credits, rounded up per record. It is a pure read: nothing is written. Who may call: the
// system principal (the call runtime estimating a hold, jobs) or anyone with authz.BillingView
// on the workspace. ID, CallID, AgentID and OccurredAt are not needed. Errors: Unauthenticated,
// Forbidden, NotFound (not a member), Invalid (unknown kind, negative quantity, a call provider
// other than platform/byop/sim, no_price, rating_overflow).
func (s *Service) Rate(ctx context.Context, wsID string, u Usage) (int64, error) {
	if err := requireRater(ctx, wsID); err != nil {
		return 0, err
	}
	overrides, err := s.st.overrides(ctx, s.db.Read, wsID)
	if err != nil {
		return 0, err
	}
	return rate(overrides, u)
}
