package billing

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/audit"
	"github.com/parleyhq/parley/internal/platform/authz"
	"github.com/parleyhq/parley/internal/platform/db"
)

// usageKeyPrefix prefixes a usage record's ID in the idempotency key of its debit; the ledger
// stores "debit:usage:<id>".
const usageKeyPrefix = "usage:"

// RecordUsage rates and debits each record atomically, once per ID (a replay returns the first
// result), for trusted callers only (the system principal: the call runtime in process, the
// operator-token API). The whole batch is one transaction, built on DebitBatch's rules:
//   - each record is rated with the workspace's prices at the time (Rate), rounded up per record;
//   - records are judged in order; one the available balance cannot cover at its turn is refused
//     (its Err is insufficient_credits) and writes nothing, so its ID stays free to send again
//     after a top-up; the next records are still tried (partial batch);
//   - a record rated 0 (a free kind, e.g. byop at price 0) writes a usage row and no transfer;
//   - an ID recorded before with the same content (kind, quantity, provider, model, callId,
//     agentId, occurredAt) is a replay: its first cost and transfer, nothing written, even if the
//     prices changed since; with other content it is idempotency_conflict.
//
// The result has one item per input, in input order. Errors (the whole batch, nothing written):
// Unauthenticated, Forbidden (not trusted), NotFound (no such workspace), Invalid (batch size,
// a field, a call provider other than platform/byop/sim, rating_overflow).
func (s *Service) RecordUsage(ctx context.Context, wsID string, recs []Usage) ([]UsageResult, error) {
	if _, err := requireTrusted(ctx); err != nil {
		return nil, err
	}
	if len(recs) == 0 || len(recs) > MaxBatch {
		return nil, errBatchSize
	}
	now := s.now()
	recs = append([]Usage(nil), recs...)
	var errs []apierr.FieldError
	for i := range recs {
		loc := "body.records[" + strconv.Itoa(i) + "]."
		if recs[i].ID == "" || len(recs[i].ID) > MaxKeyLength {
			errs = append(errs, apierr.FieldError{Location: loc + "id", Message: "id must be 1 to " + strconv.Itoa(MaxKeyLength) + " characters", Value: recs[i].ID})
		}
		errs = append(errs, validUsage(loc, recs[i])...)
		if _, err := lookupKeys(recs[i].Kind, recs[i].Provider, recs[i].Model); err != nil {
			errs = append(errs, apierr.FieldError{Location: loc + "provider", Message: "call_seconds provider must be platform, byop or sim", Value: recs[i].Provider})
		}
		if recs[i].OccurredAt.IsZero() {
			recs[i].OccurredAt = now
		}
		recs[i].OccurredAt = recs[i].OccurredAt.UTC().Truncate(time.Millisecond)
	}
	if len(errs) > 0 {
		return nil, apierr.Validation(errs...)
	}
	actor := actorOf(ctx)
	var out []UsageResult
	var err error
	for attempt := 0; attempt < 10; attempt++ {
		err = s.db.Tx(ctx, func(tx *sql.Tx) error {
			var err error
			out, err = s.recordUsageTx(ctx, tx, wsID, recs, actor, now)
			return err
		})
		// On PostgreSQL a concurrent batch may have recorded one of our IDs meanwhile: run again,
		// and the record becomes a replay (or a conflict).
		if !db.IsUniqueViolation(err, "billing_transfers_idem_key") && !db.IsUniqueViolation(err, "billing_usage_id_key") {
			break
		}
	}
	return out, err
}

// fingerprint is what makes two records with one ID the same record.
func fingerprint(u Usage) string {
	return hashInput(u.Kind, u.Quantity, u.Provider, u.Model, u.CallID, u.AgentID, u.OccurredAt.UnixMilli())
}

func usageReason(u Usage) string {
	var b strings.Builder
	b.WriteString(u.Kind + " " + strconv.FormatInt(u.Quantity, 10))
	if u.Provider != "" || u.Model != "" {
		b.WriteString(" " + strings.Trim(u.Provider+"/"+u.Model, "/"))
	}
	return b.String()
}

