package web

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/parleyhq/parley/internal/campaign"
	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/authz"
)

// campaignRow is a campaign in the list, with its progress.
type campaignRow struct {
	campaign.Campaign
	Stats campaign.CampaignStats
}

// campaignsPage is the Campaigns page: every campaign with its state and a progress bar.
type campaignsPage struct {
	Workspace   any
	WorkspaceID string
	Campaigns   []campaignRow
	NextCursor  string
	Paged       bool
	// Live is true while a listed campaign is scheduled or running: the page refreshes itself.
	Live bool
}

func (h *Handler) campaigns(w http.ResponseWriter, r *http.Request) {
	v, m, ok := h.workspaceView(w, r, "campaigns")
	if !ok {
		return
	}
	cursor := r.URL.Query().Get("cursor")
	list, err := h.d.Campaigns.List(r.Context(), m.ID, "", cursor, 50)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	p := campaignsPage{Workspace: m, WorkspaceID: m.ID, NextCursor: list.NextCursor, Paged: cursor != ""}
	for _, c := range list.Data {
		st, err := h.d.Campaigns.Stats(r.Context(), m.ID, c.ID)
		if err != nil {
			h.fail(w, r, v, err)
			return
		}
		p.Campaigns = append(p.Campaigns, campaignRow{Campaign: c, Stats: st})
		p.Live = p.Live || c.Status == campaign.Running || c.Status == campaign.Scheduled
	}
	v.Page = p
	h.render(w, r, http.StatusOK, "campaigns", v)
}

// campaignPage is one campaign with its progress and the actions its state allows.
type campaignPage struct {
	Workspace   any
	WorkspaceID string
	Campaign    campaign.Campaign
	Stats       campaign.CampaignStats
	Outcomes    []outcomeCount
	Actions     []string
	Live        bool
	Problem     *form
}

type outcomeCount struct {
	Outcome string
	Count   int
}

// campaignActions are the buttons of each state.
var campaignActions = map[string][]string{
	campaign.Draft:     {"start", "cancel"},
	campaign.Scheduled: {"start", "cancel"},
	campaign.Running:   {"pause", "cancel"},
	campaign.Paused:    {"resume", "cancel"},
}

func (h *Handler) campaignDetail(w http.ResponseWriter, r *http.Request) {
	h.showCampaign(w, r, http.StatusOK, nil)
}

func (h *Handler) showCampaign(w http.ResponseWriter, r *http.Request, status int, problem *apierr.Error) {
	v, m, ok := h.workspaceView(w, r, "campaigns")
	if !ok {
		return
	}
	id := r.PathValue("campaignId")
	c, err := h.d.Campaigns.Get(r.Context(), m.ID, id)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	st, err := h.d.Campaigns.Stats(r.Context(), m.ID, id)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	p := campaignPage{Workspace: m, WorkspaceID: m.ID, Campaign: c, Stats: st, Problem: newForm(nil),
		Live: c.Status == campaign.Running || c.Status == campaign.Scheduled || st.InProgress > 0}
	for _, o := range []string{campaign.OutcomeCompleted, campaign.OutcomeVoicemail, campaign.OutcomeBusy, campaign.OutcomeNoAnswer,
		campaign.OutcomeFailed, campaign.OutcomeCanceled, campaign.OutcomeDoNotCall, campaign.OutcomeInvalid} {
		if n := st.Outcomes[o]; n > 0 {
			p.Outcomes = append(p.Outcomes, outcomeCount{o, n})
		}
	}
	if can(m.Role, authz.CampaignsWrite) {
		p.Actions = campaignActions[c.Status]
	}
	if problem != nil {
		p.Problem.setError(problem)
	}
	v.Page = p
	h.render(w, r, status, "campaign", v)
}

// campaignAction starts, pauses, resumes or cancels a campaign.
func (h *Handler) campaignAction(w http.ResponseWriter, r *http.Request) {
	wsID, ok := h.formAction(w, r, authz.CampaignsWrite)
	if !ok {
		return
	}
	id := r.PathValue("campaignId")
	var err error
	switch r.PathValue("action") {
	case "start":
		_, err = h.d.Campaigns.Start(r.Context(), wsID, id)
	case "pause":
		_, err = h.d.Campaigns.Pause(r.Context(), wsID, id)
	case "resume":
		_, err = h.d.Campaigns.Resume(r.Context(), wsID, id)
	case "cancel":
		_, err = h.d.Campaigns.Cancel(r.Context(), wsID, id)
	default:
		err = apierr.NotFoundf("page")
	}
	if err != nil {
		e, status, ok := actionError(err)
		if !ok || errors.Is(err, apierr.Forbidden) || errors.Is(err, apierr.NotFound) {
			h.fail(w, r, nil, err)
			return
		}
		h.showCampaign(w, r, status, e)
		return
	}
	redirect(w, r, "/w/"+url.PathEscape(wsID)+"/campaigns/"+url.PathEscape(id))
}
