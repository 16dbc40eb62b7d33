package web

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/apikey"
	"github.com/parleyhq/parley/internal/identity"
	"github.com/parleyhq/parley/internal/platform/authz"
	"github.com/parleyhq/parley/internal/workspace"
)

const testPassword = "correct horse battery staple"

// principal is the signed-in person of b, for calling the services directly.
func (b *browser) ctx() context.Context {
	b.t.Helper()
	u, _ := url.Parse(b.env.srv.URL)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == "parley_session" {
			p, err := b.env.ids.Authenticate(context.Background(), c.Value)
			if err != nil {
				b.t.Fatal(err)
			}
			return authz.WithPrincipal(context.Background(), p)
		}
	}
	b.t.Fatal("not signed in")
	return nil
}

// signupAs signs up with a name.
func (b *browser) signupAs(name, email string) {
	b.t.Helper()
	res := b.post("/signup", url.Values{"email": {email}, "password": {testPassword}, "name": {name}})
	if res.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("sign up: %d\n%s", res.StatusCode, res.body)
	}
}

// invite invites email from the Team page and returns the token of the mailed link.
func (b *browser) invite(wsID, email, role string) string {
	b.t.Helper()
	res := b.post("/w/"+wsID+"/team/invitations", url.Values{"email": {email}, "role": {role}})
	expectRedirect(b.t, res, "/w/"+wsID+"/team?notice=invited")
	return b.env.invitationToken(b.t, email)
}

var linkRE = regexp.MustCompile(`http://parley\.test/invitations/([A-Za-z0-9_-]+)`)

// invitationToken reads the token of the latest invitation mailed to email.
func (e *testEnv) invitationToken(t *testing.T, email string) string {
	t.Helper()
	var body string
	if err := e.db.Read.QueryRow(`SELECT body FROM mail_outbox WHERE to_addr = $1 ORDER BY id DESC LIMIT 1`, email).Scan(&body); err != nil {
		t.Fatalf("no mail to %s: %v", email, err)
	}
	m := linkRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no invitation link in %q", body)
	}
	return m[1]
}

// join invites email as role and has them sign up from the link; it returns their browser.
func (b *browser) join(wsID, name, email, role string) *browser {
	b.t.Helper()
	token := b.invite(wsID, email, role)
	nb := b.env.browser(b.t)
	res := nb.post("/invitations/"+token+"/signup", url.Values{"name": {name}, "password": {testPassword}})
	expectRedirect(b.t, res, "/w/"+wsID+"?notice=joined")
	return nb
}

// lacks fails when the body contains any of the strings.
func lacks(t *testing.T, res response, strs ...string) {
	t.Helper()
	for _, s := range strs {
		if strings.Contains(res.body, s) {
			t.Errorf("%s %s: body contains %q", res.Request.Method, res.Request.URL.Path, s)
		}
	}
}

// noInline fails when a page carries inline script or style (the CSP would block them).
func noInline(t *testing.T, res response) {
	t.Helper()
	if regexp.MustCompile(`<script>|<style|style="|onclick=|onsubmit=`).MatchString(res.body) {
		t.Errorf("%s %s: inline script or style on the page", res.Request.Method, res.Request.URL.Path)
	}
}

