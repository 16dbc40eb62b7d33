package workspace_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/authz"
	"github.com/parleyhq/parley/internal/platform/db"
	"github.com/parleyhq/parley/internal/platform/db/dbtest"
	"github.com/parleyhq/parley/internal/workspace"
)

func TestInvitationAcceptFlow(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		owner := f.user("owner@example.com")
		ws := owner.workspace("Acme Support")
		grace, eve := f.user("Grace@Example.com"), f.user("eve@example.com")

		inv, err := f.svc.Invite(owner.ctx(), ws, workspace.InviteInput{Email: " grace@example.com ", Role: authz.Member})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(inv.ID, "inv_") || inv.Email != "grace@example.com" || inv.Status != "pending" || inv.InvitedBy != owner.id ||
			!inv.ExpiresAt.Equal(f.clock.Now().Add(7*24*time.Hour)) {
			t.Fatalf("invitation %+v", inv)
		}
		// The mail carries the link; the store keeps only the token's hash.
		var subject, body string
		if err := d.Read.QueryRow(`SELECT subject, body FROM mail_outbox WHERE to_addr = 'grace@example.com'`).Scan(&subject, &body); err != nil {
			t.Fatal(err)
		}
		token := f.lastToken("grace@example.com")
		if len(token) != 43 || !strings.Contains(subject, "Acme Support") || !strings.Contains(body, "https://parley.example/invitations/"+token) {
			t.Fatalf("mail %q / %q", subject, body)
		}
		var stored string
		if err := d.Read.QueryRow(`SELECT token_hash FROM invitations WHERE id = $1`, inv.ID).Scan(&stored); err != nil || stored == token || len(stored) != 64 {
			t.Fatalf("stored token %q (%v)", stored, err)
		}

		list, err := f.svc.ListInvitations(owner.ctx(), ws, "", 0)
		if err != nil || len(list.Data) != 1 || list.Data[0].ID != inv.ID {
			t.Fatalf("pending %+v %v", list, err)
		}
		pv, err := f.svc.PreviewInvitation(context.Background(), token)
		if err != nil || pv.WorkspaceName != "Acme Support" || pv.InviterName != "owner" || pv.Email != "grace@example.com" || pv.Role != authz.Member {
			t.Fatalf("preview %+v %v", pv, err)
		}

		// Another signed-in person cannot take it, nor decline it.
		_, err = f.svc.AcceptInvitation(eve.ctx(), token)
		wantErr(t, "accept as eve", err, apierr.Forbidden, "invitation_email_mismatch")
		wantErr(t, "decline as eve", f.svc.DeclineInvitation(eve.ctx(), token), apierr.Forbidden, "invitation_email_mismatch")
		_, err = f.svc.AcceptInvitation(context.Background(), token)
		wantErr(t, "accept anonymously", err, apierr.Unauthenticated, "unauthenticated")

		// Grace (whose account spells the address in another case) accepts.
		m, err := f.svc.AcceptInvitation(grace.ctx(), token)
		if err != nil || m.ID != ws || m.Role != authz.Member {
			t.Fatalf("accept: %+v %v", m, err)
		}
		if got, err := f.svc.Get(grace.ctx(), ws); err != nil || got.Role != authz.Member {
			t.Fatalf("grace sees %+v %v", got, err)
		}
		// Single use.
		_, err = f.svc.AcceptInvitation(grace.ctx(), token)
		wantErr(t, "reuse", err, apierr.Gone, "invitation_invalid")
		_, err = f.svc.PreviewInvitation(context.Background(), token)
		wantErr(t, "preview after use", err, apierr.Gone, "invitation_invalid")
		_, err = f.svc.PreviewInvitation(context.Background(), "not-a-token")
		wantErr(t, "unknown token", err, apierr.Gone, "invitation_invalid")
		if list, _ := f.svc.ListInvitations(owner.ctx(), ws, "", 0); len(list.Data) != 0 {
			t.Fatalf("accepted invitation still pending: %+v", list.Data)
		}

		// Inviting a member again: 409.
		_, err = f.svc.Invite(owner.ctx(), ws, workspace.InviteInput{Email: "GRACE@example.com", Role: authz.Admin})
		wantErr(t, "invite a member", err, apierr.Conflict, "already_member")

		if got := strings.Join(f.actions(ws), " "); got != "workspace.created invitation.created invitation.accepted" {
			t.Fatalf("audit %q", got)
		}
		if got := strings.Join(f.eventTypes(ws), " "); got != "workspace.created member.invited member.joined" {
			t.Fatalf("events %q", got)
		}
		var payload string
		if err := d.Read.QueryRow(`SELECT payload FROM events WHERE workspace_id = $1 AND type = 'member.invited'`, ws).Scan(&payload); err != nil || strings.Contains(payload, token) {
			t.Fatalf("event payload %q (%v)", payload, err)
		}
	})
}

