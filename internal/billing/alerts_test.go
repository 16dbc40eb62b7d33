package billing

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/authz"
	"github.com/parleyhq/parley/internal/platform/db"
	"github.com/parleyhq/parley/internal/platform/db/dbtest"
)

func (f *fixture) count(t testing.TB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := f.d.Read.QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func (f *fixture) events(t testing.TB, ws, typ string) int {
	return f.count(t, `SELECT COUNT(*) FROM events WHERE workspace_id = $1 AND type = $2`, ws, typ)
}

func (f *fixture) mails(t testing.TB, to, subject string) int {
	return f.count(t, `SELECT COUNT(*) FROM mail_outbox WHERE to_addr = $1 AND subject LIKE $2`, to, "%"+subject+"%")
}

func ptr[T any](v T) *T { return &v }

func TestLowBalanceAlertsOncePerCrossing(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := sys()
		// Only the owner sets the threshold; everyone sees it.
		_, err := f.svc.UpdateSettings(f.as("user_admin"), f.wsA, SettingsInput{LowBalanceThreshold: ptr(int64(5_000_000))})
		if !errors.Is(err, apierr.Forbidden) {
			t.Fatalf("admin set the threshold: %v", err)
		}
		if _, err := f.svc.UpdateSettings(f.as("user_b"), f.wsA, SettingsInput{LowBalanceThreshold: ptr(int64(5_000_000))}); !errors.Is(err, apierr.NotFound) {
			t.Fatalf("stranger: %v", err)
		}
		if _, err := f.svc.UpdateSettings(f.as("user_owner"), f.wsA, SettingsInput{LowBalanceThreshold: ptr(int64(-1))}); !errors.Is(err, apierr.Invalid) {
			t.Fatalf("negative: %v", err)
		}
		// Set before any credit: the available row exists at 0 and Verify accepts it.
		st, err := f.svc.UpdateSettings(f.as("user_owner"), f.wsA, SettingsInput{LowBalanceThreshold: ptr(int64(5_000_000))})
		if err != nil || st.LowBalanceThreshold != "5" {
			t.Fatalf("settings %+v %v", st, err)
		}
		f.verify(t)
		if st, err := f.svc.Settings(f.as("user_member"), f.wsA); err != nil || st.LowBalanceThresholdMicros != 5_000_000 {
			t.Fatalf("member reads %+v %v", st, err)
		}
		f.grant(t, f.wsA, 10_000_000)
		b, _ := f.svc.Balance(f.as("user_member"), f.wsA)
		if b.LowBalanceThreshold != "5" || b.Low {
			t.Fatalf("balance %+v", b)
		}

		// 10 → 6: above. A hold to 4 crosses: credits.low and a mail to the owner (not the admin).
		if _, err := f.svc.Debit(ctx, DebitInput{WorkspaceID: f.wsA, Amount: 4_000_000, Key: "d1"}); err != nil {
			t.Fatal(err)
		}
		if n := f.events(t, f.wsA, EventCreditsLow); n != 0 {
			t.Fatalf("low before crossing: %d", n)
		}
		if _, err := f.svc.Reserve(ctx, ReserveInput{WorkspaceID: f.wsA, Reference: "call_1", Amount: 2_000_000}); err != nil {
			t.Fatal(err)
		}
		if n := f.events(t, f.wsA, EventCreditsLow); n != 1 {
			t.Fatalf("low after crossing: %d", n)
		}
		if f.mails(t, "user_owner", "credits low") != 1 || f.mails(t, "user_admin", "credits") != 0 {
			t.Fatal("the owner, and only the owner, is mailed")
		}
		if b, _ := f.svc.Balance(ctx, f.wsA); !b.Low {
			t.Fatalf("not low: %+v", b)
		}
		// More debits below the threshold: no new alert (batch path too).
		if _, err := f.svc.Debit(ctx, DebitInput{WorkspaceID: f.wsA, Amount: 1_000_000, Key: "d2"}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.DebitBatch(ctx, f.wsA, []DebitInput{{Amount: 500_000, Key: "b1"}, {Amount: 500_000, Key: "b2"}}); err != nil {
			t.Fatal(err)
		}
		if n := f.events(t, f.wsA, EventCreditsLow); n != 1 {
			t.Fatalf("low again without re-arming: %d", n)
		}
		// A release (held → available) back above re-arms nothing by itself while below: 2+2 = 4 < 5.
		if _, err := f.svc.Release(ctx, f.wsA, "call_1"); err != nil {
			t.Fatal(err)
		}
		// A grant lifts it above (re-arms); the next crossing alerts again, through the batch path.
		f.grant(t, f.wsA, 3_000_000) // 7
		if _, err := f.svc.DebitBatch(ctx, f.wsA, []DebitInput{{Amount: 1_000_000, Key: "b3"}, {Amount: 2_000_000, Key: "b4"}}); err != nil {
			t.Fatal(err)
		}
		if n := f.events(t, f.wsA, EventCreditsLow); n != 2 {
			t.Fatalf("low after re-arm: %d", n)
		}
		// Down to exactly zero: credits.depleted (once), and not credits.low again.
		if _, err := f.svc.Debit(ctx, DebitInput{WorkspaceID: f.wsA, Amount: 4_000_000, Key: "d3"}); err != nil {
			t.Fatal(err)
		}
		if n, m := f.events(t, f.wsA, EventCreditsDepleted), f.events(t, f.wsA, EventCreditsLow); n != 1 || m != 2 {
			t.Fatalf("depleted %d low %d", n, m)
		}
		if f.mails(t, "user_owner", "no credits left") != 1 {
			t.Fatal("no depleted mail")
		}
		// A refused debit at zero writes nothing, publishes nothing.
		if _, err := f.svc.Debit(ctx, DebitInput{WorkspaceID: f.wsA, Amount: 1, Key: "d4"}); !errors.Is(err, apierr.PaymentRequired) {
			t.Fatalf("overdraft: %v", err)
		}
		// From above the threshold straight to zero: both events, one mail.
		f.grant(t, f.wsA, 6_000_000)
		before := f.count(t, `SELECT COUNT(*) FROM mail_outbox`)
		if _, err := f.svc.Debit(ctx, DebitInput{WorkspaceID: f.wsA, Amount: 6_000_000, Key: "d5"}); err != nil {
			t.Fatal(err)
		}
		if n, m := f.events(t, f.wsA, EventCreditsDepleted), f.events(t, f.wsA, EventCreditsLow); n != 2 || m != 3 {
			t.Fatalf("depleted %d low %d", n, m)
		}
		if after := f.count(t, `SELECT COUNT(*) FROM mail_outbox`); after != before+1 {
			t.Fatalf("mails %d → %d", before, after)
		}
		// Without a threshold: depleted only.
		f.grant(t, f.wsB, 1_000_000)
		if _, err := f.svc.Debit(ctx, DebitInput{WorkspaceID: f.wsB, Amount: 1_000_000, Key: "d1"}); err != nil {
			t.Fatal(err)
		}
		if n, m := f.events(t, f.wsB, EventCreditsDepleted), f.events(t, f.wsB, EventCreditsLow); n != 1 || m != 0 {
			t.Fatalf("ws B: depleted %d low %d", n, m)
		}
		f.verify(t)
	})
}

