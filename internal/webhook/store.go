package webhook

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/platform/db"
)

// store is the SQL of webhooks. Every method takes the workspace ID and filters on it, except the
// maintenance statements that span workspaces by design: the outbox claim (claimOutbox,
// deleteOutbox), retention (pruneAttempts, pruneMessages) and the one-time sealing of legacy
// headers (legacyHeaders).
type store struct{}

// endpointRow is an endpoint with its sealed secrets and headers. Headers is filled by the
// service (Service.openHeaders) from headersText: the sealed JSON object, or, for rows written
// before headers were sealed, the JSON itself ("{…}").
type endpointRow struct {
	Endpoint
	secret, previousSecret string
	previousExpires        time.Time
	headersText            string
	// failingSince is when the current run of failed attempts began (zero while it succeeds).
	failingSince time.Time
}

const endpointCols = `id, workspace_id, url, description, events, agent_ids, headers, enabled, disabled_reason, secret, previous_secret, previous_secret_expires_at, created_at, updated_at, failing_since`

func scanEndpoint(sc interface{ Scan(...any) error }) (endpointRow, error) {
	var r endpointRow
	var events, agents string
	var enabled int
	if err := sc.Scan(&r.ID, &r.WorkspaceID, &r.URL, &r.Description, &events, &agents, &r.headersText, &enabled, &r.DisabledReason,
		&r.secret, &r.previousSecret, (*db.Time)(&r.previousExpires), (*db.Time)(&r.CreatedAt), (*db.Time)(&r.UpdatedAt), (*db.Time)(&r.failingSince)); err != nil {
		return endpointRow{}, err
	}
	r.Enabled = enabled != 0
	for col, dst := range map[string]any{"events": &r.Events, "agent_ids": &r.AgentIDs} {
		src := map[string]string{"events": events, "agent_ids": agents}[col]
		if err := json.Unmarshal([]byte(src), dst); err != nil {
			return endpointRow{}, fmt.Errorf("webhook endpoint %s: %s: %w", r.ID, col, err)
		}
	}
	return r, nil
}

