package app

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/identity"
	"github.com/parleyhq/parley/internal/platform/audit"
	"github.com/parleyhq/parley/internal/platform/authz"
	"github.com/parleyhq/parley/internal/platform/db"
	"github.com/parleyhq/parley/internal/platform/db/dbtest"
)

// email is the signed-in user's address.
func (c *client) email() string {
	c.e.t.Helper()
	return c.must(200, "GET", "/v1/me", nil)["email"].(string)
}

// userID is the signed-in user's ID.
func (c *client) userID() string {
	c.e.t.Helper()
	return c.must(200, "GET", "/v1/me", nil)["id"].(string)
}

// invitationToken reads the token of the newest invitation mailed to the address from the outbox.
func (e *env) invitationToken(to string) string {
	e.t.Helper()
	var body string
	if err := e.srv.DB.Read.QueryRow(`SELECT body FROM mail_outbox WHERE to_addr = $1 ORDER BY id DESC LIMIT 1`, to).Scan(&body); err != nil {
		e.t.Fatalf("no mail to %s: %v", to, err)
	}
	const link = "http://localhost/invitations/"
	i := strings.Index(body, link)
	if i < 0 {
		e.t.Fatalf("no invitation link in %q", body)
	}
	return strings.Fields(body[i+len(link):])[0]
}

// invite has c invite the address into wsID and returns the invitation's ID and token.
func (c *client) invite(wsID, email, role string) (string, string) {
	c.e.t.Helper()
	inv := c.must(201, "POST", "/v1/workspaces/"+wsID+"/invitations", map[string]any{"email": email, "role": role})
	return inv["id"].(string), c.e.invitationToken(email)
}

// join has owner invite u as role and u accept.
func (e *env) join(owner *client, wsID string, u *client, role string) {
	e.t.Helper()
	_, token := owner.invite(wsID, u.email(), role)
	u.must(200, "POST", "/v1/invitations/"+token+"/accept", nil)
}

func wantProblem(t *testing.T, what string, r response, status int, code string) {
	t.Helper()
	if r.Status != status || r.Code(t) != code {
		t.Errorf("%s: %d %s, want %d %s", what, r.Status, r.Body, status, code)
	}
}

