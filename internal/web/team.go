package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/authz"
	"github.com/parleyhq/parley/internal/workspace"
)

// membersPerPage is the page size of the team's member list; pendingShown is how many pending
// invitations the Team page lists (the newest).
const (
	membersPerPage = 100
	pendingShown   = 100
)

// invitableRoles are the roles an invitation or a role change may give, in the order the
// selects offer them.
var invitableRoles = []authz.Role{authz.Member, authz.Admin}

// teamPage is what the team template gets.
type teamPage struct {
	Workspace workspace.Membership
	Members   []memberRow
	// NextCursor pages the member list; Paged is true past the first page.
	NextCursor string
	Paged      bool
	// Invitations are the pending invitations (owner and admins only).
	Invitations []workspace.Invitation
	MoreInvites bool
	// CanManage shows the invite form, the invitations and the member controls (owner, admin);
	// CanLeave the Leave button (everyone but the owner).
	CanManage, CanLeave bool
	Roles               []authz.Role
	// Problem is what went wrong with a member or invitation action (the invite form has its own).
	Problem *form
}

// memberRow is one member as the Team page shows it, with the controls the viewer may use.
type memberRow struct {
	workspace.Member
	You bool
	// Manageable: the viewer may change the role of and remove this member (owner and admins, for
	// anyone but the owner and themselves).
	Manageable bool
	// Transferable: the viewer (the owner) may make this member the owner.
	Transferable bool
}

// Label names the member in control labels: their name, else their email.
func (m memberRow) Label() string {
	if m.Name != "" {
		return m.Name
	}
	return m.Email
}

var inviteFields = []string{"email", "role"}

// workspaceView is signedInView for a page of the workspace in the path: it loads the workspace
// (404 for non-members) and sets the navigation with section active.
func (h *Handler) workspaceView(w http.ResponseWriter, r *http.Request, section string) (*view, workspace.Membership, bool) {
	v, ok := h.signedInView(w, r)
	if !ok {
		return nil, workspace.Membership{}, false
	}
	m, err := h.d.Workspaces.Get(r.Context(), r.PathValue("workspaceId"))
	if err != nil {
		h.fail(w, r, v, err)
		return nil, workspace.Membership{}, false
	}
	v.inWorkspace(m, section)
	return v, m, true
}

// team shows the workspace's members and, to the owner and admins, the pending invitations and
// the invite form.
func (h *Handler) team(w http.ResponseWriter, r *http.Request) {
	f := newForm(nil, inviteFields...)
	f.Set("role", string(authz.Member))
	h.showTeam(w, r, http.StatusOK, f, nil)
}

// showTeam renders the Team page with the invite form f and, when not nil, the problem of a
// member or invitation action.
func (h *Handler) showTeam(w http.ResponseWriter, r *http.Request, status int, f *form, problem *apierr.Error) {
	v, m, ok := h.workspaceView(w, r, "team")
	if !ok {
		return
	}
	ctx := r.Context()
	cursor := ""
	if r.Method == http.MethodGet {
		cursor = r.URL.Query().Get("cursor")
	}
	list, err := h.d.Workspaces.ListMembers(ctx, m.ID, cursor, membersPerPage)
	if err != nil {
		if cursor != "" && errors.Is(err, apierr.Invalid) {
			redirect(w, r, "/w/"+m.ID+"/team") // a stale or mangled cursor: start over
			return
		}
		h.fail(w, r, v, err)
		return
	}
	me, _ := authz.CurrentUser(ctx)
	p := teamPage{
		Workspace: m, NextCursor: list.NextCursor, Paged: cursor != "", Roles: invitableRoles,
		CanManage: can(m.Role, authz.MembersManage), CanLeave: m.Role != authz.Owner,
		Problem: newForm(nil),
	}
	if problem != nil {
		p.Problem.setError(problem)
	}
	transfer := can(m.Role, authz.OwnershipTransfer)
	for _, mem := range list.Data {
		you := me != nil && mem.UserID == me.UserID
		p.Members = append(p.Members, memberRow{
			Member: mem, You: you,
			Manageable:   p.CanManage && !you && mem.Role != authz.Owner,
			Transferable: transfer && !you,
		})
	}
	if p.CanManage {
		inv, err := h.d.Workspaces.ListInvitations(ctx, m.ID, "", pendingShown)
		if err != nil {
			h.fail(w, r, v, err)
			return
		}
		p.Invitations, p.MoreInvites = inv.Data, inv.NextCursor != ""
	}
	v.Form = f
	v.Page = p
	h.render(w, r, status, "team", v)
}

// teamAction runs a member or invitation action posted from the Team page: on success it goes
// back to the page with the notice, otherwise it shows the page with the problem.
func (h *Handler) teamAction(w http.ResponseWriter, r *http.Request, notice string, do func(ctx context.Context, wsID string) error) {
	if !h.parseForm(w, r) {
		return
	}
	if !signedIn(r) {
		toLogin(w, r)
		return
	}
	wsID := r.PathValue("workspaceId")
	err := do(r.Context(), wsID)
	if err == nil {
		redirect(w, r, "/w/"+url.PathEscape(wsID)+"/team?notice="+notice)
		return
	}
	h.teamProblem(w, r, err)
}

// teamProblem shows the Team page with err, when it is a client error to show there.
func (h *Handler) teamProblem(w http.ResponseWriter, r *http.Request, err error) {
	e, status, ok := actionError(err)
	if !ok {
		h.fail(w, r, nil, err)
		return
	}
	retryAfter(w, e)
	if e.Code == "ownership_transfer_required" {
		// The service names the API route; on this page the way is the transfer link.
		e = apierr.New(apierr.Invalid, e.Code, "the owner role changes hands only by transferring ownership: use Transfer ownership beside the member")
	}
	f := newForm(nil, inviteFields...)
	f.Set("role", string(authz.Member))
	h.showTeam(w, r, status, f, e)
}

