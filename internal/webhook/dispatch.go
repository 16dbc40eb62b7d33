package webhook

import (
	"context"
	"database/sql"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/parleyhq/parley/internal/platform/events"
	"github.com/parleyhq/parley/internal/platform/id"
)

// Dispatcher defaults.
const (
	// DefaultInterval is the time between two passes over the outbox when the last one found
	// nothing to do.
	DefaultInterval = 50 * time.Millisecond
	// batchSize is the number of events a pass claims.
	batchSize = 200
)

// Dispatcher fans the outbox out to endpoints: it claims queued events (webhook_outbox, filled by
// a trigger in the transaction of each event), and in one transaction makes one message per
// matching endpoint, enqueues its delivery job and deletes the events from the queue. Any number
// of dispatchers may run on one database: on PostgreSQL each claims different rows
// (FOR UPDATE SKIP LOCKED); on SQLite the single writer runs their passes one after another.
type Dispatcher struct {
	Svc    *Service
	Logger *slog.Logger
	// Interval between idle passes (DefaultInterval when zero).
	Interval time.Duration
}

// Run seals any endpoint headers stored in clear by an older version, then makes passes until
// ctx ends.
func (d *Dispatcher) Run(ctx context.Context) {
	interval := d.Interval
	if interval <= 0 {
		interval = DefaultInterval
	}
	if n, err := d.Svc.SealLegacyHeaders(ctx); err != nil && ctx.Err() == nil && d.Logger != nil {
		d.Logger.Warn("webhook: seal stored headers", "err", err)
	} else if n > 0 && d.Logger != nil {
		d.Logger.Info("webhook: sealed the custom headers of endpoints saved in clear", "endpoints", n)
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

// Pass claims up to batchSize queued events, fans them out and returns how many it claimed.
func (d *Dispatcher) Pass(ctx context.Context) (int, error) {
	s := d.Svc
	// A cheap look on the read pool first, so an idle outbox takes no write transaction.
	var pending int
	if err := s.db.Read.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM webhook_outbox LIMIT 1) p`).Scan(&pending); err != nil || pending == 0 {
		return 0, err
	}
	n := 0
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		evs, err := s.st.claimOutbox(ctx, tx, s.db.Dialect, batchSize)
		n = len(evs)
		if err != nil || n == 0 {
			return err
		}
		endpoints := map[string][]endpointRow{}
		ids := make([]string, 0, n)
		var msgs []Message
		var jobs []DeliverArgs
		for _, e := range evs {
			ids = append(ids, e.id)
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
				if e.createdAt.Before(ep.CreatedAt) || !receives(ep.Endpoint, e.typ, agent) {
					continue
				}
				if body == nil {
					if body, err = (events.Event{ID: e.id, WorkspaceID: e.workspaceID, Type: e.typ, Data: json.RawMessage(e.payload), CreatedAt: e.createdAt}).MarshalJSON(); err != nil {
						return err
					}
				}
				m := Message{ID: id.New(id.Message), EndpointID: ep.ID, EventID: e.id, EventType: e.typ, Status: MessagePending,
					CreatedAt: s.now(), payload: string(body), workspaceID: e.workspaceID}
				msgs = append(msgs, m)
				jobs = append(jobs, DeliverArgs{WorkspaceID: e.workspaceID, MessageID: m.ID})
			}
		}
		if err := s.st.insertMessages(ctx, tx, msgs); err != nil {
			return err
		}
		if err := s.enqueueMany(ctx, tx, jobs); err != nil {
			return err
		}
		return s.st.deleteOutbox(ctx, tx, ids)
	})
	if err != nil {
		return 0, err
	}
	return n, nil
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
