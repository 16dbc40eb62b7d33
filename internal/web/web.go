// Package web is the dashboard: server-rendered pages over the same services as the API.
//
// Pages are html/template files and the CSS and script are static files, all embedded in the
// binary; there is no JavaScript build step and every page works without script (the script only
// adds the Copy buttons, a confirmation before destructive buttons, a time-zone guess and the
// ticking of an agent setting's Override box when its value is changed).
//
// A page shows only the controls the viewer's role may use (the permission matrix in authz
// decides, through can); the services check every action again. The app's middleware has already authenticated the
// session cookie (an *authz.Principal in the request context), refused cross-origin form posts
// (CSRF) and put a request ID and logger in the context; handlers here call the services with the
// request's context, so the dashboard can do exactly what the API allows and nothing more.
//
// Every page answers with a strict Content-Security-Policy (no inline script or style),
// X-Content-Type-Options: nosniff, Referrer-Policy: same-origin and Cache-Control: no-store.
// Pages that need a person redirect to /login?next=<the page> when nobody is signed in; next is
// followed only when it is a path on this server.
package web

import (
	"log/slog"
	"net/http"

	"github.com/parleyhq/parley/internal/agent"
	"github.com/parleyhq/parley/internal/apikey"
	"github.com/parleyhq/parley/internal/billing"
	"github.com/parleyhq/parley/internal/call"
	"github.com/parleyhq/parley/internal/campaign"
	"github.com/parleyhq/parley/internal/contact"
	"github.com/parleyhq/parley/internal/identity"
	"github.com/parleyhq/parley/internal/platform/audit"
	"github.com/parleyhq/parley/internal/telephony"
	"github.com/parleyhq/parley/internal/webhook"
	"github.com/parleyhq/parley/internal/workspace"
)

// Deps are the services the dashboard calls.
type Deps struct {
	Identity   *identity.Service
	Workspaces *workspace.Service
	APIKeys    *apikey.Service
	Agents     *agent.Service
	Contacts   *contact.Service
	Webhooks   *webhook.Service
	Telephony  *telephony.Service
	Calls      *call.Service
	Campaigns  *campaign.Service
	Billing    *billing.Service
	Audit      *audit.Reader
	// Cookie says how the session cookie is named and set (Secure on https).
	Cookie identity.Cookie
	// Logger is used when a request's context carries no logger of its own.
	Logger *slog.Logger
}

// Handler serves the dashboard.
type Handler struct {
	d Deps
}

// New builds the dashboard.
func New(d Deps) *Handler {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	return &Handler{d: d}
}

