// Package audit records who did what to which resource, when and from where.
//
// Invariants: entries are append-only (no update or delete path exists, except that deleting a
// workspace removes its entries along with all its other data, and then records the deletion
// itself); every mutation writes its entry in the same transaction as the change, so an entry
// exists exactly when the change does; an entry names changed fields, never their values, so no
// secret can reach the log.
package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/authz"
	"github.com/parleyhq/parley/internal/platform/db"
	"github.com/parleyhq/parley/internal/platform/id"
)

// Entry is one audit record.
type Entry struct {
	ID           string    `json:"id"`
	WorkspaceID  string    `json:"workspaceId,omitempty"`
	ActorType    string    `json:"actorType"`
	ActorID      string    `json:"actorId"`
	Action       string    `json:"action"`
	ResourceType string    `json:"resourceType"`
	ResourceID   string    `json:"resourceId"`
	Changes      []string  `json:"changes"`
	IP           string    `json:"ip,omitempty"`
	UserAgent    string    `json:"userAgent,omitempty"`
	RequestID    string    `json:"requestId,omitempty"`
	CreatedAt    time.Time `json:"createdAt"`
}

type clientKey struct{}

type client struct{ ip, userAgent string }

// WithClient stores the caller's IP address and user agent in ctx (the HTTP middleware does).
func WithClient(ctx context.Context, ip, userAgent string) context.Context {
	return context.WithValue(ctx, clientKey{}, client{ip, userAgent})
}

// Record writes an entry through q (the transaction of the change). The actor, IP, user agent
// and request ID come from ctx; the caller names the workspace (empty for account-level actions),
// the action ("workspace.updated"), the resource and the names of the fields that changed.
func Record(ctx context.Context, q db.Querier, now time.Time, e Entry) error {
	e.ID = id.New(id.Audit)
	e.ActorType, e.ActorID = string(authz.KindSystem), "system"
	if p, ok := authz.FromContext(ctx); ok {
		e.ActorType, e.ActorID = string(p.Kind), p.ActorID()
	}
	if c, ok := ctx.Value(clientKey{}).(client); ok {
		e.IP, e.UserAgent = c.ip, c.userAgent
	}
	e.RequestID = apierr.RequestID(ctx)
	if e.Changes == nil {
		e.Changes = []string{}
	}
	changes, err := json.Marshal(e.Changes)
	if err != nil {
		return err
	}
	var ws any
	if e.WorkspaceID != "" {
		ws = e.WorkspaceID
	}
	_, err = q.ExecContext(ctx, `INSERT INTO audit_log (id, workspace_id, actor_type, actor_id, action, resource_type, resource_id, changes, ip, user_agent, request_id, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		e.ID, ws, e.ActorType, e.ActorID, e.Action, e.ResourceType, e.ResourceID, string(changes), e.IP, e.UserAgent, e.RequestID, db.Time(now))
	if err != nil {
		return fmt.Errorf("write audit entry: %w", err)
	}
	return nil
}

// Client returns the IP address and user agent stored by WithClient.
func Client(ctx context.Context) (ip, userAgent string) {
	c, _ := ctx.Value(clientKey{}).(client)
	return c.ip, c.userAgent
}
