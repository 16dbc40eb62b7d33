package billing

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/db"
	"github.com/parleyhq/parley/internal/platform/db/dbtest"
)

func TestRateUsesWorkspaceOverrides(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		call := Usage{Kind: UsageCallSeconds, Quantity: 90, Provider: "sim"}
		// Platform book: 0.015 credits a minute; 90 s = 22,500 micro-credits.
		if c, err := f.svc.Rate(sys(), f.wsA, call); err != nil || c != 22_500 {
			t.Fatalf("platform rate %d %v", c, err)
		}
		if _, err := f.svc.SetPrices(f.as("user_owner"), f.wsA, []PriceOverride{{UsageCallSeconds, "platform", "0.01"}}); apierr.Status(err) != 403 {
			t.Fatalf("owner set prices: %v", err)
		}
		list, err := f.svc.SetPrices(sys(), f.wsA, []PriceOverride{{UsageCallSeconds, "platform", "0.01"}, {UsageLLMInputTokens, "*/gpt-4o-mini", "0.1"}})
		if err != nil {
			t.Fatal(err)
		}
		var seen int
		for _, p := range list.Prices {
			if p.Kind == UsageCallSeconds && p.Key == "platform" {
				seen++
				if p.PriceMicros != 10_000 || p.Source != "workspace" || p.Price != "0.01" || p.Per != 60 || p.Unit != "per minute" {
					t.Fatalf("override shown as %+v", p)
				}
			}
			if p.Kind == UsageCallSeconds && p.Key == "byop" && p.Source != "platform" {
				t.Fatalf("byop %+v", p)
			}
		}
		if seen != 1 {
			t.Fatalf("platform price shown %d times", seen)
		}
		// Every role reads; another workspace's user gets 404; a member may rate.
		for _, u := range []string{"user_owner", "user_admin", "user_member"} {
			if _, err := f.svc.Prices(f.as(u), f.wsA); err != nil {
				t.Fatalf("%s reads prices: %v", u, err)
			}
		}
		if _, err := f.svc.Prices(f.as("user_b"), f.wsA); apierr.Status(err) != 404 {
			t.Fatalf("outsider reads prices: %v", err)
		}
		if c, err := f.svc.Rate(f.as("user_member"), f.wsA, call); err != nil || c != 15_000 {
			t.Fatalf("override rate %d %v", c, err)
		}
		if _, err := f.svc.Rate(f.as("user_b"), f.wsA, call); apierr.Status(err) != 404 {
			t.Fatalf("outsider rates: %v", err)
		}
		if _, err := f.svc.Rate(context.Background(), f.wsA, call); apierr.Status(err) != 401 {
			t.Fatalf("anonymous rates: %v", err)
		}
		// Workspace B keeps the platform book.
		if c, err := f.svc.Rate(sys(), f.wsB, call); err != nil || c != 22_500 {
			t.Fatalf("ws B rate %d %v", c, err)
		}
		// 1,234 tokens at 0.1 credits per 1M = 123.4 → 124 micro-credits (rounded up).
		if c, err := f.svc.Rate(sys(), f.wsA, Usage{Kind: UsageLLMInputTokens, Quantity: 1234, Provider: "azure-openai", Model: "gpt-4o-mini"}); err != nil || c != 124 {
			t.Fatalf("llm rate %d %v", c, err)
		}
		for _, bad := range []Usage{{Kind: "minutes", Quantity: 1}, {Kind: UsageSTTSeconds, Quantity: -1}, {Kind: UsageCallSeconds, Quantity: 1, Provider: "twilio"}} {
			if _, err := f.svc.Rate(sys(), f.wsA, bad); apierr.Status(err) != 422 {
				t.Fatalf("rated %+v: %v", bad, err)
			}
		}
		// An empty list returns to the platform book; an unknown workspace is 404.
		if _, err := f.svc.SetPrices(sys(), f.wsA, nil); err != nil {
			t.Fatal(err)
		}
		if c, _ := f.svc.Rate(sys(), f.wsA, call); c != 22_500 {
			t.Fatalf("after reset %d", c)
		}
		if _, err := f.svc.SetPrices(sys(), "ws_none", nil); apierr.Status(err) != 404 {
			t.Fatalf("unknown ws: %v", err)
		}
		var audits int
		_ = d.Read.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM audit_log WHERE workspace_id = $1 AND action = 'prices.updated'`, f.wsA).Scan(&audits)
		if audits != 2 {
			t.Fatalf("audits %d", audits)
		}
	})
}

func TestRecordUsage(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		f.grant(t, f.wsA, 1_000_000)
		at := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
		recs := []Usage{
			{ID: "u1", CallID: "call_1", AgentID: "agent_1", Kind: UsageCallSeconds, Quantity: 61, Provider: "platform", OccurredAt: at}, // 15,250
			{ID: "u2", CallID: "call_1", Kind: UsageSTTSeconds, Quantity: 61, Provider: "deepgram", Model: "nova-3", OccurredAt: at},     // 61×72 = 4,392
			{ID: "u3", CallID: "call_1", Kind: UsageSTTSeconds, Quantity: 61, Provider: "sim", Model: "x", OccurredAt: at},               // free
			{ID: "u2", CallID: "call_1", Kind: UsageSTTSeconds, Quantity: 61, Provider: "deepgram", Model: "nova-3", OccurredAt: at},     // same ID in the batch
		}
		if _, err := f.svc.RecordUsage(f.as("user_owner"), f.wsA, recs); apierr.Status(err) != 403 {
			t.Fatalf("owner records usage: %v", err)
		}
		res, err := f.svc.RecordUsage(sys(), f.wsA, recs)
		if err != nil {
			t.Fatal(err)
		}
		if res[0].Cost != 15_250 || res[0].Transfer.ID == "" || res[0].Transfer.Reference != "call_1" || res[0].Replayed || res[0].Err != nil {
			t.Fatalf("u1 %+v", res[0])
		}
		if res[1].Cost != 4_392 || res[2].Cost != 0 || res[2].Transfer.ID != "" || res[2].Err != nil {
			t.Fatalf("u2 u3 %+v %+v", res[1], res[2])
		}
		if !res[3].Replayed || res[3].Transfer.ID != res[1].Transfer.ID || res[3].Cost != 4_392 {
			t.Fatalf("duplicate in batch %+v", res[3])
		}
		if a, _ := f.balance(t, f.wsA); a != 1_000_000-15_250-4_392 {
			t.Fatalf("balance %d", a)
		}
		// A replay returns the first result even after the prices changed; nothing is written.
		if _, err := f.svc.SetPrices(sys(), f.wsA, []PriceOverride{{UsageCallSeconds, "platform", "1"}}); err != nil {
			t.Fatal(err)
		}
		again, err := f.svc.RecordUsage(sys(), f.wsA, recs[:3])
		if err != nil {
			t.Fatal(err)
		}
		for i := range again {
			if !again[i].Replayed || again[i].Cost != res[i].Cost || again[i].Transfer.ID != res[i].Transfer.ID {
				t.Fatalf("replay %d: %+v vs %+v", i, again[i], res[i])
			}
		}
		if a, _ := f.balance(t, f.wsA); a != 1_000_000-15_250-4_392 {
			t.Fatalf("balance after replay %d", a)
		}
		// The same ID with other content is a conflict of that record only.
		other := recs[0]
		other.Quantity = 62
		res2, err := f.svc.RecordUsage(sys(), f.wsA, []Usage{other, {ID: "u4", Kind: UsageCallSeconds, Quantity: 60, OccurredAt: at}})
		if err != nil {
			t.Fatal(err)
		}
		wantCode(t, res2[0].Err, apierr.Conflict, "idempotency_conflict")
		// 60 s at 1 credit a minute = 1,000,000 micro-credits: more than is left.
		wantCode(t, res2[1].Err, apierr.PaymentRequired, "insufficient_credits")
		if res2[1].Transfer.ID != "" {
			t.Fatalf("refused record has a transfer: %+v", res2[1])
		}
		// Refused records write nothing: their ID stays free for after a top-up.
		f.grant(t, f.wsA, 1_000_000)
		res3, err := f.svc.RecordUsage(sys(), f.wsA, []Usage{{ID: "u4", Kind: UsageCallSeconds, Quantity: 60, OccurredAt: at}})
		if err != nil || res3[0].Err != nil || res3[0].Replayed || res3[0].Cost != 1_000_000 {
			t.Fatalf("u4 after top-up %+v %v", res3, err)
		}
		// Whole-batch refusals.
		for _, bad := range [][]Usage{nil, {{ID: "", Kind: UsageCallSeconds}}, {{ID: "x", Kind: "minutes"}}, {{ID: "x", Kind: UsageCallSeconds, Provider: "twilio"}}, {{ID: "x", Kind: UsageSTTSeconds, Quantity: -5}}} {
			if _, err := f.svc.RecordUsage(sys(), f.wsA, bad); apierr.Status(err) != 422 {
				t.Fatalf("accepted %+v: %v", bad, err)
			}
		}
		if _, err := f.svc.RecordUsage(sys(), "ws_none", recs[:1]); apierr.Status(err) != 404 {
			t.Fatalf("unknown workspace: %v", err)
		}
		var rows, sum int64
		_ = d.Read.QueryRowContext(context.Background(), `SELECT COUNT(*), COALESCE(SUM(cost), 0) FROM billing_usage WHERE workspace_id = $1`, f.wsA).Scan(&rows, &sum)
		var debited int64
		_ = d.Read.QueryRowContext(context.Background(), `SELECT COALESCE(SUM(amount), 0) FROM billing_transfers WHERE workspace_id = $1 AND idempotency_key LIKE 'debit:usage:%'`, f.wsA).Scan(&debited)
		if rows != 4 || sum != 15_250+4_392+1_000_000 || debited != sum {
			t.Fatalf("usage rows %d sum %d debited %d", rows, sum, debited)
		}
		f.verify(t)
	})
}

// Concurrent runtimes send overlapping batches: each ID is debited once, the balance never goes
// below zero, and the ledger verifies.
func TestRecordUsageConcurrentReplays(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		f.grant(t, f.wsA, 100_000) // room for 400 of the 1,000 records of 250 each
		at := f.clock.Now()
		var wg sync.WaitGroup
		errs := make(chan error, 20)
		for g := 0; g < 20; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				for b := 0; b < 5; b++ {
					var batch []Usage
					for i := 0; i < 20; i++ {
						n := (g*7 + b*20 + i) % 1000 // goroutines overlap on IDs
						batch = append(batch, Usage{ID: fmt.Sprintf("r%d", n), Kind: UsageCallSeconds, Quantity: 1, Provider: "platform", OccurredAt: at})
					}
					if _, err := f.svc.RecordUsage(sys(), f.wsA, batch); err != nil {
						errs <- err
						return
					}
				}
			}(g)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		var rows, debits int64
		_ = d.Read.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM billing_usage WHERE workspace_id = $1`, f.wsA).Scan(&rows)
		_ = d.Read.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM billing_transfers WHERE workspace_id = $1 AND idempotency_key LIKE 'debit:usage:%'`, f.wsA).Scan(&debits)
		a, _ := f.balance(t, f.wsA)
		if rows != debits || a < 0 || a != 100_000-250*debits {
			t.Fatalf("rows %d debits %d available %d", rows, debits, a)
		}
		f.verify(t)
	})
}

func TestUsageReport(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		f.grant(t, f.wsA, 10_000_000)
		day1 := time.Date(2026, 11, 25, 23, 59, 0, 0, time.UTC)
		day2 := time.Date(2026, 11, 26, 0, 1, 0, 0, time.UTC)
		_, err := f.svc.RecordUsage(sys(), f.wsA, []Usage{
			{ID: "a", AgentID: "agent_1", Kind: UsageCallSeconds, Quantity: 60, OccurredAt: day1},                                       // 15,000
			{ID: "b", AgentID: "agent_1", Kind: UsageCallSeconds, Quantity: 120, OccurredAt: day2},                                      // 30,000
			{ID: "c", AgentID: "agent_2", Kind: UsageSTTSeconds, Quantity: 10, Provider: "deepgram", Model: "nova-3", OccurredAt: day2}, // 720
			{ID: "d", Kind: UsageTTSCharacters, Quantity: 1000, Provider: "sim", OccurredAt: day2},                                      // free
			{ID: "e", Kind: UsageCallSeconds, Quantity: 60, OccurredAt: day2.Add(30 * time.Hour)},                                       // outside
		})
		if err != nil {
			t.Fatal(err)
		}
		from, to := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
		r, err := f.svc.Usage(f.as("user_member"), f.wsA, from, to, GroupByDay)
		if err != nil {
			t.Fatal(err)
		}
		want := []UsageRow{
			{Group: "2026-11-25", Kind: UsageCallSeconds, Quantity: 60, Records: 1, Cost: "0.015", CostMicros: 15_000},
			{Group: "2026-11-26", Kind: UsageCallSeconds, Quantity: 120, Records: 1, Cost: "0.03", CostMicros: 30_000},
			{Group: "2026-11-26", Kind: UsageSTTSeconds, Quantity: 10, Records: 1, Cost: "0.00072", CostMicros: 720},
			{Group: "2026-11-26", Kind: UsageTTSCharacters, Quantity: 1000, Records: 1, Cost: "0", CostMicros: 0},
		}
		if fmt.Sprint(r.Rows) != fmt.Sprint(want) || r.TotalMicros != 45_720 || r.Total != "0.04572" {
			t.Fatalf("by day %+v", r)
		}
		r, _ = f.svc.Usage(sys(), f.wsA, from, to, GroupByAgent)
		if len(r.Rows) != 3 || r.Rows[0].Group != "" || r.Rows[1].Group != "agent_1" || r.Rows[1].Quantity != 180 || r.Rows[2].Group != "agent_2" {
			t.Fatalf("by agent %+v", r.Rows)
		}
		r, _ = f.svc.Usage(sys(), f.wsA, time.Time{}, time.Time{}, GroupByKind)
		if len(r.Rows) != 3 || r.Rows[0].Group != UsageCallSeconds || r.Rows[0].Records != 3 || r.TotalMicros != 60_720 {
			t.Fatalf("by kind (default period) %+v", r)
		}
		// The report's total over all time equals the ledger's usage debits.
		var debited int64
		_ = d.Read.QueryRowContext(context.Background(), `SELECT SUM(amount) FROM billing_transfers WHERE workspace_id = $1 AND idempotency_key LIKE 'debit:usage:%'`, f.wsA).Scan(&debited)
		if debited != r.TotalMicros {
			t.Fatalf("ledger %d report %d", debited, r.TotalMicros)
		}
		for _, c := range []struct {
			from, to time.Time
			g        string
		}{{to, from, GroupByDay}, {from, from.Add(400 * 24 * time.Hour), GroupByDay}, {from, to, "week"}} {
			if _, err := f.svc.Usage(sys(), f.wsA, c.from, c.to, c.g); apierr.Status(err) != 422 {
				t.Fatalf("%v: %v", c, err)
			}
		}
		if _, err := f.svc.Usage(f.as("user_b"), f.wsA, from, to, GroupByDay); apierr.Status(err) != 404 {
			t.Fatalf("outsider: %v", err)
		}
	})
}

// BenchmarkRecordUsage measures rated usage debits per second when usage arrives in batches of
// 100 records (RecordUsage: rate, debit and usage row for each, one transaction per batch), from
// 4 concurrent callers against one workspace. b.N counts records.
//
//	go test -run '^$' -bench RecordUsage -benchtime 100000x ./internal/billing/
func BenchmarkRecordUsage(b *testing.B) {
	const size = 100
	for _, dialect := range dbtest.Dialects() {
		b.Run(string(dialect), func(b *testing.B) {
			d := dbtest.Open(b, dialect)
			f := newFixture(b, d)
			f.grant(b, f.wsA, 1_000_000_000_000)
			ctx := sys()
			at := f.clock.Now()
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
					recs := make([]Usage, size)
					for j := range recs {
						recs[j] = Usage{ID: fmt.Sprintf("u_%d_%d", i, j), CallID: "call_bench", AgentID: "agent_bench", Kind: UsageKinds[j%len(UsageKinds)],
							Quantity: int64(10 + j), Provider: "openai", Model: "gpt-4o-mini", OccurredAt: at}
						if recs[j].Kind == UsageCallSeconds {
							recs[j].Provider = TelephonyPlatform
						}
					}
					res, err := f.svc.RecordUsage(ctx, f.wsA, recs)
					if err != nil {
						b.Error(err)
						return
					}
					for _, r := range res {
						if r.Err != nil {
							b.Error(r.Err)
							return
						}
					}
				}
			})
			b.ReportMetric(float64(batches*size)/time.Since(start).Seconds(), "records/s")
			b.StopTimer()
			f.verify(b)
		})
	}
}
