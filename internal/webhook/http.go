package webhook

import (
	"context"
	"time"

	"github.com/parleyhq/parley/internal/platform/page"
)

// HTTP is the webhooks' huma handlers.
type HTTP struct {
	Svc *Service
}

// WorkspacePath names a workspace in a path.
type WorkspacePath struct {
	WorkspaceID string `path:"workspaceId" maxLength:"64" doc:"The Workspace ID (ws_…)."`
}

// EndpointPath names one of a workspace's webhook endpoints.
type EndpointPath struct {
	WorkspacePath
	EndpointID string `path:"endpointId" maxLength:"64" doc:"The endpoint's ID (whep_…)."`
}

// MessagePath names one of an endpoint's messages.
type MessagePath struct {
	EndpointPath
	MessageID string `path:"messageId" maxLength:"64" doc:"The message's ID (msg_…), the webhook-id of its deliveries."`
}

// EndpointBody is the body that creates an endpoint.
type EndpointBody struct {
	URL         string            `json:"url" minLength:"1" maxLength:"2000" example:"https://hooks.example.com/parley" doc:"https (http only when the server allows private addresses)."`
	Description string            `json:"description,omitempty" maxLength:"500" example:"CRM sync"`
	Events      []string          `json:"events" minItems:"1" maxItems:"50" example:"[\"agent.created\"]" doc:"Event types from GET /v1/webhook-event-types, or [\"*\"] for all."`
	AgentIDs    []string          `json:"agentIds,omitempty" maxItems:"100" doc:"Only events about these agents (calls, campaigns, the agents themselves)."`
	Headers     map[string]string `json:"headers,omitempty" doc:"Extra headers sent with every delivery (at most 20)."`
	Enabled     *bool             `json:"enabled,omitempty" doc:"Default true."`
}

// CreateEndpointRequest is POST /v1/workspaces/{workspaceId}/webhooks.
type CreateEndpointRequest struct {
	WorkspacePath
	Body EndpointBody
}

// CreatedEndpointOutput is a new endpoint with its secret.
type CreatedEndpointOutput struct {
	Body CreatedEndpoint
}

// EndpointOutput is one endpoint.
type EndpointOutput struct {
	Body Endpoint
}

// Create handles POST /v1/workspaces/{workspaceId}/webhooks.
func (h *HTTP) Create(ctx context.Context, in *CreateEndpointRequest) (*CreatedEndpointOutput, error) {
	e, err := h.Svc.Create(ctx, in.WorkspaceID, CreateInput(in.Body))
	if err != nil {
		return nil, err
	}
	return &CreatedEndpointOutput{Body: e}, nil
}

// ListRequest is a page request under an endpoint or workspace.
type ListRequest struct {
	Limit  int    `query:"limit" minimum:"0" maximum:"100" doc:"Page size (default 50, at most 100)."`
	Cursor string `query:"cursor" maxLength:"200" doc:"The nextCursor of the previous page."`
}

// ListEndpointsRequest is GET /v1/workspaces/{workspaceId}/webhooks.
type ListEndpointsRequest struct {
	WorkspacePath
	ListRequest
}

// EndpointsOutput is a page of endpoints.
type EndpointsOutput struct {
	Body page.Page[Endpoint]
}

// List handles GET /v1/workspaces/{workspaceId}/webhooks.
func (h *HTTP) List(ctx context.Context, in *ListEndpointsRequest) (*EndpointsOutput, error) {
	p, err := h.Svc.List(ctx, in.WorkspaceID, in.Cursor, in.Limit)
	if err != nil {
		return nil, err
	}
	return &EndpointsOutput{Body: p}, nil
}

// Get handles GET /v1/workspaces/{workspaceId}/webhooks/{endpointId}.
func (h *HTTP) Get(ctx context.Context, in *EndpointPath) (*EndpointOutput, error) {
	e, err := h.Svc.Get(ctx, in.WorkspaceID, in.EndpointID)
	if err != nil {
		return nil, err
	}
	return &EndpointOutput{Body: e}, nil
}

// UpdateEndpointRequest is PATCH /v1/workspaces/{workspaceId}/webhooks/{endpointId}.
type UpdateEndpointRequest struct {
	EndpointPath
	Body struct {
		URL         *string           `json:"url,omitempty" minLength:"1" maxLength:"2000"`
		Description *string           `json:"description,omitempty" maxLength:"500"`
		Events      []string          `json:"events,omitempty" maxItems:"50" doc:"Replaces the event types."`
		AgentIDs    []string          `json:"agentIds,omitempty" maxItems:"100" doc:"Replaces the agents ([] receives events about every agent)."`
		Headers     map[string]string `json:"headers,omitempty" doc:"Replaces the extra headers ({} removes them)."`
		Enabled     *bool             `json:"enabled,omitempty" doc:"Enabling an endpoint Parley disabled clears disabledReason."`
	}
}

// Update handles PATCH /v1/workspaces/{workspaceId}/webhooks/{endpointId}.
func (h *HTTP) Update(ctx context.Context, in *UpdateEndpointRequest) (*EndpointOutput, error) {
	b := in.Body
	e, err := h.Svc.Update(ctx, in.WorkspaceID, in.EndpointID, Patch{URL: b.URL, Description: b.Description, Events: b.Events, AgentIDs: b.AgentIDs, Headers: b.Headers, Enabled: b.Enabled})
	if err != nil {
		return nil, err
	}
	return &EndpointOutput{Body: e}, nil
}

