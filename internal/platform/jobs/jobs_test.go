package jobs_test

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river"

	"github.com/parleyhq/parley/internal/platform/db"
	"github.com/parleyhq/parley/internal/platform/db/dbtest"
	"github.com/parleyhq/parley/internal/platform/jobs"
)

type recordArgs struct {
	Key string `json:"key"`
}

func (recordArgs) Kind() string { return "test.record" }

// recorder counts how many times each key was worked.
type recorder struct {
	river.WorkerDefaults[recordArgs]
	mu   sync.Mutex
	runs map[string]int
	done chan string
}

func newRecorder() *recorder {
	return &recorder{runs: map[string]int{}, done: make(chan string, 100)}
}

func (r *recorder) Work(_ context.Context, job *river.Job[recordArgs]) error {
	r.mu.Lock()
	r.runs[job.Args.Key]++
	r.mu.Unlock()
	r.done <- job.Args.Key
	return nil
}

func (r *recorder) count(key string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.runs[key]
}

// wait waits until every key has been worked, failing the test at the deadline.
func (r *recorder) wait(t *testing.T, timeout time.Duration, keys ...string) {
	t.Helper()
	want := map[string]bool{}
	for _, k := range keys {
		want[k] = true
	}
	deadline := time.After(timeout)
	for len(want) > 0 {
		select {
		case k := <-r.done:
			delete(want, k)
		case <-deadline:
			t.Fatalf("jobs not worked within %v: %v", timeout, want)
		}
	}
}

// startQueue starts a working queue with the recorder and stops it gracefully at cleanup.
func startQueue(t *testing.T, d *db.DB, rec *recorder) *jobs.Queue {
	t.Helper()
	workers := river.NewWorkers()
	river.AddWorker(workers, rec)
	q, err := jobs.New(d, nil, jobs.Options{Workers: workers, MaxWorkers: 4, FetchCooldown: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := q.Stop(stopCtx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return q
}

// insert enqueues a job for key in its own transaction, which commits when commit is true. The
// short deadline turns a self-deadlock on SQLite's single writer into a quick failure.
func insert(t *testing.T, d *db.DB, q *jobs.Queue, key string, commit bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	errRollback := errors.New("roll back")
	err := d.Tx(ctx, func(tx *sql.Tx) error {
		res, err := q.InsertTx(ctx, tx, recordArgs{Key: key}, nil)
		if err != nil {
			return err
		}
		if res.Job == nil || res.Job.ID == 0 {
			t.Errorf("insert %s: no job row returned", key)
		}
		if !commit {
			return errRollback
		}
		return nil
	})
	if commit && err != nil {
		t.Fatalf("insert %s: %v", key, err)
	}
	if !commit && !errors.Is(err, errRollback) {
		t.Fatalf("insert %s: err = %v, want the rollback", key, err)
	}
}

func jobStates(t *testing.T, d *db.DB) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	rows, err := d.Read.QueryContext(ctx, `SELECT args, state FROM river_job WHERE kind = $1`, recordArgs{}.Kind())
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	states := map[string]string{}
	for rows.Next() {
		var args []byte
		var state string
		if err := rows.Scan(&args, &state); err != nil {
			t.Fatal(err)
		}
		states[string(args)] = state
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return states
}

func TestCommittedJobRunsOnceRolledBackNever(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		rec := newRecorder()
		q := startQueue(t, d, rec)

		start := time.Now()
		insert(t, d, q, "first", true)
		insert(t, d, q, "rolled-back", false)
		insert(t, d, q, "second", true)
		rec.wait(t, 10*time.Second, "first", "second")
		t.Logf("%s: two jobs worked %v after the first insert", d.Dialect, time.Since(start))

		// Let the completions land and give a duplicate a chance to show, then stop gracefully
		// so nothing is in flight when we count.
		time.Sleep(300 * time.Millisecond)
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := q.Stop(stopCtx); err != nil {
			t.Fatalf("stop: %v", err)
		}

		for key, want := range map[string]int{"first": 1, "second": 1, "rolled-back": 0} {
			if got := rec.count(key); got != want {
				t.Errorf("%s worked %d times, want %d", key, got, want)
			}
		}
		states := jobStates(t, d)
		if len(states) != 2 {
			t.Errorf("river_job rows = %v, want the two committed jobs only", states)
		}
		for args, state := range states {
			if state != "completed" {
				t.Errorf("job %s is %s, want completed", args, state)
			}
		}
	})
}

func TestInsertOnlyQueue(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		// A CLI command enqueues with a queue that has no workers ...
		inserter, err := jobs.New(d, nil, jobs.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := inserter.Start(context.Background()); err == nil {
			t.Fatal("insert-only queue started")
		}
		insert(t, d, inserter, "from-cli", true)

		// ... and the server's queue works the job.
		rec := newRecorder()
		startQueue(t, d, rec)
		rec.wait(t, 10*time.Second, "from-cli")
	})
}