// invite sends an invitation; errors (already a member, already invited, too many invitations…)
// come back on the invite form with what was typed.
func (h *Handler) invite(w http.ResponseWriter, r *http.Request) {
	if !h.parseForm(w, r) {
		return
	}
	if !signedIn(r) {
		toLogin(w, r)
		return
	}
	wsID := r.PathValue("workspaceId")
	_, err := h.d.Workspaces.Invite(r.Context(), wsID, workspace.InviteInput{Email: r.PostFormValue("email"), Role: authz.Role(r.PostFormValue("role"))})
	if err == nil {
		redirect(w, r, "/w/"+url.PathEscape(wsID)+"/team?notice=invited")
		return
	}
	e, status, ok := actionError(err)
	if !ok || errors.Is(err, apierr.Forbidden) || errors.Is(err, apierr.NotFound) {
		h.fail(w, r, nil, err) // not yours, or not yours to manage: the page has no form to show it on
		return
	}
	retryAfter(w, e)
	f := newForm(r, inviteFields...)
	f.setError(e)
	h.showTeam(w, r, status, f, nil)
}

func (h *Handler) resendInvitation(w http.ResponseWriter, r *http.Request) {
	h.teamAction(w, r, "resent", func(ctx context.Context, wsID string) error {
		_, err := h.d.Workspaces.ResendInvitation(ctx, wsID, r.PathValue("invitationId"))
		return err
	})
}

func (h *Handler) revokeInvitation(w http.ResponseWriter, r *http.Request) {
	h.teamAction(w, r, "invitation-revoked", func(ctx context.Context, wsID string) error {
		return h.d.Workspaces.RevokeInvitation(ctx, wsID, r.PathValue("invitationId"))
	})
}

func (h *Handler) changeRole(w http.ResponseWriter, r *http.Request) {
	h.teamAction(w, r, "role-changed", func(ctx context.Context, wsID string) error {
		_, err := h.d.Workspaces.ChangeRole(ctx, wsID, r.PathValue("userId"), authz.Role(r.PostFormValue("role")))
		return err
	})
}

func (h *Handler) removeMember(w http.ResponseWriter, r *http.Request) {
	h.teamAction(w, r, "removed", func(ctx context.Context, wsID string) error {
		return h.d.Workspaces.RemoveMember(ctx, wsID, r.PathValue("userId"))
	})
}

// leave takes the signed-in person out of the workspace and back to their workspaces.
func (h *Handler) leave(w http.ResponseWriter, r *http.Request) {
	if !h.parseForm(w, r) {
		return
	}
	if !signedIn(r) {
		toLogin(w, r)
		return
	}
	if err := h.d.Workspaces.Leave(r.Context(), r.PathValue("workspaceId")); err != nil {
		h.teamProblem(w, r, err)
		return
	}
	redirect(w, r, "/workspaces?notice=left")
}

// transferPage is what the transfer template gets.
type transferPage struct {
	Workspace workspace.Membership
	To        workspace.Member
}

var transferFields = []string{"confirm"}

// errNotOwner is the answer to a transfer page opened by anyone but the owner.
var errNotOwner = apierr.New(apierr.Forbidden, "insufficient_role", "only the owner may transfer ownership")

// transferForm asks the owner to confirm an ownership transfer by typing the member's email.
func (h *Handler) transferForm(w http.ResponseWriter, r *http.Request) {
	h.showTransfer(w, r, http.StatusOK, r.URL.Query().Get("userId"), newForm(nil, transferFields...))
}

// showTransfer renders the confirmation page for making userID the owner.
func (h *Handler) showTransfer(w http.ResponseWriter, r *http.Request, status int, userID string, f *form) {
	v, m, ok := h.workspaceView(w, r, "team")
	if !ok {
		return
	}
	if !can(m.Role, authz.OwnershipTransfer) {
		h.fail(w, r, v, errNotOwner)
		return
	}
	to, err := h.d.Workspaces.GetMember(r.Context(), m.ID, userID)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	v.Form = f
	v.Page = transferPage{Workspace: m, To: to}
	h.render(w, r, status, "transfer", v)
}

// transfer makes the member the owner once their email was typed to confirm; the former owner
// becomes an admin.
func (h *Handler) transfer(w http.ResponseWriter, r *http.Request) {
	if !h.parseForm(w, r) {
		return
	}
	if !signedIn(r) {
		toLogin(w, r)
		return
	}
	ctx := r.Context()
	wsID, userID := r.PathValue("workspaceId"), r.PostFormValue("userId")
	f := newForm(r, transferFields...)
	to, err := h.d.Workspaces.GetMember(ctx, wsID, userID)
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	if !strings.EqualFold(strings.TrimSpace(r.PostFormValue("confirm")), to.Email) {
		f.errs["confirm"] = "Type " + to.Email + " exactly to confirm the transfer."
		h.showTransfer(w, r, http.StatusUnprocessableEntity, userID, f)
		return
	}
	if _, err := h.d.Workspaces.TransferOwnership(ctx, wsID, userID); err != nil {
		e, status, ok := actionError(err)
		if !ok {
			h.fail(w, r, nil, err)
			return
		}
		f.Message = sentence(e.Detail)
		h.showTransfer(w, r, status, userID, f)
		return
	}
	redirect(w, r, "/w/"+url.PathEscape(wsID)+"/team?notice=transferred")
}
