package web

import (
	"errors"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/authz"
	"github.com/parleyhq/parley/internal/webhook"
	"github.com/parleyhq/parley/internal/workspace"
)

// The Webhooks pages (owner, admin: webhooks.read to look, webhooks.write to change):
//
//	GET  /w/{workspaceId}/webhooks                                   endpoints and the create form
//	POST /w/{workspaceId}/webhooks                                   create → the endpoint, its secret shown
//	GET  /w/{workspaceId}/webhooks/{endpointId}                      the endpoint: settings, recent messages and attempts
//	POST /w/{workspaceId}/webhooks/{endpointId}/enable | /disable    switch deliveries on or off
//	POST /w/{workspaceId}/webhooks/{endpointId}/reveal-secret        the page again, with the secret shown
//	POST /w/{workspaceId}/webhooks/{endpointId}/rotate-secret        a new secret, shown (the old one signs 24 h more)
//	POST /w/{workspaceId}/webhooks/{endpointId}/test                 send a ping
//	POST /w/{workspaceId}/webhooks/{endpointId}/replay               re-send failed (or all) messages since a time
//	POST /w/{workspaceId}/webhooks/{endpointId}/messages/{messageId}/retry   re-send one message
//	POST /w/{workspaceId}/webhooks/{endpointId}/delete               delete the endpoint
//
// A secret is only ever in the answer to a POST (never in a URL, never cached: pages are
// no-store).
func (h *Handler) registerWebhooks(mux *http.ServeMux) {
	mux.Handle("GET /w/{workspaceId}/webhooks", page(h.webhooks))
	mux.Handle("POST /w/{workspaceId}/webhooks", page(h.createWebhook))
	mux.Handle("GET /w/{workspaceId}/webhooks/{endpointId}", page(h.webhookPage))
	mux.Handle("POST /w/{workspaceId}/webhooks/{endpointId}/enable", page(h.webhookEnabled(true)))
	mux.Handle("POST /w/{workspaceId}/webhooks/{endpointId}/disable", page(h.webhookEnabled(false)))
	mux.Handle("POST /w/{workspaceId}/webhooks/{endpointId}/reveal-secret", page(h.webhookSecret(false)))
	mux.Handle("POST /w/{workspaceId}/webhooks/{endpointId}/rotate-secret", page(h.webhookSecret(true)))
	mux.Handle("POST /w/{workspaceId}/webhooks/{endpointId}/test", page(h.testWebhook))
	mux.Handle("POST /w/{workspaceId}/webhooks/{endpointId}/replay", page(h.replayWebhook))
	mux.Handle("POST /w/{workspaceId}/webhooks/{endpointId}/messages/{messageId}/retry", page(h.retryWebhookMessage))
	mux.Handle("POST /w/{workspaceId}/webhooks/{endpointId}/delete", page(h.deleteWebhook))
}

func init() {
	maps.Copy(pages, parsePages("webhooks", "webhook"))
	maps.Copy(notices, map[string]string{
		"webhook-enabled":  "Endpoint enabled. It receives new events from now on.",
		"webhook-disabled": "Endpoint disabled. Nothing is sent to it until you enable it again.",
		"webhook-deleted":  "Endpoint deleted, with its delivery log.",
		"webhook-test":     "Test event queued. It appears in the log below within a few seconds.",
		"webhook-retried":  "Message queued to be sent again, with the same webhook-id.",
		"webhook-replayed": "Messages queued to be sent again.",
		"webhook-nothing":  "No message matched: nothing to send again.",
	})
}

// webhooksPerPage is the page size of the endpoints list; webhookLog how many recent messages
// and attempts an endpoint's page shows.
const (
	webhooksPerPage = 50
	webhookLog      = 25
)

// webhooksPage is what the webhooks template gets.
type webhooksPage struct {
	Workspace  workspace.Membership
	Endpoints  []webhook.Endpoint
	NextCursor string
	Paged      bool
	// Types are the event types the create form offers, with those ticked.
	Types []eventOption
	// All is ticked: every event.
	All bool
}

// eventOption is one event-type checkbox.
type eventOption struct {
	webhook.EventType
	Checked bool
}

var webhookFields = []string{"url", "description", "events"}

// webhooks lists the endpoints with the create form.
func (h *Handler) webhooks(w http.ResponseWriter, r *http.Request) {
	h.showWebhooks(w, r, http.StatusOK, newForm(nil, webhookFields...), nil)
}

