package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/platform/authz"
	"github.com/parleyhq/parley/internal/platform/db"
	"github.com/parleyhq/parley/internal/platform/page"
)

// Filter narrows a workspace's audit log. Empty fields match everything.
type Filter struct {
	ActorID      string
	Action       string
	ResourceType string
	ResourceID   string
	Since, Until time.Time // Since inclusive, Until exclusive
}

// List returns a workspace's entries, newest first, older than the entry beforeID (empty: from
// the newest), at most limit. Authorisation is the caller's job (see Reader.Read).
func List(ctx context.Context, q db.Querier, workspaceID, beforeID string, limit int) ([]Entry, error) {
	return Search(ctx, q, workspaceID, Filter{}, beforeID, limit)
}

// Search is List narrowed by f.
func Search(ctx context.Context, q db.Querier, workspaceID string, f Filter, beforeID string, limit int) ([]Entry, error) {
	var sb strings.Builder
	args := []any{workspaceID}
	sb.WriteString(`SELECT id, COALESCE(workspace_id, ''), actor_type, actor_id, action, resource_type, resource_id, changes, ip, user_agent, request_id, created_at
FROM audit_log WHERE workspace_id = $1`)
	add := func(cond string, v any) {
		args = append(args, v)
		fmt.Fprintf(&sb, " AND "+cond, len(args))
	}
	if beforeID != "" {
		add("id < $%d", beforeID)
	}
	if f.ActorID != "" {
		add("actor_id = $%d", f.ActorID)
	}
	if f.Action != "" {
		add("action = $%d", f.Action)
	}
	if f.ResourceType != "" {
		add("resource_type = $%d", f.ResourceType)
	}
	if f.ResourceID != "" {
		add("resource_id = $%d", f.ResourceID)
	}
	if !f.Since.IsZero() {
		add("created_at >= $%d", db.Millis(f.Since))
	}
	if !f.Until.IsZero() {
		add("created_at < $%d", db.Millis(f.Until))
	}
	args = append(args, limit)
	fmt.Fprintf(&sb, " ORDER BY id DESC LIMIT $%d", len(args))
	rows, err := q.QueryContext(ctx, sb.String(), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var e Entry
		var changes string
		if err := rows.Scan(&e.ID, &e.WorkspaceID, &e.ActorType, &e.ActorID, &e.Action, &e.ResourceType, &e.ResourceID, &changes, &e.IP, &e.UserAgent, &e.RequestID, (*db.Time)(&e.CreatedAt)); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(changes), &e.Changes); err != nil {
			return nil, fmt.Errorf("audit entry %s: %w", e.ID, err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// Reader serves the audit log to owners and admins.
type Reader struct {
	DB *db.DB
}

// Read returns one page of the workspace's audit log (authz.AuditRead: owner and admin; no API key).
func (r *Reader) Read(ctx context.Context, workspaceID string, f Filter, cursor string, limit int) (page.Page[Entry], error) {
	if _, err := authz.Require(ctx, workspaceID, authz.AuditRead); err != nil {
		return page.Page[Entry]{}, err
	}
	return page.Fetch(cursor, limit, func(before string, n int) ([]Entry, error) {
		return Search(ctx, r.DB.Read, workspaceID, f, before, n)
	}, func(e Entry) string { return e.ID })
}