// Register adds the dashboard's routes to mux:
//
//	GET  /                    → /workspaces when signed in, else /login
//	GET  /static/…            embedded CSS and script (immutable when fingerprinted)
//	GET  /signup, POST /signup
//	GET  /login,  POST /login
//	POST /logout
//	GET  /forgot-password, POST /forgot-password   ask for a reset link
//	GET  /reset-password?token=…, POST /reset-password   choose a new password
//	GET  /workspaces          your workspaces and the create form
//	POST /workspaces          create a workspace → its overview
//	GET  /w/{workspaceId}     the workspace's overview (404 for non-members)
//
//	GET  /w/{workspaceId}/team                          members, pending invitations, invite form
//	POST /w/{workspaceId}/team/invitations              invite (email, role)
//	POST /w/{workspaceId}/team/invitations/{id}/resend  mail a new link
//	POST /w/{workspaceId}/team/invitations/{id}/revoke  withdraw it
//	POST /w/{workspaceId}/team/members/{userId}/role    change a member's role
//	POST /w/{workspaceId}/team/members/{userId}/remove  remove a member
//	GET  /w/{workspaceId}/team/transfer?userId=…        confirm an ownership transfer
//	POST /w/{workspaceId}/team/transfer                 transfer (the member's email typed again)
//	POST /w/{workspaceId}/team/leave                    leave the workspace (not the owner)
//	GET  /w/{workspaceId}/api-keys                      the keys and the create form (owner, admin)
//	POST /w/{workspaceId}/api-keys                      create → the secret, shown this once
//	POST /w/{workspaceId}/api-keys/{keyId}/revoke       revoke a key
//	GET  /w/{workspaceId}/audit?action=&cursor=         the audit log (owner, admin)
//	GET  /w/{workspaceId}/agents?cursor=                agents with their effective LLM and voice
//	GET  /w/{workspaceId}/agents/new                    the new-agent form (owner, admin)
//	POST /w/{workspaceId}/agents                        create an agent → its editor
//	GET  /w/{workspaceId}/agents/{agentId}              the editor (read-only for members)
//	POST /w/{workspaceId}/agents/{agentId}              save: a merge patch of what changed (If-Match: version)
//	POST /w/{workspaceId}/agents/{agentId}/delete       delete the agent and its versions
//	GET  /w/{workspaceId}/agents/{agentId}/versions     version history
//	POST /w/{workspaceId}/agents/{agentId}/versions/{number}/restore   restore a version
//	GET  /w/{workspaceId}/settings                      workspace settings (read-only for members)
//	POST /w/{workspaceId}/settings                      save what changed (owner, admin)
//	POST /w/{workspaceId}/settings/provider-keys        add a provider key (owner, admin; write-only)
//	POST /w/{workspaceId}/settings/provider-keys/{keyId}/delete   delete a provider key
//	GET  /w/{workspaceId}/contacts?name=&phone=&tag=&attribute=key=value&cursor=   contacts, searched
//	GET  /w/{workspaceId}/contacts/new                  the new-contact form (owner, admin)
//	POST /w/{workspaceId}/contacts                      create a contact → its page
//	GET  /w/{workspaceId}/contacts/{contactId}          the contact: its form (read-only for members)
//	POST /w/{workspaceId}/contacts/{contactId}          save what changed
//	POST /w/{workspaceId}/contacts/{contactId}/delete   delete the contact
//	POST /w/{workspaceId}/contacts/{contactId}/lists    add the contact to a list (listId)
//	POST /w/{workspaceId}/contact-imports               import a CSV file (multipart, streamed) → the import's page
//	GET  /w/{workspaceId}/contact-imports/{importId}    an import's progress (refreshes while it runs) and result
//	GET  /w/{workspaceId}/contact-lists                 the lists and the create form
//	POST /w/{workspaceId}/contact-lists                 create a list → its page
//	GET  /w/{workspaceId}/contact-lists/{listId}        its members, rename and delete
//	POST /w/{workspaceId}/contact-lists/{listId}        rename
//	POST /w/{workspaceId}/contact-lists/{listId}/delete delete the list (its contacts stay)
//	POST /w/{workspaceId}/contact-lists/{listId}/members/{contactId}/remove   take a contact out
//	GET  /w/{workspaceId}/dnc                           the do-not-call list and the add form
//	POST /w/{workspaceId}/dnc                           add a number (phone, reason)
//	POST /w/{workspaceId}/dnc/remove                    remove a number (phone)
//	GET  /w/{workspaceId}/webhooks…                     webhook endpoints, their secrets and delivery logs (see webhooks.go)
//	GET  /w/{workspaceId}/billing?cursor=               credits, usage chart, ledger, prices (billing.go)
//	POST /w/{workspaceId}/billing/settings              the low-balance threshold (owner)
//	POST /w/{workspaceId}/billing/transfers             move credits to another workspace the owner owns
//	GET  /w/{workspaceId}/campaigns                     campaigns with state and progress (campaigns.go)
//	GET  /w/{workspaceId}/campaigns/{campaignId}        progress (refreshes while live), outcomes, results link
//	POST /w/{workspaceId}/campaigns/{campaignId}/{start|pause|resume|cancel}   (owner, admin)
//	GET  /invitations/{token}                           an invitation: accept, decline or sign up
//	POST /invitations/{token}/accept, …/decline, …/signup
//
// Every POST answers 303 to a page (with ?notice= naming what was done), except that errors
// re-render the page with the problem shown, and a new API key's page shows its secret.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.Handle("GET /static/", http.StripPrefix("/static/", staticHandler{}))

	mux.Handle("GET /{$}", page(h.root))
	mux.Handle("GET /signup", page(h.signupForm))
	mux.Handle("POST /signup", page(h.signup))
	mux.Handle("GET /login", page(h.loginForm))
	mux.Handle("POST /login", page(h.login))
	mux.Handle("POST /logout", page(h.logout))
	mux.Handle("GET /forgot-password", page(h.forgotForm))
	mux.Handle("POST /forgot-password", page(h.forgot))
	mux.Handle("GET /reset-password", page(h.resetForm))
	mux.Handle("POST /reset-password", page(h.reset))
	mux.Handle("GET /workspaces", page(h.workspaces))
	mux.Handle("POST /workspaces", page(h.createWorkspace))
	mux.Handle("GET /w/{workspaceId}", page(h.overview))

	mux.Handle("GET /w/{workspaceId}/team", page(h.team))
	mux.Handle("POST /w/{workspaceId}/team/invitations", page(h.invite))
	mux.Handle("POST /w/{workspaceId}/team/invitations/{invitationId}/resend", page(h.resendInvitation))
	mux.Handle("POST /w/{workspaceId}/team/invitations/{invitationId}/revoke", page(h.revokeInvitation))
	mux.Handle("POST /w/{workspaceId}/team/members/{userId}/role", page(h.changeRole))
	mux.Handle("POST /w/{workspaceId}/team/members/{userId}/remove", page(h.removeMember))
	mux.Handle("GET /w/{workspaceId}/team/transfer", page(h.transferForm))
	mux.Handle("POST /w/{workspaceId}/team/transfer", page(h.transfer))
	mux.Handle("POST /w/{workspaceId}/team/leave", page(h.leave))

	mux.Handle("GET /w/{workspaceId}/api-keys", page(h.apiKeys))
	mux.Handle("POST /w/{workspaceId}/api-keys", page(h.createAPIKey))
	mux.Handle("POST /w/{workspaceId}/api-keys/{keyId}/revoke", page(h.revokeAPIKey))

	mux.Handle("GET /w/{workspaceId}/audit", page(h.auditLog))

	mux.Handle("GET /w/{workspaceId}/agents", page(h.agents))
	mux.Handle("GET /w/{workspaceId}/agents/new", page(h.newAgent))
	mux.Handle("POST /w/{workspaceId}/agents", page(h.saveAgent))
	mux.Handle("GET /w/{workspaceId}/agents/{agentId}", page(h.editAgent))
	mux.Handle("POST /w/{workspaceId}/agents/{agentId}", page(h.saveAgent))
	mux.Handle("POST /w/{workspaceId}/agents/{agentId}/delete", page(h.deleteAgent))
	mux.Handle("GET /w/{workspaceId}/agents/{agentId}/versions", page(h.agentVersions))
	mux.Handle("POST /w/{workspaceId}/agents/{agentId}/versions/{number}/restore", page(h.restoreVersion))
	mux.Handle("GET /w/{workspaceId}/settings", page(h.settings))
	mux.Handle("POST /w/{workspaceId}/settings", page(h.saveSettings))
	mux.Handle("POST /w/{workspaceId}/settings/provider-keys", page(h.addProviderKey))
	mux.Handle("POST /w/{workspaceId}/settings/provider-keys/{keyId}/delete", page(h.deleteProviderKey))

	mux.Handle("GET /w/{workspaceId}/contacts", page(h.contacts))
	mux.Handle("GET /w/{workspaceId}/contacts/new", page(h.newContact))
	mux.Handle("POST /w/{workspaceId}/contacts", page(h.saveContact))
	mux.Handle("GET /w/{workspaceId}/contacts/{contactId}", page(h.editContact))
	mux.Handle("POST /w/{workspaceId}/contacts/{contactId}", page(h.saveContact))
	mux.Handle("POST /w/{workspaceId}/contacts/{contactId}/delete", page(h.deleteContact))
	mux.Handle("POST /w/{workspaceId}/contacts/{contactId}/lists", page(h.addContactToList))
	mux.Handle("POST /w/{workspaceId}/contact-imports", page(h.importContacts))
	mux.Handle("GET /w/{workspaceId}/contact-imports/{importId}", page(h.contactImport))
	mux.Handle("GET /w/{workspaceId}/contact-lists", page(h.contactListsPage))
	mux.Handle("POST /w/{workspaceId}/contact-lists", page(h.createList))
	mux.Handle("GET /w/{workspaceId}/contact-lists/{listId}", page(h.contactList))
	mux.Handle("POST /w/{workspaceId}/contact-lists/{listId}", page(h.renameList))
	mux.Handle("POST /w/{workspaceId}/contact-lists/{listId}/delete", page(h.deleteList))
	mux.Handle("POST /w/{workspaceId}/contact-lists/{listId}/members/{contactId}/remove", page(h.removeContactFromList))
	mux.Handle("GET /w/{workspaceId}/dnc", page(h.dnc))
	mux.Handle("POST /w/{workspaceId}/dnc", page(h.addDNC))
	mux.Handle("POST /w/{workspaceId}/dnc/remove", page(h.removeDNC))

	mux.Handle("GET /w/{workspaceId}/telephony", page(h.telephony))
	mux.Handle("POST /w/{workspaceId}/telephony/credentials", page(h.addCredential))
	mux.Handle("POST /w/{workspaceId}/telephony/credentials/{credentialId}/{action}", page(h.credentialAction))
	mux.Handle("POST /w/{workspaceId}/telephony/numbers", page(h.addNumber))
	mux.Handle("POST /w/{workspaceId}/telephony/numbers/{numberId}/delete", page(h.deleteNumber))
	mux.Handle("GET /w/{workspaceId}/calls", page(h.calls))
	mux.Handle("POST /w/{workspaceId}/calls", page(h.placeTestCall))
	mux.Handle("GET /w/{workspaceId}/calls/{callId}", page(h.callDetail))
	mux.Handle("POST /w/{workspaceId}/calls/{callId}/hangup", page(h.hangupCall))
	mux.Handle("GET /w/{workspaceId}/campaigns", page(h.campaigns))
	mux.Handle("GET /w/{workspaceId}/campaigns/{campaignId}", page(h.campaignDetail))
	mux.Handle("POST /w/{workspaceId}/campaigns/{campaignId}/{action}", page(h.campaignAction))
	h.registerWebhooks(mux) // the Webhooks pages: see webhooks.go
	mux.Handle("GET /w/{workspaceId}/billing", page(h.billingPage))
	mux.Handle("POST /w/{workspaceId}/billing/settings", page(h.saveBillingSettings))
	mux.Handle("POST /w/{workspaceId}/billing/transfers", page(h.transferCredits))

	mux.Handle("GET /invitations/{token}", page(noReferrer(h.invitation)))
	mux.Handle("POST /invitations/{token}/accept", page(noReferrer(h.acceptInvitation)))
	mux.Handle("POST /invitations/{token}/decline", page(noReferrer(h.declineInvitation)))
	mux.Handle("POST /invitations/{token}/signup", page(noReferrer(h.invitationSignup)))
}

// noReferrer keeps pages whose address holds a credential (an invitation token) out of the
// Referer header, even towards this server's own static files.
func noReferrer(fn http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Referrer-Policy", "no-referrer")
		fn(w, r)
	}
}

// contentSecurityPolicy allows nothing but this server's own files: no inline script or style,
// no framing.
const contentSecurityPolicy = "default-src 'self'; frame-ancestors 'none'"

// page wraps a page handler with the dashboard's security headers.
func page(fn http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", contentSecurityPolicy)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("Cache-Control", "no-store")
		fn(w, r)
	})
}

// root sends a person to their workspaces, or to the log-in page.
func (h *Handler) root(w http.ResponseWriter, r *http.Request) {
	if signedIn(r) {
		redirect(w, r, "/workspaces")
		return
	}
	redirect(w, r, "/login")
}
