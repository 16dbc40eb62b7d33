package agent

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/platform/db"
	"github.com/parleyhq/parley/internal/platform/db/dbtest"
)

func TestStoreTenancyAndVersionGuard(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
		for _, ws := range []string{"ws_a", "ws_b"} {
			if _, err := d.Write.ExecContext(ctx, `INSERT INTO workspaces (id, name, slug, timezone, created_at, updated_at) VALUES ($1, $1, $1, 'UTC', $2, $2)`, ws, db.Time(now)); err != nil {
				t.Fatal(err)
			}
		}
		var st store
		name := "A"
		r := agentRow{Agent: Agent{ID: "agent_1", WorkspaceID: "ws_a", Document: Document{Name: &name}, Version: 1, CreatedBy: "user_1", CreatedAt: now, UpdatedAt: now},
			doc: map[string]any{"name": "A"}}
		if err := st.insertAgent(ctx, d.Write, r); err != nil {
			t.Fatal(err)
		}
		if err := st.insertVersion(ctx, d.Write, "ws_a", Version{AgentID: r.ID, Number: 1, Author: "user_1", CreatedAt: now, Changes: []string{"name"}}, r.doc); err != nil {
			t.Fatal(err)
		}
		// Another workspace sees nothing.
		if _, err := st.getAgent(ctx, d.Read, "ws_b", r.ID); !errors.Is(err, sql.ErrNoRows) {
			t.Fatalf("get from ws_b: %v", err)
		}
		if _, _, err := st.getVersion(ctx, d.Read, "ws_b", r.ID, 1); !errors.Is(err, sql.ErrNoRows) {
			t.Fatalf("version from ws_b: %v", err)
		}
		if rows, err := st.listAgents(ctx, d.Read, "ws_b", "", "", 0); err != nil || len(rows) != 0 {
			t.Fatalf("list ws_b: %v %v", rows, err)
		}
		if ok, err := st.deleteAgent(ctx, d.Write, "ws_b", r.ID); err != nil || ok {
			t.Fatalf("delete from ws_b: %v %v", ok, err)
		}
		// The version guard: only one writer of version 2 wins.
		r.Version = 2
		if ok, err := st.updateAgent(ctx, d.Write, r); err != nil || !ok {
			t.Fatalf("first update: %v %v", ok, err)
		}
		if ok, err := st.updateAgent(ctx, d.Write, r); err != nil || ok {
			t.Fatalf("second update of version 2: %v %v", ok, err)
		}
		other := r
		other.WorkspaceID = "ws_b"
		other.Version = 3
		if ok, err := st.updateAgent(ctx, d.Write, other); err != nil || ok {
			t.Fatalf("update through ws_b: %v %v", ok, err)
		}
		got, err := st.getAgent(ctx, d.Read, "ws_a", r.ID)
		if err != nil || got.Version != 2 || deref(got.Name) != "A" {
			t.Fatalf("%+v %v", got, err)
		}
		// Settings: version 0 without a row; save is guarded too.
		s, err := st.settings(ctx, d.Read, "ws_a")
		if err != nil || s.version != 0 || len(s.overrides) != 0 {
			t.Fatalf("%+v %v", s, err)
		}
		next := settingsRow{overrides: map[string]any{"language": "de"}, version: 1, updatedAt: now}
		for i, want := range []bool{true, false} {
			if ok, err := st.saveSettings(ctx, d.Write, "ws_a", "user_1", next); err != nil || ok != want {
				t.Fatalf("save %d: %v %v", i, ok, err)
			}
		}
		if s, _ := st.settings(ctx, d.Read, "ws_b"); s.version != 0 {
			t.Fatalf("ws_b settings %+v", s)
		}
	})
}
