package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/parleyhq/parley/internal/platform/db"
)

// store is the SQL of webhooks. Every method takes the workspace ID and filters on it, except the
// dispatcher's cursor.
type store struct{}

// endpointRow is an endpoint with its sealed secrets.
type endpointRow struct {
	Endpoint
	secret, previousSecret string
	previousExpires        time.Time
}

const endpointCols = `id, workspace_id, url, description, events, agent_ids, headers, enabled, disabled_reason, secret, previous_secret, previous_secret_expires_at, created_at, updated_at`

func scanEndpoint(sc interface{ Scan(...any) error }) (endpointRow, error) {
	var r endpointRow
	var events, agents, headers string
	var enabled int
	if err := sc.Scan(&r.ID, &r.WorkspaceID, &r.URL, &r.Description, &events, &agents, &headers, &enabled, &r.DisabledReason,
		&r.secret, &r.previousSecret, (*db.Time)(&r.previousExpires), (*db.Time)(&r.CreatedAt), (*db.Time)(&r.UpdatedAt)); err != nil {
		return endpointRow{}, err
	}
	r.Enabled = enabled != 0
	for col, dst := range map[string]any{"events": &r.Events, "agent_ids": &r.AgentIDs, "headers": &r.Headers} {
		src := map[string]string{"events": events, "agent_ids": agents, "headers": headers}[col]
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
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		r.ID, r.WorkspaceID, r.URL, r.Description, jsonText(r.Events), jsonText(r.AgentIDs), jsonText(r.Headers), boolInt(r.Enabled), r.DisabledReason,
		r.secret, r.previousSecret, db.Time(r.previousExpires), db.Time(r.CreatedAt), db.Time(r.UpdatedAt))
	return err
}

func (store) updateEndpoint(ctx context.Context, q db.Querier, r endpointRow) error {
	_, err := q.ExecContext(ctx, `UPDATE webhook_endpoints SET url = $3, description = $4, events = $5, agent_ids = $6, headers = $7, enabled = $8,
disabled_reason = $9, secret = $10, previous_secret = $11, previous_secret_expires_at = $12, updated_at = $13 WHERE workspace_id = $1 AND id = $2`,
		r.WorkspaceID, r.ID, r.URL, r.Description, jsonText(r.Events), jsonText(r.AgentIDs), jsonText(r.Headers), boolInt(r.Enabled), r.DisabledReason,
		r.secret, r.previousSecret, db.Time(r.previousExpires), db.Time(r.UpdatedAt))
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

// getEndpointOfMessage returns the endpoint of the workspace's message; sql.ErrNoRows when there
// is none.
func (store) getEndpointOfMessage(ctx context.Context, q db.Querier, wsID, msgID string) (endpointRow, error) {
	return scanEndpoint(q.QueryRowContext(ctx, `SELECT `+endpointCols+` FROM webhook_endpoints
WHERE workspace_id = $1 AND id = (SELECT endpoint_id FROM webhook_messages WHERE workspace_id = $1 AND id = $2)`, wsID, msgID))
}