// ownBoth makes user_owner the owner of ws_b too (user_b becomes its admin).
func (f *fixture) ownBoth(t testing.TB) {
	t.Helper()
	if _, err := f.d.Write.ExecContext(context.Background(), `UPDATE workspace_members SET role = 'admin' WHERE workspace_id = $1`, f.wsB); err != nil {
		t.Fatal(err)
	}
	f.roles["user_b"][f.wsB] = authz.Admin
	if _, err := f.d.Write.ExecContext(context.Background(), `INSERT INTO workspace_members (workspace_id, user_id, role, created_at) VALUES ($1, 'user_owner', 'owner', $2)`,
		f.wsB, db.Time(f.clock.Now())); err != nil {
		t.Fatal(err)
	}
	f.roles["user_owner"][f.wsB] = authz.Owner
}

func TestTransferBetweenOwnWorkspaces(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		f.grant(t, f.wsA, 10_000_000)
		owner := f.as("user_owner")
		// Not the owner of the target: 404, as a workspace one cannot see.
		_, err := f.svc.Transfer(owner, f.wsA, TransferInput{ToWorkspaceID: f.wsB, Amount: 1_000_000})
		wantCode(t, err, apierr.NotFound, "not_found")
		// An admin of the source may not move credits.
		_, err = f.svc.Transfer(f.as("user_admin"), f.wsA, TransferInput{ToWorkspaceID: f.wsB, Amount: 1_000_000})
		if !errors.Is(err, apierr.Forbidden) {
			t.Fatalf("admin: %v", err)
		}
		f.ownBoth(t)
		owner = f.as("user_owner")
		if _, err := f.svc.Transfer(owner, f.wsA, TransferInput{ToWorkspaceID: f.wsA, Amount: 1}); !errors.Is(err, apierr.Invalid) {
			t.Fatalf("to itself: %v", err)
		}
		if _, err := f.svc.Transfer(owner, f.wsA, TransferInput{ToWorkspaceID: f.wsB, Amount: 0}); !errors.Is(err, apierr.Invalid) {
			t.Fatalf("zero: %v", err)
		}
		// No overdraft: nothing moves.
		_, err = f.svc.Transfer(owner, f.wsA, TransferInput{ToWorkspaceID: f.wsB, Amount: 10_000_001})
		wantCode(t, err, apierr.PaymentRequired, "insufficient_credits")
		if a, _ := f.balance(t, f.wsB); a != 0 {
			t.Fatalf("B got %d", a)
		}
		wt, err := f.svc.Transfer(owner, f.wsA, TransferInput{ToWorkspaceID: f.wsB, Amount: 2_500_000, Reason: "fund client", Key: "k1"})
		if err != nil {
			t.Fatal(err)
		}
		if wt.Out.Kind != KindTransferOut || wt.Out.From != Available || wt.Out.To != Grants || wt.Out.Reference != f.wsB ||
			wt.In.Kind != KindTransferIn || wt.In.WorkspaceID != f.wsB || wt.In.From != Grants || wt.In.To != Available ||
			wt.Out.IdempotencyKey != wt.In.IdempotencyKey || wt.Amount != "2.5" || wt.Replayed {
			t.Fatalf("transfer %+v", wt)
		}
		// The same key and input: the same transfer, once.
		again, err := f.svc.Transfer(owner, f.wsA, TransferInput{ToWorkspaceID: f.wsB, Amount: 2_500_000, Reason: "fund client", Key: "k1"})
		if err != nil || !again.Replayed || again.Out.ID != wt.Out.ID || again.In.ID != wt.In.ID {
			t.Fatalf("replay %+v %v", again, err)
		}
		_, err = f.svc.Transfer(owner, f.wsA, TransferInput{ToWorkspaceID: f.wsB, Amount: 1_000_000, Key: "k1"})
		wantCode(t, err, apierr.Conflict, "idempotency_conflict")
		if a, _ := f.balance(t, f.wsA); a != 7_500_000 {
			t.Fatalf("A %d", a)
		}
		if a, _ := f.balance(t, f.wsB); a != 2_500_000 {
			t.Fatalf("B %d", a)
		}
		// Audited in both; credits.added in the target.
		if f.count(t, `SELECT COUNT(*) FROM audit_log WHERE workspace_id = $1 AND action = 'credits.transferred_out'`, f.wsA) != 1 ||
			f.count(t, `SELECT COUNT(*) FROM audit_log WHERE workspace_id = $1 AND action = 'credits.transferred_in'`, f.wsB) != 1 {
			t.Fatal("audit entries")
		}
		if f.events(t, f.wsB, "credits.added") != 1 {
			t.Fatal("credits.added")
		}
		// And back, the other way round (lock order by workspace ID).
		if _, err := f.svc.Transfer(owner, f.wsB, TransferInput{ToWorkspaceID: f.wsA, Amount: 500_000}); err != nil {
			t.Fatal(err)
		}
		f.verify(t)
		// Verify notices a leg without its pair.
		if _, err := f.d.Write.ExecContext(context.Background(), `UPDATE billing_transfers SET amount = amount + 1 WHERE workspace_id = $1 AND kind = 'transfer_in' AND idempotency_key = $2`,
			f.wsB, wt.ID); err != nil {
			t.Fatal(err)
		}
		r, err := f.svc.Verify(sys())
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, d := range r.Differences {
			found = found || strings.Contains(d.Problem, "no matching leg")
		}
		if !found {
			t.Fatalf("unpaired leg not found: %v", r.Differences)
		}
	})
}

