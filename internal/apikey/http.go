package apikey

import (
	"context"
	"time"

	"github.com/parleyhq/parley/internal/platform/page"
)

// HTTP holds the handlers of the API-key routes.
type HTTP struct {
	Svc *Service
}

// WorkspacePath names a workspace in a path.
type WorkspacePath struct {
	WorkspaceID string `path:"workspaceId" maxLength:"64" doc:"The Workspace ID (ws_…)."`
}

// APIKeyPath names one of a workspace's keys.
type APIKeyPath struct {
	WorkspacePath
	KeyID string `path:"keyId" maxLength:"64" doc:"The API key's ID (key_…)."`
}

// CreateAPIKeyRequest is POST /v1/workspaces/{workspaceId}/api-keys. The enum of scopes must list
// Scopes (a test checks it).
type CreateAPIKeyRequest struct {
	WorkspacePath
	Body struct {
		Name      string     `json:"name" minLength:"1" maxLength:"100" example:"Production CRM sync"`
		Scopes    []string   `json:"scopes" minItems:"1" maxItems:"20" enum:"agents:read,agents:write,contacts:read,contacts:write,campaigns:read,campaigns:write,calls:read,calls:write,webhooks:read,webhooks:write,usage:read" doc:"What the key may do; at least one."`
		Mode      string     `json:"mode" enum:"live,test" doc:"live, or test for keys that must not cause real calls."`
		ExpiresAt *time.Time `json:"expiresAt,omitempty" doc:"When the key stops working (RFC 3339, in the future); absent: never."`
	}
}

// CreatedAPIKeyOutput is a new key with its secret.
type CreatedAPIKeyOutput struct {
	Body CreatedAPIKey
}

// Create handles POST /v1/workspaces/{workspaceId}/api-keys.
func (h *HTTP) Create(ctx context.Context, in *CreateAPIKeyRequest) (*CreatedAPIKeyOutput, error) {
	c, err := h.Svc.Create(ctx, in.WorkspaceID, CreateInput{Name: in.Body.Name, Scopes: in.Body.Scopes, Mode: Mode(in.Body.Mode), ExpiresAt: in.Body.ExpiresAt})
	if err != nil {
		return nil, err
	}
	return &CreatedAPIKeyOutput{Body: c}, nil
}

// ListAPIKeysRequest is GET /v1/workspaces/{workspaceId}/api-keys.
type ListAPIKeysRequest struct {
	WorkspacePath
	Limit  int    `query:"limit" minimum:"0" maximum:"100" doc:"Page size (default 50, at most 100)."`
	Cursor string `query:"cursor" maxLength:"200" doc:"The nextCursor of the previous page."`
}

// ListAPIKeysOutput is a page of keys.
type ListAPIKeysOutput struct {
	Body page.Page[APIKey]
}

// List handles GET /v1/workspaces/{workspaceId}/api-keys.
func (h *HTTP) List(ctx context.Context, in *ListAPIKeysRequest) (*ListAPIKeysOutput, error) {
	p, err := h.Svc.List(ctx, in.WorkspaceID, in.Cursor, in.Limit)
	if err != nil {
		return nil, err
	}
	return &ListAPIKeysOutput{Body: p}, nil
}

// APIKeyOutput is one key.
type APIKeyOutput struct {
	Body APIKey
}

// Get handles GET /v1/workspaces/{workspaceId}/api-keys/{keyId}.
func (h *HTTP) Get(ctx context.Context, in *APIKeyPath) (*APIKeyOutput, error) {
	k, err := h.Svc.Get(ctx, in.WorkspaceID, in.KeyID)
	if err != nil {
		return nil, err
	}
	return &APIKeyOutput{Body: k}, nil
}

// Revoke handles DELETE /v1/workspaces/{workspaceId}/api-keys/{keyId}.
func (h *HTTP) Revoke(ctx context.Context, in *APIKeyPath) (*struct{}, error) {
	return nil, h.Svc.Revoke(ctx, in.WorkspaceID, in.KeyID)
}