func TestInvitationEndToEnd(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		owner := e.signup("owner")
		wsID := owner.workspace("Acme Support")
		grace, eve := e.signup("grace"), e.signup("eve")
		graceEmail := grace.email()

		// Invite (the address in another case) → mail → preview → accept.
		inv := owner.must(201, "POST", "/v1/workspaces/"+wsID+"/invitations", map[string]any{"email": strings.ToUpper(graceEmail[:1]) + graceEmail[1:], "role": "member"})
		if !strings.HasPrefix(inv["id"].(string), "inv_") || inv["status"] != "pending" || inv["role"] != "member" {
			t.Fatalf("invitation %v", inv)
		}
		var to string
		if err := e.srv.DB.Read.QueryRow(`SELECT to_addr FROM mail_outbox ORDER BY id DESC LIMIT 1`).Scan(&to); err != nil || !strings.EqualFold(to, graceEmail) {
			t.Fatalf("mail to %q (%v)", to, err)
		}
		token := e.invitationToken(to)
		list := owner.must(200, "GET", "/v1/workspaces/"+wsID+"/invitations", nil)
		if d := list["data"].([]any); len(d) != 1 || d[0].(map[string]any)["id"] != inv["id"] {
			t.Fatalf("pending list %v", list)
		}
		pv := e.client().must(200, "GET", "/v1/invitations/"+token, nil)
		if pv["workspaceName"] != "Acme Support" || pv["inviterName"] != "owner" || pv["role"] != "member" || pv["expiresAt"] == nil {
			t.Fatalf("preview %v", pv)
		}
		wantProblem(t, "accept as eve", eve.do("POST", "/v1/invitations/"+token+"/accept", nil), 403, "invitation_email_mismatch")
		wantProblem(t, "accept anonymously", e.client().do("POST", "/v1/invitations/"+token+"/accept", nil), 401, "unauthenticated")
		m := grace.must(200, "POST", "/v1/invitations/"+token+"/accept", nil)
		if m["id"] != wsID || m["role"] != "member" {
			t.Fatalf("accepted %v", m)
		}
		if got := grace.must(200, "GET", "/v1/workspaces/"+wsID, nil); got["role"] != "member" {
			t.Fatalf("grace sees %v", got)
		}
		members := grace.must(200, "GET", "/v1/workspaces/"+wsID+"/members", nil)["data"].([]any)
		if len(members) != 2 || members[0].(map[string]any)["email"] != graceEmail || members[0].(map[string]any)["role"] != "member" ||
			members[1].(map[string]any)["role"] != "owner" || members[0].(map[string]any)["joinedAt"] == nil {
			t.Fatalf("members %v", members)
		}
		wantProblem(t, "reuse", grace.do("POST", "/v1/invitations/"+token+"/accept", nil), 410, "invitation_invalid")
		wantProblem(t, "preview used", e.client().do("GET", "/v1/invitations/"+token, nil), 410, "invitation_invalid")
		wantProblem(t, "invite a member", owner.do("POST", "/v1/workspaces/"+wsID+"/invitations", map[string]any{"email": graceEmail, "role": "admin"}), 409, "already_member")
		wantProblem(t, "member invites", grace.do("POST", "/v1/workspaces/"+wsID+"/invitations", map[string]any{"email": "x@example.com", "role": "member"}), 403, "insufficient_role")
		wantProblem(t, "invite an owner", owner.do("POST", "/v1/workspaces/"+wsID+"/invitations", map[string]any{"email": "x@example.com", "role": "owner"}), 422, "validation_failed")

		// A second invitation to a pending address: 409; resend instead, which kills the old link.
		xID, xOld := owner.invite(wsID, "x@example.com", "admin")
		wantProblem(t, "invite twice", owner.do("POST", "/v1/workspaces/"+wsID+"/invitations", map[string]any{"email": "X@example.com", "role": "member"}), 409, "already_invited")
		re := owner.must(200, "POST", "/v1/workspaces/"+wsID+"/invitations/"+xID+"/resend", nil)
		xNew := e.invitationToken("x@example.com")
		if xNew == xOld || re["sendCount"].(float64) != 2 {
			t.Fatalf("resend %v", re)
		}
		wantProblem(t, "old link after resend", e.client().do("GET", "/v1/invitations/"+xOld, nil), 410, "invitation_invalid")
		e.client().must(200, "GET", "/v1/invitations/"+xNew, nil)

		// Revoke.
		owner.must(204, "DELETE", "/v1/workspaces/"+wsID+"/invitations/"+xID, nil)
		wantProblem(t, "revoked link", e.client().do("GET", "/v1/invitations/"+xNew, nil), 410, "invitation_invalid")
		wantProblem(t, "revoke twice", owner.do("DELETE", "/v1/workspaces/"+wsID+"/invitations/"+xID, nil), 409, "invitation_not_pending")

		// Decline.
		_, dt := owner.invite(wsID, eve.email(), "member")
		eve.must(204, "POST", "/v1/invitations/"+dt+"/decline", nil)
		wantProblem(t, "accept after decline", eve.do("POST", "/v1/invitations/"+dt+"/accept", nil), 410, "invitation_invalid")
		wantProblem(t, "declined invitee", eve.do("GET", "/v1/workspaces/"+wsID, nil), 404, "not_found")

		// Expiry: 7 days and a minute later the link is dead.
		_, lt := owner.invite(wsID, "late@example.com", "member")
		e.clock.Advance(7*24*time.Hour + time.Minute)
		wantProblem(t, "expired link", e.client().do("GET", "/v1/invitations/"+lt, nil), 410, "invitation_invalid")
		late := e.client()
		wantProblem(t, "sign up with an expired link", late.do("POST", "/v1/auth/signup", map[string]any{"password": "a sturdy passphrase", "invitationToken": lt}), 410, "invitation_invalid")

		entries, err := audit.List(context.Background(), e.srv.DB.Read, wsID, "", 50)
		if err != nil {
			t.Fatal(err)
		}
		var acts []string
		for _, en := range entries {
			acts = append(acts, en.Action)
			if strings.Contains(en.ResourceID+strings.Join(en.Changes, ""), token) {
				t.Fatal("a token reached the audit log")
			}
		}
		for _, want := range []string{"invitation.created", "invitation.accepted", "invitation.resent", "invitation.revoked", "invitation.declined"} {
			if !strings.Contains(strings.Join(acts, " "), want) {
				t.Errorf("audit lacks %s: %v", want, acts)
			}
		}
	})
}

