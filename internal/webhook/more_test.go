package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/db"
	"github.com/parleyhq/parley/internal/platform/db/dbtest"
	"github.com/parleyhq/parley/internal/platform/events"
)

func TestRetryDelay(t *testing.T) {
	for _, c := range []struct {
		attempt    int
		retryAfter time.Duration
		want       time.Duration
	}{
		{1, 0, 5 * time.Second},                 // the schedule
		{1, 2 * time.Second, 5 * time.Second},   // never sooner than the schedule
		{1, 90 * time.Second, 90 * time.Second}, // a longer Retry-After is honoured
		{1, 10 * time.Hour, MaxRetryAfter},      // up to an hour
		{5, 30 * time.Minute, 5 * time.Hour},    // the schedule is longer already
		{20, 0, 10 * time.Hour},                 // past the schedule: its last delay
		{3, 45 * time.Minute, 45 * time.Minute}, // 30 min scheduled, 45 asked
		{2, 5*time.Minute + time.Second, 5*time.Minute + time.Second},
	} {
		if got := retryDelay(c.attempt, c.retryAfter, 0.5); got != c.want { // r = 0.5: no jitter
			t.Errorf("retryDelay(%d, %v) = %v, want %v", c.attempt, c.retryAfter, got, c.want)
		}
	}
	if lo, hi := retryDelay(2, 0, 0), retryDelay(2, 0, 0.999); lo != 270*time.Second || hi < 329*time.Second || hi > 330*time.Second {
		t.Errorf("jitter range %v..%v, want 4.5 min..5.5 min", lo, hi)
	}
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"120": 2 * time.Minute, "0": 0, "-5": 0, "soon": 0, "": 0, "99999999": MaxRetryAfter,
		now.Add(10 * time.Minute).Format(http.TimeFormat): 10 * time.Minute, now.Add(-time.Minute).Format(http.TimeFormat): 0,
	} {
		if got := parseRetryAfter(v, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", v, got, want)
		}
	}
}

// A 429 with Retry-After postpones the next attempt (through NextRetry); a 500's does not.
func TestRetryAfterHonoured(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		status, header := 429, "600"
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", header)
			w.WriteHeader(status)
		}))
		defer srv.Close()
		ep, err := f.svc.Create(as("user_owner"), "ws_a", CreateInput{URL: srv.URL, Events: []string{"*"}})
		if err != nil {
			t.Fatal(err)
		}
		m, err := f.svc.Test(as("user_owner"), "ws_a", ep.ID)
		if err != nil {
			t.Fatal(err)
		}
		w := &Worker{Svc: f.svc, Client: NewClient(true)}
		job := &river.Job[DeliverArgs]{JobRow: &rivertype.JobRow{ID: 42, Attempt: 1, MaxAttempts: 8}, Args: DeliverArgs{WorkspaceID: "ws_a", MessageID: m.ID, Manual: true}}
		if err := w.Work(context.Background(), job); err == nil {
			t.Fatal("429 is a success")
		}
		if wait := time.Until(w.NextRetry(job)); wait < 9*time.Minute || wait > 10*time.Minute {
			t.Errorf("after 429 Retry-After: 600 the next attempt is in %v", wait)
		}
		if wait := time.Until(w.NextRetry(job)); wait > 6*time.Second {
			t.Errorf("the Retry-After outlived its attempt: %v", wait)
		}
		status = 500
		if err := w.Work(context.Background(), job); err == nil {
			t.Fatal("500 is a success")
		}
		if wait := time.Until(w.NextRetry(job)); wait > 6*time.Second {
			t.Errorf("a 500's Retry-After was honoured: %v", wait)
		}
	})
}