func TestInvitationRules(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		owner, admin, member := f.user("owner@example.com"), f.user("admin@example.com"), f.user("member@example.com")
		ws := owner.workspace("Acme")
		f.join(owner, ws, admin, authz.Admin)
		f.join(owner, ws, member, authz.Member)

		// Who may invite whom.
		_, err := f.svc.Invite(member.ctx(), ws, workspace.InviteInput{Email: "x@example.com", Role: authz.Member})
		wantErr(t, "member invites", err, apierr.Forbidden, "insufficient_role")
		_, err = f.svc.Invite(admin.ctx(), ws, workspace.InviteInput{Email: "x@example.com", Role: authz.Owner})
		wantErr(t, "invite an owner", err, apierr.Invalid, "validation_failed")
		_, err = f.svc.Invite(admin.ctx(), ws, workspace.InviteInput{Email: "not an address", Role: authz.Member})
		wantErr(t, "bad address", err, apierr.Invalid, "validation_failed")
		inv, err := f.svc.Invite(admin.ctx(), ws, workspace.InviteInput{Email: "x@example.com", Role: authz.Admin})
		if err != nil {
			t.Fatalf("admin invites an admin: %v", err)
		}
		_, err = f.svc.Invite(owner.ctx(), ws, workspace.InviteInput{Email: "X@example.com", Role: authz.Member})
		wantErr(t, "second pending invitation", err, apierr.Conflict, "already_invited")

		// Resend: a new link; the old one is dead.
		old := f.lastToken("x@example.com")
		f.clock.Advance(24 * time.Hour)
		re, err := f.svc.ResendInvitation(owner.ctx(), ws, inv.ID)
		if err != nil || re.SendCount != 2 || !re.ExpiresAt.Equal(f.clock.Now().Add(7*24*time.Hour)) {
			t.Fatalf("resend %+v %v", re, err)
		}
		fresh := f.lastToken("x@example.com")
		if fresh == old {
			t.Fatal("resend kept the token")
		}
		_, err = f.svc.PreviewInvitation(context.Background(), old)
		wantErr(t, "old token after resend", err, apierr.Gone, "invitation_invalid")
		if _, err := f.svc.PreviewInvitation(context.Background(), fresh); err != nil {
			t.Fatalf("fresh token: %v", err)
		}

		// Revoke: the link dies; revoking again is a conflict.
		if err := f.svc.RevokeInvitation(admin.ctx(), ws, inv.ID); err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.PreviewInvitation(context.Background(), fresh)
		wantErr(t, "revoked", err, apierr.Gone, "invitation_invalid")
		wantErr(t, "revoke twice", f.svc.RevokeInvitation(admin.ctx(), ws, inv.ID), apierr.Conflict, "invitation_not_pending")
		_, err = f.svc.ResendInvitation(admin.ctx(), ws, inv.ID)
		wantErr(t, "resend revoked", err, apierr.Conflict, "invitation_not_pending")

		// Decline.
		y := f.user("y@example.com")
		if _, err := f.svc.Invite(owner.ctx(), ws, workspace.InviteInput{Email: y.email, Role: authz.Member}); err != nil {
			t.Fatal(err)
		}
		yt := f.lastToken(y.email)
		if err := f.svc.DeclineInvitation(y.ctx(), yt); err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.AcceptInvitation(y.ctx(), yt)
		wantErr(t, "accept after decline", err, apierr.Gone, "invitation_invalid")
		if _, err := f.svc.Get(y.ctx(), ws); !errors.Is(err, apierr.NotFound) {
			t.Fatalf("declined invitee sees the workspace: %v", err)
		}

		// Expiry: 7 days and a minute later, the link is dead and the invitation leaves the list;
		// a new invitation to the same address replaces it.
		z := f.user("z@example.com")
		zi, err := f.svc.Invite(owner.ctx(), ws, workspace.InviteInput{Email: z.email, Role: authz.Member})
		if err != nil {
			t.Fatal(err)
		}
		zt := f.lastToken(z.email)
		f.clock.Advance(7*24*time.Hour + time.Minute)
		_, err = f.svc.AcceptInvitation(z.ctx(), zt)
		wantErr(t, "expired", err, apierr.Gone, "invitation_invalid")
		if list, _ := f.svc.ListInvitations(owner.ctx(), ws, "", 0); len(list.Data) != 0 {
			t.Fatalf("expired invitation listed: %+v", list.Data)
		}
		zi2, err := f.svc.Invite(owner.ctx(), ws, workspace.InviteInput{Email: z.email, Role: authz.Admin})
		if err != nil || zi2.ID == zi.ID {
			t.Fatalf("re-invite after expiry: %+v %v", zi2, err)
		}
		if m, err := f.svc.AcceptInvitation(z.ctx(), f.lastToken(z.email)); err != nil || m.Role != authz.Admin {
			t.Fatalf("accept the new invitation: %+v %v", m, err)
		}

		// Another workspace's invitation is not found through this one.
		other := f.user("other@example.com")
		ows := other.workspace("Other")
		oi, err := f.svc.Invite(other.ctx(), ows, workspace.InviteInput{Email: "w@example.com", Role: authz.Member})
		if err != nil {
			t.Fatal(err)
		}
		wantErr(t, "revoke across workspaces", f.svc.RevokeInvitation(owner.ctx(), ws, oi.ID), apierr.NotFound, "not_found")
		_, err = f.svc.ResendInvitation(owner.ctx(), ws, oi.ID)
		wantErr(t, "resend across workspaces", err, apierr.NotFound, "not_found")
		wantErr(t, "revoke in a workspace not one's own", f.svc.RevokeInvitation(owner.ctx(), ows, oi.ID), apierr.NotFound, "not_found")

		acts := strings.Join(f.actions(ws), " ")
		for _, want := range []string{"invitation.resent", "invitation.revoked", "invitation.declined"} {
			if !strings.Contains(acts, want) {
				t.Errorf("audit lacks %s: %s", want, acts)
			}
		}
	})
}

