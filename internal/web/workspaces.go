package web

import (
	"errors"
	"net/http"
	"time"

	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/authz"
	"github.com/parleyhq/parley/internal/workspace"
)

// switcherLimit is how many workspaces the header's switcher lists (the rest are one click away
// on /workspaces).
const switcherLimit = 20

// workspacesPerPage is the page size of /workspaces.
const workspacesPerPage = 50

// commonTimezones are suggested in the create form; any IANA name is accepted.
var commonTimezones = []string{
	"UTC",
	"America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles", "America/Toronto",
	"America/Mexico_City", "America/Bogota", "America/Sao_Paulo", "America/Argentina/Buenos_Aires",
	"Europe/London", "Europe/Dublin", "Europe/Lisbon", "Europe/Paris", "Europe/Berlin", "Europe/Madrid",
	"Europe/Amsterdam", "Europe/Rome", "Europe/Warsaw", "Europe/Istanbul", "Europe/Kyiv",
	"Africa/Lagos", "Africa/Cairo", "Africa/Nairobi", "Africa/Johannesburg",
	"Asia/Dubai", "Asia/Karachi", "Asia/Kolkata", "Asia/Dhaka", "Asia/Jakarta", "Asia/Singapore",
	"Asia/Manila", "Asia/Shanghai", "Asia/Seoul", "Asia/Tokyo",
	"Australia/Perth", "Australia/Sydney", "Pacific/Auckland",
}

// signedInView loads what every signed-in page shows: the user and their workspaces. When nobody
// is signed in it redirects to the log-in page; ok is false when the answer was written.
func (h *Handler) signedInView(w http.ResponseWriter, r *http.Request) (*view, bool) {
	ctx := r.Context()
	if _, err := authz.CurrentUser(ctx); err != nil {
		toLogin(w, r)
		return nil, false
	}
	u, err := h.d.Identity.Me(ctx)
	if err != nil {
		h.fail(w, r, nil, err)
		return nil, false
	}
	v := &view{User: &u}
	list, err := h.d.Workspaces.List(ctx, "", switcherLimit)
	if err != nil {
		h.fail(w, r, v, err)
		return nil, false
	}
	v.Workspaces, v.MoreWorkspaces = list.Data, list.NextCursor != ""
	return v, true
}

// workspacesPage is what the workspaces template gets.
type workspacesPage struct {
	List       []workspace.Membership
	NextCursor string
	// Paged is true past the first page (offers the way back).
	Paged     bool
	Timezones []string
	// DetectTimezone asks the script to suggest the browser's time zone (fresh forms only).
	DetectTimezone bool
}

var workspaceFields = []string{"name", "timezone"}

// workspaces lists the user's workspaces, with the create form.
func (h *Handler) workspaces(w http.ResponseWriter, r *http.Request) {
	v, ok := h.signedInView(w, r)
	if !ok {
		return
	}
	f := newForm(nil, workspaceFields...)
	f.Set("timezone", "UTC")
	v.Form = f
	h.listWorkspaces(w, r, v, http.StatusOK, r.URL.Query().Get("cursor"), true)
}

// listWorkspaces renders the workspaces page with v's form.
func (h *Handler) listWorkspaces(w http.ResponseWriter, r *http.Request, v *view, status int, cursor string, fresh bool) {
	p, err := h.d.Workspaces.List(r.Context(), cursor, workspacesPerPage)
	if err != nil {
		if cursor != "" && errors.Is(err, apierr.Invalid) {
			redirect(w, r, "/workspaces") // a stale or mangled cursor: start over
			return
		}
		h.fail(w, r, v, err)
		return
	}
	v.Page = workspacesPage{List: p.Data, NextCursor: p.NextCursor, Paged: cursor != "", Timezones: commonTimezones, DetectTimezone: fresh}
	h.render(w, r, status, "workspaces", v)
}

// createWorkspace makes a workspace owned by the user and goes to its overview.
func (h *Handler) createWorkspace(w http.ResponseWriter, r *http.Request) {
	if !h.parseForm(w, r) {
		return
	}
	if !signedIn(r) {
		toLogin(w, r)
		return
	}
	m, err := h.d.Workspaces.Create(r.Context(), workspace.CreateInput{Name: r.PostFormValue("name"), Timezone: r.PostFormValue("timezone")})
	if err == nil {
		redirect(w, r, "/w/"+m.ID)
		return
	}
	v, ok := h.signedInView(w, r)
	if !ok {
		return
	}
	v.Form = newForm(r, workspaceFields...)
	var e *apierr.Error
	if !errors.As(err, &e) || apierr.Status(err) >= 500 {
		h.fail(w, r, v, err)
		return
	}
	v.Form.setError(e)
	h.listWorkspaces(w, r, v, apierr.Status(err), "", false)
}

// overviewPage is what the overview template gets.
type overviewPage struct {
	Workspace workspace.Membership
	// LocalTime is the time now in the workspace's time zone ("" if the zone is unknown here).
	LocalTime string
}

// overview shows a workspace: its name, time zone, your role and its Workspace ID.
func (h *Handler) overview(w http.ResponseWriter, r *http.Request) {
	v, ok := h.signedInView(w, r)
	if !ok {
		return
	}
	m, err := h.d.Workspaces.Get(r.Context(), r.PathValue("workspaceId"))
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	v.inWorkspace(m, "overview")
	p := overviewPage{Workspace: m}
	if loc, err := time.LoadLocation(m.Timezone); err == nil {
		p.LocalTime = time.Now().In(loc).Format("Mon 2 Jan, 15:04 MST")
	}
	v.Page = p
	h.render(w, r, http.StatusOK, "overview", v)
}