// Delete handles DELETE /v1/workspaces/{workspaceId}/webhooks/{endpointId}.
func (h *HTTP) Delete(ctx context.Context, in *EndpointPath) (*struct{}, error) {
	return nil, h.Svc.Delete(ctx, in.WorkspaceID, in.EndpointID)
}

// SecretOutput is a signing secret.
type SecretOutput struct {
	Body Secret
}

// RevealSecret handles POST /v1/workspaces/{workspaceId}/webhooks/{endpointId}/reveal-secret.
func (h *HTTP) RevealSecret(ctx context.Context, in *EndpointPath) (*SecretOutput, error) {
	s, err := h.Svc.RevealSecret(ctx, in.WorkspaceID, in.EndpointID)
	if err != nil {
		return nil, err
	}
	return &SecretOutput{Body: s}, nil
}

// RotateSecret handles POST /v1/workspaces/{workspaceId}/webhooks/{endpointId}/rotate-secret.
func (h *HTTP) RotateSecret(ctx context.Context, in *EndpointPath) (*SecretOutput, error) {
	s, err := h.Svc.RotateSecret(ctx, in.WorkspaceID, in.EndpointID)
	if err != nil {
		return nil, err
	}
	return &SecretOutput{Body: s}, nil
}

// ListUnderEndpointRequest is a page of an endpoint's messages or attempts.
type ListUnderEndpointRequest struct {
	EndpointPath
	ListRequest
}

// AttemptsOutput is a page of attempts.
type AttemptsOutput struct {
	Body page.Page[Attempt]
}

// Attempts handles GET /v1/workspaces/{workspaceId}/webhooks/{endpointId}/attempts.
func (h *HTTP) Attempts(ctx context.Context, in *ListUnderEndpointRequest) (*AttemptsOutput, error) {
	p, err := h.Svc.ListAttempts(ctx, in.WorkspaceID, in.EndpointID, in.Cursor, in.Limit)
	if err != nil {
		return nil, err
	}
	return &AttemptsOutput{Body: p}, nil
}

// MessagesOutput is a page of messages.
type MessagesOutput struct {
	Body page.Page[Message]
}

// Messages handles GET /v1/workspaces/{workspaceId}/webhooks/{endpointId}/messages.
func (h *HTTP) Messages(ctx context.Context, in *ListUnderEndpointRequest) (*MessagesOutput, error) {
	p, err := h.Svc.ListMessages(ctx, in.WorkspaceID, in.EndpointID, in.Cursor, in.Limit)
	if err != nil {
		return nil, err
	}
	return &MessagesOutput{Body: p}, nil
}

// MessageOutput is one message.
type MessageOutput struct {
	Body Message
}

// Retry handles POST /v1/workspaces/{workspaceId}/webhooks/{endpointId}/messages/{messageId}/retry.
func (h *HTTP) Retry(ctx context.Context, in *MessagePath) (*MessageOutput, error) {
	m, err := h.Svc.Retry(ctx, in.WorkspaceID, in.EndpointID, in.MessageID)
	if err != nil {
		return nil, err
	}
	return &MessageOutput{Body: m}, nil
}

// Test handles POST /v1/workspaces/{workspaceId}/webhooks/{endpointId}/test.
func (h *HTTP) Test(ctx context.Context, in *EndpointPath) (*MessageOutput, error) {
	m, err := h.Svc.Test(ctx, in.WorkspaceID, in.EndpointID)
	if err != nil {
		return nil, err
	}
	return &MessageOutput{Body: m}, nil
}

// ReplayRequest is POST /v1/workspaces/{workspaceId}/webhooks/{endpointId}/replay.
type ReplayRequest struct {
	EndpointPath
	Body struct {
		Since time.Time `json:"since" doc:"Re-send the messages created at or after this time (RFC 3339)."`
		All   bool      `json:"all,omitempty" doc:"Re-send every message since then, not only the failed ones."`
	}
}

// ReplayOutput is what a replay did.
type ReplayOutput struct {
	Body ReplayResult
}

// Replay handles POST /v1/workspaces/{workspaceId}/webhooks/{endpointId}/replay.
func (h *HTTP) Replay(ctx context.Context, in *ReplayRequest) (*ReplayOutput, error) {
	res, err := h.Svc.Replay(ctx, in.WorkspaceID, in.EndpointID, ReplayInput{Since: in.Body.Since, All: in.Body.All})
	if err != nil {
		return nil, err
	}
	return &ReplayOutput{Body: res}, nil
}

// EventTypesOutput is the event catalog.
type EventTypesOutput struct {
	Body struct {
		Data []EventType `json:"data"`
	}
}

// EventTypes handles GET /v1/webhook-event-types.
func (h *HTTP) EventTypes(context.Context, *struct{}) (*EventTypesOutput, error) {
	out := &EventTypesOutput{}
	out.Body.Data = Catalog()
	return out, nil
}