func TestTeamRolesEndToEnd(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		owner := e.signup("owner")
		wsID := owner.workspace("Team")
		admin, member := e.signup("admin"), e.signup("member")
		e.join(owner, wsID, admin, "admin")
		e.join(admin, wsID, member, "member") // an admin invites too
		ownerID, adminID, memberID := owner.userID(), admin.userID(), member.userID()
		base := "/v1/workspaces/" + wsID

		// The owner is out of an admin's reach; nobody grants owner; the owner cannot leave.
		wantProblem(t, "admin demotes owner", admin.do("PATCH", base+"/members/"+ownerID, map[string]any{"role": "member"}), 403, "owner_protected")
		wantProblem(t, "admin removes owner", admin.do("DELETE", base+"/members/"+ownerID, nil), 403, "owner_protected")
		wantProblem(t, "admin grants owner", admin.do("PATCH", base+"/members/"+memberID, map[string]any{"role": "owner"}), 422, "ownership_transfer_required")
		wantProblem(t, "owner grants owner", owner.do("PATCH", base+"/members/"+memberID, map[string]any{"role": "owner"}), 422, "ownership_transfer_required")
		wantProblem(t, "owner leaves", owner.do("POST", base+"/leave", nil), 409, "owner_cannot_leave")
		wantProblem(t, "owner removes self", owner.do("DELETE", base+"/members/"+ownerID, nil), 409, "owner_cannot_leave")
		wantProblem(t, "member changes a role", member.do("PATCH", base+"/members/"+adminID, map[string]any{"role": "member"}), 403, "insufficient_role")
		wantProblem(t, "member removes", member.do("DELETE", base+"/members/"+adminID, nil), 403, "insufficient_role")
		wantProblem(t, "member lists invitations", member.do("GET", base+"/invitations", nil), 403, "insufficient_role")
		wantProblem(t, "bad role", owner.do("PATCH", base+"/members/"+memberID, map[string]any{"role": "boss"}), 422, "validation_failed")
		wantProblem(t, "unknown member", owner.do("PATCH", base+"/members/user_01jq3v5x8kf9r1t6m2c4d7e8gh", map[string]any{"role": "admin"}), 404, "not_found")

		// An admin promotes and demotes a member.
		if m := admin.must(200, "PATCH", base+"/members/"+memberID, map[string]any{"role": "admin"}); m["role"] != "admin" || m["userId"] != memberID {
			t.Fatalf("promoted %v", m)
		}
		if got := member.must(200, "GET", base, nil); got["role"] != "admin" {
			t.Fatalf("member sees %v", got)
		}
		admin.must(200, "PATCH", base+"/members/"+memberID, map[string]any{"role": "member"})

		// Removal takes effect on the member's next request (the session stays).
		member.must(200, "GET", base+"/members", nil)
		admin.must(204, "DELETE", base+"/members/"+memberID, nil)
		wantProblem(t, "removed member", member.do("GET", base, nil), 404, "not_found")
		wantProblem(t, "removed member lists", member.do("GET", base+"/members", nil), 404, "not_found")
		member.must(200, "GET", "/v1/me", nil)

		// An admin leaves.
		admin.must(204, "POST", base+"/leave", nil)
		wantProblem(t, "after leaving", admin.do("GET", base, nil), 404, "not_found")
		if d := owner.must(200, "GET", base+"/members", nil)["data"].([]any); len(d) != 1 {
			t.Fatalf("members left %v", d)
		}

		var events []string
		rows, err := e.srv.DB.Read.Query(`SELECT type FROM events WHERE workspace_id = $1 ORDER BY id`, wsID)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var s string
			_ = rows.Scan(&s)
			events = append(events, s)
		}
		rows.Close()
		if got := strings.Join(events, " "); got != "workspace.created member.invited member.joined member.invited member.joined member.role_changed member.role_changed member.removed member.removed" {
			t.Fatalf("events %s", got)
		}
	})
}