// An endpoint whose every attempt fails for 5 days is disabled, with an event and a mail to the
// owner and admins; a success in between starts the count again.
func TestAutoDisableAfterFiveDays(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		f.exec(t, `INSERT INTO users (id, email, email_normalized, name, password_hash, created_at, updated_at) VALUES ('user_admin', 'admin@example.com', 'admin@example.com', 'A', 'x', $1, $1)`, db.Time(baseTime))
		f.exec(t, `INSERT INTO workspace_members (workspace_id, user_id, role, created_at) VALUES ('ws_a', 'user_admin', 'admin', $1)`, db.Time(baseTime))
		status := 500
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(status) }))
		defer srv.Close()
		ep, err := f.svc.Create(as("user_owner"), "ws_a", CreateInput{URL: srv.URL, Events: []string{"*"}})
		if err != nil {
			t.Fatal(err)
		}
		w := &Worker{Svc: f.svc, Client: NewClient(true)}
		attempt := func() {
			t.Helper()
			f.publish(t, "ws_a", "workspace.updated", nil)
			if _, err := (&Dispatcher{Svc: f.svc}).Pass(context.Background()); err != nil {
				t.Fatal(err)
			}
			for _, a := range f.queue.take() {
				_ = w.Work(context.Background(), &river.Job[DeliverArgs]{JobRow: &rivertype.JobRow{Attempt: 1, MaxAttempts: 8}, Args: a})
			}
		}
		enabled := func() bool {
			g, err := f.svc.Get(as("user_owner"), "ws_a", ep.ID)
			if err != nil {
				t.Fatal(err)
			}
			return g.Enabled
		}
		attempt()
		f.now = f.now.Add(3 * 24 * time.Hour)
		status = 200
		attempt() // a success resets the run
		status = 500
		f.now = f.now.Add(time.Hour)
		attempt()
		f.now = f.now.Add(4 * 24 * time.Hour)
		attempt()
		if !enabled() {
			t.Fatal("disabled after 4 days of failures (the success before reset the count)")
		}
		f.now = f.now.Add(24*time.Hour + time.Minute)
		attempt()
		g, _ := f.svc.Get(as("user_owner"), "ws_a", ep.ID)
		if g.Enabled || !strings.Contains(g.DisabledReason, "5 days") {
			t.Fatalf("after 5 days of failures: enabled %v, reason %q", g.Enabled, g.DisabledReason)
		}
		evs, _ := events.List(context.Background(), d.Read, "ws_a", "", 1000)
		if last := evs[len(evs)-1]; last.Type != "webhook.endpoint_disabled" || !strings.Contains(string(last.Data.(json.RawMessage)), ep.ID) {
			t.Errorf("last event %s %s", last.Type, last.Data)
		}
		rows, err := d.Read.Query(`SELECT to_addr, subject, body FROM mail_outbox ORDER BY to_addr`)
		if err != nil {
			t.Fatal(err)
		}
		var to []string
		for rows.Next() {
			var r, s, b string
			if err := rows.Scan(&r, &s, &b); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(s, "disabled") || !strings.Contains(b, srv.URL) {
				t.Errorf("mail %q: %q", s, b)
			}
			to = append(to, r)
		}
		rows.Close()
		if strings.Join(to, ",") != "admin@example.com,user_owner" {
			t.Errorf("mailed %v, want the owner and the admin (not the member)", to)
		}
		// Enabling starts afresh: one more failure does not disable it again.
		on := true
		if _, err := f.svc.Update(as("user_owner"), "ws_a", ep.ID, Patch{Enabled: &on}); err != nil {
			t.Fatal(err)
		}
		f.now = f.now.Add(time.Hour)
		attempt()
		if !enabled() {
			t.Error("re-enabled endpoint disabled again by its first failure")
		}
	})
}

