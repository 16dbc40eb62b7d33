package billing

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/authz"
	"github.com/parleyhq/parley/internal/platform/clock"
	"github.com/parleyhq/parley/internal/platform/db"
	"github.com/parleyhq/parley/internal/platform/db/dbtest"
)

type fixture struct {
	d        *db.DB
	svc      *Service
	clock    *clock.Fake
	wsA, wsB string
	roles    map[string]map[string]authz.Role
}

func newFixture(t testing.TB, d *db.DB) *fixture {
	t.Helper()
	ck := clock.NewFake(time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC))
	f := &fixture{d: d, svc: NewService(d, ck.Now), clock: ck, wsA: "ws_a", wsB: "ws_b", roles: map[string]map[string]authz.Role{}}
	ctx := context.Background()
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := d.Write.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	now := db.Time(ck.Now())
	for _, ws := range []string{f.wsA, f.wsB} {
		exec(`INSERT INTO workspaces (id, name, slug, timezone, created_at, updated_at) VALUES ($1, $1, $1, 'UTC', $2, $2)`, ws, now)
	}
	for _, m := range []struct {
		user, ws string
		role     authz.Role
	}{{"user_owner", f.wsA, authz.Owner}, {"user_admin", f.wsA, authz.Admin}, {"user_member", f.wsA, authz.Member}, {"user_b", f.wsB, authz.Owner}} {
		exec(`INSERT INTO users (id, email, email_normalized, name, password_hash, created_at, updated_at) VALUES ($1, $1, $1, $1, 'x', $2, $2)`, m.user, now)
		exec(`INSERT INTO workspace_members (workspace_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)`, m.ws, m.user, string(m.role), now)
		if f.roles[m.user] == nil {
			f.roles[m.user] = map[string]authz.Role{}
		}
		f.roles[m.user][m.ws] = m.role
	}
	return f
}

func (f *fixture) as(user string) context.Context {
	roles := f.roles[user]
	return authz.WithPrincipal(context.Background(), authz.NewUser(user, "", func(_ context.Context, _, ws string) (authz.Role, bool, error) {
		r, ok := roles[ws]
		return r, ok, nil
	}))
}

func sys() context.Context { return authz.WithPrincipal(context.Background(), authz.System()) }

func (f *fixture) grant(t testing.TB, ws string, micros int64) {
	t.Helper()
	if _, err := f.svc.Grant(sys(), GrantInput{WorkspaceID: ws, Amount: micros, Key: fmt.Sprintf("seed-%d-%d", micros, time.Now().UnixNano()), Reason: "test"}); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) balance(t testing.TB, ws string) (int64, int64) {
	t.Helper()
	b, err := f.svc.Balance(sys(), ws)
	if err != nil {
		t.Fatal(err)
	}
	return b.AvailableMicros, b.HeldMicros
}

func (f *fixture) verify(t testing.TB) Report {
	t.Helper()
	r, err := f.svc.Verify(sys())
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Differences) != 0 || r.Total != 0 {
		t.Fatalf("ledger does not verify: %v (total %d)", r.Differences, r.Total)
	}
	return r
}

func wantCode(t *testing.T, err error, category error, code string) {
	t.Helper()
	var e *apierr.Error
	if !errors.As(err, &e) || !errors.Is(err, category) || e.Code != code {
		t.Fatalf("want %s (%v), got %v", code, category, err)
	}
}

func TestGrantIsIdempotentAndAudited(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		in := GrantInput{WorkspaceID: f.wsA, Amount: 100_000_000, Key: "k1", Reason: "pilot"}
		r1, err := f.svc.Grant(sys(), in)
		if err != nil || r1.Replayed || len(r1.Transfers) != 1 {
			t.Fatalf("grant: %+v %v", r1, err)
		}
		r2, err := f.svc.Grant(sys(), in)
		if err != nil || !r2.Replayed || r2.Transfers[0].ID != r1.Transfers[0].ID {
			t.Fatalf("replay: %+v %v", r2, err)
		}
		in.Amount = 5
		_, err = f.svc.Grant(sys(), in)
		wantCode(t, err, apierr.Conflict, "idempotency_conflict")
		if a, h := f.balance(t, f.wsA); a != 100_000_000 || h != 0 {
			t.Fatalf("balance %d %d", a, h)
		}
		var audits, evts int
		_ = d.Read.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM audit_log WHERE workspace_id = $1 AND action = 'credits.granted'`, f.wsA).Scan(&audits)
		_ = d.Read.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM events WHERE workspace_id = $1 AND type = 'credits.added'`, f.wsA).Scan(&evts)
		if audits != 1 || evts != 1 {
			t.Fatalf("audits %d events %d", audits, evts)
		}
		// Only trusted callers mint credits: never the owner.
		_, err = f.svc.Grant(f.as("user_owner"), GrantInput{WorkspaceID: f.wsA, Amount: 1, Key: "k2"})
		wantCode(t, err, apierr.Forbidden, "trusted_caller_only")
		_, err = f.svc.Grant(sys(), GrantInput{WorkspaceID: "ws_none", Amount: 1, Key: "k3"})
		wantCode(t, err, apierr.NotFound, "not_found")
		_, err = f.svc.Grant(sys(), GrantInput{WorkspaceID: f.wsA, Amount: 0, Key: "k4"})
		wantCode(t, err, apierr.Invalid, "validation_failed")
		f.verify(t)
	})
}