func TestOwnershipTransferEndToEnd(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		owner := e.signup("owner")
		wsID := owner.workspace("Team")
		admin, member, stranger := e.signup("admin"), e.signup("member"), e.signup("stranger")
		e.join(owner, wsID, admin, "admin")
		e.join(owner, wsID, member, "member")
		base := "/v1/workspaces/" + wsID
		ownerID, adminID, memberID := owner.userID(), admin.userID(), member.userID()

		wantProblem(t, "admin transfers", admin.do("POST", base+"/transfer-ownership", map[string]any{"userId": adminID}), 403, "insufficient_role")
		wantProblem(t, "member transfers", member.do("POST", base+"/transfer-ownership", map[string]any{"userId": memberID}), 403, "insufficient_role")
		wantProblem(t, "to a non-member", owner.do("POST", base+"/transfer-ownership", map[string]any{"userId": stranger.userID()}), 422, "validation_failed")
		wantProblem(t, "to oneself", owner.do("POST", base+"/transfer-ownership", map[string]any{"userId": ownerID}), 422, "validation_failed")

		tr := owner.must(200, "POST", base+"/transfer-ownership", map[string]any{"userId": memberID})
		if tr["owner"].(map[string]any)["userId"] != memberID || tr["previousOwner"].(map[string]any)["role"] != "admin" {
			t.Fatalf("transfer %v", tr)
		}
		if got := owner.must(200, "GET", base, nil); got["role"] != "admin" {
			t.Fatalf("old owner is %v", got["role"])
		}
		if got := member.must(200, "GET", base, nil); got["role"] != "owner" {
			t.Fatalf("new owner is %v", got["role"])
		}
		owners := 0
		for _, m := range owner.must(200, "GET", base+"/members", nil)["data"].([]any) {
			if m.(map[string]any)["role"] == "owner" {
				owners++
			}
		}
		if owners != 1 {
			t.Fatalf("%d owners", owners)
		}
		wantProblem(t, "old owner transfers", owner.do("POST", base+"/transfer-ownership", map[string]any{"userId": adminID}), 403, "insufficient_role")
		owner.must(204, "POST", base+"/leave", nil)
		entries, _ := audit.List(context.Background(), e.srv.DB.Read, wsID, "", 10)
		found := false
		for _, en := range entries {
			found = found || en.Action == "workspace.ownership_transferred"
		}
		if !found {
			t.Fatal("no workspace.ownership_transferred audit entry")
		}
	})
}

func TestSignupFromInvitationWhenInviteOnly(t *testing.T) {
	dbtest.EachConfig(t, func(t *testing.T, dbc db.Config) {
		cfg := testConfig(dbc)
		cfg.Signup = "invite-only"
		e := newEnv(t, cfg)
		// The first account comes from the operator.
		if _, err := e.srv.Identity.CreateUser(context.Background(), identity.NewAccount{Email: "boss@example.com", Password: "a sturdy passphrase", Name: "Boss"}); err != nil {
			t.Fatal(err)
		}
		owner := e.client()
		owner.must(200, "POST", "/v1/auth/login", map[string]any{"email": "boss@example.com", "password": "a sturdy passphrase"})
		wsID := owner.workspace("Closed Shop")
		_, token := owner.invite(wsID, "New.Hire@example.com", "admin")

		anon := e.client()
		wantProblem(t, "plain sign-up", anon.do("POST", "/v1/auth/signup", map[string]any{"email": "new.hire@example.com", "password": "a sturdy passphrase"}), 403, "signup_closed")
		wantProblem(t, "another address", anon.do("POST", "/v1/auth/signup", map[string]any{"email": "someone@example.com", "password": "a sturdy passphrase", "invitationToken": token}), 403, "invitation_email_mismatch")
		wantProblem(t, "a made-up token", anon.do("POST", "/v1/auth/signup", map[string]any{"password": "a sturdy passphrase", "invitationToken": "nope"}), 410, "invitation_invalid")
		wantProblem(t, "a weak password", anon.do("POST", "/v1/auth/signup", map[string]any{"password": "short", "invitationToken": token}), 422, "validation_failed")

		nh := e.client()
		r := nh.must(201, "POST", "/v1/auth/signup", map[string]any{"password": "a sturdy passphrase", "name": "New Hire", "invitationToken": token})
		if u := r["user"].(map[string]any); u["email"] != "New.Hire@example.com" {
			t.Fatalf("user %v", u)
		}
		if got := nh.must(200, "GET", "/v1/workspaces/"+wsID, nil); got["role"] != "admin" {
			t.Fatalf("new hire sees %v", got)
		}
		wantProblem(t, "token reused for sign-up", e.client().do("POST", "/v1/auth/signup", map[string]any{"password": "a sturdy passphrase", "invitationToken": token}), 410, "invitation_invalid")
		wantProblem(t, "token reused to accept", nh.do("POST", "/v1/invitations/"+token+"/accept", nil), 410, "invitation_invalid")

		// Someone with an account already: sign-up says so, accepting works.
		_, t2 := owner.invite(wsID, "boss2@example.com", "member")
		if _, err := e.srv.Identity.CreateUser(context.Background(), identity.NewAccount{Email: "boss2@example.com", Password: "a sturdy passphrase"}); err != nil {
			t.Fatal(err)
		}
		wantProblem(t, "sign-up with a taken address", e.client().do("POST", "/v1/auth/signup", map[string]any{"password": "a sturdy passphrase", "invitationToken": t2}), 409, "email_taken")
		e.client().must(200, "GET", "/v1/invitations/"+t2, nil) // still usable
	})
}