// Custom headers are sealed at rest, bound to their row; rows saved in clear by an older version
// are read and then sealed by SealLegacyHeaders.
func TestHeadersSealedAtRest(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := as("user_owner")
		var got http.Header
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.Header.Clone() }))
		defer srv.Close()
		ep, err := f.svc.Create(ctx, "ws_a", CreateInput{URL: srv.URL, Events: []string{"*"}, Headers: map[string]string{"Authorization": "Bearer s3cret-token"}})
		if err != nil {
			t.Fatal(err)
		}
		stored := func(id string) (h string) {
			if err := d.Read.QueryRow(`SELECT headers FROM webhook_endpoints WHERE id = $1`, id).Scan(&h); err != nil {
				t.Fatal(err)
			}
			return h
		}
		if h := stored(ep.ID); strings.Contains(h, "s3cret") || !strings.HasPrefix(h, "v1.") {
			t.Fatalf("headers stored as %q", h)
		}
		if g, _ := f.svc.Get(ctx, "ws_a", ep.ID); g.Headers["Authorization"] != "Bearer s3cret-token" {
			t.Fatalf("read back %v", g.Headers)
		}
		m, _ := f.svc.Test(ctx, "ws_a", ep.ID)
		w := &Worker{Svc: f.svc, Client: NewClient(true)}
		if err := w.Work(context.Background(), &river.Job[DeliverArgs]{JobRow: &rivertype.JobRow{Attempt: 1, MaxAttempts: 8}, Args: DeliverArgs{WorkspaceID: "ws_a", MessageID: m.ID, Manual: true}}); err != nil {
			t.Fatal(err)
		}
		if got.Get("Authorization") != "Bearer s3cret-token" {
			t.Errorf("delivery headers %v", got)
		}
		// Copied to another endpoint's row, the sealed text does not open.
		other, _ := f.svc.Create(ctx, "ws_a", CreateInput{URL: srv.URL + "/2", Events: []string{"*"}})
		f.exec(t, `UPDATE webhook_endpoints SET headers = $1 WHERE id = $2`, stored(ep.ID), other.ID)
		if _, err := f.svc.Get(ctx, "ws_a", other.ID); err == nil {
			t.Error("headers sealed for one endpoint open on another")
		}
		// A row from before sealing: read in clear, then sealed.
		f.exec(t, `UPDATE webhook_endpoints SET headers = $1 WHERE id = $2`, `{"X-Legacy":"old-token"}`, other.ID)
		if g, err := f.svc.Get(ctx, "ws_a", other.ID); err != nil || g.Headers["X-Legacy"] != "old-token" {
			t.Fatalf("legacy row: %v, %v", g.Headers, err)
		}
		if n, err := f.svc.SealLegacyHeaders(context.Background()); err != nil || n != 1 {
			t.Fatalf("sealed %d, %v", n, err)
		}
		if h := stored(other.ID); strings.Contains(h, "old-token") {
			t.Errorf("still in clear: %q", h)
		}
		if g, err := f.svc.Get(ctx, "ws_a", other.ID); err != nil || g.Headers["X-Legacy"] != "old-token" {
			t.Fatalf("after sealing: %v, %v", g.Headers, err)
		}
		if n, _ := f.svc.SealLegacyHeaders(context.Background()); n != 0 {
			t.Errorf("second pass sealed %d", n)
		}
	})
}

