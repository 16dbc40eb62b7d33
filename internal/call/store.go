package call

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/platform/db"
)

// store is the SQL of calls. Every method takes the workspace ID and filters on it, except the
// sweep's operator-wide read of stale calls (which then ends each through its workspace).
type store struct{}

const callCols = `id, workspace_id, direction, status, agent_id, contact_id, campaign_id, credential_id, provider, provider_call_id,
from_number, to_number, variables, metadata, overrides, end_reason, provider_reason, note, duration_seconds, hold_micros, cost_micros, test,
queued_at, initiating_at, ringing_at, in_progress_at, ended_at, updated_at`

func scanCall(sc interface{ Scan(...any) error }) (Call, error) {
	var c Call
	var vars, meta, over string
	var test int
	var ini, rng, inp, end db.Time
	if err := sc.Scan(&c.ID, &c.WorkspaceID, &c.Direction, &c.Status, &c.AgentID, &c.ContactID, &c.CampaignID, &c.CredentialID, &c.Provider,
		&c.ProviderCallID, &c.From, &c.To, &vars, &meta, &over, &c.EndReason, &c.ProviderReason, &c.Note, &c.DurationSeconds, &c.holdMicros,
		&c.CostMicros, &test, (*db.Time)(&c.QueuedAt), &ini, &rng, &inp, &end, (*db.Time)(&c.UpdatedAt)); err != nil {
		return Call{}, err
	}
	c.Test = test == 1
	for _, p := range []struct {
		s   string
		dst *map[string]any
	}{{vars, &c.Variables}, {meta, &c.Metadata}, {over, &c.Overrides}} {
		if err := json.Unmarshal([]byte(p.s), p.dst); err != nil {
			return Call{}, fmt.Errorf("call %s: %w", c.ID, err)
		}
	}
	c.InitiatingAt, c.RingingAt, c.InProgressAt, c.EndedAt = ini.Ptr(), rng.Ptr(), inp.Ptr(), end.Ptr()
	return c, nil
}