func TestDebitNeverOverdraws(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		// A workspace that never had credits.
		_, err := f.svc.Debit(sys(), DebitInput{WorkspaceID: f.wsB, Amount: 1, Key: "u0"})
		wantCode(t, err, apierr.PaymentRequired, "insufficient_credits")
		f.grant(t, f.wsA, 10)
		if _, err := f.svc.Debit(sys(), DebitInput{WorkspaceID: f.wsA, Amount: 7, Key: "u1", Reference: "call_1"}); err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.Debit(sys(), DebitInput{WorkspaceID: f.wsA, Amount: 4, Key: "u2"})
		wantCode(t, err, apierr.PaymentRequired, "insufficient_credits")
		// The refused key stays free; the spent one replays.
		if _, err := f.svc.Debit(sys(), DebitInput{WorkspaceID: f.wsA, Amount: 3, Key: "u2"}); err != nil {
			t.Fatal(err)
		}
		r, err := f.svc.Debit(sys(), DebitInput{WorkspaceID: f.wsA, Amount: 7, Key: "u1", Reference: "call_1"})
		if err != nil || !r.Replayed {
			t.Fatalf("replay %+v %v", r, err)
		}
		_, err = f.svc.Debit(sys(), DebitInput{WorkspaceID: f.wsA, Amount: 8, Key: "u1", Reference: "call_1"})
		wantCode(t, err, apierr.Conflict, "idempotency_conflict")
		if a, _ := f.balance(t, f.wsA); a != 0 {
			t.Fatalf("available %d", a)
		}
		// Keys are per workspace.
		f.grant(t, f.wsB, 5)
		if r, err := f.svc.Debit(sys(), DebitInput{WorkspaceID: f.wsB, Amount: 5, Key: "u1"}); err != nil || r.Replayed {
			t.Fatalf("debit ws B with A's key: %+v %v", r, err)
		}
		_, err = f.svc.Debit(f.as("user_owner"), DebitInput{WorkspaceID: f.wsA, Amount: 1, Key: "u9"})
		wantCode(t, err, apierr.Forbidden, "trusted_caller_only")
		f.verify(t)
	})
}