// Replay re-queues the failed messages since a time (every message with All), not older ones,
// and not through another workspace.
func TestReplay(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := as("user_owner")
		ep, err := f.svc.Create(ctx, "ws_a", CreateInput{URL: "https://hooks.example.com/r", Events: []string{"*"}})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for i := range 4 {
			f.now = f.now.Add(time.Hour)
			f.publish(t, "ws_a", "workspace.updated", map[string]any{"i": i})
			if _, err := (&Dispatcher{Svc: f.svc}).Pass(context.Background()); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, f.queue.take()[0].MessageID)
		}
		// Messages 0 and 2 failed, 1 delivered, 3 still pending.
		for i, st := range []string{MessageFailed, MessageDelivered, MessageFailed} {
			f.exec(t, `UPDATE webhook_messages SET status = $1 WHERE id = $2`, st, ids[i])
		}
		since := baseTime.Add(90 * time.Minute) // after message 0
		f.now = f.now.Add(time.Hour)
		res, err := f.svc.Replay(ctx, "ws_a", ep.ID, ReplayInput{Since: since})
		jobs := f.queue.take()
		if err != nil || res.Replayed != 1 || len(jobs) != 1 || jobs[0].MessageID != ids[2] || !jobs[0].Manual {
			t.Fatalf("replay failed = %+v, %v, jobs %+v", res, err, jobs)
		}
		res, err = f.svc.Replay(ctx, "ws_a", ep.ID, ReplayInput{Since: since, All: true})
		if jobs = f.queue.take(); err != nil || res.Replayed != 3 || len(jobs) != 3 {
			t.Fatalf("replay all = %+v, %v, %d jobs", res, err, len(jobs))
		}
		if _, err := f.svc.Replay(ctx, "ws_a", ep.ID, ReplayInput{Since: f.now.Add(time.Hour)}); code(err) != "validation_failed" {
			t.Errorf("since in the future: %v", err)
		}
		if _, err := f.svc.Replay(as("user_b"), "ws_b", ep.ID, ReplayInput{Since: since}); code(err) != "not_found" {
			t.Errorf("through another workspace: %v", err)
		}
		if _, err := f.svc.Replay(as("user_member"), "ws_a", ep.ID, ReplayInput{Since: since}); !errors.Is(err, apierr.Forbidden) {
			t.Errorf("by a member: %v", err)
		}
		off := false
		_, _ = f.svc.Update(ctx, "ws_a", ep.ID, Patch{Enabled: &off})
		if _, err := f.svc.Replay(ctx, "ws_a", ep.ID, ReplayInput{Since: since}); code(err) != "endpoint_disabled" {
			t.Errorf("disabled endpoint: %v", err)
		}
	})
}

// Prune deletes attempts and finished messages older than the retention, and nothing newer.
func TestPrune(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
		defer srv.Close()
		ep, err := f.svc.Create(as("user_owner"), "ws_a", CreateInput{URL: srv.URL, Events: []string{"*"}})
		if err != nil {
			t.Fatal(err)
		}
		w := &Worker{Svc: f.svc, Client: NewClient(true)}
		send := func() string {
			m, err := f.svc.Test(as("user_owner"), "ws_a", ep.ID)
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Work(context.Background(), &river.Job[DeliverArgs]{JobRow: &rivertype.JobRow{Attempt: 1, MaxAttempts: 8}, Args: DeliverArgs{WorkspaceID: "ws_a", MessageID: m.ID}}); err != nil {
				t.Fatal(err)
			}
			return m.ID
		}
		old := send()
		oldPending, _ := f.svc.Test(as("user_owner"), "ws_a", ep.ID) // never attempted: still pending
		f.now = f.now.Add(31 * 24 * time.Hour)
		recent := send()
		a, m, err := f.svc.Prune(context.Background(), 0)
		if err != nil || a != 1 || m != 1 {
			t.Fatalf("pruned %d attempts, %d messages, %v", a, m, err)
		}
		left := map[string]bool{}
		rows, _ := d.Read.Query(`SELECT id FROM webhook_messages`)
		for rows.Next() {
			var id string
			_ = rows.Scan(&id)
			left[id] = true
		}
		rows.Close()
		if left[old] || !left[recent] || !left[oldPending.ID] || len(left) != 2 {
			t.Errorf("left %v (old %s, recent %s, pending %s)", left, old, recent, oldPending.ID)
		}
		if a, m, _ := f.svc.Prune(context.Background(), 0); a != 0 || m != 0 {
			t.Errorf("second prune %d, %d", a, m)
		}
		f.now = f.now.Add(2 * time.Hour)
		if a, _, _ := f.svc.Prune(context.Background(), time.Hour); a != 1 {
			t.Errorf("a 1 h retention pruned %d attempts", a)
		}
	})
}