func TestInvitationRateLimit(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d, workspace.WithInvitationLimit(3, time.Hour))
		owner := f.user("owner@example.com")
		ws := owner.workspace("Acme")
		invite := func(email string) error {
			_, err := f.svc.Invite(owner.ctx(), ws, workspace.InviteInput{Email: email, Role: authz.Member})
			return err
		}
		for _, e := range []string{"a@example.com", "b@example.com"} {
			if err := invite(e); err != nil {
				t.Fatal(err)
			}
		}
		// A refused invitation sends nothing and costs nothing.
		wantErr(t, "duplicate", invite("a@example.com"), apierr.Conflict, "already_invited")
		if err := invite("c@example.com"); err != nil {
			t.Fatal(err)
		}
		err := invite("d@example.com")
		wantErr(t, "fourth", err, apierr.RateLimited, "too_many_invitations")
		var e *apierr.Error
		if errors.As(err, &e); e.RetryAfter < 19*time.Minute || e.RetryAfter > 21*time.Minute {
			t.Fatalf("retry after %v, want about 20 min", e.RetryAfter)
		}
		// Resending is sending.
		list, _ := f.svc.ListInvitations(owner.ctx(), ws, "", 0)
		_, err = f.svc.ResendInvitation(owner.ctx(), ws, list.Data[0].ID)
		wantErr(t, "resend over the limit", err, apierr.RateLimited, "too_many_invitations")
		// Another workspace has its own budget.
		ows := owner.workspace("Other")
		if _, err := f.svc.Invite(owner.ctx(), ows, workspace.InviteInput{Email: "d@example.com", Role: authz.Member}); err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(20 * time.Minute)
		if err := invite("d@example.com"); err != nil {
			t.Fatalf("after the wait: %v", err)
		}
		var n int
		_ = d.Read.QueryRow(`SELECT COUNT(*) FROM mail_outbox`).Scan(&n)
		if n != 5 {
			t.Fatalf("%d mails, want 5", n)
		}
	})
}

func TestTransferOwnership(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		owner, admin, member, stranger := f.user("owner@example.com"), f.user("admin@example.com"), f.user("member@example.com"), f.user("s@example.com")
		ws := owner.workspace("Acme")
		f.join(owner, ws, admin, authz.Admin)
		f.join(owner, ws, member, authz.Member)
		stranger.workspace("Stranger's")

		_, err := f.svc.TransferOwnership(admin.ctx(), ws, admin.id)
		wantErr(t, "admin transfers", err, apierr.Forbidden, "insufficient_role")
		_, err = f.svc.TransferOwnership(member.ctx(), ws, member.id)
		wantErr(t, "member transfers", err, apierr.Forbidden, "insufficient_role")
		_, err = f.svc.TransferOwnership(owner.ctx(), ws, stranger.id)
		wantErr(t, "to a non-member", err, apierr.Invalid, "validation_failed")
		_, err = f.svc.TransferOwnership(owner.ctx(), ws, owner.id)
		wantErr(t, "to oneself", err, apierr.Invalid, "validation_failed")
		_, err = f.svc.TransferOwnership(stranger.ctx(), ws, stranger.id)
		wantErr(t, "a stranger", err, apierr.NotFound, "not_found")

		tr, err := f.svc.TransferOwnership(owner.ctx(), ws, member.id)
		if err != nil || tr.Owner.UserID != member.id || tr.Owner.Role != authz.Owner || tr.PreviousOwner.UserID != owner.id || tr.PreviousOwner.Role != authz.Admin {
			t.Fatalf("transfer %+v %v", tr, err)
		}
		if n := f.owners(ws); n != 1 {
			t.Fatalf("%d owners", n)
		}
		if m, _ := f.svc.Get(owner.ctx(), ws); m.Role != authz.Admin {
			t.Fatalf("old owner is %s", m.Role)
		}
		// The old owner may now leave; the new one may not.
		wantErr(t, "new owner leaves", f.svc.Leave(member.ctx(), ws), apierr.Conflict, "owner_cannot_leave")
		_, err = f.svc.TransferOwnership(owner.ctx(), ws, admin.id)
		wantErr(t, "old owner transfers again", err, apierr.Forbidden, "insufficient_role")
		if err := f.svc.Leave(owner.ctx(), ws); err != nil {
			t.Fatal(err)
		}
		if got := f.actions(ws); !strings.Contains(strings.Join(got, " "), "workspace.ownership_transferred member.left") {
			t.Fatalf("audit %v", got)
		}
	})
}