func TestHolds(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := sys()
		f.grant(t, f.wsA, 100)
		_, err := f.svc.Reserve(ctx, ReserveInput{WorkspaceID: f.wsA, Reference: "call_big", Amount: 101})
		wantCode(t, err, apierr.PaymentRequired, "insufficient_credits")
		h, err := f.svc.Reserve(ctx, ReserveInput{WorkspaceID: f.wsA, Reference: "call_1", Amount: 30, TTL: time.Minute})
		if err != nil || h.Status != HoldActive || h.AmountMicros != 30 || !h.ExpiresAt.Equal(f.clock.Now().Add(time.Minute)) {
			t.Fatalf("reserve %+v %v", h, err)
		}
		if h2, err := f.svc.Reserve(ctx, ReserveInput{WorkspaceID: f.wsA, Reference: "call_1", Amount: 30, TTL: time.Minute}); err != nil || h2.ID != h.ID {
			t.Fatalf("replayed reserve %+v %v", h2, err)
		}
		_, err = f.svc.Reserve(ctx, ReserveInput{WorkspaceID: f.wsA, Reference: "call_1", Amount: 31, TTL: time.Minute})
		wantCode(t, err, apierr.Conflict, "idempotency_conflict")
		if a, held := f.balance(t, f.wsA); a != 70 || held != 30 {
			t.Fatalf("after reserve %d %d", a, held)
		}
		// Extend: idempotent per key; refused beyond available.
		if h, err = f.svc.Extend(ctx, ExtendInput{WorkspaceID: f.wsA, Reference: "call_1", Amount: 20, Key: "m2"}); err != nil || h.AmountMicros != 50 {
			t.Fatalf("extend %+v %v", h, err)
		}
		if h, err = f.svc.Extend(ctx, ExtendInput{WorkspaceID: f.wsA, Reference: "call_1", Amount: 20, Key: "m2"}); err != nil || h.AmountMicros != 50 {
			t.Fatalf("replayed extend %+v %v", h, err)
		}
		_, err = f.svc.Extend(ctx, ExtendInput{WorkspaceID: f.wsA, Reference: "call_1", Amount: 51, Key: "m3"})
		wantCode(t, err, apierr.PaymentRequired, "insufficient_credits")
		_, err = f.svc.Extend(ctx, ExtendInput{WorkspaceID: f.wsA, Reference: "call_none", Amount: 1, Key: "m3"})
		wantCode(t, err, apierr.NotFound, "not_found")
		// Another workspace cannot touch the hold.
		_, err = f.svc.Settle(ctx, f.wsB, "call_1", 1)
		wantCode(t, err, apierr.NotFound, "not_found")
		// Settle: at most what is held; then exactly once.
		_, err = f.svc.Settle(ctx, f.wsA, "call_1", 51)
		wantCode(t, err, apierr.Invalid, "exceeds_hold")
		h, err = f.svc.Settle(ctx, f.wsA, "call_1", 12)
		if err != nil || h.Status != HoldSettled || h.SettledMicros != 12 || h.AmountMicros != 0 || h.ReservedMicros != 50 {
			t.Fatalf("settle %+v %v", h, err)
		}
		if a, held := f.balance(t, f.wsA); a != 88 || held != 0 {
			t.Fatalf("after settle %d %d", a, held)
		}
		if h, err = f.svc.Settle(ctx, f.wsA, "call_1", 12); err != nil || h.Status != HoldSettled {
			t.Fatalf("replayed settle %+v %v", h, err)
		}
		_, err = f.svc.Settle(ctx, f.wsA, "call_1", 13)
		wantCode(t, err, apierr.Conflict, "hold_not_active")
		_, err = f.svc.Release(ctx, f.wsA, "call_1")
		wantCode(t, err, apierr.Conflict, "hold_not_active")
		_, err = f.svc.Extend(ctx, ExtendInput{WorkspaceID: f.wsA, Reference: "call_1", Amount: 1, Key: "m9"})
		wantCode(t, err, apierr.Conflict, "hold_not_active")
		// Release returns everything.
		if _, err := f.svc.Reserve(ctx, ReserveInput{WorkspaceID: f.wsA, Reference: "call_2", Amount: 40}); err != nil {
			t.Fatal(err)
		}
		if h, err = f.svc.Release(ctx, f.wsA, "call_2"); err != nil || h.Status != HoldReleased {
			t.Fatalf("release %+v %v", h, err)
		}
		// Settling a whole hold writes only the settle leg.
		if _, err := f.svc.Reserve(ctx, ReserveInput{WorkspaceID: f.wsA, Reference: "call_3", Amount: 8}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Settle(ctx, f.wsA, "call_3", 8); err != nil {
			t.Fatal(err)
		}
		if a, held := f.balance(t, f.wsA); a != 80 || held != 0 {
			t.Fatalf("after release and settle %d %d", a, held)
		}
		p, err := f.svc.Ledger(f.as("user_member"), f.wsA, "", 100)
		if err != nil {
			t.Fatal(err)
		}
		kinds := ""
		for _, tr := range p.Data {
			kinds = tr.Kind + " " + kinds
		}
		if kinds != "grant reserve extend settle release reserve release reserve settle " {
			t.Fatalf("ledger kinds: %q", kinds)
		}
		f.verify(t)
	})
}

func TestHoldsExpire(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := sys()
		f.grant(t, f.wsA, 100)
		f.grant(t, f.wsB, 100)
		for _, in := range []ReserveInput{{f.wsA, "call_short", 10, time.Minute}, {f.wsB, "call_short", 20, time.Minute}, {f.wsA, "call_long", 30, time.Hour}} {
			if _, err := f.svc.Reserve(ctx, in); err != nil {
				t.Fatal(err)
			}
		}
		// Extending with a TTL moves the expiry.
		if _, err := f.svc.Extend(ctx, ExtendInput{WorkspaceID: f.wsA, Reference: "call_long", Amount: 5, Key: "x", TTL: 2 * time.Hour}); err != nil {
			t.Fatal(err)
		}
		if n, err := f.svc.ExpireDue(ctx, 100); err != nil || n != 0 {
			t.Fatalf("nothing due yet: %d %v", n, err)
		}
		f.clock.Advance(time.Minute)
		if n, err := f.svc.ExpireDue(ctx, 100); err != nil || n != 2 {
			t.Fatalf("expire due: %d %v", n, err)
		}
		if a, h := f.balance(t, f.wsA); a != 65 || h != 35 {
			t.Fatalf("ws A %d %d", a, h)
		}
		if a, h := f.balance(t, f.wsB); a != 100 || h != 0 {
			t.Fatalf("ws B %d %d", a, h)
		}
		f.clock.Advance(time.Hour)
		if ok, err := f.svc.Expire(ctx, f.wsA, "call_long"); ok || err != nil {
			t.Fatalf("expired before its extended TTL: %v %v", ok, err)
		}
		f.clock.Advance(time.Hour)
		if n, err := f.svc.ExpireDue(ctx, 100); err != nil || n != 1 {
			t.Fatalf("expire extended: %d %v", n, err)
		}
		// An expired hold cannot be settled.
		_, err := f.svc.Settle(ctx, f.wsA, "call_short", 1)
		wantCode(t, err, apierr.Conflict, "hold_not_active")
		f.verify(t)
	})
}

