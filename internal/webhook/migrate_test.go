package webhook

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/parleyhq/parley/internal/platform/db"
	"github.com/parleyhq/parley/internal/platform/db/dbtest"
)

// Migration 00011 on data: events after the old cursor are queued, those before are not, the
// cursor table goes; failing_since starts empty; endpoints saved with headers in clear still read
// and are sealed by SealLegacyHeaders. Down puts the cursor back.
func TestMigration11OnData(t *testing.T) {
	for _, dialect := range dbtest.Dialects() {
		t.Run(string(dialect), func(t *testing.T) {
			ctx := context.Background()
			cfg := dbtest.Config(t, dialect)
			d, err := db.Open(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			gd := goose.DialectSQLite3
			var opts []goose.ProviderOption
			opts = append(opts, goose.WithDisableGlobalRegistry(true), goose.WithGoMigrations(dbtest.Migrations(dialect)...))
			if dialect == db.Postgres {
				gd = goose.DialectPostgres
				l, err := lock.NewPostgresSessionLocker()
				if err != nil {
					t.Fatal(err)
				}
				opts = append(opts, goose.WithSessionLocker(l))
			}
			p, err := goose.NewProvider(gd, d.Write, os.DirFS("../platform/db/migrations/"+string(dialect)), opts...)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.UpTo(ctx, 10); err != nil {
				t.Fatal(err)
			}
			f := &fixture{d: d}
			f.exec(t, `INSERT INTO workspaces (id, name, slug, timezone, created_at, updated_at) VALUES ('ws_a', 'a', 'a', 'UTC', $1, $1)`, db.Time(baseTime))
			for _, e := range []struct{ id, ws, typ string }{
				{"evt_1", "ws_a", "workspace.updated"}, {"evt_2", "ws_a", "workspace.updated"}, {"evt_3", "ws_a", "agent.created"}, {"evt_4", "", "account.updated"},
			} {
				var ws any
				if e.ws != "" {
					ws = e.ws
				}
				f.exec(t, `INSERT INTO events (id, workspace_id, type, payload, created_at) VALUES ($1, $2, $3, '{}', $4)`, e.id, ws, e.typ, db.Time(baseTime))
			}
			f.exec(t, `UPDATE webhook_dispatch SET last_event_id = 'evt_1'`)
			f.exec(t, `INSERT INTO webhook_endpoints (id, workspace_id, url, description, events, agent_ids, headers, enabled, disabled_reason, secret, previous_secret, previous_secret_expires_at, created_at, updated_at)
VALUES ('whep_1', 'ws_a', 'https://hooks.example.com', '', '["*"]', '[]', '{"X-Token":"clear"}', 1, '', 'v1.x.y', '', NULL, $1, $1)`, db.Time(baseTime))

			if _, err := p.UpByOne(ctx); err != nil {
				t.Fatal(err)
			}
			var queued []string
			rows, err := d.Read.Query(`SELECT event_id FROM webhook_outbox ORDER BY event_id`)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var id string
				_ = rows.Scan(&id)
				queued = append(queued, id)
			}
			rows.Close()
			if strings.Join(queued, ",") != "evt_2,evt_3" {
				t.Errorf("queued %v, want the workspace events after the cursor", queued)
			}
			if _, err := d.Read.Exec(`SELECT 1 FROM webhook_dispatch`); err == nil {
				t.Error("webhook_dispatch is still there")
			}
			keys := newFixtureKeys(t)
			svc := NewService(d, keys, &fakeQueue{}, Options{AllowPrivate: true})
			r, err := svc.st.getEndpoint(ctx, d.Read, "ws_a", "whep_1")
			if err != nil || !r.failingSince.IsZero() {
				t.Fatalf("endpoint after the migration: %+v, %v", r, err)
			}
			if err := svc.openHeaders(&r); err != nil || r.Headers["X-Token"] != "clear" {
				t.Fatalf("legacy headers: %v, %v", r.Headers, err)
			}
			if n, err := svc.SealLegacyHeaders(ctx); err != nil || n != 1 {
				t.Fatalf("sealed %d, %v", n, err)
			}
			// The trigger queues new events of the workspace (it has an enabled endpoint).
			f.exec(t, `INSERT INTO events (id, workspace_id, type, payload, created_at) VALUES ('evt_5', 'ws_a', 'workspace.updated', '{}', $1)`, db.Time(baseTime))
			var n int
			if err := d.Read.QueryRow(`SELECT COUNT(*) FROM webhook_outbox WHERE event_id = 'evt_5'`).Scan(&n); err != nil || n != 1 {
				t.Errorf("trigger: %d, %v", n, err)
			}

			if _, err := p.Down(ctx); err != nil {
				t.Fatal(err)
			}
			var cursor string
			if err := d.Read.QueryRow(`SELECT last_event_id FROM webhook_dispatch WHERE id = 1`).Scan(&cursor); err != nil || cursor != "evt_1" {
				t.Errorf("cursor after down: %q, %v (want the event before the oldest queued one)", cursor, err)
			}
		})
	}
}
