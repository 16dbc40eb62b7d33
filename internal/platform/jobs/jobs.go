// Package jobs is Parley's durable job queue: River (github.com/riverqueue/river) on the store's
// own database, with one client type, river.Client[*sql.Tx], on both dialects.
//
// Contract:
//   - A job is inserted with Queue.InsertTx in the same transaction as the change that causes it.
//     It becomes visible to workers only when that transaction commits, and disappears with it if
//     the transaction rolls back, so a crash neither loses it nor runs it for a change that never
//     happened. There is deliberately no insert outside a transaction: on SQLite the writer pool has
//     one connection, and a pool insert made while the same goroutine holds a transaction blocks
//     forever.
//   - Capabilities register their workers on a *river.Workers that the app owns, with
//     river.AddWorker(workers, w), before the app passes it in Options.Workers to New and calls
//     Start. Job kinds are stable strings ("webhook.deliver"): renaming one strands queued jobs.
//   - A job may run more than once (a crash between its side effect and its completion, a rescue
//     after RescueStuckJobsAfter): workers must be idempotent. Several replicas on one PostgreSQL
//     database share the work; a job is held by one worker at a time.
//   - River's defaults apply unless a worker or the job's InsertOpts say otherwise: a job runs for
//     at most 1 minute (override Worker.Timeout), and a failed job is retried with exponential
//     backoff up to 25 attempts, then discarded.
//   - River's tables are created by Migrations (goose version MigrationVersion) in the store's
//     current schema: the PostgreSQL search_path, which the LISTEN/NOTIFY channels follow too.
//
// On SQLite River shares the single writer connection with the application, so heavy job load
// slows the application's own writes; PostgreSQL is the way beyond that.
package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertype"

	"github.com/parleyhq/parley/internal/platform/db"
)

// Defaults for Options. MaxWorkers / FetchCooldown bounds the rate at which jobs are started
// (100 / 100 ms ≈ 1,000 jobs/s per replica).
const (
	DefaultMaxWorkers    = 100
	DefaultFetchCooldown = 100 * time.Millisecond
)

// Options configure a Queue. The zero value is an insert-only queue.
type Options struct {
	// MaxWorkers is the number of jobs this process works at once (default DefaultMaxWorkers).
	MaxWorkers int
	// FetchCooldown is the minimum time between two fetches of new jobs (default
	// DefaultFetchCooldown, minimum 1 ms).
	FetchCooldown time.Duration
	// Workers holds the registered workers. Nil makes an insert-only queue (for CLI commands and
	// tools): it can InsertTx any job kind but cannot Start.
	Workers *river.Workers
	// PeriodicJobs are enqueued on their schedules by the elected leader (one replica at a time).
	PeriodicJobs []*river.PeriodicJob
}

// Queue is the job queue of one process. Its methods are safe for concurrent use.
type Queue struct {
	client  *river.Client[*sql.Tx]
	working bool
}

// New returns a queue on the store d. It starts nothing: call Start to work jobs. A nil logger
// discards River's logs.
func New(d *db.DB, logger *slog.Logger, opts Options) (*Queue, error) {
	if d == nil {
		return nil, errors.New("jobs: nil store")
	}
	if logger == nil {
		logger = quietLogger()
	}
	if opts.MaxWorkers < 0 || opts.FetchCooldown < 0 {
		return nil, errors.New("jobs: MaxWorkers and FetchCooldown must not be negative")
	}
	if opts.MaxWorkers == 0 {
		opts.MaxWorkers = DefaultMaxWorkers
	}
	if opts.FetchCooldown == 0 {
		opts.FetchCooldown = DefaultFetchCooldown
	}

	var driver riverdriver.Driver[*sql.Tx]
	switch d.Dialect {
	case db.SQLite:
		driver = riversqlite.New(d.Write)
	case db.Postgres:
		if d.Pool == nil {
			return nil, errors.New("jobs: PostgreSQL store without a pgx pool (needed for LISTEN)")
		}
		// database/sql for the work (so jobs insert in the application's *sql.Tx), and a
		// connection hijacked from the pgx pool for LISTEN: new jobs are picked up in
		// milliseconds instead of at the next poll.
		driver = riverdatabasesql.NewWithPgxListener(d.Write, d.Pool)
	default:
		return nil, fmt.Errorf("jobs: unknown dialect %q", d.Dialect)
	}

	cfg := &river.Config{
		Logger:        logger,
		FetchCooldown: opts.FetchCooldown,
	}
	if opts.Workers != nil {
		cfg.Workers = opts.Workers
		cfg.PeriodicJobs = opts.PeriodicJobs
		cfg.Queues = map[string]river.QueueConfig{
			river.QueueDefault: {MaxWorkers: opts.MaxWorkers},
		}
	}
	client, err := river.NewClient(driver, cfg)
	if err != nil {
		return nil, fmt.Errorf("jobs: new River client: %w", err)
	}
	return &Queue{client: client, working: opts.Workers != nil}, nil
}

// Start starts working jobs in the background and returns. Jobs run with contexts derived from
// ctx, so cancelling it stops the queue abruptly (running jobs see their contexts cancelled): pass
// a context that outlives the HTTP server's shutdown and stop with Stop. An insert-only queue
// cannot start.
func (q *Queue) Start(ctx context.Context) error {
	if !q.working {
		return errors.New("jobs: insert-only queue (no Workers) cannot start")
	}
	if err := q.client.Start(ctx); err != nil {
		return fmt.Errorf("jobs: start: %w", err)
	}
	return nil
}

// Stop stops fetching new jobs and waits for the running ones to finish. If ctx ends first, the
// running jobs' contexts are cancelled, Stop waits a little longer for them to return, and it
// reports ctx's error. Stop on a queue that never started returns nil.
func (q *Queue) Stop(ctx context.Context) error {
	err := q.client.Stop(ctx)
	if err == nil || ctx.Err() == nil {
		return err
	}
	// Graceful stop timed out: cancel the running jobs and give them a moment to return.
	hard, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = q.client.StopAndCancel(hard)
	return fmt.Errorf("jobs: graceful stop: %w", err)
}

// InsertTx enqueues a job in tx, the transaction of the change that causes it. The job runs once
// tx commits, and never if it rolls back. opts may be nil (River's defaults and the args'
// InsertOpts apply). It uses only tx, never the pool, so it is safe on SQLite's single writer.
func (q *Queue) InsertTx(ctx context.Context, tx *sql.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	res, err := q.client.InsertTx(ctx, tx, args, opts)
	if err != nil {
		return nil, fmt.Errorf("jobs: insert %s: %w", args.Kind(), err)
	}
	return res, nil
}

// Client is the River client under the queue, for what Queue does not wrap (listing, cancelling
// or subscribing to jobs). Its non-Tx insert methods use the pool: never call them while holding
// a transaction.
func (q *Queue) Client() *river.Client[*sql.Tx] { return q.client }

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
