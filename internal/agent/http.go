package agent

import (
	"context"
	"net/http"
	"reflect"

	"github.com/danielgtaylor/huma/v2"

	"github.com/parleyhq/parley/internal/platform/authz"
	"github.com/parleyhq/parley/internal/platform/page"
)

// HTTP holds the handlers of the settings, catalog and agent routes.
//
// PATCH bodies (and the create body, which is a patch of an empty agent) are JSON merge
// patches (RFC 7396): huma binds bodies to typed structs, which cannot tell an absent member
// from null, so these handlers take the raw body (RawBody) and the service applies the patch to
// the stored JSON itself, then validates the result as a whole. DocumentMergePatch puts the
// schema of the body into the OpenAPI document.
type HTTP struct {
	Svc *Service
}

// WorkspacePath names a workspace in a path.
type WorkspacePath struct {
	WorkspaceID string `path:"workspaceId" maxLength:"64" doc:"The Workspace ID (ws_…)."`
}

// AgentPath names one of a workspace's agents.
type AgentPath struct {
	WorkspaceID string `path:"workspaceId" maxLength:"64" doc:"The Workspace ID (ws_…)."`
	AgentID     string `path:"agentId" maxLength:"64" doc:"The agent's ID (agent_…)."`
}

// CatalogOutput is the provider catalog.
type CatalogOutput struct {
	Body *Catalog
}

// Catalog handles GET /v1/catalog.
func (h *HTTP) Catalog(ctx context.Context, _ *struct{}) (*CatalogOutput, error) {
	c, err := h.Svc.Catalog(ctx)
	if err != nil {
		return nil, err
	}
	return &CatalogOutput{Body: c}, nil
}

// SettingsOutput is a workspace's settings with their ETag.
type SettingsOutput struct {
	ETag string `header:"ETag" doc:"The settings' version; send it as If-Match to change them safely."`
	Body SettingsView
}

// GetSettings handles GET /v1/workspaces/{workspaceId}/settings.
func (h *HTTP) GetSettings(ctx context.Context, in *WorkspacePath) (*SettingsOutput, error) {
	v, err := h.Svc.GetSettings(ctx, in.WorkspaceID)
	if err != nil {
		return nil, err
	}
	return &SettingsOutput{ETag: ETag(v.Version), Body: v}, nil
}

// UpdateSettingsRequest is PATCH /v1/workspaces/{workspaceId}/settings: a merge patch of Settings.
type UpdateSettingsRequest struct {
	WorkspaceID string `path:"workspaceId" maxLength:"64" doc:"The Workspace ID (ws_…)."`
	IfMatch     string `header:"If-Match" maxLength:"100" doc:"The ETag you read; 412 if the settings changed since."`
	RawBody     []byte `contentType:"application/merge-patch+json"`
}

// UpdateSettings handles PATCH /v1/workspaces/{workspaceId}/settings.
func (h *HTTP) UpdateSettings(ctx context.Context, in *UpdateSettingsRequest) (*SettingsOutput, error) {
	// Authorization comes before the body is read: a caller who may not write gets 403 (or 404),
	// never a complaint about the body.
	if _, err := authz.Require(ctx, in.WorkspaceID, authz.SettingsWrite); err != nil {
		return nil, err
	}
	patch, err := parseObject(in.RawBody)
	if err != nil {
		return nil, err
	}
	v, err := h.Svc.UpdateSettings(ctx, in.WorkspaceID, patch, in.IfMatch)
	if err != nil {
		return nil, err
	}
	return &SettingsOutput{ETag: ETag(v.Version), Body: v}, nil
}

// AgentOutput is one agent with its ETag.
type AgentOutput struct {
	ETag string `header:"ETag" doc:"The agent's version; send it as If-Match to change it safely."`
	Body Agent
}