func TestReadsNeedBillingView(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		f.grant(t, f.wsA, 2_500_000)
		for _, u := range []string{"user_owner", "user_admin", "user_member"} {
			b, err := f.svc.Balance(f.as(u), f.wsA)
			if err != nil || b.Available != "2.5" || b.AvailableMicros != 2_500_000 || b.Held != "0" {
				t.Fatalf("%s: %+v %v", u, b, err)
			}
		}
		_, err := f.svc.Balance(f.as("user_b"), f.wsA)
		wantCode(t, err, apierr.NotFound, "not_found")
		_, err = f.svc.Ledger(f.as("user_b"), f.wsA, "", 10)
		wantCode(t, err, apierr.NotFound, "not_found")
		key := authz.WithPrincipal(context.Background(), authz.NewAPIKey("key_1", f.wsA, "user_owner", []string{"usage:read"}))
		if _, err := f.svc.Ledger(key, f.wsA, "", 10); err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.Verify(f.as("user_owner"))
		wantCode(t, err, apierr.Forbidden, "trusted_caller_only")
		// Pagination: newest first, stable cursor.
		for i := range 5 {
			if _, err := f.svc.Debit(sys(), DebitInput{WorkspaceID: f.wsA, Amount: 1, Key: fmt.Sprint("p", i)}); err != nil {
				t.Fatal(err)
			}
		}
		var seen []string
		cursor := ""
		for {
			p, err := f.svc.Ledger(f.as("user_member"), f.wsA, cursor, 2)
			if err != nil {
				t.Fatal(err)
			}
			for _, tr := range p.Data {
				seen = append(seen, tr.ID)
			}
			if p.NextCursor == "" {
				break
			}
			cursor = p.NextCursor
		}
		if len(seen) != 6 {
			t.Fatalf("paged %d transfers", len(seen))
		}
		for i := 1; i < len(seen); i++ {
			if seen[i] >= seen[i-1] {
				t.Fatalf("not newest first: %v", seen)
			}
		}
	})
}

func TestVerifyFindsTampering(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		f.grant(t, f.wsA, 100)
		if _, err := d.Write.ExecContext(context.Background(), `UPDATE billing_accounts SET balance = balance + 1 WHERE workspace_id = $1 AND kind = 'available'`, f.wsA); err != nil {
			t.Fatal(err)
		}
		r, err := f.svc.Verify(sys())
		if err != nil || len(r.Differences) != 2 { // the account, and the ledger's total
			t.Fatalf("verify after tampering: %+v %v", r, err)
		}
	})
}

