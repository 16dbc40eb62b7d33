package billing

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/db"
	"github.com/parleyhq/parley/internal/platform/id"
)

// MaxBatch bounds the records of one DebitBatch.
const MaxBatch = 500

// BatchItem is the outcome of one debit of a batch.
type BatchItem struct {
	Transfer LedgerEntry
	// Replayed: the key was used before with the same input; Transfer is the first one.
	Replayed bool
	// Err is the record's own refusal (insufficient_credits, idempotency_conflict), or nil.
	Err error
}

// DebitBatch debits many records of one workspace in one transaction (trusted callers only): the
// way usage arrives from a call runtime, and the way past the one-transaction-per-debit ceiling
// of PostgreSQL (see bench/RESULTS.md). Each record is its own idempotent debit, judged in order:
// a record the balance cannot cover at its turn is refused (its Err is insufficient_credits) and
// the next ones are still tried; the batch as a whole fails only on a store error. The result has
// one item per input, in input order. Errors: Forbidden, Invalid (the whole batch).
func (s *Service) DebitBatch(ctx context.Context, wsID string, in []DebitInput) ([]BatchItem, error) {
	if _, err := requireTrusted(ctx); err != nil {
		return nil, err
	}
	if len(in) == 0 || len(in) > MaxBatch {
		return nil, errBatchSize
	}
	for i := range in {
		if err := validAmount("records["+strconv.Itoa(i)+"].amount", in[i].Amount); err != nil {
			return nil, err
		}
		if err := validKey("records["+strconv.Itoa(i)+"].key", in[i].Key); err != nil {
			return nil, err
		}
	}
	actor, now := actorOf(ctx), s.now()
	var out []BatchItem
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		err = s.db.Tx(ctx, func(tx *sql.Tx) error {
			var err error
			out, err = s.debitBatchTx(ctx, tx, wsID, in, actor, now)
			return err
		})
		// On PostgreSQL a concurrent batch may have taken one of our keys meanwhile: run again,
		// and the record becomes a replay (or a conflict).
		if !db.IsUniqueViolation(err, "billing_transfers_idem_key") {
			break
		}
	}
	return out, err
}

var errBatchSize = apierr.Validation(apierr.FieldError{Location: "body.records", Message: "a batch has 1 to 500 records"})

func (s *Service) debitBatchTx(ctx context.Context, tx *sql.Tx, wsID string, in []DebitInput, actor string, nowT time.Time) ([]BatchItem, error) {
	out := make([]BatchItem, len(in))
	keys := make([]string, len(in))
	hashes := make([]string, len(in))
	for i, r := range in {
		keys[i] = "debit:" + r.Key
		hashes[i] = hashInput(KindDebit, r.Amount, r.Reference, r.Reason)
	}
	used, err := s.st.usedKeys(ctx, tx, wsID, keys)
	if err != nil {
		return nil, err
	}
	// Which records are new (the first of their key in the batch, key not used before).
	fresh := make([]int, 0, len(in))
	seen := map[string]int{}
	var total int64
	for i := range in {
		if h, ok := used[keys[i]]; ok {
			if h != hashes[i] {
				out[i].Err = errConflict
				continue
			}
			ts, _, err := s.st.byKey(ctx, tx, wsID, keys[i])
			if err != nil {
				return nil, err
			}
			out[i] = BatchItem{Transfer: ts[0], Replayed: true}
			continue
		}
		if j, ok := seen[keys[i]]; ok {
			if hashes[j] != hashes[i] {
				out[i].Err = errConflict
			} else {
				out[i].Replayed = true // filled from record j below
			}
			continue
		}
		seen[keys[i]] = i
		fresh = append(fresh, i)
		total += in[i].Amount
	}
	// Fast path: write the transfer rows of every new record first, then take the whole batch
	// from the balance in one conditional statement, so that (on PostgreSQL) the balance row is
	// locked only from that statement to COMMIT. When the balance does not cover the batch, the
	// rows are rolled back to a savepoint and each record is debited in order instead.
	entry := func(i int) transferRow {
		r := in[i]
		t := LedgerEntry{ID: id.New(id.Transfer), WorkspaceID: wsID, Kind: KindDebit, From: Available, To: Revenue, Amount: FormatCredits(r.Amount),
			AmountMicros: r.Amount, Reference: r.Reference, Reason: r.Reason, IdempotencyKey: keys[i], Actor: actor, CreatedAt: nowT}
		out[i].Transfer = t
		return transferRow{t: t, hash: hashes[i]}
	}
	var spent int64
	if total > 0 {
		if _, err := tx.ExecContext(ctx, `SAVEPOINT billing_batch`); err != nil {
			return nil, err
		}
		rows := make([]transferRow, 0, len(fresh))
		for _, i := range fresh {
			rows = append(rows, entry(i))
		}
		if err := s.st.insertTransfers(ctx, tx, rows); err != nil {
			return nil, err
		}
		after, ok, err := s.st.debitAvailable(ctx, tx, wsID, total)
		if err != nil {
			return nil, err
		}
		if ok {
			spent = total
			if _, err := s.st.afterDebit(ctx, tx, wsID, total, after, true, nowT); err != nil {
				return nil, err
			}
		} else if _, err := tx.ExecContext(ctx, `ROLLBACK TO SAVEPOINT billing_batch`); err != nil {
			return nil, err
		}
		if _, err := tx.ExecContext(ctx, `RELEASE SAVEPOINT billing_batch`); err != nil {
			return nil, err
		}
		if !ok {
			rows = rows[:0]
			for _, i := range fresh {
				out[i].Transfer = LedgerEntry{}
				after, ok, err := s.st.debitAvailable(ctx, tx, wsID, in[i].Amount)
				if err != nil {
					return nil, err
				}
				if !ok {
					out[i].Err = errInsufficient
					continue
				}
				if _, err := s.st.afterDebit(ctx, tx, wsID, in[i].Amount, after, true, nowT); err != nil {
					return nil, err
				}
				rows = append(rows, entry(i))
				spent += in[i].Amount
			}
			if err := s.st.insertTransfers(ctx, tx, rows); err != nil {
				return nil, err
			}
		}
	}
	if spent > 0 {
		if err := s.st.credit(ctx, tx, wsID, Revenue, spent); err != nil {
			return nil, err
		}
	}
	for i := range in {
		if j, ok := seen[keys[i]]; ok && j != i && out[i].Err == nil {
			out[i] = BatchItem{Transfer: out[j].Transfer, Replayed: true, Err: out[j].Err}
		}
	}
	return out, nil
}