func (s *Service) recordUsageTx(ctx context.Context, tx *sql.Tx, wsID string, recs []Usage, actor string, now time.Time) ([]UsageResult, error) {
	ok, err := s.st.workspaceExists(ctx, tx, wsID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, apierr.NotFoundf("workspace")
	}
	overrides, err := s.st.overrides(ctx, tx, wsID)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(recs))
	fps := make([]string, len(recs))
	for i, r := range recs {
		ids[i], fps[i] = r.ID, fingerprint(r)
	}
	existing, err := s.st.usageByIDs(ctx, tx, wsID, ids)
	if err != nil {
		return nil, err
	}
	out := make([]UsageResult, len(recs))
	seen := map[string]int{}
	var debits []DebitInput
	var debitOf []int // debits[k] is the debit of record debitOf[k]
	var rows []usageRow
	for i, r := range recs {
		out[i].ID = r.ID
		if ex, ok := existing[r.ID]; ok {
			if ex.fp != fps[i] {
				out[i].Err = errConflict
				continue
			}
			out[i].Cost, out[i].Replayed = ex.cost, true
			if ex.transferID != "" {
				ts, _, err := s.st.byKey(ctx, tx, wsID, "debit:"+usageKeyPrefix+r.ID)
				if err != nil {
					return nil, err
				}
				out[i].Transfer = ts[0]
			}
			continue
		}
		if j, ok := seen[r.ID]; ok {
			if fps[j] != fps[i] {
				out[i].Err = errConflict
			} else {
				out[i].Replayed = true // filled from record j below
			}
			continue
		}
		seen[r.ID] = i
		cost, err := rate(overrides, r)
		if err != nil {
			return nil, err
		}
		out[i].Cost = cost
		if cost == 0 {
			rows = append(rows, usageRow{u: r})
			continue
		}
		ref := r.CallID
		if ref == "" {
			ref = usageKeyPrefix + r.ID
		}
		debits = append(debits, DebitInput{WorkspaceID: wsID, Amount: cost, Key: usageKeyPrefix + r.ID, Reference: ref, Reason: usageReason(r)})
		debitOf = append(debitOf, i)
	}
	if len(debits) > 0 {
		items, err := s.debitBatchTx(ctx, tx, wsID, debits, actor, now)
		if err != nil {
			return nil, err
		}
		for k, it := range items {
			i := debitOf[k]
			if it.Err != nil {
				out[i].Err = it.Err
				continue
			}
			// it.Replayed only when the key was taken by a plain Debit with the same input.
			out[i].Transfer = it.Transfer
			rows = append(rows, usageRow{u: recs[i], cost: out[i].Cost, transferID: it.Transfer.ID})
		}
	}
	if err := s.st.insertUsage(ctx, tx, wsID, rows, now); err != nil {
		return nil, err
	}
	for i := range recs {
		if j, ok := seen[recs[i].ID]; ok && j != i && out[i].Err == nil {
			out[i] = UsageResult{ID: recs[i].ID, Cost: out[j].Cost, Transfer: out[j].Transfer, Replayed: true, Err: out[j].Err}
		}
	}
	return out, nil
}

// Prices returns the workspace's effective prices: the platform book with the workspace's
// overrides over it (every role; API keys with usage:read; the system). Errors: NotFound,
// Forbidden.
func (s *Service) Prices(ctx context.Context, wsID string) (PriceList, error) {
	if _, err := authz.Require(ctx, wsID, authz.BillingView); err != nil {
		return PriceList{}, err
	}
	var overrides map[string]map[string]int64
	err := func() error {
		ok, err := s.st.workspaceExists(ctx, s.db.Read, wsID)
		if err != nil {
			return err
		}
		if !ok {
			return apierr.NotFoundf("workspace")
		}
		overrides, err = s.st.overrides(ctx, s.db.Read, wsID)
		return err
	}()
	if err != nil {
		return PriceList{}, err
	}
	return effective(wsID, DefaultPriceBook, overrides), nil
}

// SetPrices replaces the workspace's price overrides with in (an empty list returns the
// workspace to the platform book). Trusted callers only: the operator (CLI or operator-token
// API). It writes an audit entry prices.updated. Errors: Forbidden, NotFound, Invalid.
func (s *Service) SetPrices(ctx context.Context, wsID string, in []PriceOverride) (PriceList, error) {
	if _, err := requireTrusted(ctx); err != nil {
		return PriceList{}, err
	}
	overrides, err := parseOverrides(in)
	if err != nil {
		return PriceList{}, err
	}
	now := s.now()
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		ok, err := s.st.workspaceExists(ctx, tx, wsID)
		if err != nil {
			return err
		}
		if !ok {
			return apierr.NotFoundf("workspace")
		}
		if err := s.st.replaceOverrides(ctx, tx, wsID, overrides, now); err != nil {
			return err
		}
		return audit.Record(ctx, tx, now, audit.Entry{WorkspaceID: wsID, Action: "prices.updated", ResourceType: "workspace", ResourceID: wsID, Changes: []string{"prices"}})
	})
	if err != nil {
		return PriceList{}, err
	}
	return effective(wsID, DefaultPriceBook, overrides), nil
}

