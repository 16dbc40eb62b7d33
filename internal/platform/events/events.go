package events

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/parleyhq/parley/internal/platform/db"
	"github.com/parleyhq/parley/internal/platform/id"
)

// List limits.
const (
	DefaultListLimit = 100
	MaxListLimit     = 1000
)

// Event is one domain event. Its JSON form is the webhook envelope
// {"id", "type", "timestamp", "workspaceId", "data"}.
type Event struct {
	// ID (evt_…) is assigned by Publish.
	ID string
	// WorkspaceID is the workspace the event belongs to; empty for an account-level event.
	WorkspaceID string
	// Type is "<resource>.<what happened>", dotted lower case ("call.completed").
	Type string
	// Data is the event's body, a JSON object. Publish accepts any value that encoding/json
	// marshals to an object (nil means {}); events returned by Publish and List carry it as the
	// stored json.RawMessage.
	Data any
	// CreatedAt is when the event happened, UTC, millisecond precision. Publish sets it to the
	// current time when zero (pass the caller's clock for deterministic tests).
	CreatedAt time.Time
}

// envelope is the JSON shape of an Event.
type envelope struct {
	ID          string          `json:"id"`
	Type        string          `json:"type"`
	Timestamp   time.Time       `json:"timestamp"`
	WorkspaceID string          `json:"workspaceId,omitempty"`
	Data        json.RawMessage `json:"data"`
}

// MarshalJSON encodes the event as the webhook envelope.
func (e Event) MarshalJSON() ([]byte, error) {
	data, err := marshalData(e.Data)
	if err != nil {
		return nil, err
	}
	return json.Marshal(envelope{
		ID:          e.ID,
		Type:        e.Type,
		Timestamp:   e.CreatedAt.UTC(),
		WorkspaceID: e.WorkspaceID,
		Data:        data,
	})
}

// UnmarshalJSON decodes a webhook envelope; Data becomes a json.RawMessage.
func (e *Event) UnmarshalJSON(b []byte) error {
	var env envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return err
	}
	*e = Event{ID: env.ID, WorkspaceID: env.WorkspaceID, Type: env.Type, Data: env.Data, CreatedAt: env.Timestamp.UTC()}
	return nil
}

var typePattern = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$`)

// ValidType reports whether t is a well-formed event type ("call.completed").
func ValidType(t string) bool { return len(t) <= 100 && typePattern.MatchString(t) }

// Publish records e through q, which must be the transaction of the change the event reports, so
// that the event is committed or rolled back with it. It assigns the ID (any ID given is
// replaced), defaults CreatedAt to now and returns the event as stored. It fails, writing nothing,
// when the type is malformed or Data is not a JSON object. Callers are capabilities, after they
// have authorised the change.
func Publish(ctx context.Context, q db.Querier, e Event) (Event, error) {
	if !ValidType(e.Type) {
		return Event{}, fmt.Errorf("events: invalid event type %q", e.Type)
	}
	data, err := marshalData(e.Data)
	if err != nil {
		return Event{}, fmt.Errorf("events: %s: %w", e.Type, err)
	}
	e.ID = id.New(id.Event)
	if e.CreatedAt.IsZero() {
		e.CreatedAt = time.Now()
	}
	e.CreatedAt = e.CreatedAt.UTC().Truncate(time.Millisecond)
	e.Data = data
	var ws any
	if e.WorkspaceID != "" {
		ws = e.WorkspaceID
	}
	if _, err := q.ExecContext(ctx, `INSERT INTO events (id, workspace_id, type, payload, created_at) VALUES ($1, $2, $3, $4, $5)`,
		e.ID, ws, e.Type, string(data), db.Time(e.CreatedAt)); err != nil {
		return Event{}, fmt.Errorf("events: publish %s: %w", e.Type, err)
	}
	return e, nil
}

// List returns up to limit events of the workspace with IDs after afterID (empty: from the first),
// in ID order, oldest first. limit ≤ 0 means DefaultListLimit; it is capped at MaxListLimit.
// Authorisation is the caller's job.
func List(ctx context.Context, q db.Querier, workspaceID, afterID string, limit int) ([]Event, error) {
	if limit <= 0 {
		limit = DefaultListLimit
	}
	limit = min(limit, MaxListLimit)
	rows, err := q.QueryContext(ctx, `SELECT id, type, payload, created_at FROM events
WHERE workspace_id = $1 AND id > $2 ORDER BY id LIMIT $3`, workspaceID, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("events: list: %w", err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		e := Event{WorkspaceID: workspaceID}
		var payload string
		if err := rows.Scan(&e.ID, &e.Type, &payload, (*db.Time)(&e.CreatedAt)); err != nil {
			return nil, fmt.Errorf("events: list: %w", err)
		}
		e.Data = json.RawMessage(payload)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("events: list: %w", err)
	}
	return out, nil
}

// marshalData encodes data as a compact JSON object; nil is {}.
func marshalData(data any) (json.RawMessage, error) {
	if data == nil {
		return json.RawMessage(`{}`), nil
	}
	b, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("encode data: %w", err)
	}
	if !bytes.HasPrefix(b, []byte("{")) {
		return nil, errors.New("data must be a JSON object")
	}
	return b, nil
}