func js(m map[string]any) string {
	if m == nil {
		return "{}"
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func (store) insert(ctx context.Context, q db.Querier, c Call) error {
	test := 0
	if c.Test {
		test = 1
	}
	_, err := q.ExecContext(ctx, `INSERT INTO calls (`+callCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,$24,$25,$26,$27,$28)`,
		c.ID, c.WorkspaceID, c.Direction, c.Status, c.AgentID, c.ContactID, c.CampaignID, c.CredentialID, c.Provider, c.ProviderCallID,
		c.From, c.To, js(c.Variables), js(c.Metadata), js(c.Overrides), c.EndReason, c.ProviderReason, c.Note, c.DurationSeconds, c.holdMicros,
		c.CostMicros, test, db.Time(c.QueuedAt), db.OptTime(c.InitiatingAt), db.OptTime(c.RingingAt), db.OptTime(c.InProgressAt), db.OptTime(c.EndedAt), db.Time(c.UpdatedAt))
	return err
}

// save writes a call's state if it is still in state from (compare and set): false when another
// writer moved it first.
func (store) save(ctx context.Context, q db.Querier, c Call, from string) (bool, error) {
	res, err := q.ExecContext(ctx, `UPDATE calls SET status = $3, provider_call_id = $4, end_reason = $5, provider_reason = $6, note = $7,
duration_seconds = $8, cost_micros = $9, initiating_at = $10, ringing_at = $11, in_progress_at = $12, ended_at = $13, updated_at = $14
WHERE workspace_id = $1 AND id = $2 AND status = $15`,
		c.WorkspaceID, c.ID, c.Status, c.ProviderCallID, c.EndReason, c.ProviderReason, c.Note, c.DurationSeconds, c.CostMicros,
		db.OptTime(c.InitiatingAt), db.OptTime(c.RingingAt), db.OptTime(c.InProgressAt), db.OptTime(c.EndedAt), db.Time(c.UpdatedAt), from)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// setProviderCallID records the provider's ID of a call that has none yet.
func (store) setProviderCallID(ctx context.Context, q db.Querier, wsID, callID, pid string, now time.Time) error {
	_, err := q.ExecContext(ctx, `UPDATE calls SET provider_call_id = $3, updated_at = $4 WHERE workspace_id = $1 AND id = $2 AND provider_call_id = ''`,
		wsID, callID, pid, db.Time(now))
	return err
}

func (store) get(ctx context.Context, q db.Querier, wsID, callID string) (Call, error) {
	return scanCall(q.QueryRowContext(ctx, `SELECT `+callCols+` FROM calls WHERE workspace_id = $1 AND id = $2`, wsID, callID))
}

func (store) byProviderID(ctx context.Context, q db.Querier, wsID, provider, pid string) (Call, error) {
	return scanCall(q.QueryRowContext(ctx, `SELECT `+callCols+` FROM calls WHERE workspace_id = $1 AND provider = $2 AND provider_call_id = $3`, wsID, provider, pid))
}

// Filter narrows GET …/calls.
type Filter struct {
	Status     string
	Direction  string
	AgentID    string
	CampaignID string
	Number     string // from or to
	Since      time.Time
	Until      time.Time
}

func (store) list(ctx context.Context, q db.Querier, wsID string, f Filter, beforeID string, limit int) ([]Call, error) {
	where := []string{"workspace_id = $1"}
	args := []any{wsID}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "?", fmt.Sprintf("$%d", len(args))))
	}
	if f.Status != "" {
		add("status = ?", f.Status)
	}
	if f.Direction != "" {
		add("direction = ?", f.Direction)
	}
	if f.AgentID != "" {
		add("agent_id = ?", f.AgentID)
	}
	if f.CampaignID != "" {
		add("campaign_id = ?", f.CampaignID)
	}
	if f.Number != "" {
		add("(from_number = ? OR to_number = ?)", f.Number)
	}
	if !f.Since.IsZero() {
		add("queued_at >= ?", db.Millis(f.Since))
	}
	if !f.Until.IsZero() {
		add("queued_at < ?", db.Millis(f.Until))
	}
	if beforeID != "" {
		add("id < ?", beforeID)
	}
	args = append(args, limit)
	rows, err := q.QueryContext(ctx, `SELECT `+callCols+` FROM calls WHERE `+strings.Join(where, " AND ")+fmt.Sprintf(` ORDER BY id DESC LIMIT $%d`, len(args)), args...)
	if err != nil {
		return nil, err
	}
	return scanCalls(rows)
}

func (store) addEvent(ctx context.Context, q db.Querier, wsID, callID string, e TimelineEntry) error {
	applied := 0
	if e.Applied {
		applied = 1
	}
	_, err := q.ExecContext(ctx, `INSERT INTO call_events (id, workspace_id, call_id, status, source, applied, detail, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)`,
		e.ID, wsID, callID, e.Status, e.Source, applied, e.Detail, db.Time(e.CreatedAt))
	return err
}

func (store) timeline(ctx context.Context, q db.Querier, wsID, callID string) ([]TimelineEntry, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, status, source, applied, detail, created_at FROM call_events WHERE workspace_id = $1 AND call_id = $2 ORDER BY id`, wsID, callID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []TimelineEntry{}
	for rows.Next() {
		var e TimelineEntry
		var applied int
		if err := rows.Scan(&e.ID, &e.Status, &e.Source, &applied, &e.Detail, (*db.Time)(&e.CreatedAt)); err != nil {
			return nil, err
		}
		e.Applied = applied == 1
		out = append(out, e)
	}
	return out, rows.Err()
}

// takeSlot counts a new live call against the workspace's limit: false when the workspace
// already has limit live calls. One conditional statement, safe under concurrency on both
// stores (as the ledger's debits).
func (store) takeSlot(ctx context.Context, q db.Querier, wsID string, limit int) (bool, error) {
	if _, err := q.ExecContext(ctx, `INSERT INTO call_slots (workspace_id, active) VALUES ($1, 0) ON CONFLICT (workspace_id) DO NOTHING`, wsID); err != nil {
		return false, err
	}
	res, err := q.ExecContext(ctx, `UPDATE call_slots SET active = active + 1 WHERE workspace_id = $1 AND active < $2`, wsID, limit)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// freeSlot returns a call's slot (in the transaction of its end, which happens once).
func (store) freeSlot(ctx context.Context, q db.Querier, wsID string) error {
	_, err := q.ExecContext(ctx, `UPDATE call_slots SET active = active - 1 WHERE workspace_id = $1 AND active > 0`, wsID)
	return err
}

// activeSlots is the workspace's count of live calls.
func (store) activeSlots(ctx context.Context, q db.Querier, wsID string) (int, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT active FROM call_slots WHERE workspace_id = $1`, wsID).Scan(&n)
	if err == sql.ErrNoRows {
		return 0, nil
	}
	return n, err
}

// stale lists live calls (of every workspace) not updated since before.
func (store) stale(ctx context.Context, q db.Querier, before time.Time, limit int) ([]Call, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+callCols+` FROM calls WHERE status IN ('queued','initiating','ringing','in_progress') AND updated_at < $1 ORDER BY updated_at LIMIT $2`,
		db.Millis(before), limit)
	if err != nil {
		return nil, err
	}
	return scanCalls(rows)
}
