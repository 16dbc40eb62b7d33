package web

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/parleyhq/parley/internal/identity"
	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/authz"
	"github.com/parleyhq/parley/internal/workspace"
)

// invitationPage is what the invitation template gets. The token is in the page's own address
// already; the forms post back to it.
type invitationPage struct {
	Token   string
	Preview workspace.InvitationPreview
	// Exactly one of the three: signed in as the invited address (Accept, Decline), signed in as
	// someone else (log out first), or not signed in (log in, or sign up as the invited address).
	Mine, Other, Anonymous bool
	// Problem is what went wrong accepting or declining.
	Problem *form
}

// LoginURL is the log-in page, coming back to the invitation.
func (p invitationPage) LoginURL() string {
	return "/login?next=" + url.QueryEscape(p.Path())
}

// Path is the invitation page's address.
func (p invitationPage) Path() string { return "/invitations/" + url.PathEscape(p.Token) }

var invitationSignupFields = []string{"name", "password"}

// invitationGone is the page of a link that can no longer be answered.
var invitationGone = errorPage{
	Heading: "This invitation is no longer valid",
	Message: "The link has expired, was already used or declined, or was revoked. Ask the person who invited you for a new one.",
}

// invitation shows what an invitation link offers and how to answer it.
func (h *Handler) invitation(w http.ResponseWriter, r *http.Request) {
	h.showInvitation(w, r, http.StatusOK, newForm(nil, invitationSignupFields...), nil)
}

// showInvitation renders the invitation page: f is the sign-up form, problem what went wrong.
func (h *Handler) showInvitation(w http.ResponseWriter, r *http.Request, status int, f *form, problem *apierr.Error) {
	ctx := r.Context()
	token := r.PathValue("token")
	v := &view{}
	if signedIn(r) {
		var ok bool
		if v, ok = h.signedInView(w, r); !ok {
			return
		}
	}
	pv, err := h.d.Workspaces.PreviewInvitation(ctx, token)
	if err != nil {
		h.invitationFailed(w, r, v, err)
		return
	}
	p := invitationPage{Token: token, Preview: pv, Problem: newForm(nil)}
	switch {
	case v.User == nil:
		p.Anonymous = true
	case strings.EqualFold(v.User.Email, pv.Email):
		p.Mine = true
	default:
		p.Other = true
	}
	if problem != nil {
		p.Problem.setError(problem)
	}
	v.Form = f
	v.Page = p
	h.render(w, r, status, "invitation", v)
}

// invitationFailed answers an invitation that cannot be answered with the 410 page, and any
// other error as fail does.
func (h *Handler) invitationFailed(w http.ResponseWriter, r *http.Request, v *view, err error) {
	if !errors.Is(err, apierr.Gone) {
		h.fail(w, r, v, err)
		return
	}
	if v == nil {
		v = &view{}
	}
	v.Page = invitationGone
	h.render(w, r, http.StatusGone, "error", v)
}

// invitationAnswer runs accept or decline for the signed-in person; a problem other than a dead
// link (already a member, another address) is shown on the invitation page.
func (h *Handler) invitationAnswer(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, apierr.Gone) {
		h.invitationFailed(w, r, nil, err)
		return
	}
	e, status, ok := actionError(err)
	if !ok {
		h.fail(w, r, nil, err)
		return
	}
	h.showInvitation(w, r, status, newForm(nil, invitationSignupFields...), e)
}

// answerable checks that someone is signed in to answer; if not, it sends them to log in and
// come back to the invitation.
func (h *Handler) answerable(w http.ResponseWriter, r *http.Request) bool {
	if !h.parseForm(w, r) {
		return false
	}
	if !signedIn(r) {
		redirect(w, r, invitationPage{Token: r.PathValue("token")}.LoginURL())
		return false
	}
	return true
}

// acceptInvitation makes the signed-in person a member and shows them the workspace.
func (h *Handler) acceptInvitation(w http.ResponseWriter, r *http.Request) {
	if !h.answerable(w, r) {
		return
	}
	m, err := h.d.Workspaces.AcceptInvitation(r.Context(), r.PathValue("token"))
	if err != nil {
		h.invitationAnswer(w, r, err)
		return
	}
	redirect(w, r, "/w/"+url.PathEscape(m.ID)+"?notice=joined")
}

// declineInvitation turns the invitation down; its link stops working.
func (h *Handler) declineInvitation(w http.ResponseWriter, r *http.Request) {
	if !h.answerable(w, r) {
		return
	}
	if err := h.d.Workspaces.DeclineInvitation(r.Context(), r.PathValue("token")); err != nil {
		h.invitationAnswer(w, r, err)
		return
	}
	redirect(w, r, "/workspaces?notice=declined")
}

// invitationSignup creates an account for the invited address from the link, which joins the
// workspace at the same time (this works when sign-up is invite-only), signs it in and shows the
// workspace.
func (h *Handler) invitationSignup(w http.ResponseWriter, r *http.Request) {
	if !h.parseForm(w, r) {
		return
	}
	token := r.PathValue("token")
	if signedIn(r) {
		redirect(w, r, invitationPage{Token: token}.Path())
		return
	}
	ctx := r.Context()
	f := newForm(r, invitationSignupFields...)
	_, session, _, err := h.d.Identity.SignupWithInvitation(ctx, token, identity.NewAccount{Name: r.PostFormValue("name"), Password: r.PostFormValue("password")})
	if err != nil {
		if errors.Is(err, apierr.Gone) {
			h.invitationFailed(w, r, nil, err)
			return
		}
		e, status, ok := clientError(err)
		if !ok {
			h.fail(w, r, nil, err)
			return
		}
		retryAfter(w, e)
		f.setError(e)
		h.showInvitation(w, r, status, f, nil)
		return
	}
	h.setSession(w, r, session, h.joinedWorkspace(r, session))
}

// joinedWorkspace is where a person who just signed up from an invitation lands: the workspace
// they joined (their only one), or their workspaces.
func (h *Handler) joinedWorkspace(r *http.Request, session string) string {
	p, err := h.d.Identity.Authenticate(r.Context(), session)
	if err != nil {
		return defaultNext
	}
	list, err := h.d.Workspaces.List(authz.WithPrincipal(r.Context(), p), "", 2)
	if err != nil || len(list.Data) != 1 {
		return defaultNext
	}
	return "/w/" + url.PathEscape(list.Data[0].ID) + "?notice=joined"
}
