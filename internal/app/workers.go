package app

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"github.com/parleyhq/parley/internal/platform/jobs"
	"github.com/parleyhq/parley/internal/platform/mail"
)

// StartWorkers starts the job queue, with the mail outbox as a periodic job.
func (s *Server) StartWorkers(ctx context.Context) error {
	workers := river.NewWorkers()
	river.AddWorker(workers, &mail.Worker{Deliverer: s.Mail})
	q, err := jobs.New(s.DB, s.Logger, jobs.Options{MaxWorkers: s.Config.JobWorkers, FetchCooldown: s.Config.JobFetchCooldown,
		Workers: workers, PeriodicJobs: []*river.PeriodicJob{mail.Periodic(5 * time.Second)}})
	if err != nil {
		return err
	}
	if err := q.Start(ctx); err != nil {
		return err
	}
	s.queue = q
	return nil
}

// StopWorkers stops the job queue, letting running jobs finish until ctx ends.
func (s *Server) StopWorkers(ctx context.Context) {
	if s.queue != nil {
		if err := s.queue.Stop(ctx); err != nil {
			s.Logger.Warn("job queue stop", "err", err)
		}
	}
}
