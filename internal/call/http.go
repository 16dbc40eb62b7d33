package call

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/agent"
	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/page"
	"github.com/parleyhq/parley/internal/telephony"
)

// HTTP holds the handlers of the call routes.
type HTTP struct {
	Svc *Service
	// BaseURL is the platform's public URL: provider signatures cover the URL the provider
	// requested, which is this base plus the request's path and query.
	BaseURL string
}

// WorkspacePath names a workspace in a path.
type WorkspacePath struct {
	WorkspaceID string `path:"workspaceId" maxLength:"64" doc:"The Workspace ID (ws_…)."`
}

// CallPath names one of a workspace's calls.
type CallPath struct {
	WorkspacePath
	CallID string `path:"callId" maxLength:"64" doc:"The call's ID (call_…)."`
}

// PlaceRequest is POST /v1/workspaces/{workspaceId}/calls.
type PlaceRequest struct {
	WorkspacePath
	Body PlaceInput
}

// CallOutput is one call.
type CallOutput struct{ Body Call }

// Place handles POST /v1/workspaces/{workspaceId}/calls.
func (h *HTTP) Place(ctx context.Context, in *PlaceRequest) (*CallOutput, error) {
	c, err := h.Svc.Place(ctx, in.WorkspaceID, in.Body)
	if err != nil {
		return nil, err
	}
	return &CallOutput{Body: c}, nil
}

// Get handles GET /v1/workspaces/{workspaceId}/calls/{callId}.
func (h *HTTP) Get(ctx context.Context, in *CallPath) (*CallOutput, error) {
	c, err := h.Svc.Get(ctx, in.WorkspaceID, in.CallID)
	if err != nil {
		return nil, err
	}
	return &CallOutput{Body: c}, nil
}

// Hangup handles POST /v1/workspaces/{workspaceId}/calls/{callId}/hangup.
func (h *HTTP) Hangup(ctx context.Context, in *CallPath) (*CallOutput, error) {
	c, err := h.Svc.Hangup(ctx, in.WorkspaceID, in.CallID)
	if err != nil {
		return nil, err
	}
	return &CallOutput{Body: c}, nil
}

// TimelineOutput is a call's timeline.
type TimelineOutput struct {
	Body struct {
		Data []TimelineEntry `json:"data"`
	}
}

// Timeline handles GET /v1/workspaces/{workspaceId}/calls/{callId}/timeline.
func (h *HTTP) Timeline(ctx context.Context, in *CallPath) (*TimelineOutput, error) {
	t, err := h.Svc.Timeline(ctx, in.WorkspaceID, in.CallID)
	if err != nil {
		return nil, err
	}
	out := &TimelineOutput{}
	out.Body.Data = t
	return out, nil
}

// ListRequest is GET /v1/workspaces/{workspaceId}/calls.
type ListRequest struct {
	WorkspacePath
	Status     string    `query:"status" enum:"queued,initiating,ringing,in_progress,completed,busy,no_answer,voicemail,failed,canceled"`
	Direction  string    `query:"direction" enum:"outbound,inbound"`
	AgentID    string    `query:"agentId" maxLength:"64"`
	CampaignID string    `query:"campaignId" maxLength:"64"`
	Number     string    `query:"number" maxLength:"20" doc:"E.164: calls from or to this number."`
	Since      time.Time `query:"since" doc:"Queued at or after (RFC 3339)."`
	Until      time.Time `query:"until" doc:"Queued before (RFC 3339)."`
	Limit      int       `query:"limit" minimum:"0" maximum:"100" doc:"Page size (default 50, at most 100)."`
	Cursor     string    `query:"cursor" maxLength:"200" doc:"The nextCursor of the previous page."`
}

// CallsOutput is a page of calls.
type CallsOutput struct{ Body page.Page[Call] }

// List handles GET /v1/workspaces/{workspaceId}/calls.
func (h *HTTP) List(ctx context.Context, in *ListRequest) (*CallsOutput, error) {
	p, err := h.Svc.List(ctx, in.WorkspaceID, Filter{Status: in.Status, Direction: in.Direction, AgentID: in.AgentID, CampaignID: in.CampaignID,
		Number: in.Number, Since: in.Since, Until: in.Until}, in.Cursor, in.Limit)
	if err != nil {
		return nil, err
	}
	return &CallsOutput{Body: p}, nil
}

// maxProviderBody bounds a provider's request.
const maxProviderBody = 256 << 10

