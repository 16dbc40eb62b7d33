package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/apikey"
	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/workspace"
)

// keysPerPage is the page size of the API keys list.
const keysPerPage = 50

// apiKeysPage is what the apikeys template gets.
type apiKeysPage struct {
	Workspace  workspace.Membership
	Keys       []keyRow
	NextCursor string
	Paged      bool
	// Scopes are every scope, with those ticked in the form.
	Scopes []scopeOption
	// Modes are the modes the form offers.
	Modes []apikey.Mode
	// Today is the earliest expiry date the form offers (YYYY-MM-DD, UTC).
	Today string
}

// keyRow is one key in the list, with its creator's name.
type keyRow struct {
	apikey.APIKey
	CreatedByName string
}

// scopeOption is one scope checkbox.
type scopeOption struct {
	Name    string
	Checked bool
}

// apiKeyCreatedPage is what the apikey-created template gets: the key and its secret, which this
// page shows once and no other page shows.
type apiKeyCreatedPage struct {
	Workspace workspace.Membership
	Key       apikey.CreatedAPIKey
}

var apiKeyFields = []string{"name", "scopes", "mode", "expiresAt"}

// apiKeys lists the workspace's keys with the create form (owner, admin; others get the 403 page).
func (h *Handler) apiKeys(w http.ResponseWriter, r *http.Request) {
	f := newForm(nil, apiKeyFields...)
	f.Set("mode", string(apikey.Live))
	h.showAPIKeys(w, r, http.StatusOK, f, nil)
}

// showAPIKeys renders the API keys page with the create form f (ticked: the scopes checked).
func (h *Handler) showAPIKeys(w http.ResponseWriter, r *http.Request, status int, f *form, ticked []string) {
	v, m, ok := h.workspaceView(w, r, "api-keys")
	if !ok {
		return
	}
	ctx := r.Context()
	cursor := ""
	if r.Method == http.MethodGet {
		cursor = r.URL.Query().Get("cursor")
	}
	list, err := h.d.APIKeys.List(ctx, m.ID, cursor, keysPerPage)
	if err != nil {
		if cursor != "" && errors.Is(err, apierr.Invalid) {
			redirect(w, r, "/w/"+m.ID+"/api-keys")
			return
		}
		h.fail(w, r, v, err)
		return
	}
	people := h.people(ctx, m.ID)
	p := apiKeysPage{Workspace: m, NextCursor: list.NextCursor, Paged: cursor != "", Modes: []apikey.Mode{apikey.Live, apikey.Test},
		Today: time.Now().UTC().Format(time.DateOnly)}
	for _, k := range list.Data {
		p.Keys = append(p.Keys, keyRow{APIKey: k, CreatedByName: people.name(k.CreatedBy)})
	}
	for _, s := range apikey.Scopes {
		checked := false
		for _, t := range ticked {
			checked = checked || t == s
		}
		p.Scopes = append(p.Scopes, scopeOption{Name: s, Checked: checked})
	}
	v.Form = f
	v.Page = p
	h.render(w, r, status, "apikeys", v)
}

// createAPIKey makes a key and shows its secret, this once: the page is the answer to the POST
// (never stored, never cached), and no other page contains the secret.
func (h *Handler) createAPIKey(w http.ResponseWriter, r *http.Request) {
	if !h.parseForm(w, r) {
		return
	}
	if !signedIn(r) {
		toLogin(w, r)
		return
	}
	f := newForm(r, apiKeyFields...)
	scopes := r.PostForm["scopes"]
	in := apikey.CreateInput{Name: r.PostFormValue("name"), Scopes: scopes, Mode: apikey.Mode(r.PostFormValue("mode"))}
	var err error
	if d := strings.TrimSpace(r.PostFormValue("expiresAt")); d != "" {
		t, perr := time.Parse(time.DateOnly, d)
		switch {
		case perr != nil:
			err = apierr.Validation(apierr.FieldError{Location: "body.expiresAt", Message: "not a date (YYYY-MM-DD)", Value: d})
		case !t.After(time.Now()):
			err = apierr.Validation(apierr.FieldError{Location: "body.expiresAt", Message: "choose a date after today", Value: d})
		default:
			in.ExpiresAt = &t // the key stops working at the start of that day, UTC
		}
	}
	var k apikey.CreatedAPIKey
	if err == nil {
		k, err = h.d.APIKeys.Create(r.Context(), r.PathValue("workspaceId"), in)
	}
	if err != nil {
		e, status, ok := actionError(err)
		if !ok {
			h.fail(w, r, nil, err)
			return
		}
		if errors.Is(err, apierr.Invalid) {
			f.setError(e)
			h.showAPIKeys(w, r, status, f, scopes)
			return
		}
		h.fail(w, r, nil, err) // not yours (404), not allowed (403)
		return
	}
	v, m, ok := h.workspaceView(w, r, "api-keys")
	if !ok {
		return
	}
	v.Page = apiKeyCreatedPage{Workspace: m, Key: k}
	h.render(w, r, http.StatusOK, "apikey-created", v)
}

// revokeAPIKey revokes a key and goes back to the list.
func (h *Handler) revokeAPIKey(w http.ResponseWriter, r *http.Request) {
	if !h.parseForm(w, r) {
		return
	}
	if !signedIn(r) {
		toLogin(w, r)
		return
	}
	wsID := r.PathValue("workspaceId")
	if err := h.d.APIKeys.Revoke(r.Context(), wsID, r.PathValue("keyId")); err != nil {
		h.fail(w, r, nil, err)
		return
	}
	redirect(w, r, "/w/"+url.PathEscape(wsID)+"/api-keys?notice=key-revoked")
}

// directory names the people (and keys) that lists mention by ID.
type directory map[string]string

// name is the person's name and email, or the ID itself for someone no longer in the workspace.
func (d directory) name(id string) string {
	if n, ok := d[id]; ok {
		return n
	}
	return id
}

// peoplePages bounds how many pages of members people reads (a team larger than that shows the
// rest by user ID).
const peoplePages = 10

// people maps the workspace's members' user IDs to "Name (email)" or the email. It is best
// effort: on any error the lists show user IDs.
func (h *Handler) people(ctx context.Context, wsID string) directory {
	d := directory{}
	cursor := ""
	for range peoplePages {
		p, err := h.d.Workspaces.ListMembers(ctx, wsID, cursor, membersPerPage)
		if err != nil {
			return d
		}
		for _, m := range p.Data {
			d[m.UserID] = m.Email
			if m.Name != "" {
				d[m.UserID] = m.Name + " (" + m.Email + ")"
			}
		}
		if cursor = p.NextCursor; cursor == "" {
			break
		}
	}
	return d
}
