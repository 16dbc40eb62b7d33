package agent

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/parleyhq/parley/internal/platform/db"
)

// store is the SQL of settings, agents and versions. Every method takes the workspace ID and
// filters on it.
type store struct{}

// settingsRow is a workspace's stored settings: its overrides only.
type settingsRow struct {
	overrides map[string]any
	version   int
	updatedAt time.Time
}

func decodeDoc(s string) (map[string]any, error) {
	m, err := parseObject([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("stored document: %w", err)
	}
	return m, nil
}

func encodeDoc(m map[string]any) (string, error) {
	b, err := json.Marshal(m) // maps marshal with sorted keys: a canonical form
	return string(b), err
}

// settings returns the workspace's overrides (none and version 0 when it has no row).
func (store) settings(ctx context.Context, q db.Querier, wsID string) (settingsRow, error) {
	var doc string
	var r settingsRow
	err := q.QueryRowContext(ctx, `SELECT settings, version, updated_at FROM workspace_settings WHERE workspace_id = $1`, wsID).
		Scan(&doc, &r.version, (*db.Time)(&r.updatedAt))
	if errors.Is(err, sql.ErrNoRows) {
		return settingsRow{overrides: map[string]any{}}, nil
	}
	if err != nil {
		return settingsRow{}, err
	}
	r.overrides, err = decodeDoc(doc)
	return r, err
}

// saveSettings writes the workspace's overrides as version r.version, provided the stored
// version is r.version-1; ok is false when another change got there first.
func (store) saveSettings(ctx context.Context, q db.Querier, wsID, by string, r settingsRow) (bool, error) {
	doc, err := encodeDoc(r.overrides)
	if err != nil {
		return false, err
	}
	var res sql.Result
	if r.version == 1 {
		res, err = q.ExecContext(ctx, `INSERT INTO workspace_settings (workspace_id, settings, version, updated_by, updated_at)
VALUES ($1, $2, 1, $3, $4) ON CONFLICT (workspace_id) DO NOTHING`, wsID, doc, by, db.Time(r.updatedAt))
	} else {
		res, err = q.ExecContext(ctx, `UPDATE workspace_settings SET settings = $2, version = $3, updated_by = $4, updated_at = $5
WHERE workspace_id = $1 AND version = $6`, wsID, doc, r.version, by, db.Time(r.updatedAt), r.version-1)
	}
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// timezone reads the workspace's time zone, which settings show as theirs (the one place this
// package reads the workspaces table; see doc.go). ok is false for no such workspace.
func (store) timezone(ctx context.Context, q db.Querier, wsID string) (string, bool, error) {
	var tz string
	err := q.QueryRowContext(ctx, `SELECT timezone FROM workspaces WHERE id = $1`, wsID).Scan(&tz)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	return tz, err == nil, err
}

// setTimezone changes the workspace's time zone (see timezone).
func (store) setTimezone(ctx context.Context, q db.Querier, wsID, tz string, now time.Time) error {
	_, err := q.ExecContext(ctx, `UPDATE workspaces SET timezone = $2, updated_at = $3 WHERE id = $1`, wsID, tz, db.Time(now))
	return err
}

// agentRow is an agent as stored.
type agentRow struct {
	Agent
	doc map[string]any
}

const agentCols = `id, workspace_id, document, version, created_by, created_at, updated_at, copied_from`

func scanAgent(sc interface{ Scan(...any) error }) (agentRow, error) {
	var r agentRow
	var doc string
	var copied sql.NullString
	if err := sc.Scan(&r.ID, &r.WorkspaceID, &doc, &r.Version, &r.CreatedBy, (*db.Time)(&r.CreatedAt), (*db.Time)(&r.UpdatedAt), &copied); err != nil {
		return agentRow{}, err
	}
	var err error
	if r.doc, err = decodeDoc(doc); err != nil {
		return agentRow{}, fmt.Errorf("agent %s: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(doc), &r.Document); err != nil {
		return agentRow{}, fmt.Errorf("agent %s: %w", r.ID, err)
	}
	if copied.Valid {
		r.CopiedFrom = &CopiedFrom{}
		if err := json.Unmarshal([]byte(copied.String), r.CopiedFrom); err != nil {
			return agentRow{}, fmt.Errorf("agent %s: copied_from: %w", r.ID, err)
		}
	}
	return r, nil
}

func (store) insertAgent(ctx context.Context, q db.Querier, r agentRow) error {
	doc, err := encodeDoc(r.doc)
	if err != nil {
		return err
	}
	var copied any
	if r.CopiedFrom != nil {
		b, err := json.Marshal(r.CopiedFrom)
		if err != nil {
			return err
		}
		copied = string(b)
	}
	_, err = q.ExecContext(ctx, `INSERT INTO agents (id, workspace_id, name, status, document, version, created_by, created_at, updated_at, copied_from)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		r.ID, r.WorkspaceID, deref(r.Name), statusOf(r.Document), doc, r.Version, r.CreatedBy, db.Time(r.CreatedAt), db.Time(r.UpdatedAt), copied)
	return err
}

func statusOf(d Document) string {
	if d.Status == nil {
		return "active"
	}
	return *d.Status
}

// updateAgent stores a new document as r.Version, provided the stored version is r.Version-1;
// ok is false when another change got there first (or the agent is gone).
func (store) updateAgent(ctx context.Context, q db.Querier, r agentRow) (bool, error) {
	doc, err := encodeDoc(r.doc)
	if err != nil {
		return false, err
	}
	res, err := q.ExecContext(ctx, `UPDATE agents SET name = $3, status = $4, document = $5, version = $6, updated_at = $7
WHERE workspace_id = $1 AND id = $2 AND version = $8`,
		r.WorkspaceID, r.ID, deref(r.Name), statusOf(r.Document), doc, r.Version, db.Time(r.UpdatedAt), r.Version-1)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// getAgent returns the workspace's agent; sql.ErrNoRows when there is none (or it is another's).
func (store) getAgent(ctx context.Context, q db.Querier, wsID, agentID string) (agentRow, error) {
	return scanAgent(q.QueryRowContext(ctx, `SELECT `+agentCols+` FROM agents WHERE workspace_id = $1 AND id = $2`, wsID, agentID))
}

// listAgents returns the workspace's agents newest first, with IDs below beforeID (all of them
// when limit is 0), optionally of one status.
func (store) listAgents(ctx context.Context, q db.Querier, wsID, status, beforeID string, limit int) ([]agentRow, error) {
	if limit <= 0 {
		limit = 1 << 30
	}
	rows, err := q.QueryContext(ctx, `SELECT `+agentCols+` FROM agents
WHERE workspace_id = $1 AND ($2 = '' OR status = $2) AND ($3 = '' OR id < $3) ORDER BY id DESC LIMIT $4`, wsID, status, beforeID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []agentRow
	for rows.Next() {
		r, err := scanAgent(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// deleteAgent removes the workspace's agent and its versions; ok is false if there was none.
func (store) deleteAgent(ctx context.Context, q db.Querier, wsID, agentID string) (bool, error) {
	if _, err := q.ExecContext(ctx, `DELETE FROM agent_versions WHERE workspace_id = $1 AND agent_id = $2`, wsID, agentID); err != nil {
		return false, err
	}
	res, err := q.ExecContext(ctx, `DELETE FROM agents WHERE workspace_id = $1 AND id = $2`, wsID, agentID)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// Version is one immutable version of an agent.
type Version struct {
	AgentID      string    `json:"agentId"`
	Number       int       `json:"number"`
	Author       string    `json:"author" doc:"The user or API key that made the change."`
	CreatedAt    time.Time `json:"createdAt"`
	Changes      []string  `json:"changes" doc:"The settings (dotted paths) this version changed from the one before."`
	RestoredFrom *int      `json:"restoredFrom,omitempty" doc:"The version this one restored, if it is a restore."`
	Document     Document  `json:"document" doc:"The agent's own settings in this version."`
}

func (store) insertVersion(ctx context.Context, q db.Querier, wsID string, v Version, doc map[string]any) error {
	d, err := encodeDoc(doc)
	if err != nil {
		return err
	}
	changes, err := json.Marshal(v.Changes)
	if err != nil {
		return err
	}
	var restored any
	if v.RestoredFrom != nil {
		restored = *v.RestoredFrom
	}
	_, err = q.ExecContext(ctx, `INSERT INTO agent_versions (workspace_id, agent_id, number, document, changes, author, created_at, restored_from)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, wsID, v.AgentID, v.Number, d, string(changes), v.Author, db.Time(v.CreatedAt), restored)
	return err
}

const versionCols = `agent_id, number, document, changes, author, created_at, restored_from`

func scanVersion(sc interface{ Scan(...any) error }) (Version, map[string]any, error) {
	var v Version
	var doc, changes string
	var restored sql.NullInt64
	if err := sc.Scan(&v.AgentID, &v.Number, &doc, &changes, &v.Author, (*db.Time)(&v.CreatedAt), &restored); err != nil {
		return Version{}, nil, err
	}
	if restored.Valid {
		n := int(restored.Int64)
		v.RestoredFrom = &n
	}
	if err := json.Unmarshal([]byte(changes), &v.Changes); err != nil {
		return Version{}, nil, err
	}
	if err := json.Unmarshal([]byte(doc), &v.Document); err != nil {
		return Version{}, nil, err
	}
	m, err := decodeDoc(doc)
	return v, m, err
}

// getVersion returns one version of the workspace's agent; sql.ErrNoRows if there is none.
func (store) getVersion(ctx context.Context, q db.Querier, wsID, agentID string, n int) (Version, map[string]any, error) {
	return scanVersion(q.QueryRowContext(ctx, `SELECT `+versionCols+` FROM agent_versions WHERE workspace_id = $1 AND agent_id = $2 AND number = $3`, wsID, agentID, n))
}

// listVersions returns the versions of the workspace's agent, newest first, below number before
// (0: from the newest).
func (store) listVersions(ctx context.Context, q db.Querier, wsID, agentID string, before, limit int) ([]Version, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+versionCols+` FROM agent_versions
WHERE workspace_id = $1 AND agent_id = $2 AND ($3 = 0 OR number < $3) ORDER BY number DESC LIMIT $4`, wsID, agentID, before, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Version
	for rows.Next() {
		v, _, err := scanVersion(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// ---- Provider keys.

const providerKeyCols = `id, workspace_id, provider, api_key, last_four, base_url, created_by, created_at`

func scanProviderKey(sc interface{ Scan(...any) error }) (providerKeyRow, error) {
	var r providerKeyRow
	var base sql.NullString
	if err := sc.Scan(&r.ID, &r.WorkspaceID, &r.Provider, &r.sealed, &r.LastFour, &base, &r.CreatedBy, (*db.Time)(&r.CreatedAt)); err != nil {
		return providerKeyRow{}, err
	}
	if base.Valid {
		r.BaseURL = &base.String
	}
	return r, nil
}

// insertProviderKey stores a provider key; ok is false when the workspace already has one for
// the provider (the unique index on workspace_id, provider).
func (store) insertProviderKey(ctx context.Context, q db.Querier, r providerKeyRow) (bool, error) {
	var base any
	if r.BaseURL != nil {
		base = *r.BaseURL
	}
	res, err := q.ExecContext(ctx, `INSERT INTO provider_keys (`+providerKeyCols+`)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (workspace_id, provider) DO NOTHING`,
		r.ID, r.WorkspaceID, r.Provider, r.sealed, r.LastFour, base, r.CreatedBy, db.Time(r.CreatedAt))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// listProviderKeys returns the workspace's provider keys (sealed), newest first.
func (store) listProviderKeys(ctx context.Context, q db.Querier, wsID string) ([]providerKeyRow, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+providerKeyCols+` FROM provider_keys WHERE workspace_id = $1 ORDER BY id DESC`, wsID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []providerKeyRow
	for rows.Next() {
		r, err := scanProviderKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// getProviderKey returns the workspace's provider key by ID; sql.ErrNoRows if there is none.
func (store) getProviderKey(ctx context.Context, q db.Querier, wsID, keyID string) (providerKeyRow, error) {
	return scanProviderKey(q.QueryRowContext(ctx, `SELECT `+providerKeyCols+` FROM provider_keys WHERE workspace_id = $1 AND id = $2`, wsID, keyID))
}

// providerKeyFor returns the workspace's key for a provider; sql.ErrNoRows if there is none.
func (store) providerKeyFor(ctx context.Context, q db.Querier, wsID, provider string) (providerKeyRow, error) {
	return scanProviderKey(q.QueryRowContext(ctx, `SELECT `+providerKeyCols+` FROM provider_keys WHERE workspace_id = $1 AND provider = $2`, wsID, provider))
}

// deleteProviderKey removes the workspace's provider key; ok is false if there was none.
func (store) deleteProviderKey(ctx context.Context, q db.Querier, wsID, keyID string) (bool, error) {
	res, err := q.ExecContext(ctx, `DELETE FROM provider_keys WHERE workspace_id = $1 AND id = $2`, wsID, keyID)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}