// CreateAgentRequest is POST /v1/workspaces/{workspaceId}/agents.
type CreateAgentRequest struct {
	WorkspaceID string `path:"workspaceId" maxLength:"64" doc:"The Workspace ID (ws_…)."`
	RawBody     []byte `contentType:"application/merge-patch+json"`
}

// CreateAgent handles POST /v1/workspaces/{workspaceId}/agents.
func (h *HTTP) CreateAgent(ctx context.Context, in *CreateAgentRequest) (*AgentOutput, error) {
	if _, err := authz.Require(ctx, in.WorkspaceID, authz.AgentsWrite); err != nil {
		return nil, err
	}
	body, err := parseObject(in.RawBody)
	if err != nil {
		return nil, err
	}
	a, err := h.Svc.CreateAgent(ctx, in.WorkspaceID, body)
	if err != nil {
		return nil, err
	}
	return &AgentOutput{ETag: ETag(a.Version), Body: a}, nil
}

// ListAgentsRequest is GET /v1/workspaces/{workspaceId}/agents.
type ListAgentsRequest struct {
	WorkspaceID string `path:"workspaceId" maxLength:"64" doc:"The Workspace ID (ws_…)."`
	Status      string `query:"status" enum:"active,paused,archived" doc:"Only agents of this status."`
	Limit       int    `query:"limit" minimum:"0" maximum:"100" doc:"Page size (default 50, at most 100)."`
	Cursor      string `query:"cursor" maxLength:"200" doc:"The nextCursor of the previous page."`
}

// ListAgentsOutput is a page of agents.
type ListAgentsOutput struct {
	Body page.Page[Agent]
}

// ListAgents handles GET /v1/workspaces/{workspaceId}/agents.
func (h *HTTP) ListAgents(ctx context.Context, in *ListAgentsRequest) (*ListAgentsOutput, error) {
	p, err := h.Svc.ListAgents(ctx, in.WorkspaceID, in.Status, in.Cursor, in.Limit)
	if err != nil {
		return nil, err
	}
	return &ListAgentsOutput{Body: p}, nil
}

// GetAgent handles GET /v1/workspaces/{workspaceId}/agents/{agentId}.
func (h *HTTP) GetAgent(ctx context.Context, in *AgentPath) (*AgentOutput, error) {
	a, err := h.Svc.GetAgent(ctx, in.WorkspaceID, in.AgentID)
	if err != nil {
		return nil, err
	}
	return &AgentOutput{ETag: ETag(a.Version), Body: a}, nil
}

// UpdateAgentRequest is PATCH /v1/workspaces/{workspaceId}/agents/{agentId}.
type UpdateAgentRequest struct {
	AgentPath
	IfMatch string `header:"If-Match" maxLength:"100" doc:"The ETag you read; 412 if the agent changed since."`
	RawBody []byte `contentType:"application/merge-patch+json"`
}

// UpdateAgent handles PATCH /v1/workspaces/{workspaceId}/agents/{agentId}.
func (h *HTTP) UpdateAgent(ctx context.Context, in *UpdateAgentRequest) (*AgentOutput, error) {
	if _, err := authz.Require(ctx, in.WorkspaceID, authz.AgentsWrite); err != nil {
		return nil, err
	}
	patch, err := parseObject(in.RawBody)
	if err != nil {
		return nil, err
	}
	a, err := h.Svc.UpdateAgent(ctx, in.WorkspaceID, in.AgentID, patch, in.IfMatch)
	if err != nil {
		return nil, err
	}
	return &AgentOutput{ETag: ETag(a.Version), Body: a}, nil
}

// DeleteAgentRequest is DELETE /v1/workspaces/{workspaceId}/agents/{agentId}.
type DeleteAgentRequest struct {
	AgentPath
	IfMatch string `header:"If-Match" maxLength:"100" doc:"The ETag you read; 412 if the agent changed since."`
}

