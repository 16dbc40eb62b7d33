package workspace

import (
	"context"

	"github.com/parleyhq/parley/internal/platform/page"
)

// HTTP holds the handlers of the workspace routes.
type HTTP struct {
	Svc *Service
}

// WorkspacePath names a workspace in a path.
type WorkspacePath struct {
	WorkspaceID string `path:"workspaceId" maxLength:"64" doc:"The Workspace ID (ws_…)."`
}

// MembershipOutput is a workspace with the caller's role.
type MembershipOutput struct {
	Body Membership
}

// CreateInput is the body of POST /v1/workspaces.
type CreateRequest struct {
	Body struct {
		Name     string `json:"name" minLength:"1" maxLength:"100" example:"Acme Support"`
		Timezone string `json:"timezone,omitempty" maxLength:"64" doc:"IANA time zone; default UTC." example:"Europe/Berlin"`
	}
}

// Create handles POST /v1/workspaces.
func (h *HTTP) Create(ctx context.Context, in *CreateRequest) (*MembershipOutput, error) {
	m, err := h.Svc.Create(ctx, CreateInput{Name: in.Body.Name, Timezone: in.Body.Timezone})
	if err != nil {
		return nil, err
	}
	return &MembershipOutput{Body: m}, nil
}

// ListRequest is GET /v1/workspaces.
type ListRequest struct {
	Limit  int    `query:"limit" minimum:"0" maximum:"100" doc:"Page size (default 50, at most 100)."`
	Cursor string `query:"cursor" maxLength:"200" doc:"The nextCursor of the previous page."`
}

// ListOutput is a page of workspaces.
type ListOutput struct {
	Body page.Page[Membership]
}

// List handles GET /v1/workspaces.
func (h *HTTP) List(ctx context.Context, in *ListRequest) (*ListOutput, error) {
	p, err := h.Svc.List(ctx, in.Cursor, in.Limit)
	if err != nil {
		return nil, err
	}
	return &ListOutput{Body: p}, nil
}

// Get handles GET /v1/workspaces/{workspaceId}.
func (h *HTTP) Get(ctx context.Context, in *WorkspacePath) (*MembershipOutput, error) {
	m, err := h.Svc.Get(ctx, in.WorkspaceID)
	if err != nil {
		return nil, err
	}
	return &MembershipOutput{Body: m}, nil
}

// UpdateRequest is PATCH /v1/workspaces/{workspaceId}.
type UpdateRequest struct {
	WorkspacePath
	Body struct {
		Name     *string `json:"name,omitempty" maxLength:"100"`
		Timezone *string `json:"timezone,omitempty" maxLength:"64"`
	}
}

// Update handles PATCH /v1/workspaces/{workspaceId}.
func (h *HTTP) Update(ctx context.Context, in *UpdateRequest) (*MembershipOutput, error) {
	m, err := h.Svc.Update(ctx, in.WorkspaceID, UpdateInput{Name: in.Body.Name, Timezone: in.Body.Timezone})
	if err != nil {
		return nil, err
	}
	return &MembershipOutput{Body: m}, nil
}

// DeleteRequest is DELETE /v1/workspaces/{workspaceId}.
type DeleteRequest struct {
	WorkspacePath
	Body struct {
		Confirm string `json:"confirm" maxLength:"64" doc:"The workspace's ID, to confirm that you mean it."`
	}
}

// Delete handles DELETE /v1/workspaces/{workspaceId}.
func (h *HTTP) Delete(ctx context.Context, in *DeleteRequest) (*struct{}, error) {
	return nil, h.Svc.Delete(ctx, in.WorkspaceID, in.Body.Confirm)
}
