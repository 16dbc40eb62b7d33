package workspace_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/authz"
	"github.com/parleyhq/parley/internal/platform/db"
	"github.com/parleyhq/parley/internal/platform/db/dbtest"
)

func TestMembersListAndPages(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		owner, admin, member := f.user("owner@example.com"), f.user("admin@example.com"), f.user("member@example.com")
		ws := owner.workspace("Acme")
		f.join(owner, ws, admin, authz.Admin)
		f.clock.Advance(time.Second)
		f.join(owner, ws, member, authz.Member)

		p, err := f.svc.ListMembers(member.ctx(), ws, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range p.Data {
			got = append(got, m.Email+":"+string(m.Role))
		}
		want := []string{"member@example.com:member", "admin@example.com:admin", "owner@example.com:owner"}
		if !slices.Equal(got, want) || p.NextCursor != "" {
			t.Fatalf("members %v (next %q), want %v", got, p.NextCursor, want)
		}
		// Pages of one: the same three, in the same order.
		var paged []string
		cursor := ""
		for range 4 {
			p, err := f.svc.ListMembers(owner.ctx(), ws, cursor, 1)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range p.Data {
				paged = append(paged, m.Email+":"+string(m.Role))
			}
			if cursor = p.NextCursor; cursor == "" {
				break
			}
		}
		if !slices.Equal(paged, want) {
			t.Fatalf("paged %v, want %v", paged, want)
		}
		if _, err := f.svc.ListMembers(owner.ctx(), ws, "bm9wZQ", 0); !errors.Is(err, apierr.Invalid) {
			t.Fatalf("bad cursor: %v", err)
		}
		// Someone else sees nothing.
		stranger := f.user("stranger@example.com")
		stranger.workspace("Elsewhere")
		if _, err := f.svc.ListMembers(stranger.ctx(), ws, "", 0); !errors.Is(err, apierr.NotFound) {
			t.Fatalf("stranger: %v", err)
		}
	})
}

func TestMemberRoleAndRemovalRules(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		owner, admin, member, other := f.user("owner@example.com"), f.user("admin@example.com"), f.user("member@example.com"), f.user("other@example.com")
		ws := owner.workspace("Acme")
		f.join(owner, ws, admin, authz.Admin)
		f.join(admin, ws, member, authz.Member)
		f.join(admin, ws, other, authz.Member)

		// Members may not manage the team.
		_, err := f.svc.ChangeRole(member.ctx(), ws, other.id, authz.Admin)
		wantErr(t, "member changes a role", err, apierr.Forbidden, "insufficient_role")
		wantErr(t, "member removes", f.svc.RemoveMember(member.ctx(), ws, other.id), apierr.Forbidden, "insufficient_role")

		// Nobody grants owner; the owner is out of an admin's reach; the owner's own role moves only by transfer.
		_, err = f.svc.ChangeRole(owner.ctx(), ws, member.id, authz.Owner)
		wantErr(t, "owner grants owner", err, apierr.Invalid, "ownership_transfer_required")
		_, err = f.svc.ChangeRole(admin.ctx(), ws, member.id, authz.Owner)
		wantErr(t, "admin grants owner", err, apierr.Invalid, "ownership_transfer_required")
		_, err = f.svc.ChangeRole(admin.ctx(), ws, owner.id, authz.Member)
		wantErr(t, "admin demotes the owner", err, apierr.Forbidden, "owner_protected")
		_, err = f.svc.ChangeRole(owner.ctx(), ws, owner.id, authz.Admin)
		wantErr(t, "owner demotes themselves", err, apierr.Invalid, "ownership_transfer_required")
		wantErr(t, "admin removes the owner", f.svc.RemoveMember(admin.ctx(), ws, owner.id), apierr.Forbidden, "owner_protected")
		wantErr(t, "owner removes themselves", f.svc.RemoveMember(owner.ctx(), ws, owner.id), apierr.Conflict, "owner_cannot_leave")
		wantErr(t, "owner leaves", f.svc.Leave(owner.ctx(), ws), apierr.Conflict, "owner_cannot_leave")
		if n := f.owners(ws); n != 1 {
			t.Fatalf("%d owners", n)
		}

		// An admin promotes and demotes.
		m, err := f.svc.ChangeRole(admin.ctx(), ws, member.id, authz.Admin)
		if err != nil || m.Role != authz.Admin || m.UserID != member.id || m.Email != member.email {
			t.Fatalf("promote: %+v %v", m, err)
		}
		if m, err = f.svc.ChangeRole(owner.ctx(), ws, member.id, authz.Member); err != nil || m.Role != authz.Member {
			t.Fatalf("demote: %+v %v", m, err)
		}
		// The same role again changes nothing (and records nothing).
		if _, err = f.svc.ChangeRole(owner.ctx(), ws, member.id, authz.Member); err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.ChangeRole(owner.ctx(), ws, "user_01jq3v5x8kf9r1t6m2c4d7e8gh", authz.Admin)
		wantErr(t, "unknown member", err, apierr.NotFound, "not_found")

		// Removal: the member's very next request finds nothing.
		if _, err := f.svc.Get(other.ctx(), ws); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.RemoveMember(admin.ctx(), ws, other.id); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Get(other.ctx(), ws); !errors.Is(err, apierr.NotFound) {
			t.Fatalf("removed member still sees the workspace: %v", err)
		}
		wantErr(t, "remove twice", f.svc.RemoveMember(admin.ctx(), ws, other.id), apierr.NotFound, "not_found")

		// Leaving.
		if err := f.svc.Leave(member.ctx(), ws); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Get(member.ctx(), ws); !errors.Is(err, apierr.NotFound) {
			t.Fatalf("after leaving: %v", err)
		}
		// An admin removing themselves is leaving.
		if err := f.svc.RemoveMember(admin.ctx(), ws, admin.id); err != nil {
			t.Fatal(err)
		}

		acts := strings.Join(f.actions(ws), " ")
		for _, want := range []string{"member.role_changed member.role_changed member.removed member.left member.left"} {
			if !strings.Contains(acts, want) {
				t.Fatalf("audit %q lacks %q", acts, want)
			}
		}
		evts := strings.Join(f.eventTypes(ws), " ")
		if !strings.HasSuffix(evts, "member.role_changed member.role_changed member.removed member.removed member.removed") {
			t.Fatalf("events %q", evts)
		}
	})
}
