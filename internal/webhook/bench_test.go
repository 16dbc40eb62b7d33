package webhook

import (
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/parleyhq/parley/internal/platform/db"
	"github.com/parleyhq/parley/internal/platform/db/dbtest"
	"github.com/parleyhq/parley/internal/platform/events"
	"github.com/parleyhq/parley/internal/platform/jobs"
	"github.com/parleyhq/parley/internal/platform/secret"
)

// BenchmarkDeliveries measures end-to-end webhook deliveries: b.N events, each committed in its
// own transaction (as the app's changes are), go through the whole path — outbox trigger,
// dispatcher, River job, signed HTTP POST — to a local receiver that answers 204. It reports
// deliveries/s and the latency from the event's timestamp to the receiver reading the request
// (p50, p99), plus the latency of the app's own writes made meanwhile (one small write
// transaction every 10 ms, as an API request would make).
//
//	go test -run '^$' -bench Deliveries -benchtime 5000x ./internal/webhook/
//
// Sub-benchmarks: burst (events published as fast as 8 writers can) and rate=N/s (open loop).
// PARLEY_BENCH_JOB_WORKERS and PARLEY_BENCH_JOB_COOLDOWN (a duration) tune River as the
// --job-workers and --job-fetch-cooldown flags do (defaults: 100 and 100ms, the server's), and
// PARLEY_BENCH_PG_CONNS the PostgreSQL pool size (default 20).
func BenchmarkDeliveries(b *testing.B) {
	for _, dialect := range dbtest.Dialects() {
		for _, rate := range []int{0, 500, 1000} {
			name := string(dialect) + "/burst"
			if rate > 0 {
				name = string(dialect) + "/rate=" + strconv.Itoa(rate)
			}
			b.Run(name, func(b *testing.B) { benchDeliveries(b, dialect, rate) })
		}
	}
}

// benchReceiver counts deliveries and keeps each one's latency from its event's timestamp.
type benchReceiver struct {
	mu        sync.Mutex
	latencies []time.Duration
	ids       map[string]bool
	dups      int
	n         atomic.Int64
}

func (r *benchReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	now := time.Now()
	var env struct {
		Timestamp time.Time `json:"timestamp"`
	}
	_ = json.Unmarshal(body, &env)
	r.mu.Lock()
	id := req.Header.Get("webhook-id")
	if r.ids[id] {
		r.dups++
	} else {
		r.ids[id] = true
		r.latencies = append(r.latencies, now.Sub(env.Timestamp))
	}
	r.mu.Unlock()
	r.n.Add(1)
	w.WriteHeader(http.StatusNoContent)
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

func envDuration(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(name)); err == nil && d > 0 {
		return d
	}
	return def
}

func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