// DeleteAgent handles DELETE /v1/workspaces/{workspaceId}/agents/{agentId}.
func (h *HTTP) DeleteAgent(ctx context.Context, in *DeleteAgentRequest) (*struct{}, error) {
	return nil, h.Svc.DeleteAgent(ctx, in.WorkspaceID, in.AgentID, in.IfMatch)
}

// EffectiveOutput is an agent's resolved configuration.
type EffectiveOutput struct {
	Body Effective
}

// Effective handles GET /v1/workspaces/{workspaceId}/agents/{agentId}/effective.
func (h *HTTP) Effective(ctx context.Context, in *AgentPath) (*EffectiveOutput, error) {
	e, err := h.Svc.Effective(ctx, in.WorkspaceID, in.AgentID)
	if err != nil {
		return nil, err
	}
	return &EffectiveOutput{Body: e}, nil
}

// ListVersionsRequest is GET /v1/workspaces/{workspaceId}/agents/{agentId}/versions.
type ListVersionsRequest struct {
	AgentPath
	Limit  int    `query:"limit" minimum:"0" maximum:"100" doc:"Page size (default 50, at most 100)."`
	Cursor string `query:"cursor" maxLength:"200" doc:"The nextCursor of the previous page."`
}

// ListVersionsOutput is a page of versions.
type ListVersionsOutput struct {
	Body page.Page[Version]
}

// ListVersions handles GET /v1/workspaces/{workspaceId}/agents/{agentId}/versions.
func (h *HTTP) ListVersions(ctx context.Context, in *ListVersionsRequest) (*ListVersionsOutput, error) {
	p, err := h.Svc.ListVersions(ctx, in.WorkspaceID, in.AgentID, in.Cursor, in.Limit)
	if err != nil {
		return nil, err
	}
	return &ListVersionsOutput{Body: p}, nil
}

// VersionPath names one version of an agent.
type VersionPath struct {
	AgentPath
	Number int `path:"number" minimum:"1" doc:"The version number."`
}

// VersionOutput is one version.
type VersionOutput struct {
	Body Version
}

// GetVersion handles GET /v1/workspaces/{workspaceId}/agents/{agentId}/versions/{number}.
func (h *HTTP) GetVersion(ctx context.Context, in *VersionPath) (*VersionOutput, error) {
	v, err := h.Svc.GetVersion(ctx, in.WorkspaceID, in.AgentID, in.Number)
	if err != nil {
		return nil, err
	}
	return &VersionOutput{Body: v}, nil
}

// RestoreVersionRequest is POST …/agents/{agentId}/versions/{number}/restore.
type RestoreVersionRequest struct {
	VersionPath
	IfMatch string `header:"If-Match" maxLength:"100" doc:"The ETag you read; 412 if the agent changed since."`
}

// RestoreVersion handles POST /v1/workspaces/{workspaceId}/agents/{agentId}/versions/{number}/restore.
func (h *HTTP) RestoreVersion(ctx context.Context, in *RestoreVersionRequest) (*AgentOutput, error) {
	a, err := h.Svc.RestoreVersion(ctx, in.WorkspaceID, in.AgentID, in.Number, in.IfMatch)
	if err != nil {
		return nil, err
	}
	return &AgentOutput{ETag: ETag(a.Version), Body: a}, nil
}

// DocumentMergePatch describes the body of a merge-patch operation registered at method and
// path in the OpenAPI document: the schema of T under application/merge-patch+json and
// application/json (both are accepted), with an example.
func DocumentMergePatch[T any](api huma.API, method, path string, example any) {
	oapi := api.OpenAPI()
	item := oapi.Paths[path]
	if item == nil {
		return
	}
	var op *huma.Operation
	switch method {
	case http.MethodPatch:
		op = item.Patch
	case http.MethodPost:
		op = item.Post
	}
	if op == nil || op.RequestBody == nil {
		return
	}
	schema := oapi.Components.Schemas.Schema(reflect.TypeFor[T](), true, "")
	mt := &huma.MediaType{Schema: schema, Example: example}
	op.RequestBody.Content = map[string]*huma.MediaType{"application/merge-patch+json": mt, "application/json": mt}
}

