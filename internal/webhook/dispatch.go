package webhook

import (
	"context"
	"database/sql"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/parleyhq/parley/internal/platform/db"
	"github.com/parleyhq/parley/internal/platform/events"
	"github.com/parleyhq/parley/internal/platform/id"
)

// Dispatcher defaults.
const (
	// DefaultInterval is the time between two passes over the outbox when the last one found
	// nothing to do.
	DefaultInterval = 200 * time.Millisecond
	// Settle is how old an event must be before the dispatcher fans it out on PostgreSQL, where
	// a transaction may commit after another one with a later event ID.
	Settle = 2 * time.Second
	// batchSize is the number of events a pass reads.
	batchSize = 200
)

// Dispatcher fans the events outbox out to endpoints: for each committed event, in ID order, one
// message per matching endpoint and its delivery job, in the transaction that advances the cursor.
type Dispatcher struct {
	Svc    *Service
	Logger *slog.Logger
	// Interval between idle passes (DefaultInterval when zero).
	Interval time.Duration
}

// Run makes passes until ctx ends.
func (d *Dispatcher) Run(ctx context.Context) {
	interval := d.Interval
	if interval <= 0 {
		interval = DefaultInterval
	}
	for {
		n, err := d.Pass(ctx)
		if err != nil && ctx.Err() == nil && d.Logger != nil {
			d.Logger.Warn("webhook dispatch", "err", err)
		}
		if n == batchSize && err == nil {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

// outboxEvent is an event row as the dispatcher reads it.
type outboxEvent struct {
	id, workspaceID, typ, payload string
	createdAt                     time.Time
}

// Pass fans out the events after the cursor (at most batchSize) and returns how many it read.
func (d *Dispatcher) Pass(ctx context.Context) (int, error) {
	s := d.Svc
	// A cheap look on the read pool first, so an idle outbox takes no write transaction.
	var pending int
	if err := s.db.Read.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM events
WHERE id > (SELECT last_event_id FROM webhook_dispatch WHERE id = 1) LIMIT 1) p`).Scan(&pending); err != nil || pending == 0 {
		return 0, err
	}
	n := 0
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		n = 0
		lock := ""
		if s.db.Dialect == db.Postgres {
			lock = " FOR UPDATE"
		}
		var cursor string
		if err := tx.QueryRowContext(ctx, `SELECT last_event_id FROM webhook_dispatch WHERE id = 1`+lock).Scan(&cursor); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT id, workspace_id, type, payload, created_at FROM events
WHERE id > $1 ORDER BY id LIMIT $2`, cursor, batchSize)
		if err != nil {
			return err
		}
		var evs []outboxEvent
		for rows.Next() {
			var e outboxEvent
			var ws sql.NullString
			if err := rows.Scan(&e.id, &ws, &e.typ, &e.payload, (*db.Time)(&e.createdAt)); err != nil {
				rows.Close()
				return err
			}
			e.workspaceID = ws.String
			evs = append(evs, e)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		settled := time.Now().Add(-Settle)
		endpoints := map[string][]endpointRow{}
		last := cursor
		for _, e := range evs {
			if s.db.Dialect == db.Postgres && e.createdAt.After(settled) {
				break // younger events wait: an older ID may still commit
			}
			n++
			last = e.id
			if e.workspaceID == "" || e.typ == "ping" {
				continue
			}
			eps, ok := endpoints[e.workspaceID]
			if !ok {
				if eps, err = s.st.enabledEndpoints(ctx, tx, e.workspaceID); err != nil {
					return err
				}
				endpoints[e.workspaceID] = eps
			}
			if len(eps) == 0 {
				continue
			}
			agent := agentOf(e.typ, e.payload)
			var body []byte
			for _, ep := range eps {
				if e.createdAt.Before(ep.CreatedAt) || !ep.receives(e.typ, agent) {
					continue
				}
				if body == nil {
					if body, err = (events.Event{ID: e.id, WorkspaceID: e.workspaceID, Type: e.typ, Data: json.RawMessage(e.payload), CreatedAt: e.createdAt}).MarshalJSON(); err != nil {
						return err
					}
				}
				m := Message{ID: id.New(id.Message), EndpointID: ep.ID, EventID: e.id, EventType: e.typ, Status: MessagePending,
					CreatedAt: s.now(), payload: string(body), workspaceID: e.workspaceID}
				if err := s.st.insertMessage(ctx, tx, m); err != nil {
					return err
				}
				if err := s.enqueue(ctx, tx, e.workspaceID, m.ID, false); err != nil {
					return err
				}
			}
		}
		if last == cursor {
			return nil
		}
		_, err = tx.ExecContext(ctx, `UPDATE webhook_dispatch SET last_event_id = $1 WHERE id = 1`, last)
		return err
	})
	return n, err
}

// agentOf is the agent an event is about: data.agentId, or data.id / data.agent.id for agent.*
// events; "" when none.
func agentOf(typ, payload string) string {
	var d struct {
		AgentID string `json:"agentId"`
		ID      string `json:"id"`
		Agent   struct {
			ID string `json:"id"`
		} `json:"agent"`
	}
	if json.Unmarshal([]byte(payload), &d) != nil {
		return ""
	}
	switch {
	case d.AgentID != "":
		return d.AgentID
	case d.Agent.ID != "":
		return d.Agent.ID
	case len(typ) > 6 && typ[:6] == "agent." && id.Valid(id.Agent, d.ID):
		return d.ID
	}
	return ""
}
