package web

import (
	"errors"
	"net/http"
	"net/url"
	"slices"

	"github.com/parleyhq/parley/internal/agent"
	"github.com/parleyhq/parley/internal/call"
	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/authz"
)

// callsPage is the Calls page: the live list with filters and the test-call form.
type callsPage struct {
	Workspace   any
	WorkspaceID string
	Calls       []call.Call
	NextCursor  string
	Paged       bool
	Status      string
	Direction   string
	Statuses    []string
	Agents      []agent.Agent
	CanCall     bool
	// Live is true while a listed call is live: the page refreshes itself.
	Live bool
}

var callFields = []string{"agentId", "to", "credentialId"}

func (h *Handler) calls(w http.ResponseWriter, r *http.Request) {
	f := newForm(nil, callFields...)
	f.Set("agentId", r.URL.Query().Get("agentId"))
	h.showCalls(w, r, http.StatusOK, f)
}

func (h *Handler) showCalls(w http.ResponseWriter, r *http.Request, status int, f *form) {
	v, m, ok := h.workspaceView(w, r, "calls")
	if !ok {
		return
	}
	q := r.URL.Query()
	cursor := q.Get("cursor")
	flt := call.Filter{Status: q.Get("status"), Direction: q.Get("direction")}
	list, err := h.d.Calls.List(r.Context(), m.ID, flt, cursor, 50)
	if err != nil {
		if errors.Is(err, apierr.Invalid) {
			redirect(w, r, "/w/"+url.PathEscape(m.ID)+"/calls")
			return
		}
		h.fail(w, r, v, err)
		return
	}
	p := callsPage{Workspace: m, WorkspaceID: m.ID, Calls: list.Data, NextCursor: list.NextCursor, Paged: cursor != "",
		Status: flt.Status, Direction: flt.Direction, CanCall: can(m.Role, authz.CallsWrite),
		Statuses: append(slices.Clone(call.Active), call.Completed, call.Busy, call.NoAnswer, call.Voicemail, call.Failed, call.Canceled)}
	for _, c := range list.Data {
		p.Live = p.Live || !call.Final(c.Status)
	}
	if p.CanCall {
		if ags, err := h.d.Agents.ListAgents(r.Context(), m.ID, "active", "", 100); err == nil {
			p.Agents = ags.Data
		}
	}
	v.Form = f
	v.Page = p
	h.render(w, r, status, "calls", v)
}

// placeTestCall places a call from the form, on the simulator unless a credential is chosen.
func (h *Handler) placeTestCall(w http.ResponseWriter, r *http.Request) {
	wsID, ok := h.formAction(w, r, authz.CallsWrite)
	if !ok {
		return
	}
	f := newForm(r, callFields...)
	cred := f.Get("credentialId")
	if cred == "" {
		cred = call.SimulatorCredential
	}
	c, err := h.d.Calls.Place(r.Context(), wsID, call.PlaceInput{AgentID: f.Get("agentId"), To: f.Get("to"), CredentialID: cred})
	if err != nil {
		e, status, ok := actionError(err)
		if !ok || errors.Is(err, apierr.Forbidden) {
			h.fail(w, r, nil, err)
			return
		}
		if errors.Is(err, apierr.NotFound) {
			e = apierr.Validation(apierr.FieldError{Location: "body.agentId", Message: "choose an agent of this workspace"})
			status = http.StatusUnprocessableEntity
		}
		f.setError(e)
		h.showCalls(w, r, status, f)
		return
	}
	redirect(w, r, "/w/"+url.PathEscape(wsID)+"/calls/"+url.PathEscape(c.ID))
}

// callPage is one call with its timeline.
type callPage struct {
	Workspace   any
	WorkspaceID string
	Call        call.Call
	Timeline    []call.TimelineEntry
	CanHangup   bool
	Live        bool
	Problem     *form
}

func (h *Handler) callDetail(w http.ResponseWriter, r *http.Request) {
	h.showCall(w, r, http.StatusOK, nil)
}

func (h *Handler) showCall(w http.ResponseWriter, r *http.Request, status int, problem *apierr.Error) {
	v, m, ok := h.workspaceView(w, r, "calls")
	if !ok {
		return
	}
	id := r.PathValue("callId")
	c, err := h.d.Calls.Get(r.Context(), m.ID, id)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	tl, err := h.d.Calls.Timeline(r.Context(), m.ID, id)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	p := callPage{Workspace: m, WorkspaceID: m.ID, Call: c, Timeline: tl, Live: !call.Final(c.Status), Problem: newForm(nil)}
	p.CanHangup = p.Live && can(m.Role, authz.CallsWrite)
	if problem != nil {
		p.Problem.setError(problem)
	}
	v.Page = p
	h.render(w, r, status, "call", v)
}

// hangupCall hangs up a live call.
func (h *Handler) hangupCall(w http.ResponseWriter, r *http.Request) {
	wsID, ok := h.formAction(w, r, authz.CallsWrite)
	if !ok {
		return
	}
	id := r.PathValue("callId")
	if _, err := h.d.Calls.Hangup(r.Context(), wsID, id); err != nil {
		e, status, ok := actionError(err)
		if !ok || errors.Is(err, apierr.Forbidden) || errors.Is(err, apierr.NotFound) {
			h.fail(w, r, nil, err)
			return
		}
		h.showCall(w, r, status, e)
		return
	}
	redirect(w, r, "/w/"+url.PathEscape(wsID)+"/calls/"+url.PathEscape(id)+"?notice=call-hung-up")
}
