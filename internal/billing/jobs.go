package billing

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"github.com/parleyhq/parley/internal/platform/authz"
)

// ExpireHoldsArgs is the periodic job that returns expired holds' credits and moves expired
// credits out (its kind keeps its first name).
type ExpireHoldsArgs struct{}

// Kind is the job's stable name.
func (ExpireHoldsArgs) Kind() string { return "billing.expire_holds" }

// ExpireHoldsWorker works ExpireHoldsArgs: it expires due holds, a batch at a time, as the system.
type ExpireHoldsWorker struct {
	river.WorkerDefaults[ExpireHoldsArgs]
	Svc *Service
}

// expireBatch bounds how many holds one run expires; the next run takes the rest.
const expireBatch = 1000

// Work expires the holds due now, then the credit lots due now (ExpireCredits). It is
// idempotent: an expired hold or lot is not active any more.
func (w *ExpireHoldsWorker) Work(ctx context.Context, _ *river.Job[ExpireHoldsArgs]) error {
	sys := authz.WithPrincipal(ctx, authz.System())
	if _, err := w.Svc.ExpireDue(sys, expireBatch); err != nil {
		return err
	}
	_, err := w.Svc.ExpireCredits(sys, expireBatch)
	return err
}

// PeriodicExpiry is the schedule of the expiry job.
func PeriodicExpiry(every time.Duration) *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(every), func() (river.JobArgs, *river.InsertOpts) {
		return ExpireHoldsArgs{}, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: every}}
	}, &river.PeriodicJobOpts{RunOnStart: true})
}