func (h *Handler) showWebhooks(w http.ResponseWriter, r *http.Request, status int, f *form, ticked []string) {
	v, m, ok := h.workspaceView(w, r, "webhooks")
	if !ok {
		return
	}
	cursor := ""
	if r.Method == http.MethodGet {
		cursor = r.URL.Query().Get("cursor")
	}
	list, err := h.d.Webhooks.List(r.Context(), m.ID, cursor, webhooksPerPage)
	if err != nil {
		if cursor != "" && errors.Is(err, apierr.Invalid) {
			redirect(w, r, "/w/"+m.ID+"/webhooks")
			return
		}
		h.fail(w, r, v, err)
		return
	}
	p := webhooksPage{Workspace: m, Endpoints: list.Data, NextCursor: list.NextCursor, Paged: cursor != ""}
	for _, t := range webhook.Catalog() {
		if t.Type == "ping" {
			continue
		}
		p.Types = append(p.Types, eventOption{EventType: t, Checked: contains(ticked, t.Type)})
	}
	p.All = contains(ticked, "*")
	v.Form = f
	v.Page = p
	h.render(w, r, status, "webhooks", v)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// createWebhook makes an endpoint and shows its page with the secret.
func (h *Handler) createWebhook(w http.ResponseWriter, r *http.Request) {
	if !h.parseForm(w, r) {
		return
	}
	if !signedIn(r) {
		toLogin(w, r)
		return
	}
	f := newForm(r, webhookFields...)
	evs := r.PostForm["events"]
	if contains(evs, "*") {
		evs = []string{"*"}
	}
	c, err := h.d.Webhooks.Create(r.Context(), r.PathValue("workspaceId"), webhook.CreateInput{URL: r.PostFormValue("url"),
		Description: r.PostFormValue("description"), Events: evs})
	if err != nil {
		e, status, ok := actionError(err)
		if ok && errors.Is(err, apierr.Invalid) {
			f.setError(e)
			h.showWebhooks(w, r, status, f, evs)
			return
		}
		h.fail(w, r, nil, err)
		return
	}
	h.showWebhook(w, r, http.StatusOK, c.ID, shownSecret{Secret: c.Secret, Created: true}, nil)
}

// webhookPage is what the webhook template gets.
type webhookPage struct {
	Workspace workspace.Membership
	Endpoint  webhook.Endpoint
	// Secret is shown after create, reveal and rotate (the answer to that POST only).
	Secret shownSecret
	// Messages are the latest messages, each with its attempts.
	Messages []messageRow
	// CanWrite shows the controls (the services check again).
	CanWrite bool
	// ReplaySince is the replay form's default (a day ago, local to UTC, datetime-local format).
	ReplaySince string
	// Problem is an action's error.
	Problem string
}

// shownSecret is a signing secret on the page.
type shownSecret struct {
	Secret           string
	Created, Rotated bool
}

// messageRow is one message with its attempts, newest first.
type messageRow struct {
	webhook.Message
	Tries []webhook.Attempt
}

// webhookPage shows an endpoint.
func (h *Handler) webhookPage(w http.ResponseWriter, r *http.Request) {
	h.showWebhook(w, r, http.StatusOK, r.PathValue("endpointId"), shownSecret{}, nil)
}

func (h *Handler) showWebhook(w http.ResponseWriter, r *http.Request, status int, endpointID string, sec shownSecret, problem *apierr.Error) {
	v, m, ok := h.workspaceView(w, r, "webhooks")
	if !ok {
		return
	}
	ctx := r.Context()
	ep, err := h.d.Webhooks.Get(ctx, m.ID, endpointID)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	msgs, err := h.d.Webhooks.ListMessages(ctx, m.ID, ep.ID, "", webhookLog)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	atts, err := h.d.Webhooks.ListAttempts(ctx, m.ID, ep.ID, "", 4*webhookLog)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	byMsg := map[string][]webhook.Attempt{}
	for _, a := range atts.Data {
		byMsg[a.MessageID] = append(byMsg[a.MessageID], a)
	}
	p := webhookPage{Workspace: m, Endpoint: ep, Secret: sec, CanWrite: can(m.Role, authz.WebhooksWrite),
		ReplaySince: time.Now().UTC().Add(-24 * time.Hour).Format("2006-01-02T15:04")}
	for _, msg := range msgs.Data {
		p.Messages = append(p.Messages, messageRow{Message: msg, Tries: byMsg[msg.ID]})
	}
	if problem != nil {
		p.Problem = sentence(problem.Detail)
	}
	v.Page = p
	h.render(w, r, status, "webhook", v)
}

// webhookAction parses the form of a POST under an endpoint and returns the workspace and
// endpoint IDs; false when it has answered already.
func (h *Handler) webhookAction(w http.ResponseWriter, r *http.Request) (wsID, endpointID string, ok bool) {
	if !h.parseForm(w, r) {
		return "", "", false
	}
	if !signedIn(r) {
		toLogin(w, r)
		return "", "", false
	}
	return r.PathValue("workspaceId"), r.PathValue("endpointId"), true
}

// webhookDone answers an endpoint action: back to its page with notice, or the page with the
// problem (a conflict, a validation error), or the error page.
func (h *Handler) webhookDone(w http.ResponseWriter, r *http.Request, wsID, endpointID string, err error, notice string) {
	if err != nil {
		if e, status, ok := actionError(err); ok && (errors.Is(err, apierr.Conflict) || errors.Is(err, apierr.Invalid)) {
			h.showWebhook(w, r, status, endpointID, shownSecret{}, e)
			return
		}
		h.fail(w, r, nil, err)
		return
	}
	redirect(w, r, "/w/"+url.PathEscape(wsID)+"/webhooks/"+url.PathEscape(endpointID)+"?notice="+notice)
}

func (h *Handler) webhookEnabled(on bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		wsID, epID, ok := h.webhookAction(w, r)
		if !ok {
			return
		}
		_, err := h.d.Webhooks.Update(r.Context(), wsID, epID, webhook.Patch{Enabled: &on})
		notice := "webhook-disabled"
		if on {
			notice = "webhook-enabled"
		}
		h.webhookDone(w, r, wsID, epID, err, notice)
	}
}

