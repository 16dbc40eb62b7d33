package campaign

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/parleyhq/parley/internal/platform/page"
)

// HTTP holds the handlers of the campaign routes.
type HTTP struct{ Svc *Service }

// WorkspacePath names a workspace in a path.
type WorkspacePath struct {
	WorkspaceID string `path:"workspaceId" maxLength:"64" doc:"The Workspace ID (ws_…)."`
}

// CampaignPath names one of a workspace's campaigns.
type CampaignPath struct {
	WorkspacePath
	CampaignID string `path:"campaignId" maxLength:"64" doc:"The campaign's ID (camp_…)."`
}

// CreateRequest is POST /v1/workspaces/{workspaceId}/campaigns.
type CreateRequest struct {
	WorkspacePath
	Body CampaignInput
}

// UpdateRequest is PATCH /v1/workspaces/{workspaceId}/campaigns/{campaignId}.
type UpdateRequest struct {
	CampaignPath
	Body CampaignInput
}

// ScheduleRequest is POST …/campaigns/{campaignId}/schedule.
type ScheduleRequest struct {
	CampaignPath
	Body struct {
		StartAt time.Time `json:"startAt" doc:"When the campaign starts by itself (RFC 3339, in the future)."`
	}
}

// CampaignOutput is one campaign.
type CampaignOutput struct{ Body Campaign }

// ListRequest is GET /v1/workspaces/{workspaceId}/campaigns.
type ListRequest struct {
	WorkspacePath
	Status string `query:"status" enum:"draft,scheduled,running,paused,completed,canceled"`
	Limit  int    `query:"limit" minimum:"0" maximum:"100" doc:"Page size (default 50, at most 100)."`
	Cursor string `query:"cursor" maxLength:"200" doc:"The nextCursor of the previous page."`
}

// CampaignsOutput is a page of campaigns.
type CampaignsOutput struct{ Body page.Page[Campaign] }

// StatsOutput is a campaign's progress.
type StatsOutput struct{ Body CampaignStats }

// AttemptsRequest is GET …/campaigns/{campaignId}/attempts.
type AttemptsRequest struct {
	CampaignPath
	ContactID string `query:"contactId" maxLength:"64"`
	Limit     int    `query:"limit" minimum:"0" maximum:"100" doc:"Page size (default 50, at most 100)."`
	Cursor    string `query:"cursor" maxLength:"200" doc:"The nextCursor of the previous page."`
}

// AttemptsOutput is a page of attempts.
type AttemptsOutput struct{ Body page.Page[DialAttempt] }

func out(c Campaign, err error) (*CampaignOutput, error) {
	if err != nil {
		return nil, err
	}
	return &CampaignOutput{Body: c}, nil
}

// Create handles POST /v1/workspaces/{workspaceId}/campaigns.
func (h *HTTP) Create(ctx context.Context, in *CreateRequest) (*CampaignOutput, error) {
	return out(h.Svc.Create(ctx, in.WorkspaceID, in.Body))
}

// Get handles GET …/campaigns/{campaignId}.
func (h *HTTP) Get(ctx context.Context, in *CampaignPath) (*CampaignOutput, error) {
	return out(h.Svc.Get(ctx, in.WorkspaceID, in.CampaignID))
}

// List handles GET /v1/workspaces/{workspaceId}/campaigns.
func (h *HTTP) List(ctx context.Context, in *ListRequest) (*CampaignsOutput, error) {
	p, err := h.Svc.List(ctx, in.WorkspaceID, in.Status, in.Cursor, in.Limit)
	if err != nil {
		return nil, err
	}
	return &CampaignsOutput{Body: p}, nil
}

// Update handles PATCH …/campaigns/{campaignId}.
func (h *HTTP) Update(ctx context.Context, in *UpdateRequest) (*CampaignOutput, error) {
	return out(h.Svc.Update(ctx, in.WorkspaceID, in.CampaignID, in.Body))
}

// Delete handles DELETE …/campaigns/{campaignId}.
func (h *HTTP) Delete(ctx context.Context, in *CampaignPath) (*struct{}, error) {
	return nil, h.Svc.Delete(ctx, in.WorkspaceID, in.CampaignID)
}

// Start handles POST …/campaigns/{campaignId}/start.
func (h *HTTP) Start(ctx context.Context, in *CampaignPath) (*CampaignOutput, error) {
	return out(h.Svc.Start(ctx, in.WorkspaceID, in.CampaignID))
}

// Schedule handles POST …/campaigns/{campaignId}/schedule.
func (h *HTTP) Schedule(ctx context.Context, in *ScheduleRequest) (*CampaignOutput, error) {
	return out(h.Svc.Schedule(ctx, in.WorkspaceID, in.CampaignID, in.Body.StartAt))
}

