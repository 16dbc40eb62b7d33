package webhook

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/authz"
	"github.com/parleyhq/parley/internal/platform/db"
	"github.com/parleyhq/parley/internal/platform/db/dbtest"
	"github.com/parleyhq/parley/internal/platform/events"
	"github.com/parleyhq/parley/internal/platform/secret"
)

// fakeQueue records the delivery jobs instead of running them.
type fakeQueue struct {
	mu   sync.Mutex
	jobs []DeliverArgs
}

func (q *fakeQueue) InsertTx(_ context.Context, _ *sql.Tx, args river.JobArgs, _ *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.jobs = append(q.jobs, args.(DeliverArgs))
	return &rivertype.JobInsertResult{}, nil
}

func (q *fakeQueue) take() []DeliverArgs {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.jobs
	q.jobs = nil
	return out
}

type fixture struct {
	d     *db.DB
	svc   *Service
	queue *fakeQueue
	now   time.Time
}

var baseTime = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

func newFixtureKeys(t *testing.T) *secret.Keyring {
	t.Helper()
	keys, err := secret.FromKeys([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func newFixture(t *testing.T, d *db.DB) *fixture {
	t.Helper()
	keys := newFixtureKeys(t)
	f := &fixture{d: d, queue: &fakeQueue{}, now: baseTime}
	f.svc = NewService(d, keys, f.queue, Options{Now: func() time.Time { return f.now }, AllowPrivate: true})
	for _, ws := range []string{"ws_a", "ws_b"} {
		f.exec(t, `INSERT INTO workspaces (id, name, slug, timezone, created_at, updated_at) VALUES ($1, $1, $1, 'UTC', $2, $2)`, ws, db.Time(baseTime))
	}
	for _, m := range []struct{ user, ws, role string }{{"user_owner", "ws_a", "owner"}, {"user_member", "ws_a", "member"}, {"user_b", "ws_b", "owner"}} {
		f.exec(t, `INSERT INTO users (id, email, email_normalized, name, password_hash, created_at, updated_at) VALUES ($1, $1, $1, $1, 'x', $2, $2)`, m.user, db.Time(baseTime))
		f.exec(t, `INSERT INTO workspace_members (workspace_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)`, m.ws, m.user, m.role, db.Time(baseTime))
	}
	return f
}

func (f *fixture) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	if _, err := f.d.Write.ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func as(user string) context.Context {
	roles := map[string]map[string]authz.Role{"user_owner": {"ws_a": authz.Owner}, "user_member": {"ws_a": authz.Member}, "user_b": {"ws_b": authz.Owner}}[user]
	return authz.WithPrincipal(context.Background(), authz.NewUser(user, "", func(_ context.Context, _, ws string) (authz.Role, bool, error) {
		r, ok := roles[ws]
		return r, ok, nil
	}))
}

func (f *fixture) publish(t *testing.T, ws, typ string, data any) {
	t.Helper()
	if err := f.d.Tx(context.Background(), func(tx *sql.Tx) error {
		_, err := events.Publish(context.Background(), tx, events.Event{WorkspaceID: ws, Type: typ, Data: data, CreatedAt: f.now})
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

func code(err error) string {
	var e *apierr.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func TestEndpointsCRUDAndIsolation(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := as("user_owner")
		c, err := f.svc.Create(ctx, "ws_a", CreateInput{URL: "https://hooks.example.com/a", Description: "CRM", Events: []string{"agent.created"},
			Headers: map[string]string{"x-token": "t0ken"}})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(c.Secret, "whsec_") || !c.Enabled || c.Headers["X-Token"] != "t0ken" || len(c.AgentIDs) != 0 {
			t.Fatalf("created %+v", c)
		}
		var sealed string
		if err := d.Read.QueryRow(`SELECT secret FROM webhook_endpoints WHERE id = $1`, c.ID).Scan(&sealed); err != nil || strings.Contains(sealed, strings.TrimPrefix(c.Secret, "whsec_")) {
			t.Fatalf("secret stored in clear: %q %v", sealed, err)
		}
		if s, err := f.svc.RevealSecret(ctx, "ws_a", c.ID); err != nil || s.Secret != c.Secret {
			t.Fatalf("reveal = %v, %v", s, err)
		}
		// Another workspace's owner and a member of the workspace.
		if _, err := f.svc.Get(as("user_b"), "ws_a", c.ID); code(err) != "not_found" {
			t.Errorf("get by outsider: %v", err)
		}
		if _, err := f.svc.Get(as("user_b"), "ws_b", c.ID); code(err) != "not_found" {
			t.Errorf("get through another workspace: %v", err)
		}
		if _, err := f.svc.List(as("user_member"), "ws_a", "", 0); !errors.Is(err, apierr.Forbidden) {
			t.Errorf("list by member: %v", err)
		}
		if _, err := f.svc.Create(ctx, "ws_a", CreateInput{URL: "https://hooks.example.com/a", Events: []string{"nope.nope"}}); code(err) != "validation_failed" {
			t.Errorf("unknown event: %v", err)
		}

		url, off := "https://hooks.example.com/b", false
		u, err := f.svc.Update(ctx, "ws_a", c.ID, Patch{URL: &url, Events: []string{"*"}, Enabled: &off})
		if err != nil || u.URL != url || u.Enabled || u.Events[0] != "*" {
			t.Fatalf("update = %+v, %v", u, err)
		}
		var changes string
		if err := d.Read.QueryRow(`SELECT changes FROM audit_log WHERE action = 'webhook_endpoint.updated'`).Scan(&changes); err != nil || strings.Contains(changes, "t0ken") {
			t.Errorf("audit changes %q, %v", changes, err)
		}

		f.now = f.now.Add(time.Hour)
		rot, err := f.svc.RotateSecret(ctx, "ws_a", c.ID)
		if err != nil || rot.Secret == c.Secret {
			t.Fatalf("rotate = %v, %v", rot, err)
		}
		g, _ := f.svc.Get(ctx, "ws_a", c.ID)
		if g.PreviousSecretExpiresAt == nil || !g.PreviousSecretExpiresAt.Equal(f.now.Add(24*time.Hour)) {
			t.Errorf("previousSecretExpiresAt = %v", g.PreviousSecretExpiresAt)
		}
		r, _ := f.svc.st.getEndpoint(context.Background(), d.Read, "ws_a", c.ID)
		if s, err := f.svc.secrets(r, f.now); err != nil || len(s) != 2 || s[0] != rot.Secret || s[1] != c.Secret {
			t.Errorf("secrets during rotation = %v, %v", s, err)
		}
		if s, _ := f.svc.secrets(r, f.now.Add(25*time.Hour)); len(s) != 1 {
			t.Errorf("the previous secret outlives 24 h: %v", s)
		}

		if err := f.svc.Delete(as("user_b"), "ws_b", c.ID); code(err) != "not_found" {
			t.Errorf("delete through another workspace: %v", err)
		}
		if err := f.svc.Delete(ctx, "ws_a", c.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Get(ctx, "ws_a", c.ID); code(err) != "not_found" {
			t.Errorf("get after delete: %v", err)
		}
	})
}

// receiver is a local endpoint that answers with the statuses it is given, in turn (200 after
// them), and records what it received.
type receiver struct {
	mu       sync.Mutex
	statuses []int
	got      []*http.Request
	bodies   [][]byte
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.got = append(rc.got, r)
	rc.bodies = append(rc.bodies, b)
	status := 200
	if len(rc.statuses) > 0 {
		status, rc.statuses = rc.statuses[0], rc.statuses[1:]
	}
	rc.mu.Unlock()
	w.WriteHeader(status)
	_, _ = w.Write([]byte("status " + strconv.Itoa(status)))
}

func TestDispatchAndDeliver(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := as("user_owner")
		rc := &receiver{statuses: []int{500}}
		srv := httptest.NewServer(rc)
		defer srv.Close()

		f.publish(t, "ws_a", "agent.created", map[string]any{"id": "agent_01jdq6c2v1f6m8t7x0k9w3e4r8"}) // before any endpoint
		f.now = f.now.Add(time.Second)
		all, err := f.svc.Create(ctx, "ws_a", CreateInput{URL: srv.URL + "/all", Events: []string{"*"}})
		if err != nil {
			t.Fatal(err)
		}
		agents, _ := f.svc.Create(ctx, "ws_a", CreateInput{URL: srv.URL + "/agents", Events: []string{"agent.created"}})
		other, _ := f.svc.Create(ctx, "ws_a", CreateInput{URL: srv.URL + "/other", Events: []string{"agent.created"}, AgentIDs: []string{"agent_01jdq6c2v1f6m8t7x0k9w3e4r9"}})
		elsewhere, _ := f.svc.Create(as("user_b"), "ws_b", CreateInput{URL: srv.URL + "/b", Events: []string{"*"}})
		f.now = f.now.Add(time.Second)
		f.publish(t, "ws_a", "agent.created", map[string]any{"id": "agent_01jdq6c2v1f6m8t7x0k9w3e4r8", "name": "Front desk"})
		f.publish(t, "ws_a", "workspace.updated", map[string]any{"changes": []string{"name"}})

		disp := &Dispatcher{Svc: f.svc}
		if n, err := disp.Pass(context.Background()); err != nil || n != 2 {
			t.Fatalf("pass: %d, %v", n, err)
		}
		jobs := f.queue.take()
		per := map[string]int{}
		for _, j := range jobs {
			var ep string
			if err := d.Read.QueryRow(`SELECT endpoint_id FROM webhook_messages WHERE id = $1`, j.MessageID).Scan(&ep); err != nil {
				t.Fatal(err)
			}
			per[ep]++
		}
		if per[all.ID] != 2 || per[agents.ID] != 1 || per[other.ID] != 0 || per[elsewhere.ID] != 0 || len(jobs) != 3 {
			t.Fatalf("fan-out %v (all %s, agents %s)", per, all.ID, agents.ID)
		}
		if n, _ := disp.Pass(context.Background()); n != 0 || len(f.queue.take()) != 0 {
			t.Fatal("a second pass fans out again")
		}

		w := &Worker{Svc: f.svc, Client: NewClient(true)}
		job := func(a DeliverArgs, attempt int) *river.Job[DeliverArgs] {
			return &river.Job[DeliverArgs]{JobRow: &rivertype.JobRow{Attempt: attempt, MaxAttempts: 8}, Args: a}
		}
		var first DeliverArgs
		for _, j := range jobs {
			var ep string
			_ = d.Read.QueryRow(`SELECT endpoint_id FROM webhook_messages WHERE id = $1`, j.MessageID).Scan(&ep)
			if ep == agents.ID {
				first = j
			}
		}
		if err := w.Work(context.Background(), job(first, 1)); err == nil {
			t.Fatal("a 500 is a success")
		}
		if err := w.Work(context.Background(), job(first, 2)); err != nil {
			t.Fatalf("retry: %v", err)
		}
		rc.mu.Lock()
		if len(rc.got) != 2 || rc.got[0].Header.Get("webhook-id") != first.MessageID || rc.got[1].Header.Get("webhook-id") != first.MessageID {
			t.Fatalf("deliveries %d, ids %q", len(rc.got), rc.got[0].Header.Get("webhook-id"))
		}
		h := rc.got[1].Header
		ts, _ := strconv.ParseInt(h.Get("webhook-timestamp"), 10, 64)
		if !Verify(agents.Secret, h.Get("webhook-signature"), h.Get("webhook-id"), ts, rc.bodies[1]) {
			t.Error("signature does not verify")
		}
		if h.Get("Parley-Workspace-Id") != "ws_a" || h.Get("Parley-Event-Type") != "agent.created" || !strings.Contains(string(rc.bodies[1]), `"name":"Front desk"`) {
			t.Errorf("headers %v body %s", h, rc.bodies[1])
		}
		rc.mu.Unlock()
		att, err := f.svc.ListAttempts(ctx, "ws_a", agents.ID, "", 0)
		if err != nil || len(att.Data) != 2 || att.Data[0].StatusCode != 200 || att.Data[1].StatusCode != 500 || att.Data[1].Response != "status 500" {
			t.Fatalf("attempts %+v, %v", att, err)
		}
		if _, err := f.svc.ListAttempts(as("user_b"), "ws_b", agents.ID, "", 0); code(err) != "not_found" {
			t.Errorf("attempts through another workspace: %v", err)
		}
		msgs, _ := f.svc.ListMessages(ctx, "ws_a", agents.ID, "", 0)
		if len(msgs.Data) != 1 || msgs.Data[0].Status != MessageDelivered || msgs.Data[0].Attempts != 2 {
			t.Fatalf("messages %+v", msgs.Data)
		}

		// A manual retry re-sends with the same webhook-id.
		if _, err := f.svc.Retry(ctx, "ws_a", agents.ID, first.MessageID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Retry(as("user_b"), "ws_b", agents.ID, first.MessageID); code(err) != "not_found" {
			t.Errorf("retry through another workspace: %v", err)
		}
		rj := f.queue.take()
		if len(rj) != 1 || rj[0].MessageID != first.MessageID || !rj[0].Manual {
			t.Fatalf("retry jobs %+v", rj)
		}

		// 410 disables the endpoint and says so in an event.
		rc.mu.Lock()
		rc.statuses = []int{410}
		rc.mu.Unlock()
		if err := w.Work(context.Background(), job(rj[0], 1)); err != nil {
			t.Fatalf("410 is retried: %v", err)
		}
		g, _ := f.svc.Get(ctx, "ws_a", agents.ID)
		if g.Enabled || !strings.Contains(g.DisabledReason, "410") {
			t.Errorf("after 410: %+v", g)
		}
		evs, _ := events.List(context.Background(), d.Read, "ws_a", "", 100)
		if evs[len(evs)-1].Type != "webhook.endpoint_disabled" {
			t.Errorf("last event %s", evs[len(evs)-1].Type)
		}

		// Test (ping) goes to that endpoint only.
		m, err := f.svc.Test(ctx, "ws_a", all.ID)
		if err != nil || m.EventType != "ping" {
			t.Fatalf("test = %+v, %v", m, err)
		}
		pj := f.queue.take()
		if len(pj) != 1 {
			t.Fatalf("ping jobs %v", pj)
		}
		if err := w.Work(context.Background(), job(pj[0], 1)); err != nil {
			t.Fatal(err)
		}
	})
}

func TestSSRFGuardAtDial(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(200) }))
	defer srv.Close()
	_, err := NewClient(false).Post(srv.URL, "application/json", strings.NewReader("{}"))
	if err == nil || !strings.Contains(describe(err), "refused") {
		t.Fatalf("a loopback delivery went through: %v", err)
	}
	res, err := NewClient(true).Post(srv.URL, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	redirect := httptest.NewServer(http.RedirectHandler(srv.URL, http.StatusFound))
	defer redirect.Close()
	res, err = NewClient(true).Post(redirect.URL, "application/json", strings.NewReader("{}"))
	if err != nil || res.StatusCode != http.StatusFound {
		t.Fatalf("redirect followed: %v %v", res, err)
	}
	res.Body.Close()
}

// The bug this dispatcher fixes: on PostgreSQL an event's ID is assigned before its transaction
// commits, so an event can commit after a later one was fanned out. A cursor over IDs passed such
// an event over for good; the outbox queue delivers it whenever it commits.
func TestDispatchLateCommit(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		if d.Dialect != db.Postgres {
			t.Skip("SQLite has one writer: transactions cannot commit out of ID order")
		}
		f := newFixture(t, d)
		ep, err := f.svc.Create(as("user_owner"), "ws_a", CreateInput{URL: "https://hooks.example.com/x", Events: []string{"*"}})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		old := time.Now().Add(-time.Minute) // long settled, by any clock
		late, err := d.Write.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer late.Rollback() //nolint:errcheck
		a, err := events.Publish(ctx, late, events.Event{WorkspaceID: "ws_a", Type: "workspace.updated", CreatedAt: old, Data: map[string]any{"n": "late"}})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Millisecond)
		f.now = old
		f.publish(t, "ws_a", "workspace.updated", map[string]any{"n": "early"})
		disp := &Dispatcher{Svc: f.svc}
		if n, err := disp.Pass(ctx); err != nil || n != 1 || len(f.queue.take()) != 1 {
			t.Fatalf("first pass: %d, %v", n, err)
		}
		if err := late.Commit(); err != nil {
			t.Fatal(err)
		}
		if n, err := disp.Pass(ctx); err != nil || n != 1 {
			t.Fatalf("pass after the late commit: %d, %v", n, err)
		}
		jobs := f.queue.take()
		if len(jobs) != 1 {
			t.Fatalf("the late event was passed over: %d jobs", len(jobs))
		}
		var evID string
		if err := d.Read.QueryRow(`SELECT event_id FROM webhook_messages WHERE id = $1 AND endpoint_id = $2`, jobs[0].MessageID, ep.ID).Scan(&evID); err != nil || evID != a.ID {
			t.Fatalf("message of %q (%v), want %s", evID, err, a.ID)
		}
	})
}