type transferRow struct {
	t    LedgerEntry
	hash string
}

// usedKeys returns the input hash of each of the keys already used in the workspace.
func (store) usedKeys(ctx context.Context, q db.Querier, wsID string, keys []string) (map[string]string, error) {
	args := make([]any, 0, len(keys)+1)
	args = append(args, wsID)
	var ph strings.Builder
	for i, k := range keys {
		if i > 0 {
			ph.WriteString(", ")
		}
		ph.WriteString("$" + strconv.Itoa(i+2))
		args = append(args, k)
	}
	rows, err := q.QueryContext(ctx, `SELECT idempotency_key, input_hash FROM billing_transfers
WHERE workspace_id = $1 AND leg = 0 AND idempotency_key IN (`+ph.String()+`)`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, h string
		if err := rows.Scan(&k, &h); err != nil {
			return nil, err
		}
		out[k] = h
	}
	return out, rows.Err()
}

// credit adds amount to one of the workspace's accounts, creating it on first use.
func (store) credit(ctx context.Context, q db.Querier, wsID, kind string, amount int64) error {
	_, err := q.ExecContext(ctx, `INSERT INTO billing_accounts (workspace_id, kind, balance) VALUES ($1, $2, $3)
ON CONFLICT (workspace_id, kind) DO UPDATE SET balance = billing_accounts.balance + excluded.balance`, wsID, kind, amount)
	return err
}

// insertTransfers writes single-leg transfers in one statement (a key taken meanwhile by a
// concurrent transaction is a unique violation of billing_transfers_idem_key).
func (store) insertTransfers(ctx context.Context, q db.Querier, rows []transferRow) error {
	const cols = 13
	for len(rows) > 0 {
		chunk := rows[:min(len(rows), insertChunk)]
		rows = rows[len(chunk):]
		var b strings.Builder
		b.WriteString(`INSERT INTO billing_transfers (id, workspace_id, idempotency_key, leg, input_hash, kind, debit_account, credit_account, amount, reference, reason, actor, created_at) VALUES `)
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
			t := r.t
			args = append(args, t.ID, t.WorkspaceID, t.IdempotencyKey, 0, r.hash, t.Kind, t.From, t.To, t.AmountMicros, t.Reference, t.Reason, t.Actor, db.Time(t.CreatedAt))
		}
		if _, err := q.ExecContext(ctx, b.String(), args...); err != nil {
			return err
		}
	}
	return nil
}

// insertChunk is how many transfers one INSERT statement writes (measured: larger statements
// cost more per row on SQLite, and no less on PostgreSQL).
const insertChunk = 10