// ServeProvider handles POST and GET /telephony/{workspaceId}/{provider}/{voice|status}: a
// telephony provider's request, authenticated by its signature. It answers the provider's markup,
// an empty 200, 403 for a bad signature, or problem+json for anything else.
func (h *HTTP) ServeProvider(w http.ResponseWriter, r *http.Request) {
	kind := r.PathValue("kind")
	if kind != VoiceRequest && kind != StatusRequest {
		apierr.Write(w, r, apierr.NotFoundf("page"))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxProviderBody))
	if err != nil {
		apierr.Write(w, r, apierr.New(apierr.TooLarge, "body_too_large", "the request body is too large"))
		return
	}
	req := telephony.Request{URL: strings.TrimSuffix(h.BaseURL, "/") + r.URL.RequestURI(), Method: r.Method, Header: r.Header, Body: body}
	resp, err := h.Svc.HandleProvider(r.Context(), r.PathValue("workspaceId"), r.PathValue("provider"), kind, req)
	if err != nil {
		apierr.Write(w, r, err)
		return
	}
	if resp.ContentType != "" {
		w.Header().Set("Content-Type", resp.ContentType)
	}
	status := resp.Status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = w.Write(resp.Body)
}

// TriggerPath names one of a workspace's call triggers.
type TriggerPath struct {
	WorkspacePath
	TriggerID string `path:"triggerId" maxLength:"64" doc:"The trigger's ID (trig_…)."`
}

// CreateTriggerRequest is POST …/call-triggers.
type CreateTriggerRequest struct {
	WorkspacePath
	Body TriggerInput
}

// TriggerOutput is one call trigger.
type TriggerOutput struct{ Body Trigger }

// TriggersOutput is the workspace's call triggers.
type TriggersOutput struct {
	Body struct {
		Data []Trigger `json:"data"`
	}
}

// CreateTrigger handles POST …/call-triggers.
func (h *HTTP) CreateTrigger(ctx context.Context, in *CreateTriggerRequest) (*TriggerOutput, error) {
	t, err := h.Svc.CreateTrigger(ctx, in.WorkspaceID, in.Body)
	if err != nil {
		return nil, err
	}
	return &TriggerOutput{Body: t}, nil
}

// ListTriggers handles GET …/call-triggers.
func (h *HTTP) ListTriggers(ctx context.Context, in *WorkspacePath) (*TriggersOutput, error) {
	ts, err := h.Svc.ListTriggers(ctx, in.WorkspaceID)
	if err != nil {
		return nil, err
	}
	out := &TriggersOutput{}
	out.Body.Data = ts
	return out, nil
}

// GetTrigger handles GET …/call-triggers/{triggerId}.
func (h *HTTP) GetTrigger(ctx context.Context, in *TriggerPath) (*TriggerOutput, error) {
	t, err := h.Svc.GetTrigger(ctx, in.WorkspaceID, in.TriggerID)
	if err != nil {
		return nil, err
	}
	return &TriggerOutput{Body: t}, nil
}

// DeleteTrigger handles DELETE …/call-triggers/{triggerId}.
func (h *HTTP) DeleteTrigger(ctx context.Context, in *TriggerPath) (*struct{}, error) {
	return nil, h.Svc.DeleteTrigger(ctx, in.WorkspaceID, in.TriggerID)
}

// maxTriggerBody bounds a trigger request.
const maxTriggerBody = 64 << 10

// ServeTrigger handles POST /hooks/{workspaceId}/{triggerId}: a customer's system starting a call.
// It answers 201 with the call, or problem+json.
func (h *HTTP) ServeTrigger(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxTriggerBody))
	if err != nil {
		apierr.Write(w, r, apierr.New(apierr.TooLarge, "body_too_large", "the request body is larger than 64 KiB"))
		return
	}
	c, err := h.Svc.FireTrigger(r.Context(), r.PathValue("workspaceId"), r.PathValue("triggerId"), r.Header, body)
	if err != nil {
		apierr.Write(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(c)
}

// EffectiveOutput is a call's effective configuration.
type EffectiveOutput struct{ Body agent.Effective }

// Effective handles GET /v1/workspaces/{workspaceId}/calls/{callId}/effective.
func (h *HTTP) Effective(ctx context.Context, in *CallPath) (*EffectiveOutput, error) {
	e, err := h.Svc.Effective(ctx, in.WorkspaceID, in.CallID)
	if err != nil {
		return nil, err
	}
	return &EffectiveOutput{Body: e}, nil
}