// Two dispatchers (two replicas) on one database, while events commit concurrently and out of
// order: every event is fanned out exactly once between them.
func TestDispatchTwoReplicas(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		for _, u := range []string{"/1", "/2"} {
			if _, err := f.svc.Create(as("user_owner"), "ws_a", CreateInput{URL: "https://hooks.example.com" + u, Events: []string{"*"}}); err != nil {
				t.Fatal(err)
			}
		}
		f.now = time.Now()
		const publishers, each = 4, 100
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var pubs, disps sync.WaitGroup
		errs := make(chan error, 100)
		for p := range publishers {
			pubs.Add(1)
			go func() {
				defer pubs.Done()
				for i := range each {
					err := d.Tx(ctx, func(tx *sql.Tx) error {
						_, err := events.Publish(ctx, tx, events.Event{WorkspaceID: "ws_a", Type: "workspace.updated", Data: map[string]any{"p": p, "i": i}})
						if err == nil && d.Dialect == db.Postgres && i%7 == p {
							time.Sleep(time.Duration(i%5) * 5 * time.Millisecond) // commit out of ID order
						}
						return err
					})
					if err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		claimed := make([]int, 2)
		for r := range 2 {
			disps.Add(1)
			go func() {
				defer disps.Done()
				disp := &Dispatcher{Svc: f.svc}
				for ctx.Err() == nil {
					n, err := disp.Pass(ctx)
					if err != nil && ctx.Err() == nil {
						errs <- err
						return
					}
					claimed[r] += n
					if n == 0 {
						time.Sleep(2 * time.Millisecond)
					}
				}
			}()
		}
		pubs.Wait()
		deadline := time.Now().Add(30 * time.Second)
		for {
			var left int
			if err := d.Read.QueryRow(`SELECT COUNT(*) FROM webhook_outbox`).Scan(&left); err != nil {
				t.Fatal(err)
			}
			if left == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
		disps.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		var msgs, distinct int
		if err := d.Read.QueryRow(`SELECT COUNT(*), COUNT(DISTINCT event_id) FROM webhook_messages`).Scan(&msgs, &distinct); err != nil {
			t.Fatal(err)
		}
		if jobs := len(f.queue.take()); msgs != 2*publishers*each || distinct != publishers*each || jobs != msgs {
			t.Fatalf("%d messages for %d events, %d jobs; want %d for %d", msgs, distinct, jobs, 2*publishers*each, publishers*each)
		}
		if claimed[0]+claimed[1] != publishers*each {
			t.Fatalf("claimed %v", claimed)
		}
		t.Logf("claimed by replica: %v", claimed)
	})
}

// Only workspaces with an enabled endpoint queue their events; ping and account events never.
func TestOutboxOnlyForWorkspacesWithEndpoints(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		count := func() (n int) {
			if err := d.Read.QueryRow(`SELECT COUNT(*) FROM webhook_outbox`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		f.publish(t, "ws_a", "workspace.updated", nil)
		if n := count(); n != 0 {
			t.Fatalf("queued without endpoints: %d", n)
		}
		off := false
		if _, err := f.svc.Create(as("user_owner"), "ws_a", CreateInput{URL: "https://hooks.example.com/x", Events: []string{"*"}, Enabled: &off}); err != nil {
			t.Fatal(err)
		}
		f.publish(t, "ws_a", "workspace.updated", nil)
		if n := count(); n != 0 {
			t.Fatalf("queued for a disabled endpoint: %d", n)
		}
		if _, err := f.svc.Create(as("user_owner"), "ws_a", CreateInput{URL: "https://hooks.example.com/y", Events: []string{"member.joined"}}); err != nil {
			t.Fatal(err)
		}
		f.publish(t, "ws_a", "workspace.updated", nil)
		f.publish(t, "ws_b", "workspace.updated", nil)
		if n := count(); n != 1 {
			t.Fatalf("queued %d, want 1", n)
		}
	})
}
