package web

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/audit"
	"github.com/parleyhq/parley/internal/platform/authz"
	"github.com/parleyhq/parley/internal/workspace"
)

// auditPerPage is the page size of the audit log.
const auditPerPage = 50

// auditActions are the workspace actions the filter suggests; any action may be typed.
var auditActions = []string{
	"workspace.created", "workspace.updated", "workspace.ownership_transferred",
	"invitation.created", "invitation.resent", "invitation.revoked", "invitation.accepted", "invitation.declined",
	"member.role_changed", "member.removed", "member.left",
	"api_key.created", "api_key.revoked",
	"workspace.settings_updated", "agent.created", "agent.updated", "agent.restored", "agent.deleted",
}

// auditPage is what the audit template gets.
type auditPage struct {
	Workspace workspace.Membership
	Entries   []auditRow
	// Action is the filter; Older the link to the next page; Paged is true past the first page.
	Action  string
	Actions []string
	Older   string
	Paged   bool
	Newest  string
}

// auditRow is one entry with its actor (and a member resource) named for people.
type auditRow struct {
	audit.Entry
	Actor string
	// ResourceName names a member resource ("" for others: the page shows the ID).
	ResourceName string
}

// auditLog shows the newest entries of the workspace's audit log, optionally of one action, with
// a link to older ones (owner, admin; others get the 403 page).
func (h *Handler) auditLog(w http.ResponseWriter, r *http.Request) {
	v, m, ok := h.workspaceView(w, r, "audit")
	if !ok {
		return
	}
	ctx := r.Context()
	q := r.URL.Query()
	action, cursor := strings.TrimSpace(q.Get("action")), q.Get("cursor")
	if len(action) > 100 {
		action = action[:100]
	}
	list, err := h.d.Audit.Read(ctx, m.ID, audit.Filter{Action: action}, cursor, auditPerPage)
	if err != nil {
		if cursor != "" && errors.Is(err, apierr.Invalid) {
			redirect(w, r, auditURL(m.ID, action, "")) // a stale or mangled cursor: start over
			return
		}
		h.fail(w, r, v, err)
		return
	}
	people := h.people(ctx, m.ID)
	p := auditPage{Workspace: m, Action: action, Actions: auditActions, Paged: cursor != "", Newest: auditURL(m.ID, action, "")}
	if list.NextCursor != "" {
		p.Older = auditURL(m.ID, action, list.NextCursor)
	}
	for _, e := range list.Data {
		row := auditRow{Entry: e, Actor: e.ActorID}
		switch authz.Kind(e.ActorType) {
		case authz.KindUser:
			row.Actor = people.name(e.ActorID)
		case authz.KindAPIKey:
			row.Actor = "API key " + e.ActorID
		case authz.KindSystem:
			row.Actor = "System (operator)"
		}
		if n := people.name(e.ResourceID); e.ResourceType == "member" && n != e.ResourceID {
			row.ResourceName = n
		}
		p.Entries = append(p.Entries, row)
	}
	v.Page = p
	h.render(w, r, http.StatusOK, "audit", v)
}

// auditURL is the address of a page of the audit log.
func auditURL(wsID, action, cursor string) string {
	q := url.Values{}
	if action != "" {
		q.Set("action", action)
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	u := "/w/" + url.PathEscape(wsID) + "/audit"
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}
