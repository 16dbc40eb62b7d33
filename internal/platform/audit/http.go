package audit

import (
	"context"
	"time"

	"github.com/parleyhq/parley/internal/platform/page"
)

// HTTP holds the audit-log route's handler.
type HTTP struct {
	Reader *Reader
}

// ListRequest is GET /v1/workspaces/{workspaceId}/audit-log.
type ListRequest struct {
	WorkspaceID  string    `path:"workspaceId" maxLength:"64" doc:"The Workspace ID (ws_…)."`
	Actor        string    `query:"actor" maxLength:"64" doc:"Only entries by this user or API key ID."`
	Action       string    `query:"action" maxLength:"64" doc:"Only this action, e.g. workspace.updated."`
	ResourceType string    `query:"resourceType" maxLength:"64" doc:"Only this kind of resource, e.g. workspace."`
	ResourceID   string    `query:"resourceId" maxLength:"64" doc:"Only this resource."`
	Since        time.Time `query:"since" doc:"Only entries at or after this time (RFC 3339)."`
	Until        time.Time `query:"until" doc:"Only entries before this time (RFC 3339)."`
	Limit        int       `query:"limit" minimum:"0" maximum:"100" doc:"Page size (default 50, at most 100)."`
	Cursor       string    `query:"cursor" maxLength:"200" doc:"The nextCursor of the previous page."`
}

// ListOutput is a page of audit entries.
type ListOutput struct {
	Body page.Page[Entry]
}

// List handles GET /v1/workspaces/{workspaceId}/audit-log.
func (h *HTTP) List(ctx context.Context, in *ListRequest) (*ListOutput, error) {
	p, err := h.Reader.Read(ctx, in.WorkspaceID, Filter{ActorID: in.Actor, Action: in.Action, ResourceType: in.ResourceType, ResourceID: in.ResourceID,
		Since: in.Since, Until: in.Until}, in.Cursor, in.Limit)
	if err != nil {
		return nil, err
	}
	return &ListOutput{Body: p}, nil
}