func TestCreditsExpire(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := sys()
		now := f.clock.Now()
		if _, err := f.svc.Grant(ctx, GrantInput{WorkspaceID: f.wsA, Amount: 1, Key: "past", ExpiresAt: now}); !errors.Is(err, apierr.Invalid) {
			t.Fatalf("expiry in the past: %v", err)
		}
		f.grant(t, f.wsA, 5_000_000) // never expires
		for _, g := range []GrantInput{
			{WorkspaceID: f.wsA, Amount: 3_000_000, Key: "late", ExpiresAt: now.Add(48 * time.Hour)},
			{WorkspaceID: f.wsA, Amount: 2_000_000, Key: "early", ExpiresAt: now.Add(24 * time.Hour)},
		} {
			if _, err := f.svc.Grant(ctx, g); err != nil {
				t.Fatal(err)
			}
		}
		// The same key with another expiry is another input.
		_, err := f.svc.Grant(ctx, GrantInput{WorkspaceID: f.wsA, Amount: 2_000_000, Key: "early", ExpiresAt: now.Add(25 * time.Hour)})
		wantCode(t, err, apierr.Conflict, "idempotency_conflict")
		b, _ := f.svc.Balance(ctx, f.wsA)
		if b.AvailableMicros != 10_000_000 || b.ExpiringMicros != 5_000_000 {
			t.Fatalf("balance %+v", b)
		}
		f.verify(t)
		// Spending takes the credits that expire first: 2.5 = all of "early" and 0.5 of "late".
		if _, err := f.svc.Debit(ctx, DebitInput{WorkspaceID: f.wsA, Amount: 2_500_000, Key: "d1"}); err != nil {
			t.Fatal(err)
		}
		// A transfer carries 1 of "late" (with its expiry) to B.
		f.ownBoth(t)
		if _, err := f.svc.Transfer(f.as("user_owner"), f.wsA, TransferInput{ToWorkspaceID: f.wsB, Amount: 1_000_000}); err != nil {
			t.Fatal(err)
		}
		lots, err := f.svc.Lots(ctx, f.wsA)
		if err != nil || len(lots) != 2 || lots[0].Remaining != 0 || lots[1].Remaining != 1_500_000 {
			t.Fatalf("lots A %+v %v", lots, err)
		}
		lotsB, err := f.svc.Lots(ctx, f.wsB)
		if err != nil || len(lotsB) != 1 || lotsB[0].Remaining != 1_000_000 || !lotsB[0].ExpiresAt.Equal(now.Add(48*time.Hour)) {
			t.Fatalf("lots B %+v %v", lotsB, err)
		}
		f.verify(t)
		// Nothing is due yet.
		if n, err := f.svc.ExpireCredits(ctx, 100); err != nil || n != 0 {
			t.Fatalf("due early: %d %v", n, err)
		}
		// Day 1: "early" is spent; it expires with no transfer.
		f.clock.Advance(24 * time.Hour)
		if n, err := f.svc.ExpireCredits(ctx, 100); err != nil || n != 1 {
			t.Fatalf("day 1: %d %v", n, err)
		}
		if a, _ := f.balance(t, f.wsA); a != 6_500_000 {
			t.Fatalf("A after day 1: %d", a)
		}
		// Day 2: what is left of "late" (1.5 in A, 1 in B) leaves through expire transfers.
		f.clock.Advance(24 * time.Hour)
		if n, err := f.svc.ExpireCredits(ctx, 100); err != nil || n != 2 {
			t.Fatalf("day 2: %d %v", n, err)
		}
		if a, _ := f.balance(t, f.wsA); a != 5_000_000 {
			t.Fatalf("A after day 2: %d", a)
		}
		if a, _ := f.balance(t, f.wsB); a != 0 {
			t.Fatalf("B after day 2: %d", a)
		}
		p, err := f.svc.Ledger(ctx, f.wsA, "", 1)
		if err != nil || p.Data[0].Kind != KindExpire || p.Data[0].From != Available || p.Data[0].To != Grants || p.Data[0].AmountMicros != 1_500_000 {
			t.Fatalf("ledger %+v %v", p, err)
		}
		if n, err := f.svc.ExpireCredits(ctx, 100); err != nil || n != 0 {
			t.Fatalf("twice: %d %v", n, err)
		}
		if b, _ := f.svc.Balance(ctx, f.wsA); b.ExpiringMicros != 0 {
			t.Fatalf("expiring left %+v", b)
		}
		f.verify(t)
	})
}