func jsonText(v any) string {
	b, _ := json.Marshal(v) // slices and maps of strings always encode
	return string(b)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (store) insertEndpoint(ctx context.Context, q db.Querier, r endpointRow) error {
	_, err := q.ExecContext(ctx, `INSERT INTO webhook_endpoints (`+endpointCols+`)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
		r.ID, r.WorkspaceID, r.URL, r.Description, jsonText(r.Events), jsonText(r.AgentIDs), r.headersText, boolInt(r.Enabled), r.DisabledReason,
		r.secret, r.previousSecret, db.Time(r.previousExpires), db.Time(r.CreatedAt), db.Time(r.UpdatedAt), db.Time(r.failingSince))
	return err
}

func (store) updateEndpoint(ctx context.Context, q db.Querier, r endpointRow) error {
	_, err := q.ExecContext(ctx, `UPDATE webhook_endpoints SET url = $3, description = $4, events = $5, agent_ids = $6, headers = $7, enabled = $8,
disabled_reason = $9, secret = $10, previous_secret = $11, previous_secret_expires_at = $12, updated_at = $13, failing_since = $14 WHERE workspace_id = $1 AND id = $2`,
		r.WorkspaceID, r.ID, r.URL, r.Description, jsonText(r.Events), jsonText(r.AgentIDs), r.headersText, boolInt(r.Enabled), r.DisabledReason,
		r.secret, r.previousSecret, db.Time(r.previousExpires), db.Time(r.UpdatedAt), db.Time(r.failingSince))
	return err
}

// getEndpoint returns the workspace's endpoint; sql.ErrNoRows when there is none.
func (store) getEndpoint(ctx context.Context, q db.Querier, wsID, endpointID string) (endpointRow, error) {
	return scanEndpoint(q.QueryRowContext(ctx, `SELECT `+endpointCols+` FROM webhook_endpoints WHERE workspace_id = $1 AND id = $2`, wsID, endpointID))
}

// listEndpoints returns the workspace's endpoints, newest first, with IDs below beforeID.
func (store) listEndpoints(ctx context.Context, q db.Querier, wsID, beforeID string, limit int) ([]endpointRow, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+endpointCols+` FROM webhook_endpoints
WHERE workspace_id = $1 AND ($2 = '' OR id < $2) ORDER BY id DESC LIMIT $3`, wsID, beforeID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []endpointRow
	for rows.Next() {
		r, err := scanEndpoint(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// enabledEndpoints returns the workspace's enabled endpoints.
func (store) enabledEndpoints(ctx context.Context, q db.Querier, wsID string) ([]endpointRow, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+endpointCols+` FROM webhook_endpoints WHERE workspace_id = $1 AND enabled = 1 ORDER BY id`, wsID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []endpointRow
	for rows.Next() {
		r, err := scanEndpoint(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func (store) deleteEndpoint(ctx context.Context, q db.Querier, wsID, endpointID string) (bool, error) {
	res, err := q.ExecContext(ctx, `DELETE FROM webhook_endpoints WHERE workspace_id = $1 AND id = $2`, wsID, endpointID)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

func (store) disableEndpoint(ctx context.Context, q db.Querier, wsID, endpointID, reason string, now time.Time) (bool, error) {
	res, err := q.ExecContext(ctx, `UPDATE webhook_endpoints SET enabled = 0, disabled_reason = $3, updated_at = $4
WHERE workspace_id = $1 AND id = $2 AND enabled = 1`, wsID, endpointID, reason, db.Time(now))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// Message statuses.
const (
	MessagePending   = "pending"
	MessageDelivered = "delivered"
	MessageFailed    = "failed"
)

// Message is one event for one endpoint; its ID is the webhook-id of every attempt.
type Message struct {
	ID            string     `json:"id" doc:"The message ID (msg_…): the webhook-id header of every attempt."`
	EndpointID    string     `json:"endpointId"`
	EventID       string     `json:"eventId"`
	EventType     string     `json:"eventType"`
	Status        string     `json:"status" enum:"pending,delivered,failed"`
	Attempts      int        `json:"attempts"`
	CreatedAt     time.Time  `json:"createdAt"`
	LastAttemptAt *time.Time `json:"lastAttemptAt,omitempty"`
	payload       string
	workspaceID   string
}

const messageCols = `id, workspace_id, endpoint_id, event_id, event_type, payload, status, attempts, created_at, last_attempt_at`

func scanMessage(sc interface{ Scan(...any) error }) (Message, error) {
	var m Message
	var last time.Time
	if err := sc.Scan(&m.ID, &m.workspaceID, &m.EndpointID, &m.EventID, &m.EventType, &m.payload, &m.Status, &m.Attempts,
		(*db.Time)(&m.CreatedAt), (*db.Time)(&last)); err != nil {
		return Message{}, err
	}
	if !last.IsZero() {
		m.LastAttemptAt = &last
	}
	return m, nil
}

func (store) insertMessage(ctx context.Context, q db.Querier, m Message) error {
	_, err := q.ExecContext(ctx, `INSERT INTO webhook_messages (`+messageCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $9)`,
		m.ID, m.workspaceID, m.EndpointID, m.EventID, m.EventType, m.payload, m.Status, db.Time(m.CreatedAt), db.Time{})
	return err
}

// insertMessages inserts a fan-out batch, 100 rows per statement.
func (store) insertMessages(ctx context.Context, q db.Querier, ms []Message) error {
	const per = 100
	for len(ms) > 0 {
		chunk := ms[:min(per, len(ms))]
		ms = ms[len(chunk):]
		var b strings.Builder
		args := make([]any, 0, 9*len(chunk))
		for i, m := range chunk {
			if i > 0 {
				b.WriteString(", ")
			}
			n := len(args)
			fmt.Fprintf(&b, "($%d, $%d, $%d, $%d, $%d, $%d, $%d, 0, $%d, $%d)", n+1, n+2, n+3, n+4, n+5, n+6, n+7, n+8, n+9)
			args = append(args, m.ID, m.workspaceID, m.EndpointID, m.EventID, m.EventType, m.payload, m.Status, db.Time(m.CreatedAt), db.Time{})
		}
		if _, err := q.ExecContext(ctx, `INSERT INTO webhook_messages (`+messageCols+`) VALUES `+b.String(), args...); err != nil {
			return err
		}
	}
	return nil
}

func (store) getMessage(ctx context.Context, q db.Querier, wsID, endpointID, msgID string) (Message, error) {
	return scanMessage(q.QueryRowContext(ctx, `SELECT `+messageCols+` FROM webhook_messages WHERE workspace_id = $1 AND endpoint_id = $2 AND id = $3`,
		wsID, endpointID, msgID))
}

func (store) setMessage(ctx context.Context, q db.Querier, wsID, msgID, status string, attempted bool, at time.Time) error {
	inc := 0
	if attempted {
		inc = 1
	}
	_, err := q.ExecContext(ctx, `UPDATE webhook_messages SET status = $3, attempts = attempts + $4,
last_attempt_at = CASE WHEN $4 = 1 THEN $5 ELSE last_attempt_at END WHERE workspace_id = $1 AND id = $2`, wsID, msgID, status, inc, db.Time(at))
	return err
}

// listMessages returns the endpoint's messages, newest first, with IDs below beforeID.
func (store) listMessages(ctx context.Context, q db.Querier, wsID, endpointID, beforeID string, limit int) ([]Message, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+messageCols+` FROM webhook_messages
WHERE workspace_id = $1 AND endpoint_id = $2 AND ($3 = '' OR id < $3) ORDER BY id DESC LIMIT $4`, wsID, endpointID, beforeID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// messagesSince returns the IDs of the endpoint's messages created at or after since, oldest
// first, with the status given ("" for any).
func (store) messagesSince(ctx context.Context, q db.Querier, wsID, endpointID string, since time.Time, status string, limit int) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT id FROM webhook_messages
WHERE workspace_id = $1 AND endpoint_id = $2 AND created_at >= $3 AND ($4 = '' OR status = $4) ORDER BY created_at, id LIMIT $5`,
		wsID, endpointID, db.Time(since), status, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// Attempt is one HTTP delivery attempt of a message.
type Attempt struct {
	ID         string    `json:"id" doc:"The attempt's ID (atmpt_…)."`
	EndpointID string    `json:"endpointId"`
	MessageID  string    `json:"messageId" doc:"The message (msg_…), the webhook-id sent."`
	URL        string    `json:"url"`
	StatusCode int       `json:"statusCode" doc:"The HTTP status answered; 0 when there was no answer (see error)."`
	DurationMs int64     `json:"durationMs"`
	Response   string    `json:"response" doc:"The first 4 KiB of the answer's body."`
	Error      string    `json:"error,omitempty" doc:"Why the attempt failed without an answer (timeout, refused address, …)."`
	Trigger    string    `json:"trigger" enum:"scheduled,manual"`
	CreatedAt  time.Time `json:"createdAt"`
	// RetryAfter is the receiver's Retry-After on a 429 or 503 (not stored).
	RetryAfter time.Duration `json:"-"`
}

const attemptCols = `id, endpoint_id, message_id, url, status_code, duration_ms, response, error, trigger_type, created_at`

func (store) insertAttempt(ctx context.Context, q db.Querier, wsID string, a Attempt) error {
	_, err := q.ExecContext(ctx, `INSERT INTO webhook_attempts (workspace_id, `+attemptCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		wsID, a.ID, a.EndpointID, a.MessageID, a.URL, a.StatusCode, a.DurationMs, a.Response, a.Error, a.Trigger, db.Time(a.CreatedAt))
	return err
}

// listAttempts returns the endpoint's attempts, newest first, with IDs below beforeID.
func (store) listAttempts(ctx context.Context, q db.Querier, wsID, endpointID, beforeID string, limit int) ([]Attempt, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+attemptCols+` FROM webhook_attempts
WHERE workspace_id = $1 AND endpoint_id = $2 AND ($3 = '' OR id < $3) ORDER BY id DESC LIMIT $4`, wsID, endpointID, beforeID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Attempt
	for rows.Next() {
		var a Attempt
		if err := rows.Scan(&a.ID, &a.EndpointID, &a.MessageID, &a.URL, &a.StatusCode, &a.DurationMs, &a.Response, &a.Error, &a.Trigger,
			(*db.Time)(&a.CreatedAt)); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// withExtra scans a row's leading columns with the destinations given to Scan and its trailing
// ones into extra.
type withExtra struct {
	row   *sql.Row
	extra []any
}

func (w withExtra) Scan(dest ...any) error { return w.row.Scan(append(dest, w.extra...)...) }

// getMessageAndEndpoint returns the workspace's message with its endpoint, in one query (the
// delivery worker's); sql.ErrNoRows when there is none.
func (store) getMessageAndEndpoint(ctx context.Context, q db.Querier, wsID, msgID string) (Message, endpointRow, error) {
	var m Message
	var last time.Time
	row := q.QueryRowContext(ctx, `SELECT e.`+strings.ReplaceAll(endpointCols, ", ", ", e.")+`, m.id, m.event_id, m.event_type, m.payload, m.status, m.attempts, m.created_at, m.last_attempt_at
FROM webhook_messages m JOIN webhook_endpoints e ON e.workspace_id = m.workspace_id AND e.id = m.endpoint_id
WHERE m.workspace_id = $1 AND m.id = $2`, wsID, msgID)
	r, err := scanEndpoint(withExtra{row, []any{&m.ID, &m.EventID, &m.EventType, &m.payload, &m.Status, &m.Attempts, (*db.Time)(&m.CreatedAt), (*db.Time)(&last)}})
	if err != nil {
		return Message{}, endpointRow{}, err
	}
	m.EndpointID, m.workspaceID = r.ID, wsID
	if !last.IsZero() {
		m.LastAttemptAt = &last
	}
	return m, r, nil
}

// claimOutbox returns up to limit queued events, oldest ID first, locking them until q's
// transaction ends. On PostgreSQL rows another transaction holds are skipped (FOR UPDATE SKIP
// LOCKED), so dispatchers on several replicas claim different events; SQLite's single writer
// serialises the transactions instead. This is the dispatcher's: the queue spans workspaces.
func (store) claimOutbox(ctx context.Context, q db.Querier, dialect db.Dialect, limit int) ([]outboxEvent, error) {
	lock := ""
	if dialect == db.Postgres {
		lock = " FOR UPDATE OF o SKIP LOCKED"
	}
	rows, err := q.QueryContext(ctx, `SELECT e.id, e.workspace_id, e.type, e.payload, e.created_at
FROM webhook_outbox o JOIN events e ON e.id = o.event_id ORDER BY o.event_id LIMIT $1`+lock, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []outboxEvent
	for rows.Next() {
		var e outboxEvent
		var ws sql.NullString
		if err := rows.Scan(&e.id, &ws, &e.typ, &e.payload, (*db.Time)(&e.createdAt)); err != nil {
			return nil, err
		}
		e.workspaceID = ws.String
		out = append(out, e)
	}
	return out, rows.Err()
}

// deleteOutbox removes fanned-out events from the queue.
func (store) deleteOutbox(ctx context.Context, q db.Querier, eventIDs []string) error {
	if len(eventIDs) == 0 {
		return nil
	}
	var b strings.Builder
	args := make([]any, len(eventIDs))
	for i, e := range eventIDs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("$" + strconv.Itoa(i+1))
		args[i] = e
	}
	_, err := q.ExecContext(ctx, `DELETE FROM webhook_outbox WHERE event_id IN (`+b.String()+`)`, args...)
	return err
}

// setFailing records the outcome of an attempt on the endpoint: a success clears failing_since, a
// failure sets it unless a run of failures has begun already. It returns when the current run
// began (zero after a success).
func (store) setFailing(ctx context.Context, q db.Querier, wsID, endpointID string, failed bool, now time.Time) (time.Time, error) {
	if !failed {
		_, err := q.ExecContext(ctx, `UPDATE webhook_endpoints SET failing_since = NULL WHERE workspace_id = $1 AND id = $2 AND failing_since IS NOT NULL`, wsID, endpointID)
		return time.Time{}, err
	}
	if _, err := q.ExecContext(ctx, `UPDATE webhook_endpoints SET failing_since = $3 WHERE workspace_id = $1 AND id = $2 AND failing_since IS NULL`,
		wsID, endpointID, db.Time(now)); err != nil {
		return time.Time{}, err
	}
	var since time.Time
	err := q.QueryRowContext(ctx, `SELECT failing_since FROM webhook_endpoints WHERE workspace_id = $1 AND id = $2`, wsID, endpointID).Scan((*db.Time)(&since))
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	return since, err
}

// adminEmails returns the email addresses of the workspace's owner and admins (read from the
// workspace's members; the webhook capability only reads them, to tell them about an endpoint it
// disabled).
func (store) adminEmails(ctx context.Context, q db.Querier, wsID string) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT u.email FROM workspace_members m JOIN users u ON u.id = m.user_id
WHERE m.workspace_id = $1 AND m.role IN ('owner', 'admin') ORDER BY u.email`, wsID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var e string
		if err := rows.Scan(&e); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// pruneBatch is how many rows one prune statement deletes, so a large backlog never holds the
// writer for long.
const pruneBatch = 5000

// pruneAttempts deletes up to pruneBatch attempts created before cutoff, in every workspace (the
// retention job's; not a workspace's request), and returns how many it deleted.
func (store) pruneAttempts(ctx context.Context, q db.Querier, cutoff time.Time) (int64, error) {
	res, err := q.ExecContext(ctx, `DELETE FROM webhook_attempts WHERE id IN (SELECT id FROM webhook_attempts WHERE created_at < $1 LIMIT $2)`,
		db.Time(cutoff), pruneBatch)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// pruneMessages deletes up to pruneBatch messages created before cutoff that are no longer
// pending (a pending one still has a delivery job), with their attempts, in every workspace.
func (store) pruneMessages(ctx context.Context, q db.Querier, cutoff time.Time) (int64, error) {
	res, err := q.ExecContext(ctx, `DELETE FROM webhook_messages WHERE id IN (SELECT id FROM webhook_messages WHERE created_at < $1 AND status <> 'pending' LIMIT $2)`,
		db.Time(cutoff), pruneBatch)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// legacyHeaders returns endpoints whose headers are still stored in clear (written before they
// were sealed), in every workspace: the one-time sealing pass's.
func (store) legacyHeaders(ctx context.Context, q db.Querier) ([]endpointRow, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, workspace_id, headers FROM webhook_endpoints WHERE headers LIKE '{%' LIMIT 1000`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []endpointRow
	for rows.Next() {
		var r endpointRow
		if err := rows.Scan(&r.ID, &r.WorkspaceID, &r.headersText); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// setHeaders replaces the endpoint's stored headers text when it is still old (compare-and-set).
func (store) setHeaders(ctx context.Context, q db.Querier, wsID, endpointID, old, sealed string) error {
	_, err := q.ExecContext(ctx, `UPDATE webhook_endpoints SET headers = $4 WHERE workspace_id = $1 AND id = $2 AND headers = $3`, wsID, endpointID, old, sealed)
	return err
}
