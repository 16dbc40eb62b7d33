package workspace_test

import (
	"context"
	"errors"
	"github.com/parleyhq/parley/internal/platform/clock"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/audit"
	"github.com/parleyhq/parley/internal/platform/authz"
	"github.com/parleyhq/parley/internal/platform/db"
	"github.com/parleyhq/parley/internal/platform/id"
	"github.com/parleyhq/parley/internal/workspace"
)

// fixture is a workspace service on one store, with a clock and people.
type fixture struct {
	t     *testing.T
	d     *db.DB
	svc   *workspace.Service
	clock *clock.Fake
}

func newFixture(t *testing.T, d *db.DB, opts ...workspace.Option) *fixture {
	ck := clock.NewFake(time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC))
	opts = append([]workspace.Option{workspace.WithBaseURL("https://parley.example/")}, opts...)
	return &fixture{t: t, d: d, svc: workspace.NewService(d, ck.Now, opts...), clock: ck}
}

// person is a user with an account.
type person struct {
	f     *fixture
	id    string
	email string
}

// user creates an account directly in the store (accounts belong to identity).
func (f *fixture) user(email string) person {
	f.t.Helper()
	uid := id.New(id.User)
	now := f.clock.Now()
	if _, err := f.d.Write.Exec(`INSERT INTO users (id, email, email_normalized, name, password_hash, created_at, updated_at) VALUES ($1, $2, $3, $4, 'x', $5, $5)`,
		uid, email, strings.ToLower(email), strings.Split(email, "@")[0], db.Time(now)); err != nil {
		f.t.Fatal(err)
	}
	return person{f: f, id: uid, email: email}
}

// ctx is a fresh request of the person: a new principal, so no role is cached across calls.
func (p person) ctx() context.Context {
	return authz.WithPrincipal(context.Background(), authz.NewUser(p.id, "", p.f.svc.RoleOf))
}

// workspace creates a workspace owned by p.
func (p person) workspace(name string) string {
	p.f.t.Helper()
	m, err := p.f.svc.Create(p.ctx(), workspace.CreateInput{Name: name})
	if err != nil {
		p.f.t.Fatal(err)
	}
	return m.ID
}

// lastToken is the token of the newest invitation mail to the address.
func (f *fixture) lastToken(to string) string {
	f.t.Helper()
	var body string
	if err := f.d.Read.QueryRow(`SELECT body FROM mail_outbox WHERE to_addr = $1 ORDER BY id DESC LIMIT 1`, to).Scan(&body); err != nil {
		f.t.Fatalf("no mail to %s: %v", to, err)
	}
	const marker = "https://parley.example/invitations/"
	i := strings.Index(body, marker)
	if i < 0 {
		f.t.Fatalf("no invitation link in %q", body)
	}
	return strings.Fields(body[i+len(marker):])[0]
}

// join invites p into wsID as role (by inviter) and has p accept.
func (f *fixture) join(inviter person, wsID string, p person, role authz.Role) {
	f.t.Helper()
	if _, err := f.svc.Invite(inviter.ctx(), wsID, workspace.InviteInput{Email: p.email, Role: role}); err != nil {
		f.t.Fatalf("invite %s: %v", p.email, err)
	}
	if _, err := f.svc.AcceptInvitation(p.ctx(), f.lastToken(p.email)); err != nil {
		f.t.Fatalf("accept %s: %v", p.email, err)
	}
}

// wantErr checks that err has the category and the code.
func wantErr(t *testing.T, what string, err error, category error, code string) {
	t.Helper()
	var e *apierr.Error
	if !errors.Is(err, category) || !errors.As(err, &e) || e.Code != code {
		t.Fatalf("%s: err = %v, want %v %s", what, err, category, code)
	}
}

// actions lists the workspace's audit actions, oldest first.
func (f *fixture) actions(wsID string) []string {
	f.t.Helper()
	entries, err := audit.List(context.Background(), f.d.Read, wsID, "", 100)
	if err != nil {
		f.t.Fatal(err)
	}
	var out []string
	for i := len(entries) - 1; i >= 0; i-- {
		out = append(out, entries[i].Action)
	}
	return out
}

// eventTypes lists the workspace's event types, oldest first.
func (f *fixture) eventTypes(wsID string) []string {
	f.t.Helper()
	rows, err := f.d.Read.Query(`SELECT type FROM events WHERE workspace_id = $1 ORDER BY id`, wsID)
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			f.t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// owners counts the workspace's owners.
func (f *fixture) owners(wsID string) int {
	f.t.Helper()
	var n int
	if err := f.d.Read.QueryRow(`SELECT COUNT(*) FROM workspace_members WHERE workspace_id = $1 AND role = 'owner'`, wsID).Scan(&n); err != nil {
		f.t.Fatal(err)
	}
	return n
}