// Concurrent debits cross the threshold once and reach zero once: exactly one credits.low and
// one credits.depleted, whatever the interleaving; then opposite transfers race without deadlock.
func TestAlertsAndTransfersUnderConcurrency(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := sys()
		f.ownBoth(t)
		if _, err := f.svc.UpdateSettings(f.as("user_owner"), f.wsA, SettingsInput{LowBalanceThreshold: ptr(int64(30))}); err != nil {
			t.Fatal(err)
		}
		f.grant(t, f.wsA, 100)
		run := func(n int, fn func(i int) error) {
			t.Helper()
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for i := 0; i < n; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					if err := fn(i); err != nil && !errors.Is(err, ErrInsufficientCredits) {
						errs <- err
					}
				}(i)
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
		}
		run(60, func(i int) error {
			if i%2 == 0 {
				_, err := f.svc.Debit(ctx, DebitInput{WorkspaceID: f.wsA, Amount: 3, Key: fmt.Sprint("d", i)})
				return err
			}
			_, err := f.svc.DebitBatch(ctx, f.wsA, []DebitInput{{Amount: 1, Key: fmt.Sprint("b", i)}, {Amount: 2, Key: fmt.Sprint("c", i)}})
			return err
		})
		if a, _ := f.balance(t, f.wsA); a != 0 {
			t.Fatalf("A has %d left", a)
		}
		if n, m := f.events(t, f.wsA, EventCreditsLow), f.events(t, f.wsA, EventCreditsDepleted); n != 1 || m != 1 {
			t.Fatalf("low %d depleted %d, want 1 and 1", n, m)
		}
		f.grant(t, f.wsA, 50)
		f.grant(t, f.wsB, 50)
		run(60, func(i int) error {
			from, to := f.wsA, f.wsB
			if i%2 == 0 {
				from, to = to, from
			}
			_, err := f.svc.Transfer(f.as("user_owner"), from, TransferInput{ToWorkspaceID: to, Amount: int64(1 + i%5)})
			return err
		})
		a, _ := f.balance(t, f.wsA)
		b, _ := f.balance(t, f.wsB)
		if a+b != 100 {
			t.Fatalf("A %d + B %d != 100", a, b)
		}
		f.verify(t)
	})
}