// Pause handles POST …/campaigns/{campaignId}/pause.
func (h *HTTP) Pause(ctx context.Context, in *CampaignPath) (*CampaignOutput, error) {
	return out(h.Svc.Pause(ctx, in.WorkspaceID, in.CampaignID))
}

// Resume handles POST …/campaigns/{campaignId}/resume.
func (h *HTTP) Resume(ctx context.Context, in *CampaignPath) (*CampaignOutput, error) {
	return out(h.Svc.Resume(ctx, in.WorkspaceID, in.CampaignID))
}

// Cancel handles POST …/campaigns/{campaignId}/cancel.
func (h *HTTP) Cancel(ctx context.Context, in *CampaignPath) (*CampaignOutput, error) {
	return out(h.Svc.Cancel(ctx, in.WorkspaceID, in.CampaignID))
}

// Stats handles GET …/campaigns/{campaignId}/stats.
func (h *HTTP) Stats(ctx context.Context, in *CampaignPath) (*StatsOutput, error) {
	s, err := h.Svc.Stats(ctx, in.WorkspaceID, in.CampaignID)
	if err != nil {
		return nil, err
	}
	return &StatsOutput{Body: s}, nil
}

// Attempts handles GET …/campaigns/{campaignId}/attempts.
func (h *HTTP) Attempts(ctx context.Context, in *AttemptsRequest) (*AttemptsOutput, error) {
	p, err := h.Svc.Attempts(ctx, in.WorkspaceID, in.CampaignID, in.ContactID, in.Cursor, in.Limit)
	if err != nil {
		return nil, err
	}
	return &AttemptsOutput{Body: p}, nil
}

// Results handles GET …/campaigns/{campaignId}/results.csv: the CSV is streamed.
func (h *HTTP) Results(ctx context.Context, in *CampaignPath) (*huma.StreamResponse, error) {
	write, err := h.Svc.Results(ctx, in.WorkspaceID, in.CampaignID)
	if err != nil {
		return nil, err
	}
	return &huma.StreamResponse{Body: func(hc huma.Context) {
		hc.SetHeader("Content-Type", "text/csv; charset=utf-8")
		hc.SetHeader("Content-Disposition", `attachment; filename="campaign-results.csv"`)
		hc.SetHeader("Cache-Control", "no-store")
		hc.SetStatus(http.StatusOK)
		if err := write(hc.BodyWriter()); err != nil {
			panic(http.ErrAbortHandler) // the status is sent: a broken download, not a complete-looking file
		}
	}}, nil
}

// ResultsResponses documents the results' body in the OpenAPI document.
var ResultsResponses = map[string]*huma.Response{
	"200": {Description: "One line per contact: " + strings.Join(ResultColumns, ",") + " (cost in credits, the attempts' total).",
		Content: map[string]*huma.MediaType{"text/csv": {Schema: &huma.Schema{Type: "string"}}}},
}

// progressEvery is how often the progress stream sends the campaign's stats.
const progressEvery = time.Second

// Events handles GET …/campaigns/{campaignId}/events: server-sent events, one `progress` event
// (the campaign's status and stats as JSON) now and then every second while the campaign is
// scheduled, running or paused; the stream ends after the event that shows it ended (or at once
// for a draft), when the client goes away, or after an hour (reconnect).
func (h *HTTP) Events(ctx context.Context, in *CampaignPath) (*huma.StreamResponse, error) {
	first, err := h.Svc.progress(ctx, in.WorkspaceID, in.CampaignID)
	if err != nil {
		return nil, err
	}
	return &huma.StreamResponse{Body: func(hc huma.Context) {
		hc.SetHeader("Content-Type", "text/event-stream")
		hc.SetHeader("Cache-Control", "no-store")
		hc.SetStatus(http.StatusOK)
		w := hc.BodyWriter()
		flush := func() {
			if f, ok := w.(http.Flusher); ok {
				f.Flush()
			}
		}
		p, end := first, time.Now().Add(time.Hour)
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		for {
			b, _ := json.Marshal(p)
			if _, err := fmt.Fprintf(w, "event: progress\ndata: %s\n\n", b); err != nil {
				return
			}
			flush()
			if p.Status == Draft || Final(p.Status) || time.Now().After(end) {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if p, err = h.Svc.progress(ctx, in.WorkspaceID, in.CampaignID); err != nil {
				return
			}
		}
	}}, nil
}

// EventsResponses documents the stream in the OpenAPI document.
var EventsResponses = map[string]*huma.Response{
	"200": {Description: "Server-sent events: `event: progress` with data {status, subStatus, pauseReason, stats}, every second until the campaign ends.",
		Content: map[string]*huma.MediaType{"text/event-stream": {Schema: &huma.Schema{Type: "string"}}}},
}
