package billing

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/platform/db"
	"github.com/parleyhq/parley/internal/platform/db/dbtest"
)

// BenchmarkDebit measures debits per second (each its own transaction: idempotency check,
// transfer row, conditional debit of available, credit of revenue), from 64 concurrent callers,
// against one workspace (every debit contends for the same rows) and spread over 16.
//
//	go test -run '^$' -bench Debit -benchtime 20000x ./internal/billing/
func BenchmarkDebit(b *testing.B) {
	for _, dialect := range dbtest.Dialects() {
		for _, spread := range []int{1, 16} {
			b.Run(fmt.Sprintf("%s/workspaces=%d", dialect, spread), func(b *testing.B) {
				d := dbtest.Open(b, dialect)
				f := newFixture(b, d)
				wss := make([]string, spread)
				for i := range wss {
					wss[i] = fmt.Sprintf("ws_bench%02d", i)
					if _, err := d.Write.ExecContext(context.Background(), `INSERT INTO workspaces (id, name, slug, timezone, created_at, updated_at) VALUES ($1, $1, $1, 'UTC', $2, $2)`,
						wss[i], db.Time(f.clock.Now())); err != nil {
						b.Fatal(err)
					}
					f.grant(b, wss[i], 1_000_000_000_000)
				}
				ctx := sys()
				var n atomic.Int64
				b.SetParallelism(32) // × GOMAXPROCS (2) = 64 callers
				b.ResetTimer()
				start := time.Now()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						i := n.Add(1)
						if _, err := f.svc.Debit(ctx, DebitInput{WorkspaceID: wss[int(i)%spread], Amount: 1_234, Key: fmt.Sprint("usage_", i), Reference: "call_bench"}); err != nil {
							b.Error(err)
							return
						}
					}
				})
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "debits/s")
				b.StopTimer()
				f.verify(b)
			})
		}
	}
}

// BenchmarkDebitBatch measures debits per second when usage arrives in batches of 100 records
// (DebitBatch: one transaction per batch, each record still its own idempotent debit), from 4
// concurrent callers against one workspace. b.N counts debits.
//
//	go test -run '^$' -bench DebitBatch -benchtime 200000x ./internal/billing/
func BenchmarkDebitBatch(b *testing.B) {
	const size = 100
	for _, dialect := range dbtest.Dialects() {
		b.Run(string(dialect), func(b *testing.B) {
			d := dbtest.Open(b, dialect)
			f := newFixture(b, d)
			f.grant(b, f.wsA, 1_000_000_000_000)
			ctx := sys()
			var n atomic.Int64
			batches := (b.N + size - 1) / size
			b.SetParallelism(2) // × GOMAXPROCS (2) = 4 callers
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					if i > int64(batches) {
						continue
					}
					recs := make([]DebitInput, size)
					for j := range recs {
						recs[j] = DebitInput{Amount: 1_234, Key: fmt.Sprintf("usage_%d_%d", i, j), Reference: "call_bench"}
					}
					items, err := f.svc.DebitBatch(ctx, f.wsA, recs)
					if err != nil {
						b.Error(err)
						return
					}
					for _, it := range items {
						if it.Err != nil {
							b.Error(it.Err)
							return
						}
					}
				}
			})
			b.ReportMetric(float64(batches*size)/time.Since(start).Seconds(), "debits/s")
			b.StopTimer()
			f.verify(b)
		})
	}
}