// ErrorCode is the stable code of a record's refusal ("" for nil).
func ErrorCode(err error) string {
	var e *apierr.Error
	if errors.As(err, &e) {
		return e.Code
	}
	if err != nil {
		return "internal_error"
	}
	return ""
}

// The SQL of prices and usage. Every method takes the workspace ID and filters on it.

// overrides returns the workspace's price overrides, kind → key → price.
func (store) overrides(ctx context.Context, q db.Querier, wsID string) (map[string]map[string]int64, error) {
	rows, err := q.QueryContext(ctx, `SELECT kind, price_key, price FROM billing_price_overrides WHERE workspace_id = $1`, wsID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]map[string]int64{}
	for rows.Next() {
		var kind, key string
		var p int64
		if err := rows.Scan(&kind, &key, &p); err != nil {
			return nil, err
		}
		if out[kind] == nil {
			out[kind] = map[string]int64{}
		}
		out[kind][key] = p
	}
	return out, rows.Err()
}

func (store) replaceOverrides(ctx context.Context, q db.Querier, wsID string, o map[string]map[string]int64, now time.Time) error {
	if _, err := q.ExecContext(ctx, `DELETE FROM billing_price_overrides WHERE workspace_id = $1`, wsID); err != nil {
		return err
	}
	for kind, m := range o {
		for key, p := range m {
			if _, err := q.ExecContext(ctx, `INSERT INTO billing_price_overrides (workspace_id, kind, price_key, price, updated_at) VALUES ($1, $2, $3, $4, $5)`,
				wsID, kind, key, p, db.Time(now)); err != nil {
				return err
			}
		}
	}
	return nil
}

type usageRow struct {
	u          Usage
	cost       int64
	transferID string
}

type storedUsage struct {
	fp         string
	cost       int64
	transferID string
}

// usageByIDs returns the usage records of the workspace with these IDs: their fingerprint, cost
// and transfer.
func (store) usageByIDs(ctx context.Context, q db.Querier, wsID string, ids []string) (map[string]storedUsage, error) {
	out := map[string]storedUsage{}
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), 500)]
		ids = ids[len(chunk):]
		args := make([]any, 0, len(chunk)+1)
		args = append(args, wsID)
		var ph strings.Builder
		for i, id := range chunk {
			if i > 0 {
				ph.WriteString(", ")
			}
			ph.WriteString("$" + strconv.Itoa(i+2))
			args = append(args, id)
		}
		rows, err := q.QueryContext(ctx, `SELECT id, call_id, agent_id, kind, quantity, provider, model, cost, transfer_id, occurred_at
FROM billing_usage WHERE workspace_id = $1 AND id IN (`+ph.String()+`)`, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var u Usage
			var cost int64
			var xfer sql.NullString
			if err := rows.Scan(&u.ID, &u.CallID, &u.AgentID, &u.Kind, &u.Quantity, &u.Provider, &u.Model, &cost, &xfer, (*db.Time)(&u.OccurredAt)); err != nil {
				rows.Close()
				return nil, err
			}
			out[u.ID] = storedUsage{fp: fingerprint(u), cost: cost, transferID: xfer.String}
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// insertUsage writes usage rows (a record ID already recorded by a concurrent transaction is a
// unique violation of billing_usage_id_key).
func (store) insertUsage(ctx context.Context, q db.Querier, wsID string, rows []usageRow, now time.Time) error {
	const cols = 12
	for len(rows) > 0 {
		chunk := rows[:min(len(rows), insertChunk)]
		rows = rows[len(chunk):]
		var b strings.Builder
		b.WriteString(`INSERT INTO billing_usage (workspace_id, id, call_id, agent_id, kind, quantity, provider, model, cost, transfer_id, occurred_at, created_at) VALUES `)
		args := make([]any, 0, len(chunk)*cols)
		for i, r := range chunk {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('(')
			for c := range cols {
				if c > 0 {
					b.WriteString(", ")
				}
				b.WriteString("$" + strconv.Itoa(i*cols+c+1))
			}
			b.WriteByte(')')
			var xfer any
			if r.transferID != "" {
				xfer = r.transferID
			}
			u := r.u
			args = append(args, wsID, u.ID, u.CallID, u.AgentID, u.Kind, u.Quantity, u.Provider, u.Model, r.cost, xfer, db.Time(u.OccurredAt), db.Time(now))
		}
		if _, err := q.ExecContext(ctx, b.String(), args...); err != nil {
			return err
		}
	}
	return nil
}