func benchDeliveries(b *testing.B, dialect db.Dialect, rate int) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := dbtest.Config(b, dialect)
	cfg.ReadConns = envInt("PARLEY_BENCH_PG_CONNS", 0) // PostgreSQL pool size (default 20, the server's)
	d, err := db.Open(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	if err := d.Migrate(ctx, nil, dbtest.Migrations(dialect)...); err != nil {
		b.Fatal(err)
	}
	keys, err := secret.FromKeys([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		b.Fatal(err)
	}
	rc := &benchReceiver{ids: map[string]bool{}}
	srv := httptest.NewServer(rc)
	defer srv.Close()

	var svc *Service
	workers := river.NewWorkers()
	w := &Worker{Client: NewClient(true)}
	river.AddWorker(workers, w)
	q, err := jobs.New(d, nil, jobs.Options{Workers: workers, MaxWorkers: envInt("PARLEY_BENCH_JOB_WORKERS", 100),
		FetchCooldown: envDuration("PARLEY_BENCH_JOB_COOLDOWN", 100*time.Millisecond)})
	if err != nil {
		b.Fatal(err)
	}
	svc = NewService(d, keys, q, Options{AllowPrivate: true})
	w.Svc = svc
	now := db.Time(time.Now())
	for _, s := range []string{
		`INSERT INTO workspaces (id, name, slug, timezone, created_at, updated_at) VALUES ('ws_a', 'a', 'a', 'UTC', $1, $1)`,
		`INSERT INTO users (id, email, email_normalized, name, password_hash, created_at, updated_at) VALUES ('user_owner', 'o', 'o', 'o', 'x', $1, $1)`,
		`INSERT INTO workspace_members (workspace_id, user_id, role, created_at) VALUES ('ws_a', 'user_owner', 'owner', $1)`,
	} {
		if _, err := d.Write.ExecContext(ctx, s, now); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := svc.Create(as("user_owner"), "ws_a", CreateInput{URL: srv.URL + "/hook", Events: []string{"*"}}); err != nil {
		b.Fatal(err)
	}
	if err := q.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer func() {
		stop, done := context.WithTimeout(context.Background(), 10*time.Second)
		defer done()
		_ = q.Stop(stop)
	}()
	dctx, dcancel := context.WithCancel(ctx)
	ddone := make(chan struct{})
	go func() { defer close(ddone); (&Dispatcher{Svc: svc}).Run(dctx) }()
	defer func() { dcancel(); <-ddone }()

	publish := func(i int) error {
		return d.Tx(ctx, func(tx *sql.Tx) error {
			_, err := events.Publish(ctx, tx, events.Event{WorkspaceID: "ws_a", Type: "workspace.updated", Data: map[string]any{"i": i}})
			return err
		})
	}
	// The app's own writes, meanwhile: one small write transaction every 10 ms.
	var appLat []time.Duration
	actx, acancel := context.WithCancel(ctx)
	adone := make(chan struct{})
	go func() {
		defer close(adone)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for i := 0; ; i++ {
			select {
			case <-actx.Done():
				return
			case <-t.C:
			}
			start := time.Now()
			err := d.Tx(actx, func(tx *sql.Tx) error {
				_, err := tx.ExecContext(actx, `UPDATE workspaces SET updated_at = $1 WHERE id = 'ws_a'`, db.Time(start))
				return err
			})
			if err == nil {
				appLat = append(appLat, time.Since(start))
			}
		}
	}()

	b.ResetTimer()
	start := time.Now()
	if rate == 0 {
		var wg sync.WaitGroup
		var next atomic.Int64
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := int(next.Add(1)); i <= b.N; i = int(next.Add(1)) {
					if err := publish(i); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
	} else {
		// Open loop: event i is due at start + i/rate, whatever happened to the others.
		var wg sync.WaitGroup
		sem := make(chan struct{}, 64)
		for i := range b.N {
			time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(rate))))
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				if err := publish(i); err != nil {
					b.Error(err)
				}
			}()
		}
		wg.Wait()
	}
	published := time.Since(start)
	var queued, pending int
	_ = d.Read.QueryRowContext(ctx, `SELECT COUNT(*) FROM webhook_outbox`).Scan(&queued)
	_ = d.Read.QueryRowContext(ctx, `SELECT COUNT(*) FROM webhook_messages WHERE status = 'pending'`).Scan(&pending)
	b.Logf("when the last event committed: %d events not fanned out yet, %d messages pending, %d delivered", queued, pending, rc.n.Load())
	deadline := time.Now().Add(5*time.Minute + time.Duration(b.N)*time.Millisecond)
	for rc.n.Load() < int64(b.N) {
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d delivered", rc.n.Load(), b.N)
		}
		time.Sleep(2 * time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	acancel()
	<-adone
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.dups > 0 {
		b.Logf("%d duplicate deliveries (at-least-once retries)", rc.dups)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "deliveries/s")
	b.ReportMetric(float64(b.N)/published.Seconds(), "events/s")
	b.ReportMetric(float64(pct(rc.latencies, 0.50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(pct(rc.latencies, 0.99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(pct(appLat, 0.99).Microseconds())/1000, "app-write-p99-ms")
	b.ReportMetric(0, "ns/op")
}