// webhookSecret reveals (or rotates, then shows) the signing secret: the page is the answer to the
// POST, so the secret is in no URL and no history entry.
func (h *Handler) webhookSecret(rotate bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		wsID, epID, ok := h.webhookAction(w, r)
		if !ok {
			return
		}
		var s webhook.Secret
		var err error
		if rotate {
			s, err = h.d.Webhooks.RotateSecret(r.Context(), wsID, epID)
		} else {
			s, err = h.d.Webhooks.RevealSecret(r.Context(), wsID, epID)
		}
		if err != nil {
			h.fail(w, r, nil, err)
			return
		}
		h.showWebhook(w, r, http.StatusOK, epID, shownSecret{Secret: s.Secret, Rotated: rotate}, nil)
	}
}

func (h *Handler) testWebhook(w http.ResponseWriter, r *http.Request) {
	wsID, epID, ok := h.webhookAction(w, r)
	if !ok {
		return
	}
	_, err := h.d.Webhooks.Test(r.Context(), wsID, epID)
	h.webhookDone(w, r, wsID, epID, err, "webhook-test")
}

func (h *Handler) retryWebhookMessage(w http.ResponseWriter, r *http.Request) {
	wsID, epID, ok := h.webhookAction(w, r)
	if !ok {
		return
	}
	_, err := h.d.Webhooks.Retry(r.Context(), wsID, epID, r.PathValue("messageId"))
	h.webhookDone(w, r, wsID, epID, err, "webhook-retried")
}

// replayWebhook re-sends the endpoint's failed messages (all of them with all=1) since the time
// given (datetime-local, read as UTC).
func (h *Handler) replayWebhook(w http.ResponseWriter, r *http.Request) {
	wsID, epID, ok := h.webhookAction(w, r)
	if !ok {
		return
	}
	since, perr := time.Parse("2006-01-02T15:04", strings.TrimSpace(r.PostFormValue("since")))
	var res webhook.ReplayResult
	var err error
	if perr != nil {
		err = apierr.Validation(apierr.FieldError{Location: "body.since", Message: "not a date and time"})
	} else {
		res, err = h.d.Webhooks.Replay(r.Context(), wsID, epID, webhook.ReplayInput{Since: since, All: r.PostFormValue("all") != ""})
	}
	notice := "webhook-replayed"
	if err == nil && res.Replayed == 0 {
		notice = "webhook-nothing"
	}
	h.webhookDone(w, r, wsID, epID, err, notice)
}

func (h *Handler) deleteWebhook(w http.ResponseWriter, r *http.Request) {
	wsID, epID, ok := h.webhookAction(w, r)
	if !ok {
		return
	}
	if err := h.d.Webhooks.Delete(r.Context(), wsID, epID); err != nil {
		h.fail(w, r, nil, err)
		return
	}
	redirect(w, r, "/w/"+url.PathEscape(wsID)+"/webhooks?notice=webhook-deleted")
}