func TestInvitationRateLimitEndToEnd(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		owner := e.signup("owner")
		wsID := owner.workspace("Busy")
		for i := range 20 {
			owner.must(201, "POST", "/v1/workspaces/"+wsID+"/invitations", map[string]any{"email": "p" + string(rune('a'+i)) + "@example.com", "role": "member"})
		}
		r := owner.do("POST", "/v1/workspaces/"+wsID+"/invitations", map[string]any{"email": "one-too-many@example.com", "role": "member"})
		wantProblem(t, "21st invitation", r, 429, "too_many_invitations")
		if ra := r.Header.Get("Retry-After"); ra != "180" {
			t.Fatalf("Retry-After %q, want 180", ra)
		}
		// Another workspace is not affected.
		other := owner.workspace("Calm")
		owner.must(201, "POST", "/v1/workspaces/"+other+"/invitations", map[string]any{"email": "one-too-many@example.com", "role": "member"})
		e.clock.Advance(3 * time.Minute)
		owner.must(201, "POST", "/v1/workspaces/"+wsID+"/invitations", map[string]any{"email": "one-too-many@example.com", "role": "member"})
	})
}

// TestTeamRoutesAcrossWorkspaces: a user of workspace B gets 404 on every team route of
// workspace A, exactly as for a workspace that does not exist, and nothing changes.
func TestTeamRoutesAcrossWorkspaces(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		alice, bob := e.signup("alice"), e.signup("bob")
		aws := alice.workspace("Alice Co")
		bws := bob.workspace("Bob Co")
		carol := e.signup("carol")
		e.join(alice, aws, carol, "member")
		carolID, aliceID := carol.userID(), alice.userID()
		invID, token := alice.invite(aws, "dave@example.com", "member")
		bInv, _ := bob.invite(bws, "erin@example.com", "member")

		for _, target := range []string{aws, "ws_01jq3v5x8kf9r1t6m2c4d7e8gh"} {
			base := "/v1/workspaces/" + target
			for _, req := range []struct {
				method, path string
				body         any
			}{
				{"GET", base + "/members", nil},
				{"PATCH", base + "/members/" + carolID, map[string]any{"role": "admin"}},
				{"DELETE", base + "/members/" + carolID, nil},
				{"POST", base + "/leave", nil},
				{"GET", base + "/invitations", nil},
				{"POST", base + "/invitations", map[string]any{"email": "mallory@example.com", "role": "admin"}},
				{"POST", base + "/invitations/" + invID + "/resend", nil},
				{"DELETE", base + "/invitations/" + invID, nil},
				{"POST", base + "/transfer-ownership", map[string]any{"userId": aliceID}},
			} {
				wantProblem(t, "bob "+req.method+" "+req.path, bob.do(req.method, req.path, req.body), 404, "not_found")
			}
		}
		// Bob's own workspace does not reach into Alice's: her invitation, her member.
		wantProblem(t, "resend A's invitation via B", bob.do("POST", "/v1/workspaces/"+bws+"/invitations/"+invID+"/resend", nil), 404, "not_found")
		wantProblem(t, "revoke A's invitation via B", bob.do("DELETE", "/v1/workspaces/"+bws+"/invitations/"+invID, nil), 404, "not_found")
		wantProblem(t, "remove A's member via B", bob.do("DELETE", "/v1/workspaces/"+bws+"/members/"+carolID, nil), 404, "not_found")
		wantProblem(t, "promote A's member via B", bob.do("PATCH", "/v1/workspaces/"+bws+"/members/"+carolID, map[string]any{"role": "admin"}), 404, "not_found")
		wantProblem(t, "transfer B to A's member", bob.do("POST", "/v1/workspaces/"+bws+"/transfer-ownership", map[string]any{"userId": carolID}), 422, "validation_failed")
		wantProblem(t, "revoke B's invitation via A", alice.do("DELETE", "/v1/workspaces/"+aws+"/invitations/"+bInv, nil), 404, "not_found")

		// Nothing changed in A.
		if d := alice.must(200, "GET", "/v1/workspaces/"+aws+"/members", nil)["data"].([]any); len(d) != 2 {
			t.Fatalf("A's members %v", d)
		}
		if got := carol.must(200, "GET", "/v1/workspaces/"+aws, nil); got["role"] != "member" {
			t.Fatalf("carol is %v", got["role"])
		}
		if d := alice.must(200, "GET", "/v1/workspaces/"+aws+"/invitations", nil)["data"].([]any); len(d) != 1 {
			t.Fatalf("A's invitations %v", d)
		}
		e.client().must(200, "GET", "/v1/invitations/"+token, nil)
		if got := alice.must(200, "GET", "/v1/workspaces/"+aws, nil); got["role"] != "owner" {
			t.Fatalf("alice is %v", got["role"])
		}
	})
}

