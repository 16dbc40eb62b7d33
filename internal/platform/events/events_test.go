package events_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/platform/db"
	"github.com/parleyhq/parley/internal/platform/db/dbtest"
	"github.com/parleyhq/parley/internal/platform/events"
	"github.com/parleyhq/parley/internal/platform/id"
)

type callCompleted struct {
	CallID   string `json:"callId"`
	Duration int    `json:"durationSeconds"`
}

// testCtx bounds each test so that a self-deadlock on SQLite's single writer fails fast.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func createWorkspace(t *testing.T, ctx context.Context, d *db.DB) string {
	t.Helper()
	ws := id.New(id.Workspace)
	now := db.Time(time.Now())
	if _, err := d.Write.ExecContext(ctx, `INSERT INTO workspaces (id, name, slug, timezone, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)`,
		ws, "Acme", ws, "UTC", now); err != nil {
		t.Fatal(err)
	}
	return ws
}

func list(t *testing.T, ctx context.Context, d *db.DB, ws, after string, limit int) []events.Event {
	t.Helper()
	got, err := events.List(ctx, d.Read, ws, after, limit)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func decode(t *testing.T, e events.Event) callCompleted {
	t.Helper()
	raw, ok := e.Data.(json.RawMessage)
	if !ok {
		t.Fatalf("Data is %T, want json.RawMessage", e.Data)
	}
	var c callCompleted
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPublishFollowsTheTransaction(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := testCtx(t)
		wsA, wsB := createWorkspace(t, ctx, d), createWorkspace(t, ctx, d)

		// Rolled back: the event goes with the change.
		errRollback := errors.New("roll back")
		err := d.Tx(ctx, func(tx *sql.Tx) error {
			if _, err := events.Publish(ctx, tx, events.Event{WorkspaceID: wsA, Type: "call.completed", Data: callCompleted{"call_x", 1}}); err != nil {
				return err
			}
			return errRollback
		})
		if !errors.Is(err, errRollback) {
			t.Fatalf("tx: %v", err)
		}
		if got := list(t, ctx, d, wsA, "", 0); len(got) != 0 {
			t.Fatalf("rolled-back event listed: %+v", got)
		}

		// Committed: listed in ID order, payload round-trips, other workspaces stay apart.
		at := time.Date(2026, 11, 27, 8, 0, 0, 123_456_789, time.FixedZone("CET", 3600))
		var published []events.Event
		err = d.Tx(ctx, func(tx *sql.Tx) error {
			for _, e := range []events.Event{
				{WorkspaceID: wsA, Type: "call.completed", Data: callCompleted{"call_1", 42}, CreatedAt: at},
				{WorkspaceID: wsB, Type: "call.completed", Data: callCompleted{"call_b", 7}},
				{WorkspaceID: wsA, Type: "call.completed", Data: callCompleted{"call_2", 5}},
			} {
				p, err := events.Publish(ctx, tx, e)
				if err != nil {
					return err
				}
				published = append(published, p)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !id.Valid(id.Event, published[0].ID) {
			t.Errorf("ID %q is not an event ID", published[0].ID)
		}
		if want := at.UTC().Truncate(time.Millisecond); !published[0].CreatedAt.Equal(want) || published[0].CreatedAt.Location() != time.UTC {
			t.Errorf("CreatedAt = %v, want %v", published[0].CreatedAt, want)
		}

		got := list(t, ctx, d, wsA, "", 0)
		want := []events.Event{published[0], published[2]}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("List(A) =\n%+v\nwant\n%+v", got, want)
		}
		if c := decode(t, got[0]); c != (callCompleted{"call_1", 42}) {
			t.Errorf("payload round trip: %+v", c)
		}
		if gotB := list(t, ctx, d, wsB, "", 0); len(gotB) != 1 || gotB[0].ID != published[1].ID {
			t.Errorf("List(B) = %+v, want only B's event", gotB)
		}

		// Paging by cursor and limit.
		if page := list(t, ctx, d, wsA, got[0].ID, 0); len(page) != 1 || page[0].ID != got[1].ID {
			t.Errorf("after first: %+v", page)
		}
		if page := list(t, ctx, d, wsA, "", 1); len(page) != 1 || page[0].ID != got[0].ID {
			t.Errorf("limit 1: %+v", page)
		}

		// Deleting the workspace deletes its events.
		if _, err := d.Write.ExecContext(ctx, `DELETE FROM workspaces WHERE id = $1`, wsA); err != nil {
			t.Fatal(err)
		}
		if got := list(t, ctx, d, wsA, "", 0); len(got) != 0 {
			t.Errorf("events outlived their workspace: %+v", got)
		}
	})
}

func TestAccountLevelEventIsNotListed(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := testCtx(t)
		e, err := events.Publish(ctx, d.Write, events.Event{Type: "user.signed_up"})
		if err != nil {
			t.Fatal(err)
		}
		if string(e.Data.(json.RawMessage)) != "{}" {
			t.Errorf("nil Data stored as %s, want {}", e.Data)
		}
		if got := list(t, ctx, d, "", "", 0); len(got) != 0 {
			t.Errorf("List(\"\") = %+v", got)
		}
	})
}

func TestPublishRejectsBadInput(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := testCtx(t)
		ws := createWorkspace(t, ctx, d)
		var nilPtr *callCompleted
		for name, e := range map[string]events.Event{
			"empty type":      {WorkspaceID: ws, Type: ""},
			"undotted type":   {WorkspaceID: ws, Type: "completed"},
			"upper-case type": {WorkspaceID: ws, Type: "Call.Completed"},
			"array data":      {WorkspaceID: ws, Type: "call.completed", Data: []int{1}},
			"string data":     {WorkspaceID: ws, Type: "call.completed", Data: "x"},
			"null data":       {WorkspaceID: ws, Type: "call.completed", Data: nilPtr},
			"invalid raw":     {WorkspaceID: ws, Type: "call.completed", Data: json.RawMessage(`{`)},
			"unencodable":     {WorkspaceID: ws, Type: "call.completed", Data: map[string]any{"c": make(chan int)}},
			"no workspace":    {WorkspaceID: "ws_missing", Type: "call.completed"},
		} {
			if _, err := events.Publish(ctx, d.Write, e); err == nil {
				t.Errorf("%s: accepted", name)
			}
		}
		if got := list(t, ctx, d, ws, "", 0); len(got) != 0 {
			t.Errorf("rejected events were written: %+v", got)
		}
	})
}

func TestEnvelope(t *testing.T) {
	e := events.Event{
		ID:          "evt_01jq3v5x8kf9r1t6m2c4d7e8gh",
		WorkspaceID: "ws_01jq3v5x8kf9r1t6m2c4d7e8gh",
		Type:        "call.completed",
		Data:        json.RawMessage(`{"callId": "call_1"}`),
		CreatedAt:   time.Date(2026, 11, 27, 8, 0, 0, 123_000_000, time.UTC),
	}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"evt_01jq3v5x8kf9r1t6m2c4d7e8gh","type":"call.completed","timestamp":"2026-11-27T08:00:00.123Z","workspaceId":"ws_01jq3v5x8kf9r1t6m2c4d7e8gh","data":{"callId":"call_1"}}`
	if string(b) != want {
		t.Fatalf("envelope\n got %s\nwant %s", b, want)
	}
	var back events.Event
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.ID != e.ID || back.WorkspaceID != e.WorkspaceID || back.Type != e.Type || !back.CreatedAt.Equal(e.CreatedAt) ||
		string(back.Data.(json.RawMessage)) != `{"callId":"call_1"}` {
		t.Fatalf("round trip: %+v", back)
	}
}