// CopyAgentRequest is POST /v1/workspaces/{workspaceId}/agents/{agentId}/copy.
type CopyAgentRequest struct {
	AgentPath
	Body struct {
		TargetWorkspaceID string `json:"targetWorkspaceId" minLength:"1" maxLength:"64" example:"ws_01jq3v5x8kf9r1t6m2c4d7e8gh" doc:"The workspace to copy the agent to; you must be its owner or an admin."`
	}
}

// CopyAgent handles POST /v1/workspaces/{workspaceId}/agents/{agentId}/copy.
func (h *HTTP) CopyAgent(ctx context.Context, in *CopyAgentRequest) (*AgentOutput, error) {
	a, err := h.Svc.CopyAgent(ctx, in.WorkspaceID, in.AgentID, in.Body.TargetWorkspaceID)
	if err != nil {
		return nil, err
	}
	return &AgentOutput{ETag: ETag(a.Version), Body: a}, nil
}

// ProviderKeyPath names one of a workspace's provider keys.
type ProviderKeyPath struct {
	WorkspaceID   string `path:"workspaceId" maxLength:"64" doc:"The Workspace ID (ws_…)."`
	ProviderKeyID string `path:"providerKeyId" maxLength:"64" doc:"The provider key's ID (pkey_…)."`
}

// CreateProviderKeyRequest is POST /v1/workspaces/{workspaceId}/provider-keys.
type CreateProviderKeyRequest struct {
	WorkspaceID string `path:"workspaceId" maxLength:"64" doc:"The Workspace ID (ws_…)."`
	Body        NewProviderKey
}

// ProviderKeyOutput is one provider key, without the key.
type ProviderKeyOutput struct {
	Body ProviderKey
}

// CreateProviderKey handles POST /v1/workspaces/{workspaceId}/provider-keys.
func (h *HTTP) CreateProviderKey(ctx context.Context, in *CreateProviderKeyRequest) (*ProviderKeyOutput, error) {
	k, err := h.Svc.CreateProviderKey(ctx, in.WorkspaceID, in.Body)
	if err != nil {
		return nil, err
	}
	return &ProviderKeyOutput{Body: k}, nil
}

// ListProviderKeysOutput is every provider key of a workspace (at most one per provider, so one
// page).
type ListProviderKeysOutput struct {
	Body page.Page[ProviderKey]
}

// ListProviderKeys handles GET /v1/workspaces/{workspaceId}/provider-keys.
func (h *HTTP) ListProviderKeys(ctx context.Context, in *WorkspacePath) (*ListProviderKeysOutput, error) {
	ks, err := h.Svc.ListProviderKeys(ctx, in.WorkspaceID)
	if err != nil {
		return nil, err
	}
	return &ListProviderKeysOutput{Body: page.Of(ks, len(ks)+1, func(k ProviderKey) string { return k.ID })}, nil
}

// GetProviderKey handles GET /v1/workspaces/{workspaceId}/provider-keys/{providerKeyId}.
func (h *HTTP) GetProviderKey(ctx context.Context, in *ProviderKeyPath) (*ProviderKeyOutput, error) {
	k, err := h.Svc.GetProviderKey(ctx, in.WorkspaceID, in.ProviderKeyID)
	if err != nil {
		return nil, err
	}
	return &ProviderKeyOutput{Body: k}, nil
}

// DeleteProviderKey handles DELETE /v1/workspaces/{workspaceId}/provider-keys/{providerKeyId}.
func (h *HTTP) DeleteProviderKey(ctx context.Context, in *ProviderKeyPath) (*struct{}, error) {
	return nil, h.Svc.DeleteProviderKey(ctx, in.WorkspaceID, in.ProviderKeyID)
}