func TestNewValidatesOptions(t *testing.T) {
	d := dbtest.Open(t, db.SQLite)
	if _, err := jobs.New(d, nil, jobs.Options{MaxWorkers: -1}); err == nil {
		t.Fatal("negative MaxWorkers accepted")
	}
	if _, err := jobs.New(nil, nil, jobs.Options{}); err == nil {
		t.Fatal("nil store accepted")
	}
}

// TestPickupIsPrompt checks that an idle queue notices a committed job at once (LISTEN/NOTIFY on
// PostgreSQL, River's notification table on SQLite) rather than at its next poll, one second
// apart: with polling, six jobs all picked up within 500 ms would be a 1-in-64 chance.
func TestPickupIsPrompt(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		rec := newRecorder()
		q := startQueue(t, d, rec)
		var slowest time.Duration
		for range 6 {
			time.Sleep(150 * time.Millisecond) // let the queue go idle
			start := time.Now()
			insert(t, d, q, "k", true)
			rec.wait(t, 5*time.Second, "k")
			slowest = max(slowest, time.Since(start))
		}
		t.Logf("%s: slowest pickup %v", d.Dialect, slowest)
		if slowest > 500*time.Millisecond {
			t.Errorf("slowest pickup %v: insert notifications do not reach the queue", slowest)
		}
	})
}

// TestMigrationDownAndUp checks River's goose migration both ways on a migrated store.
func TestMigrationDownAndUp(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		dialect := goose.DialectSQLite3
		if d.Dialect == db.Postgres {
			dialect = goose.DialectPostgres
		}
		// River's migration over a stand-in for version 1 (applied already, never run here).
		stub := fstest.MapFS{"00001_foundation.sql": {Data: []byte("-- +goose Up\nSELECT 1;\n-- +goose Down\nSELECT 1;\n")}}
		p, err := goose.NewProvider(dialect, d.Write, stub,
			goose.WithDisableGlobalRegistry(true), goose.WithGoMigrations(jobs.Migrations(d.Dialect)...))
		if err != nil {
			t.Fatal(err)
		}
		riverTables := func() int {
			var n int
			if err := d.Write.QueryRowContext(ctx, `SELECT COUNT(*) FROM river_job`).Scan(&n); err != nil {
				return -1
			}
			return n
		}
		if riverTables() < 0 {
			t.Fatal("river_job missing after migrate")
		}
		// ApplyVersion, not Down: later SQL migrations (unknown to the stub) are applied too.
		if _, err := p.ApplyVersion(ctx, jobs.MigrationVersion, false); err != nil {
			t.Fatalf("down: %v", err)
		}
		if riverTables() >= 0 {
			t.Fatal("river_job still there after down")
		}
		if _, err := p.ApplyVersion(ctx, jobs.MigrationVersion, true); err != nil {
			t.Fatalf("up again: %v", err)
		}
		if riverTables() < 0 {
			t.Fatal("river_job missing after up")
		}
	})
}

type blockArgs struct{}

func (blockArgs) Kind() string { return "test.block" }

// blocker runs until its context is cancelled.
type blocker struct {
	river.WorkerDefaults[blockArgs]
	started   chan struct{}
	cancelled chan struct{}
}

func (b *blocker) Work(ctx context.Context, _ *river.Job[blockArgs]) error {
	close(b.started)
	<-ctx.Done()
	close(b.cancelled)
	return ctx.Err()
}

// TestStopCancelsJobsAfterDeadline checks that a graceful Stop that runs out of time cancels the
// running jobs and returns instead of hanging.
func TestStopCancelsJobsAfterDeadline(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		b := &blocker{started: make(chan struct{}), cancelled: make(chan struct{})}
		workers := river.NewWorkers()
		river.AddWorker(workers, b)
		q, err := jobs.New(d, nil, jobs.Options{Workers: workers, FetchCooldown: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if err := q.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		if err := d.Tx(ctx, func(tx *sql.Tx) error {
			_, err := q.InsertTx(ctx, tx, blockArgs{}, nil)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		select {
		case <-b.started:
		case <-time.After(5 * time.Second):
			t.Fatal("job did not start")
		}
		stopCtx, stopCancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer stopCancel()
		start := time.Now()
		if err := q.Stop(stopCtx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Stop = %v, want deadline exceeded", err)
		}
		select {
		case <-b.cancelled:
		default:
			t.Fatal("running job not cancelled")
		}
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("Stop took %v", took)
		}
	})
}
