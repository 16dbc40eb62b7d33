package app

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"github.com/parleyhq/parley/internal/billing"
	"github.com/parleyhq/parley/internal/call"
	"github.com/parleyhq/parley/internal/campaign"
	"github.com/parleyhq/parley/internal/contact"
	"github.com/parleyhq/parley/internal/platform/jobs"
	"github.com/parleyhq/parley/internal/platform/mail"
	"github.com/parleyhq/parley/internal/webhook"
)

// StartWorkers starts the job queue, with the mail outbox as a periodic job.
func (s *Server) StartWorkers(ctx context.Context) error {
	workers := river.NewWorkers()
	river.AddWorker(workers, &mail.Worker{Deliverer: s.Mail})
	river.AddWorker(workers, &billing.ExpireHoldsWorker{Svc: s.Billing})
	river.AddWorker(workers, &call.DialWorker{Svc: s.Calls})
	river.AddWorker(workers, &call.SweepWorker{Svc: s.Calls})
	river.AddWorker(workers, &campaign.TickWorker{Svc: s.Campaigns})
	river.AddWorker(workers, &campaign.WatchdogWorker{Svc: s.Campaigns})
	river.AddWorker(workers, &contact.ImportWorker{Svc: s.Contacts})
	river.AddWorker(workers, &webhook.Worker{Svc: s.Webhooks, Client: webhook.NewClient(s.Config.WebhookAllowPrivate)})
	river.AddWorker(workers, &webhook.PruneWorker{Svc: s.Webhooks, Retention: s.Config.WebhookRetention})
	q, err := jobs.New(s.DB, s.Logger, jobs.Options{MaxWorkers: s.Config.JobWorkers, FetchCooldown: s.Config.JobFetchCooldown,
		Workers: workers, PeriodicJobs: []*river.PeriodicJob{mail.Periodic(5 * time.Second), billing.PeriodicExpiry(30 * time.Second), call.PeriodicSweep(time.Minute), campaign.PeriodicWatchdog(30 * time.Second),
			webhook.PeriodicPrune(time.Hour)}})
	if err != nil {
		return err
	}
	if err := q.Start(ctx); err != nil {
		return err
	}
	s.queue = q
	// The webhook dispatcher fans the events outbox out to endpoints (see internal/webhook).
	dctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		(&webhook.Dispatcher{Svc: s.Webhooks, Logger: s.Logger}).Run(dctx)
	}()
	s.dispatch = func() { cancel(); <-done }
	return nil
}

// StopWorkers stops the job queue, letting running jobs finish until ctx ends.
func (s *Server) StopWorkers(ctx context.Context) {
	if s.dispatch != nil {
		s.dispatch()
	}
	if s.queue != nil {
		if err := s.queue.Stop(ctx); err != nil {
			s.Logger.Warn("job queue stop", "err", err)
		}
	}
}