// The proof: 200 goroutines reserve, settle and debit against one workspace at once.
// Available never goes below zero, and afterwards every balance is the sum of its transfers.
func TestConcurrentReserveSettleDebit(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := sys()
		const start = 5_000
		f.grant(t, f.wsA, start)
		var wg sync.WaitGroup
		var spent, refused, settled atomic.Int64
		var failed atomic.Value
		for g := range 200 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 5 {
					ref := fmt.Sprintf("call_%d_%d", g, i)
					if (g+i)%2 == 0 {
						_, err := f.svc.Debit(ctx, DebitInput{WorkspaceID: f.wsA, Amount: 7, Key: ref})
						switch {
						case err == nil:
							spent.Add(7)
						case errors.Is(err, ErrInsufficientCredits):
							refused.Add(1)
						default:
							failed.Store(err)
						}
						continue
					}
					_, err := f.svc.Reserve(ctx, ReserveInput{WorkspaceID: f.wsA, Reference: ref, Amount: 20})
					if errors.Is(err, ErrInsufficientCredits) {
						refused.Add(1)
						continue
					} else if err != nil {
						failed.Store(err)
						continue
					}
					if _, err := f.svc.Extend(ctx, ExtendInput{WorkspaceID: f.wsA, Reference: ref, Amount: 5, Key: "1"}); err != nil && !errors.Is(err, ErrInsufficientCredits) {
						failed.Store(err)
					}
					actual := int64(g % 15)
					if _, err := f.svc.Settle(ctx, f.wsA, ref, actual); err != nil {
						failed.Store(err)
						continue
					}
					spent.Add(actual)
					settled.Add(1)
				}
			}()
		}
		// Watch available while they run: never below zero.
		stop := make(chan struct{})
		watched := make(chan error, 1)
		go func() {
			for {
				select {
				case <-stop:
					watched <- nil
					return
				default:
				}
				var a int64
				if err := d.Read.QueryRowContext(context.Background(), `SELECT balance FROM billing_accounts WHERE workspace_id = $1 AND kind = 'available'`, f.wsA).Scan(&a); err != nil {
					watched <- err
					return
				}
				if a < 0 {
					watched <- fmt.Errorf("available went to %d", a)
					return
				}
			}
		}()
		wg.Wait()
		close(stop)
		if err := <-watched; err != nil {
			t.Fatal(err)
		}
		if err, _ := failed.Load().(error); err != nil {
			t.Fatal(err)
		}
		a, h := f.balance(t, f.wsA)
		if a < 0 || h != 0 || a != start-spent.Load() {
			t.Fatalf("available %d held %d; want %d - %d", a, h, start, spent.Load())
		}
		if refused.Load() == 0 || settled.Load() == 0 {
			t.Fatalf("the test should both run out of credits and settle: refused %d settled %d", refused.Load(), settled.Load())
		}
		r := f.verify(t)
		t.Logf("%s: spent %d, %d refused, %d settled, %d transfers", d.Dialect, spent.Load(), refused.Load(), settled.Load(), r.Transfers)
	})
}

func TestDebitBatch(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := sys()
		f.grant(t, f.wsA, 100)
		if _, err := f.svc.Debit(ctx, DebitInput{WorkspaceID: f.wsA, Amount: 10, Key: "r0", Reference: "call_1"}); err != nil {
			t.Fatal(err)
		}
		// Fast path: everything fits.
		items, err := f.svc.DebitBatch(ctx, f.wsA, []DebitInput{
			{Amount: 10, Key: "r0", Reference: "call_1"}, // replay of a single debit
			{Amount: 20, Key: "r1"},
			{Amount: 20, Key: "r1"}, // the same record twice in a batch: once
			{Amount: 11, Key: "r0"}, // conflict
		})
		if err != nil {
			t.Fatal(err)
		}
		if !items[0].Replayed || items[1].Replayed || items[1].Err != nil || !items[2].Replayed || items[2].Transfer.ID != items[1].Transfer.ID {
			t.Fatalf("items %+v", items)
		}
		wantCode(t, items[3].Err, apierr.Conflict, "idempotency_conflict")
		if a, _ := f.balance(t, f.wsA); a != 70 {
			t.Fatalf("available %d", a)
		}
		// Slow path: records judged in order; the ones that do not fit are refused.
		items, err = f.svc.DebitBatch(ctx, f.wsA, []DebitInput{{Amount: 50, Key: "r2"}, {Amount: 30, Key: "r3"}, {Amount: 20, Key: "r4"}, {Amount: 1, Key: "r5"}})
		if err != nil {
			t.Fatal(err)
		}
		if items[0].Err != nil || items[2].Err != nil || items[3].Err == nil {
			t.Fatalf("slow path %+v", items)
		}
		wantCode(t, items[1].Err, apierr.PaymentRequired, "insufficient_credits")
		if a, _ := f.balance(t, f.wsA); a != 0 {
			t.Fatalf("available %d", a)
		}
		// A refused record's key stays free.
		f.grant(t, f.wsA, 30)
		if items, err = f.svc.DebitBatch(ctx, f.wsA, []DebitInput{{Amount: 30, Key: "r3"}}); err != nil || items[0].Err != nil || items[0].Replayed {
			t.Fatalf("retry refused %+v %v", items, err)
		}
		_, err = f.svc.DebitBatch(ctx, f.wsA, nil)
		wantCode(t, err, apierr.Invalid, "validation_failed")
		_, err = f.svc.DebitBatch(f.as("user_owner"), f.wsA, []DebitInput{{Amount: 1, Key: "x"}})
		wantCode(t, err, apierr.Forbidden, "trusted_caller_only")
		f.verify(t)
	})
}