// TestTeamRoutesRefuseAPIKeys: no API key, whatever its scopes, manages the team (the permission
// matrix gives these actions no scope), and accepting an invitation needs a person.
func TestTeamRoutesRefuseAPIKeys(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		owner := e.signup("owner")
		wsID := owner.workspace("Keyed")
		member := e.signup("member")
		e.join(owner, wsID, member, "member")
		memberID, ownerID := member.userID(), owner.userID()
		invID, token := owner.invite(wsID, "later@example.com", "member")
		all := []string{"agents:read", "agents:write", "contacts:read", "contacts:write", "campaigns:read", "campaigns:write",
			"calls:read", "calls:write", "webhooks:read", "webhooks:write", "usage:read"}
		key := owner.must(201, "POST", "/v1/workspaces/"+wsID+"/api-keys", map[string]any{"name": "everything", "scopes": all, "mode": "live"})
		kc := e.client()
		kc.hdr.Set("Authorization", "Bearer "+key["secret"].(string))
		base := "/v1/workspaces/" + wsID
		for _, req := range []struct {
			method, path string
			body         any
		}{
			{"GET", base + "/members", nil},
			{"PATCH", base + "/members/" + memberID, map[string]any{"role": "admin"}},
			{"DELETE", base + "/members/" + memberID, nil},
			{"POST", base + "/leave", nil},
			{"GET", base + "/invitations", nil},
			{"POST", base + "/invitations", map[string]any{"email": "mallory@example.com", "role": "admin"}},
			{"POST", base + "/invitations/" + invID + "/resend", nil},
			{"DELETE", base + "/invitations/" + invID, nil},
			{"POST", base + "/transfer-ownership", map[string]any{"userId": memberID}},
		} {
			wantProblem(t, "key "+req.method+" "+req.path, kc.do(req.method, req.path, req.body), 403, "insufficient_scope")
		}
		wantProblem(t, "key accepts", kc.do("POST", "/v1/invitations/"+token+"/accept", nil), 401, "unauthenticated")
		wantProblem(t, "key declines", kc.do("POST", "/v1/invitations/"+token+"/decline", nil), 401, "unauthenticated")
		if got := owner.must(200, "GET", base, nil); got["role"] != "owner" || ownerID == "" {
			t.Fatalf("owner is %v", got["role"])
		}
		if d := owner.must(200, "GET", base+"/members", nil)["data"].([]any); len(d) != 2 {
			t.Fatalf("members %v", d)
		}
	})
}

// TestPermissionMatrixDocumented: docs/team-and-access.md shows every row of the permission
// matrix exactly as authz.Matrix has it.
func TestPermissionMatrixDocumented(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "team-and-access.md"))
	if err != nil {
		t.Fatal(err)
	}
	yes := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	rows := 0
	for _, line := range strings.Split(string(doc), "\n") {
		if strings.HasPrefix(line, "| `") && strings.Count(line, "|") == 7 {
			rows++
		}
	}
	for action, r := range authz.Matrix {
		scope := "—"
		switch r.Scope {
		case "":
		case authz.AnyScope:
			scope = "any key"
		default:
			scope = "`" + r.Scope + "`"
		}
		want := "| `" + string(action) + "` | " + r.Description + " | " + yes(r.Owner) + " | " + yes(r.Admin) + " | " + yes(r.Member) + " | " + scope + " |"
		if !strings.Contains(string(doc), want+"\n") {
			t.Errorf("docs/team-and-access.md lacks the row\n%s", want)
		}
	}
	if rows != len(authz.Matrix) {
		t.Errorf("the documented matrix has %d rows, authz.Matrix %d", rows, len(authz.Matrix))
	}
}