func TestTeamPageShowsControlsToOwnerAndHidesThemFromMember(t *testing.T) {
	env := newEnv(t)
	ada := env.browser(t)
	ada.signupAs("Ada", "ada@example.com")
	id := ada.createWorkspace("Acme", "UTC")

	res := ada.get("/w/" + id + "/team")
	expect(t, res, http.StatusOK,
		`<a href="/w/`+id+`/team" aria-current="page">Team</a>`, `<a href="/w/`+id+`/api-keys">API keys</a>`, `<a href="/w/`+id+`/audit">Audit log</a>`,
		`<form method="post" action="/w/`+id+`/team/invitations"`, `<label for="email">Email</label>`, `<option value="member" selected>Member</option>`,
		"No pending invitations.", "ada@example.com", `<span class="badge">You</span>`, "As the owner you cannot leave")
	lacks(t, res, `/team/leave"`, "/remove")
	noInline(t, res)

	token := ada.invite(id, "bob@example.com", "member")
	res = ada.get("/w/" + id + "/team?notice=invited")
	expect(t, res, http.StatusOK, `<p class="notice flash" role="status">Invitation sent.</p>`, `<th scope="row" class="email-cell">bob@example.com</th>`,
		"/resend\"", "/revoke\"")
	// Only fixed notices are shown.
	lacks(t, ada.get("/w/"+id+"/team?notice=%3Cb%3Ehi"), "&lt;b&gt;hi", `class="notice flash"`)

	bob := env.browser(t)
	bob.signupAs("Bob", "bob@example.com")
	res = bob.post("/invitations/"+token+"/accept", nil)
	expectRedirect(t, res, "/w/"+id+"?notice=joined")
	expect(t, bob.get("/w/"+id+"?notice=joined"), http.StatusOK, "Welcome! You have joined this workspace.", `<dd id="workspace-role">Member</dd>`)

	// The member sees the team, without a single control but Leave.
	res = bob.get("/w/" + id + "/team")
	expect(t, res, http.StatusOK, "ada@example.com", "bob@example.com", `action="/w/`+id+`/team/leave"`,
		"Only the owner and admins can invite", `<a href="/w/`+id+`/team" aria-current="page">Team</a>`)
	lacks(t, res, "/team/invitations", "Pending invitations", "/remove", "/role", "/team/transfer", "<select", "/api-keys", "/audit")
	expect(t, bob.get("/w/"+id+"/api-keys"), http.StatusForbidden, "You cannot open this page", "may not manage API keys")
	expect(t, bob.get("/w/"+id+"/audit"), http.StatusForbidden, "You cannot open this page", "may not read the audit log")
	expect(t, bob.get("/w/"+id+"/team/transfer?userId=x"), http.StatusForbidden, "Only the owner may transfer ownership.")
	// The services still refuse what a hand-made form asks.
	expect(t, bob.post("/w/"+id+"/team/invitations", url.Values{"email": {"carol@example.com"}, "role": {"member"}}), http.StatusForbidden, "may not manage the team")
	expect(t, bob.post("/w/"+id+"/api-keys", url.Values{"name": {"x"}, "scopes": {"agents:read"}, "mode": {"live"}}), http.StatusForbidden)

	// The owner now sees the member's controls.
	members, err := env.ws.ListMembers(ada.ctx(), id, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	var bobUser string
	for _, m := range members.Data {
		if m.Email == "bob@example.com" {
			bobUser = m.UserID
		}
	}
	res = ada.get("/w/" + id + "/team")
	expect(t, res, http.StatusOK,
		`action="/w/`+id+`/team/members/`+bobUser+`/role"`, `<label for="role-`+bobUser+`" class="visually-hidden">Role of Bob</label>`,
		`action="/w/`+id+`/team/members/`+bobUser+`/remove"`, `href="/w/`+id+`/team/transfer?userId=`+bobUser+`"`, "No pending invitations.")
}

func TestInviteErrorsShowOnTheForm(t *testing.T) {
	env := newEnvWith(t, envConfig{wsOpts: []workspace.Option{workspace.WithInvitationLimit(2, time.Hour)}})
	ada := env.browser(t)
	ada.signupAs("Ada", "ada@example.com")
	id := ada.createWorkspace("Acme", "UTC")
	invite := func(email, role string) response {
		return ada.post("/w/"+id+"/team/invitations", url.Values{"email": {email}, "role": {role}})
	}

	res := invite("not-an-email", "member")
	expect(t, res, http.StatusUnprocessableEntity, "Not a valid email address.", `value="not-an-email"`, `href="#email"`, `aria-describedby="email-error"`)
	res = invite("x@example.com", "owner")
	expect(t, res, http.StatusUnprocessableEntity, "Role must be admin or member", `href="#role"`)
	res = invite("ADA@example.com", "admin")
	expect(t, res, http.StatusConflict, "This person is already a member of the workspace.", `value="ADA@example.com"`, `<option value="admin" selected>Admin</option>`)

	ada.invite(id, "bob@example.com", "member")
	res = invite("bob@example.com", "member")
	expect(t, res, http.StatusConflict, "already has a pending invitation", "resend it instead")
	ada.invite(id, "carol@example.com", "admin")
	res = invite("dave@example.com", "member")
	expect(t, res, http.StatusTooManyRequests, "This workspace has sent too many invitations recently", `value="dave@example.com"`)
	if res.Header.Get("Retry-After") == "" {
		t.Error("no Retry-After on 429")
	}
	// A resend is limited too, and says so at the top of the page.
	inv, err := env.ws.ListInvitations(ada.ctx(), id, "", 10)
	if err != nil || len(inv.Data) != 2 {
		t.Fatalf("invitations = %+v, %v", inv, err)
	}
	res = ada.post("/w/"+id+"/team/invitations/"+inv.Data[0].ID+"/resend", nil)
	expect(t, res, http.StatusTooManyRequests, "There is a problem", "too many invitations", `<th scope="row" class="email-cell">carol@example.com</th>`)
}

func TestResendAndRevokeInvitation(t *testing.T) {
	env := newEnv(t)
	ada := env.browser(t)
	ada.signupAs("Ada", "ada@example.com")
	id := ada.createWorkspace("Acme", "UTC")
	old := ada.invite(id, "bob@example.com", "admin")
	inv, err := env.ws.ListInvitations(ada.ctx(), id, "", 10)
	if err != nil || len(inv.Data) != 1 {
		t.Fatalf("invitations = %+v, %v", inv, err)
	}
	invID := inv.Data[0].ID

	expectRedirect(t, ada.post("/w/"+id+"/team/invitations/"+invID+"/resend", nil), "/w/"+id+"/team?notice=resent")
	expect(t, ada.get("/w/"+id+"/team?notice=resent"), http.StatusOK, "Invitation sent again", "(sent 2 times)")
	fresh := env.invitationToken(t, "bob@example.com")
	if fresh == old {
		t.Fatal("the resend mailed the same link")
	}
	anon := env.browser(t)
	expect(t, anon.get("/invitations/"+old), http.StatusGone, "This invitation is no longer valid")
	expect(t, anon.get("/invitations/"+fresh), http.StatusOK, "Join Acme on Parley", `<dd id="invitation-role">Admin</dd>`)

	expectRedirect(t, ada.post("/w/"+id+"/team/invitations/"+invID+"/revoke", nil), "/w/"+id+"/team?notice=invitation-revoked")
	res := ada.get("/w/" + id + "/team?notice=invitation-revoked")
	expect(t, res, http.StatusOK, "Invitation revoked", "No pending invitations.")
	lacks(t, res, "bob@example.com")
	expect(t, anon.get("/invitations/"+fresh), http.StatusGone, "This invitation is no longer valid", "Ask the person who invited you for a new one.")
	// Revoking again is a problem shown on the page.
	expect(t, ada.post("/w/"+id+"/team/invitations/"+invID+"/revoke", nil), http.StatusConflict, "There is a problem", "already accepted, declined or revoked")
}

func TestChangeRoleRemoveTransferAndLeave(t *testing.T) {
	env := newEnv(t)
	ada := env.browser(t)
	ada.signupAs("Ada", "ada@example.com")
	id := ada.createWorkspace("Acme", "UTC")
	bob := ada.join(id, "Bob", "bob@example.com", "member")
	carol := ada.join(id, "", "carol@example.com", "member")
	users := map[string]string{}
	members, err := env.ws.ListMembers(ada.ctx(), id, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range members.Data {
		users[m.Email] = m.UserID
	}

	// Make Bob an admin: he manages members, never the owner, and cannot transfer.
	expectRedirect(t, ada.post("/w/"+id+"/team/members/"+users["bob@example.com"]+"/role", url.Values{"role": {"admin"}}), "/w/"+id+"/team?notice=role-changed")
	res := bob.get("/w/" + id + "/team")
	expect(t, res, http.StatusOK, `/team/members/`+users["carol@example.com"]+`/remove"`, `/team/invitations"`,
		`<label for="role-`+users["carol@example.com"]+`" class="visually-hidden">Role of carol@example.com</label>`, `/team/leave"`)
	lacks(t, res, "/team/transfer", `/team/members/`+users["ada@example.com"]+`/`)
	expect(t, ada.post("/w/"+id+"/team/members/"+users["bob@example.com"]+"/role", url.Values{"role": {"owner"}}), http.StatusUnprocessableEntity, "use Transfer ownership beside the member")

	// Bob removes Carol, who loses access at once.
	expectRedirect(t, bob.post("/w/"+id+"/team/members/"+users["carol@example.com"]+"/remove", nil), "/w/"+id+"/team?notice=removed")
	expect(t, carol.get("/w/"+id), http.StatusNotFound)
	expect(t, bob.get("/w/"+id+"/team?notice=removed"), http.StatusOK, "Member removed.")
	// A member already gone is a problem on the page, not a crash.
	expect(t, bob.post("/w/"+id+"/team/members/"+users["carol@example.com"]+"/remove", nil), http.StatusNotFound, "Member not found.")

	// Transfer ownership to Bob, after typing his address.
	res = ada.get("/w/" + id + "/team/transfer?userId=" + users["bob@example.com"])
	expect(t, res, http.StatusOK, "Transfer ownership", "Make <strong>Bob (bob@example.com)</strong> the owner of <strong>Acme</strong>?",
		`<input type="hidden" name="userId" value="`+users["bob@example.com"]+`">`, `<label for="confirm">`)
	expect(t, ada.get("/w/"+id+"/team/transfer?userId=user_nope"), http.StatusNotFound)
	res = ada.post("/w/"+id+"/team/transfer", url.Values{"userId": {users["bob@example.com"]}, "confirm": {"transfer"}})
	expect(t, res, http.StatusUnprocessableEntity, "Type bob@example.com exactly to confirm the transfer.", `value="transfer"`, `href="#confirm"`)
	res = ada.post("/w/"+id+"/team/transfer", url.Values{"userId": {users["bob@example.com"]}, "confirm": {" BOB@example.com "}})
	expectRedirect(t, res, "/w/"+id+"/team?notice=transferred")
	res = ada.get("/w/" + id + "/team?notice=transferred")
	expect(t, res, http.StatusOK, "Ownership transferred.", `/team/leave"`)
	lacks(t, res, "/team/transfer")
	if m, err := env.ws.Get(bob.ctx(), id); err != nil || m.Role != authz.Owner {
		t.Fatalf("Bob = %+v, %v", m, err)
	}

	// Bob, the owner, cannot leave; Ada can.
	expect(t, bob.post("/w/"+id+"/team/leave", nil), http.StatusConflict, "The owner cannot leave or be removed")
	expectRedirect(t, ada.post("/w/"+id+"/team/leave", nil), "/workspaces?notice=left")
	expect(t, ada.get("/workspaces?notice=left"), http.StatusOK, "You left the workspace.")
	expect(t, ada.get("/w/"+id+"/team"), http.StatusNotFound)
}

func TestAPIKeysPage(t *testing.T) {
	env := newEnv(t)
	ada := env.browser(t)
	ada.signupAs("Ada", "ada@example.com")
	id := ada.createWorkspace("Acme", "UTC")

	res := ada.get("/w/" + id + "/api-keys")
	expect(t, res, http.StatusOK, "No API keys yet.", `<a href="/w/`+id+`/api-keys" aria-current="page">API keys</a>`,
		`<form method="post" action="/w/`+id+`/api-keys"`, `<legend>Scopes</legend>`, `id="mode-live" name="mode" value="live" checked`, `type="date"`)
	for _, s := range []string{"agents:read", "agents:write", "contacts:read", "contacts:write", "campaigns:read", "campaigns:write",
		"calls:read", "calls:write", "webhooks:read", "webhooks:write", "usage:read"} {
		expect(t, res, http.StatusOK, `<input type="checkbox" id="scope-`+strings.ReplaceAll(s, ":", "-")+`" name="scopes" value="`+s+`">`)
	}

	// Mistakes come back with what was chosen.
	res = ada.post("/w/"+id+"/api-keys", url.Values{"name": {"CRM sync"}, "mode": {"test"}})
	expect(t, res, http.StatusUnprocessableEntity, "Give at least one scope", `href="#scopes"`, `value="CRM sync"`, `id="mode-test" name="mode" value="test" checked`)
	res = ada.post("/w/"+id+"/api-keys", url.Values{"name": {"CRM sync"}, "mode": {"live"}, "scopes": {"calls:write", "root:all"}})
	expect(t, res, http.StatusUnprocessableEntity, `Unknown scope &#34;root:all&#34;`, `value="calls:write" checked`)
	res = ada.post("/w/"+id+"/api-keys", url.Values{"name": {"CRM sync"}, "mode": {"live"}, "scopes": {"calls:write"}, "expiresAt": {"2001-01-01"}})
	expect(t, res, http.StatusUnprocessableEntity, "Choose a date after today.", `href="#expiresAt"`, `value="2001-01-01"`)
	res = ada.post("/w/"+id+"/api-keys", url.Values{"name": {"CRM sync"}, "mode": {"live"}, "scopes": {"calls:write"}, "expiresAt": {"next week"}})
	expect(t, res, http.StatusUnprocessableEntity, "Not a date (YYYY-MM-DD).")

	expiry := time.Now().UTC().AddDate(0, 1, 0).Format(time.DateOnly)
	res = ada.post("/w/"+id+"/api-keys", url.Values{"name": {"CRM <sync>"}, "mode": {"test"}, "scopes": {"calls:write", "agents:read"}, "expiresAt": {expiry}})
	expect(t, res, http.StatusOK, "API key created", "it will not be shown again", `data-copy-target="api-key-secret"`, "CRM &lt;sync&gt;",
		"<li><code>agents:read</code></li><li><code>calls:write</code></li>")
	secret := regexp.MustCompile(`<code id="api-key-secret" class="copy-value" aria-describedby="secret-warning">(parley_test_[0-9A-Za-z]{38})</code>`).FindStringSubmatch(res.body)
	if secret == nil {
		t.Fatalf("no secret on the page:\n%s", res.body)
	}
	noInline(t, res)
	if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q", cc)
	}
	p, err := env.keys.Authenticate(context.Background(), secret[1])
	if err != nil || p.WorkspaceID != id {
		t.Fatalf("the secret shown does not authenticate: %v", err)
	}

	res = ada.get("/w/" + id + "/api-keys")
	expect(t, res, http.StatusOK, "CRM &lt;sync&gt;", "<code>"+secret[1][:16]+"…"+secret[1][len(secret[1])-4:]+"</code>", "<td>Test</td>",
		`<span class="muted">by Ada (ada@example.com)</span>`, `<span class="status status-active">Active</span>`, "/revoke\"")
	lacks(t, res, secret[1], secret[1][16:len(secret[1])-4])

	expectRedirect(t, ada.post("/w/"+id+"/api-keys/"+p.APIKeyID+"/revoke", nil), "/w/"+id+"/api-keys?notice=key-revoked")
	res = ada.get("/w/" + id + "/api-keys?notice=key-revoked")
	expect(t, res, http.StatusOK, "API key revoked.", `<span class="status status-revoked">Revoked</span>`)
	lacks(t, res, "/revoke\"", secret[1])
	if _, err := env.keys.Authenticate(context.Background(), secret[1]); err == nil {
		t.Error("a revoked key still authenticates")
	}
	// Another workspace's key is not found.
	bob := env.browser(t)
	bob.signupAs("Bob", "bob@example.com")
	other := bob.createWorkspace("Other", "UTC")
	expect(t, bob.post("/w/"+other+"/api-keys/"+p.APIKeyID+"/revoke", nil), http.StatusNotFound)
}

func TestAuditPage(t *testing.T) {
	env := newEnv(t)
	ada := env.browser(t)
	ada.signupAs("Ada", "ada@example.com")
	id := ada.createWorkspace("Acme", "UTC")
	ada.invite(id, "bob@example.com", "member")
	expect(t, ada.post("/w/"+id+"/api-keys", url.Values{"name": {"k"}, "mode": {"live"}, "scopes": {"usage:read"}}), http.StatusOK)

	res := ada.get("/w/" + id + "/audit")
	expect(t, res, http.StatusOK, `<a href="/w/`+id+`/audit" aria-current="page">Audit log</a>`,
		`<th scope="row" class="nowrap"><code>workspace.created</code></th>`, `<th scope="row" class="nowrap"><code>invitation.created</code></th>`, `<th scope="row" class="nowrap"><code>api_key.created</code></th>`,
		"<td>Ada (ada@example.com)</td>", "<code>email</code>, <code>role</code>", "<code>127.0.0.1</code>", `<option value="member.removed">`)
	lacks(t, res, "Older entries")
	noInline(t, res)

	res = ada.get("/w/" + id + "/audit?action=api_key.created")
	expect(t, res, http.StatusOK, `<th scope="row" class="nowrap"><code>api_key.created</code></th>`, `value="api_key.created"`, "Show every action")
	lacks(t, res, `<th scope="row" class="nowrap"><code>invitation.created</code></th>`, `<th scope="row" class="nowrap"><code>workspace.created</code></th>`)
	expect(t, ada.get("/w/"+id+"/audit?action=nothing.here"), http.StatusOK, "No entries for this action.")

	// Older entries are a link away, keeping the filter.
	for range auditPerPage + 2 {
		if _, err := env.keys.Create(ada.ctx(), id, apikeyInput()); err != nil {
			t.Fatal(err)
		}
	}
	res = ada.get("/w/" + id + "/audit")
	lacks(t, res, "<code>workspace.created</code></th>")
	older := regexp.MustCompile(`<a href="(/w/[^"]+/audit\?cursor=[^"]+)">Older entries</a>`).FindStringSubmatch(res.body)
	if older == nil {
		t.Fatalf("no link to older entries:\n%s", res.body)
	}
	res = ada.get(strings.ReplaceAll(older[1], "&amp;", "&"))
	expect(t, res, http.StatusOK, `<th scope="row" class="nowrap"><code>workspace.created</code></th>`, "Newest entries")
	res = ada.get("/w/" + id + "/audit?action=api_key.created")
	older = regexp.MustCompile(`<a href="(/w/[^"]+/audit\?[^"]+)">Older entries</a>`).FindStringSubmatch(res.body)
	if older == nil || !strings.Contains(older[1], "action=api_key.created") {
		t.Fatalf("the older link drops the filter: %v", older)
	}
	expectRedirect(t, ada.get("/w/"+id+"/audit?cursor=%21%21"), "/w/"+id+"/audit")
}

func TestInvitationPage(t *testing.T) {
	env := newEnvWith(t, envConfig{signup: identity.SignupInviteOnly})
	// Invite-only: the first account comes from the operator.
	sys := authz.WithPrincipal(context.Background(), authz.System())
	if _, err := env.ids.CreateUser(sys, identity.NewAccount{Email: "ada@example.com", Password: testPassword, Name: "Ada"}); err != nil {
		t.Fatal(err)
	}
	ada := env.browser(t)
	expectRedirect(t, ada.post("/login", url.Values{"email": {"ada@example.com"}, "password": {testPassword}}), "/workspaces")
	id := ada.createWorkspace("Acme <Support>", "UTC")

	t.Run("invalid token", func(t *testing.T) {
		res := env.browser(t).get("/invitations/not-a-real-token")
		expect(t, res, http.StatusGone, "This invitation is no longer valid", "Ask the person who invited you for a new one.")
		if rp := res.Header.Get("Referrer-Policy"); rp != "no-referrer" {
			t.Errorf("Referrer-Policy = %q", rp)
		}
	})

	t.Run("not signed in: sign up from the link", func(t *testing.T) {
		token := ada.invite(id, "bob@example.com", "admin")
		anon := env.browser(t)
		res := anon.get("/invitations/" + token)
		expect(t, res, http.StatusOK, "Join Acme &lt;Support&gt; on Parley", "Ada invited <strong>bob@example.com</strong>", "as an admin",
			`<dd id="invitation-email">bob@example.com</dd>`, `id="login-to-accept"`, `action="/invitations/`+token+`/signup"`, `readonly value="bob@example.com"`)
		lacks(t, res, `id="accept"`)
		noInline(t, res)
		login := regexp.MustCompile(`href="(/login\?next=[^"]+)" id="login-to-accept"`).FindStringSubmatch(res.body)
		if login == nil {
			t.Fatal("no log-in link")
		}
		if u, _ := url.Parse(strings.ReplaceAll(login[1], "&amp;", "&")); u.Query().Get("next") != "/invitations/"+token {
			t.Errorf("log-in link %q does not come back", login[1])
		}
		// Answering without signing in leads to log in and back.
		expectRedirect(t, anon.post("/invitations/"+token+"/accept", nil), "/login?next="+url.QueryEscape("/invitations/"+token))
		// The ordinary sign-up is closed; the invitation's works.
		expect(t, anon.post("/signup", url.Values{"email": {"bob@example.com"}, "password": {testPassword}}), http.StatusForbidden, "by invitation only")
		res = anon.post("/invitations/"+token+"/signup", url.Values{"name": {"Bob"}, "password": {"short"}})
		expect(t, res, http.StatusUnprocessableEntity, "Password must be at least 12 characters.", `value="Bob"`, `href="#password"`)
		res = anon.post("/invitations/"+token+"/signup", url.Values{"name": {"Bob"}, "password": {testPassword}})
		expectRedirect(t, res, "/w/"+id+"?notice=joined")
		expect(t, anon.get("/w/"+id), http.StatusOK, `<dd id="workspace-role">Admin</dd>`, "bob@example.com")
		expect(t, anon.get("/invitations/"+token), http.StatusGone, "This invitation is no longer valid")
	})

	t.Run("signed in with the invited address: accept", func(t *testing.T) {
		token := ada.invite(id, "Carol@Example.com", "member")
		carol := env.browser(t)
		carol.signupFromOtherInvitation(t, ada, "carol@example.com")
		res := carol.get("/invitations/" + token)
		expect(t, res, http.StatusOK, `id="accept"`, `action="/invitations/`+token+`/accept"`, `action="/invitations/`+token+`/decline"`)
		lacks(t, res, "signup")
		expectRedirect(t, carol.post("/invitations/"+token+"/accept", nil), "/w/"+id+"?notice=joined")
		if m, err := env.ws.Get(carol.ctx(), id); err != nil || m.Role != authz.Member {
			t.Fatalf("Carol = %+v, %v", m, err)
		}
	})

	t.Run("signed in with another address", func(t *testing.T) {
		token := ada.invite(id, "dave@example.com", "member")
		res := ada.get("/invitations/" + token)
		expect(t, res, http.StatusOK, "You are signed in as <strong>ada@example.com</strong>, but this invitation was sent to <strong>dave@example.com</strong>",
			`<input type="hidden" name="next" value="/invitations/`+token+`">`)
		lacks(t, res, `id="accept"`, `/signup"`)
		expect(t, ada.post("/invitations/"+token+"/accept", nil), http.StatusForbidden, "sent to another email address")
		// Log out, and on to log in as the right person.
		other := env.browser(t)
		expectRedirect(t, other.post("/login", url.Values{"email": {"ada@example.com"}, "password": {testPassword}}), "/workspaces")
		expectRedirect(t, other.post("/logout", url.Values{"next": {"/invitations/" + token}}), "/login?next="+url.QueryEscape("/invitations/"+token))
		expectRedirect(t, other.post("/logout", url.Values{"next": {"//evil.example"}}), "/login")
	})

	t.Run("decline", func(t *testing.T) {
		token := ada.invite(id, "erin@example.com", "member")
		erin := env.browser(t)
		erin.signupFromOtherInvitation(t, ada, "erin@example.com")
		expectRedirect(t, erin.post("/invitations/"+token+"/decline", nil), "/workspaces?notice=declined")
		expect(t, erin.get("/workspaces?notice=declined"), http.StatusOK, "Invitation declined.")
		expect(t, erin.get("/invitations/"+token), http.StatusGone)
		expect(t, erin.post("/invitations/"+token+"/accept", nil), http.StatusGone, "This invitation is no longer valid")
	})

	t.Run("expired", func(t *testing.T) {
		token := ada.invite(id, "frank@example.com", "member")
		env.clock.Advance(workspace.InvitationTTL + time.Minute)
		expect(t, env.browser(t).get("/invitations/"+token), http.StatusGone, "This invitation is no longer valid")
	})
}

// signupFromOtherInvitation gives b an account for email under invite-only sign-up: owner
// invites email to a scratch workspace, and b signs up from that link.
func (b *browser) signupFromOtherInvitation(t *testing.T, owner *browser, email string) {
	t.Helper()
	scratch := owner.createWorkspace("Scratch "+email, "UTC")
	token := owner.invite(scratch, email, "member")
	res := b.post("/invitations/"+token+"/signup", url.Values{"password": {testPassword}})
	expectRedirect(t, res, "/w/"+scratch+"?notice=joined")
}

func apikeyInput() apikey.CreateInput {
	return apikey.CreateInput{Name: "k", Scopes: []string{"usage:read"}, Mode: apikey.Live}
}

func TestRedactPath(t *testing.T) {
	for in, want := range map[string]string{
		"/invitations/abc":        "/invitations/[token]",
		"/invitations/abc/accept": "/invitations/[token]/accept",
		"/w/ws_1/team":            "/w/ws_1/team",
	} {
		if got := redactPath(in); got != want {
			t.Errorf("redactPath(%q) = %q, want %q", in, got, want)
		}
	}
}
