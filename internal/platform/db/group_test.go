package db_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/platform/db"
	"github.com/parleyhq/parley/internal/platform/db/dbtest"
)

func insertWS(ctx context.Context, tx *sql.Tx, id string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO workspaces (id, name, slug, timezone, created_at, updated_at) VALUES ($1, $1, $1, 'UTC', 0, 0)`, id)
	return err
}

func countWS(t *testing.T, d *db.DB, id string) int {
	t.Helper()
	var n int
	if err := d.Read.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM workspaces WHERE id = $1`, id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestConcurrentTransactions: many writers at once (batched into shared commits on SQLite) each
// get their own answer; a failing one leaves nothing, a panicking one panics in its own goroutine
// only, and every other one is committed.
func TestConcurrentTransactions(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		const n = 200
		errs := make([]error, n)
		panics := make([]any, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { panics[i] = recover() }()
				id := fmt.Sprintf("ws_%03d", i)
				errs[i] = d.Tx(ctx, func(tx *sql.Tx) error {
					if err := insertWS(ctx, tx, id); err != nil {
						return err
					}
					switch i % 10 {
					case 3:
						return fmt.Errorf("refused %d", i)
					case 7:
						panic(fmt.Sprintf("boom %d", i))
					case 9:
						// A duplicate of an existing row: this statement fails, the transaction is
						// rolled back as a whole.
						return insertWS(ctx, tx, id)
					}
					return nil
				})
			}()
		}
		wg.Wait()
		for i := range n {
			id := fmt.Sprintf("ws_%03d", i)
			want := 1
			switch i % 10 {
			case 3:
				want = 0
				if errs[i] == nil || errs[i].Error() != fmt.Sprintf("refused %d", i) {
					t.Errorf("%d: err %v", i, errs[i])
				}
			case 7:
				want = 0
				if panics[i] != fmt.Sprintf("boom %d", i) {
					t.Errorf("%d: panic %v", i, panics[i])
				}
			case 9:
				want = 0
				if errs[i] == nil {
					t.Errorf("%d: duplicate insert succeeded", i)
				}
			default:
				if errs[i] != nil || panics[i] != nil {
					t.Errorf("%d: %v %v", i, errs[i], panics[i])
				}
			}
			if got := countWS(t, d, id); got != want {
				t.Errorf("%s: %d rows, want %d", id, got, want)
			}
		}
	})
}

// TestTransactionThatBreaksTheBatch: a function that ends the shared transaction itself makes the
// batch fall back to one transaction each; the others are still committed.
func TestTransactionThatBreaksTheBatch(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var wg sync.WaitGroup
		errs := make([]error, 20)
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = d.Tx(ctx, func(tx *sql.Tx) error {
					if err := insertWS(ctx, tx, fmt.Sprintf("ws_b%02d", i)); err != nil {
						return err
					}
					if i == 5 {
						_, err := tx.ExecContext(ctx, "ROLLBACK")
						return err
					}
					return nil
				})
			}()
		}
		wg.Wait()
		for i := range 20 {
			got := countWS(t, d, fmt.Sprintf("ws_b%02d", i))
			if i != 5 && (got != 1 || errs[i] != nil) {
				t.Errorf("%d: %d rows, err %v", i, got, errs[i])
			}
			if i == 5 && got != 0 && errs[i] == nil {
				t.Errorf("the rogue transaction reported success and left %d rows", got)
			}
		}
	})
}

func TestTxHonoursCancelledContext(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := d.Tx(ctx, func(tx *sql.Tx) error { return insertWS(ctx, tx, "ws_cancelled") })
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v", err)
		}
		if countWS(t, d, "ws_cancelled") != 0 {
			t.Fatal("a cancelled transaction committed")
		}
	})
}
