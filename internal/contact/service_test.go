package contact

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/authz"
	"github.com/parleyhq/parley/internal/platform/db"
	"github.com/parleyhq/parley/internal/platform/db/dbtest"
	"github.com/parleyhq/parley/internal/platform/page"
)

// testClock is an injectable clock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fixture is a store with two workspaces: owner/admin/member of A, and owner of B.
type fixture struct {
	d     *db.DB
	svc   *Service
	clock *testClock
	wsA   string
	wsB   string
	roles map[string]map[string]authz.Role // user → workspace → role
}

func newFixture(t *testing.T, d *db.DB) *fixture {
	t.Helper()
	ck := &testClock{t: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)}
	f := &fixture{d: d, svc: NewService(d, ck.Now), clock: ck, wsA: "ws_a", wsB: "ws_b", roles: map[string]map[string]authz.Role{}}
	now := db.Time(ck.Now())
	for _, ws := range []string{f.wsA, f.wsB} {
		f.exec(t, `INSERT INTO workspaces (id, name, slug, timezone, created_at, updated_at) VALUES ($1, $1, $1, 'UTC', $2, $2)`, ws, now)
	}
	for _, m := range []struct {
		user, ws string
		role     authz.Role
	}{{"user_owner", f.wsA, authz.Owner}, {"user_admin", f.wsA, authz.Admin}, {"user_member", f.wsA, authz.Member}, {"user_b", f.wsB, authz.Owner}} {
		f.exec(t, `INSERT INTO users (id, email, email_normalized, name, password_hash, created_at, updated_at) VALUES ($1, $1, $1, $1, 'x', $2, $2)`, m.user, now)
		f.exec(t, `INSERT INTO workspace_members (workspace_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)`, m.ws, m.user, string(m.role), now)
		if f.roles[m.user] == nil {
			f.roles[m.user] = map[string]authz.Role{}
		}
		f.roles[m.user][m.ws] = m.role
	}
	return f
}

func (f *fixture) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	if _, err := f.d.Write.ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// settings stores the workspace's settings overrides (the agent package's JSON document).
func (f *fixture) settings(t *testing.T, ws, doc string) {
	t.Helper()
	f.exec(t, `DELETE FROM workspace_settings WHERE workspace_id = $1`, ws)
	f.exec(t, `INSERT INTO workspace_settings (workspace_id, settings, version, updated_by, updated_at) VALUES ($1, $2, 1, 'user_owner', $3)`,
		ws, doc, db.Time(f.clock.Now()))
}

// as is a context signed in as the user.
func (f *fixture) as(user string) context.Context {
	roles := f.roles[user]
	return authz.WithPrincipal(context.Background(), authz.NewUser(user, "", func(_ context.Context, _, ws string) (authz.Role, bool, error) {
		r, ok := roles[ws]
		return r, ok, nil
	}))
}

func (f *fixture) create(t *testing.T, ws string, in CreateInput) Contact {
	t.Helper()
	owner := "user_owner"
	if ws == f.wsB {
		owner = "user_b"
	}
	c, err := f.svc.Create(f.as(owner), ws, in)
	if err != nil {
		t.Fatalf("create %+v: %v", in, err)
	}
	f.clock.Advance(time.Millisecond)
	return c
}

func code(err error) string {
	var e *apierr.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return fmt.Sprintf("<%v>", err)
}

func location(err error) string {
	var e *apierr.Error
	if errors.As(err, &e) && len(e.Fields) > 0 {
		return e.Fields[0].Location
	}
	return ""
}

func TestCreateNormalisesAndDerives(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		c := f.create(t, f.wsA, CreateInput{Phone: "(415) 555-0123", Name: " Ada Lovelace ", Email: "ada@example.com",
			Attributes: map[string]any{"plan": "gold", "visits": 3.0, "vip": true}, Tags: []string{"vip", "b2b", "vip"}})
		if c.Phone != "+14155550123" || c.Name != "Ada Lovelace" || c.Timezone != "America/Los_Angeles" || c.Email != "ada@example.com" ||
			strings.Join(c.Tags, ",") != "b2b,vip" || c.Attributes["visits"] != 3.0 || c.DoNotCall || !strings.HasPrefix(c.ID, "contact_") ||
			c.WorkspaceID != f.wsA || !c.CreatedAt.Equal(c.UpdatedAt) {
			t.Fatalf("created %+v", c)
		}
		got, err := f.svc.Get(f.as("user_member"), f.wsA, c.ID)
		if err != nil || got.Phone != c.Phone || got.Attributes["plan"] != "gold" || got.Attributes["vip"] != true {
			t.Fatalf("get %+v %v", got, err)
		}

		// The workspace's defaultRegion reads national numbers.
		f.settings(t, f.wsA, `{"defaultRegion":"IN"}`)
		in := f.create(t, f.wsA, CreateInput{Phone: "098765 43210", Timezone: "Asia/Dubai"})
		if in.Phone != "+919876543210" || in.Timezone != "Asia/Dubai" {
			t.Fatalf("national number %+v", in)
		}
		// The same number in another form is the same contact.
		_, err = f.svc.Create(f.as("user_admin"), f.wsA, CreateInput{Phone: "+91 98765 43210"})
		if code(err) != "contact_exists" || !errors.Is(err, apierr.Conflict) {
			t.Fatalf("duplicate: %v", err)
		}
		// Another workspace may have it.
		f.create(t, f.wsB, CreateInput{Phone: "+919876543210"})

		for name, tc := range map[string]struct {
			in  CreateInput
			loc string
		}{
			"impossible":       {CreateInput{Phone: "+1 415 555"}, "body.phone"},
			"not a number":     {CreateInput{Phone: "call me"}, "body.phone"},
			"bad timezone":     {CreateInput{Phone: "+14155550124", Timezone: "Mars/Olympus"}, "body.timezone"},
			"bad email":        {CreateInput{Phone: "+14155550124", Email: "ada@"}, "body.email"},
			"nested attribute": {CreateInput{Phone: "+14155550124", Attributes: map[string]any{"a": map[string]any{"b": "c"}}}, "body.attributes.a"},
			"reserved name":    {CreateInput{Phone: "+14155550124", Attributes: map[string]any{"Phone": "x"}}, "body.attributes.Phone"},
			"bad tag":          {CreateInput{Phone: "+14155550124", Tags: []string{"a,b"}}, "body.tags[0]"},
		} {
			_, err := f.svc.Create(f.as("user_owner"), f.wsA, tc.in)
			if code(err) != "validation_failed" || location(err) != tc.loc {
				t.Errorf("%s: %v at %q, want validation_failed at %s", name, err, location(err), tc.loc)
			}
		}
		var pe *apierr.Error
		if _, err := f.svc.Create(f.as("user_owner"), f.wsA, CreateInput{Phone: "+1 415 555"}); !errors.As(err, &pe) || !strings.Contains(pe.Detail, "too short") {
			t.Fatalf("reason: %v", err)
		}

		// Members read, never write; another workspace's people see nothing.
		if _, err := f.svc.Create(f.as("user_member"), f.wsA, CreateInput{Phone: "+14155550125"}); !errors.Is(err, apierr.Forbidden) {
			t.Fatalf("member create: %v", err)
		}
		if _, err := f.svc.Get(f.as("user_b"), f.wsA, c.ID); !errors.Is(err, apierr.NotFound) {
			t.Fatalf("outsider get: %v", err)
		}
		if _, err := f.svc.Get(f.as("user_b"), f.wsB, c.ID); !errors.Is(err, apierr.NotFound) {
			t.Fatalf("another workspace's contact through mine: %v", err)
		}
	})
}

func TestAuditNamesFieldsNeverNumbers(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		c := f.create(t, f.wsA, CreateInput{Phone: "+14155550123", Name: "Ada", DoNotCall: true})
		phone := "+14155551234"
		if _, err := f.svc.Update(f.as("user_admin"), f.wsA, c.ID, Patch{Phone: &phone, Attributes: map[string]any{"plan": "gold"}}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.svc.AddDNC(f.as("user_owner"), f.wsA, "+14155550199", "asked"); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.Delete(f.as("user_owner"), f.wsA, c.ID); err != nil {
			t.Fatal(err)
		}
		rows, err := d.Read.QueryContext(context.Background(), `SELECT action, COALESCE(changes, '') FROM audit_log WHERE workspace_id = $1 ORDER BY id`, f.wsA)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var got []string
		for rows.Next() {
			var action, changes string
			if err := rows.Scan(&action, &changes); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(changes, "415") {
				t.Errorf("%s: a number in the audit entry: %s", action, changes)
			}
			got = append(got, action+" "+changes)
		}
		want := []string{`contact.created ["doNotCall","name","phone"]`, `dnc.added ["phone","reason"]`, `dnc.added ["phone","reason"]`,
			`contact.updated ["attributes","phone"]`, `dnc.added ["phone","reason"]`, `contact.deleted []`}
		// The order of entries in one transaction follows the ID, not the code order: compare as sets.
		if len(got) != len(want) {
			t.Fatalf("audit:\n%s", strings.Join(got, "\n"))
		}
		for _, w := range want {
			found := false
			for _, g := range got {
				if g == w {
					found = true
				}
			}
			if !found {
				t.Errorf("no audit entry %q in\n%s", w, strings.Join(got, "\n"))
			}
		}
		var n int
		if err := d.Read.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM events WHERE workspace_id = $1 AND type IN ('contact.created', 'contact.updated', 'contact.deleted')`, f.wsA).Scan(&n); err != nil || n != 3 {
			t.Fatalf("events: %d %v", n, err)
		}
	})
}

func TestUpdate(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := f.as("user_admin")
		c := f.create(t, f.wsA, CreateInput{Phone: "+14155550123", Name: "Ada", Attributes: map[string]any{"plan": "gold", "visits": 1.0}, Tags: []string{"a"}})
		other := f.create(t, f.wsA, CreateInput{Phone: "+14155550124"})
		f.clock.Advance(time.Minute)

		name, empty, london := "Ada L.", "", "+44 20 7946 0958"
		got, err := f.svc.Update(ctx, f.wsA, c.ID, Patch{Name: &name, Attributes: map[string]any{"visits": nil, "vip": true}, Tags: []string{}})
		if err != nil || got.Name != "Ada L." || len(got.Attributes) != 2 || got.Attributes["vip"] != true || got.Attributes["plan"] != "gold" ||
			len(got.Tags) != 0 || !got.UpdatedAt.Equal(f.clock.Now()) || !got.CreatedAt.Equal(c.CreatedAt) {
			t.Fatalf("update %+v %v", got, err)
		}
		// A derived time zone follows the number; "" derives it again.
		got, err = f.svc.Update(ctx, f.wsA, c.ID, Patch{Phone: &london})
		if err != nil || got.Phone != "+442079460958" || got.Timezone != "Europe/London" {
			t.Fatalf("new number %+v %v", got, err)
		}
		tz := "Asia/Tokyo"
		if got, _ = f.svc.Update(ctx, f.wsA, c.ID, Patch{Timezone: &tz}); got.Timezone != "Asia/Tokyo" {
			t.Fatalf("timezone %+v", got)
		}
		if got, _ = f.svc.Update(ctx, f.wsA, c.ID, Patch{Timezone: &empty}); got.Timezone != "Europe/London" {
			t.Fatalf("timezone derived again %+v", got)
		}
		taken := "+14155550124"
		if _, err := f.svc.Update(ctx, f.wsA, c.ID, Patch{Phone: &taken}); code(err) != "contact_exists" {
			t.Fatalf("number of another contact: %v", err)
		}
		bad := "+1 415 555"
		if _, err := f.svc.Update(ctx, f.wsA, c.ID, Patch{Phone: &bad}); location(err) != "body.phone" {
			t.Fatalf("impossible number: %v", err)
		}
		if _, err := f.svc.Update(ctx, f.wsA, c.ID, Patch{Attributes: map[string]any{"x": []any{1.0}}}); location(err) != "body.attributes.x" {
			t.Fatalf("nested attribute: %v", err)
		}
		if _, err := f.svc.Update(f.as("user_b"), f.wsB, other.ID, Patch{Name: &name}); !errors.Is(err, apierr.NotFound) {
			t.Fatalf("update through another workspace: %v", err)
		}
		if err := f.svc.Delete(f.as("user_b"), f.wsB, other.ID); !errors.Is(err, apierr.NotFound) {
			t.Fatalf("delete through another workspace: %v", err)
		}
		if err := f.svc.Delete(f.as("user_member"), f.wsA, other.ID); !errors.Is(err, apierr.Forbidden) {
			t.Fatalf("member delete: %v", err)
		}
		if err := f.svc.Delete(ctx, f.wsA, other.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Get(ctx, f.wsA, other.ID); !errors.Is(err, apierr.NotFound) {
			t.Fatalf("deleted: %v", err)
		}
	})
}

func ids(p page.Page[Contact]) string {
	var out []string
	for _, c := range p.Data {
		out = append(out, c.Name)
	}
	return strings.Join(out, ",")
}

func TestSearchAndPages(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := f.as("user_member")
		f.create(t, f.wsA, CreateInput{Phone: "+14155550101", Name: "Ada Lovelace", Tags: []string{"vip"}, Attributes: map[string]any{"plan": "gold", "visits": 3.0}})
		f.create(t, f.wsA, CreateInput{Phone: "+919876543210", Name: "Grace 100% Hopper", Tags: []string{"vip", "b2b"}, Attributes: map[string]any{"plan": "silver", "vip": true}})
		f.create(t, f.wsA, CreateInput{Phone: "+442079460958", Name: "Alan_Turing", Attributes: map[string]any{"plan": "gold", "visits": "3"}})
		f.create(t, f.wsB, CreateInput{Phone: "+14155550102", Name: "Ada of B", Tags: []string{"vip"}})
		yes := true
		for name, tc := range map[string]struct {
			f    Filter
			want string
		}{
			"all, newest first":   {Filter{}, "Alan_Turing,Grace 100% Hopper,Ada Lovelace"},
			"phone prefix":        {Filter{PhonePrefix: "+1415"}, "Ada Lovelace"},
			"prefix without +":    {Filter{PhonePrefix: "9198"}, "Grace 100% Hopper"},
			"prefix of nothing":   {Filter{PhonePrefix: "+33"}, ""},
			"name any case":       {Filter{Name: "LOVE"}, "Ada Lovelace"},
			"name with %":         {Filter{Name: "100%"}, "Grace 100% Hopper"},
			"name with _":         {Filter{Name: "n_t"}, "Alan_Turing"},
			"% is not a wildcard": {Filter{Name: "a%e"}, ""},
			"tag":                 {Filter{Tags: []string{"vip"}}, "Grace 100% Hopper,Ada Lovelace"},
			"every tag":           {Filter{Tags: []string{"vip", "b2b"}}, "Grace 100% Hopper"},
			"attribute":           {Filter{Attributes: []AttributeEq{{"plan", "gold"}}}, "Alan_Turing,Ada Lovelace"},
			"number as text":      {Filter{Attributes: []AttributeEq{{"visits", "3"}}}, "Alan_Turing,Ada Lovelace"},
			"boolean":             {Filter{Attributes: []AttributeEq{{"vip", "true"}}}, "Grace 100% Hopper"},
			"combined":            {Filter{Tags: []string{"vip"}, Attributes: []AttributeEq{{"plan", "gold"}}}, "Ada Lovelace"},
			"doNotCall":           {Filter{DoNotCall: &yes}, ""},
		} {
			p, err := f.svc.List(ctx, f.wsA, tc.f, "", 0)
			if err != nil || ids(p) != tc.want || p.NextCursor != "" {
				t.Errorf("%s: %q %q %v, want %q", name, ids(p), p.NextCursor, err, tc.want)
			}
		}
		if _, err := f.svc.List(ctx, f.wsA, Filter{PhonePrefix: "+1-abc"}, "", 0); location(err) != "query.phone" {
			t.Fatalf("bad prefix: %v", err)
		}
		if _, err := f.svc.List(ctx, f.wsA, Filter{ListID: "list_nope"}, "", 0); !errors.Is(err, apierr.NotFound) {
			t.Fatalf("unknown list: %v", err)
		}

		// Pages: stable, complete, no repeats, even when a contact is added between pages.
		var seen []string
		cursor := ""
		for i := 0; ; i++ {
			p, err := f.svc.List(ctx, f.wsA, Filter{}, cursor, 2)
			if err != nil {
				t.Fatal(err)
			}
			seen = append(seen, ids(p))
			if i == 0 {
				f.create(t, f.wsA, CreateInput{Phone: "+14155550199", Name: "Newcomer"})
			}
			if p.NextCursor == "" {
				break
			}
			cursor = p.NextCursor
		}
		if strings.Join(seen, "|") != "Alan_Turing,Grace 100% Hopper|Ada Lovelace" {
			t.Fatalf("pages %q", seen)
		}
		if _, err := f.svc.List(ctx, f.wsA, Filter{}, "!!", 2); location(err) != "query.cursor" {
			t.Fatalf("bad cursor: %v", err)
		}
	})
}

func TestDoNotCall(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := f.as("user_admin")
		c := f.create(t, f.wsA, CreateInput{Phone: "+14155550123", Name: "Ada"})
		if err := f.svc.IsCallable(ctx, f.wsA, "+14155550123"); err != nil {
			t.Fatalf("callable: %v", err)
		}
		e, created, err := f.svc.AddDNC(ctx, f.wsA, "(415) 555-0123", " asked not to be called ")
		if err != nil || !created || e.Phone != "+14155550123" || e.Reason != "asked not to be called" || e.CreatedBy != "user_admin" || !strings.HasPrefix(e.ID, "dnc_") {
			t.Fatalf("add %+v %v %v", e, created, err)
		}
		again, created, err := f.svc.AddDNC(ctx, f.wsA, "+14155550123", "")
		if err != nil || created || again.ID != e.ID {
			t.Fatalf("add again %+v %v %v", again, created, err)
		}
		err = f.svc.IsCallable(f.as("user_member"), f.wsA, "+14155550123")
		if !errors.Is(err, ErrDoNotCall) || code(err) != "do_not_call" || !errors.Is(err, apierr.Conflict) {
			t.Fatalf("IsCallable of a listed number: %v", err)
		}
		// The list is per workspace.
		if err := f.svc.IsCallable(f.as("user_b"), f.wsB, "+14155550123"); err != nil {
			t.Fatalf("another workspace: %v", err)
		}
		if err := f.svc.IsCallable(f.as("user_b"), f.wsA, "+14155550123"); !errors.Is(err, apierr.NotFound) {
			t.Fatalf("outsider: %v", err)
		}
		if err := f.svc.IsCallable(ctx, f.wsA, "4155550123"); code(err) != "validation_failed" {
			t.Fatalf("not E.164: %v", err)
		}
		// The contact's flag is the list.
		if got, _ := f.svc.Get(ctx, f.wsA, c.ID); !got.DoNotCall {
			t.Fatal("contact not flagged")
		}
		yes := true
		if p, _ := f.svc.List(ctx, f.wsA, Filter{DoNotCall: &yes}, "", 0); ids(p) != "Ada" {
			t.Fatalf("doNotCall filter %q", ids(p))
		}
		no := false
		got, err := f.svc.Update(ctx, f.wsA, c.ID, Patch{DoNotCall: &no})
		if err != nil || got.DoNotCall {
			t.Fatalf("clear flag %+v %v", got, err)
		}
		if err := f.svc.IsCallable(ctx, f.wsA, "+14155550123"); err != nil {
			t.Fatalf("callable again: %v", err)
		}
		// A change of number never makes a listed contact callable.
		if _, err := f.svc.Update(ctx, f.wsA, c.ID, Patch{DoNotCall: &yes}); err != nil {
			t.Fatal(err)
		}
		phone := "+14155550124"
		if got, err = f.svc.Update(ctx, f.wsA, c.ID, Patch{Phone: &phone}); err != nil || !got.DoNotCall {
			t.Fatalf("new number %+v %v", got, err)
		}
		for _, n := range []string{"+14155550123", "+14155550124"} {
			if err := f.svc.IsCallable(ctx, f.wsA, n); !errors.Is(err, ErrDoNotCall) {
				t.Fatalf("%s: %v", n, err)
			}
		}
		// Moving an unlisted contact onto a listed number keeps that number listed.
		g := f.create(t, f.wsA, CreateInput{Phone: "+14155550150", Name: "Grace"})
		if _, _, err := f.svc.AddDNC(ctx, f.wsA, "+14155550151", ""); err != nil {
			t.Fatal(err)
		}
		listedNumber := "+14155550151"
		if got, err := f.svc.Update(ctx, f.wsA, g.ID, Patch{Phone: &listedNumber}); err != nil || !got.DoNotCall {
			t.Fatalf("onto a listed number %+v %v", got, err)
		}
		if err := f.svc.Delete(ctx, f.wsA, g.ID); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.RemoveDNC(ctx, f.wsA, listedNumber); err != nil {
			t.Fatal(err)
		}
		// Deleting the contact keeps its number listed; removal is explicit.
		if err := f.svc.Delete(ctx, f.wsA, c.ID); err != nil {
			t.Fatal(err)
		}
		p, err := f.svc.ListDNC(f.as("user_member"), f.wsA, "", 1)
		if err != nil || len(p.Data) != 1 || p.Data[0].Phone != "+14155550124" || p.NextCursor == "" {
			t.Fatalf("list %+v %v", p, err)
		}
		if err := f.svc.RemoveDNC(f.as("user_member"), f.wsA, "+14155550124"); !errors.Is(err, apierr.Forbidden) {
			t.Fatalf("member remove: %v", err)
		}
		if err := f.svc.RemoveDNC(f.as("user_b"), f.wsB, "+14155550124"); !errors.Is(err, apierr.NotFound) {
			t.Fatalf("remove through another workspace: %v", err)
		}
		if err := f.svc.RemoveDNC(ctx, f.wsA, "+1 415-555-0124"); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.RemoveDNC(ctx, f.wsA, "+14155550124"); !errors.Is(err, apierr.NotFound) {
			t.Fatalf("remove twice: %v", err)
		}
		if _, _, err := f.svc.AddDNC(ctx, f.wsA, "+1 415 555", ""); location(err) != "body.phone" {
			t.Fatalf("impossible number: %v", err)
		}
	})
}

func TestMaskingForMembers(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		c := f.create(t, f.wsA, CreateInput{Phone: "+919876543210", Name: "Asha", DoNotCall: true})
		member := f.as("user_member")
		if got, _ := f.svc.Get(member, f.wsA, c.ID); got.Phone != "+919876543210" {
			t.Fatalf("masking off: %q", got.Phone)
		}
		f.settings(t, f.wsA, `{"privacy":{"maskPhoneNumbersForMembers":true}}`)
		got, err := f.svc.Get(member, f.wsA, c.ID)
		if err != nil || got.Phone != "+91 98*****210" {
			t.Fatalf("member get %q %v", got.Phone, err)
		}
		if p, _ := f.svc.List(member, f.wsA, Filter{}, "", 0); len(p.Data) != 1 || p.Data[0].Phone != "+91 98*****210" {
			t.Fatalf("member list %+v", p)
		}
		if p, _ := f.svc.ListDNC(member, f.wsA, "", 0); len(p.Data) != 1 || p.Data[0].Phone != "+91 98*****210" {
			t.Fatalf("member DNC list %+v", p)
		}
		if _, err := f.svc.List(member, f.wsA, Filter{PhonePrefix: "+9198"}, "", 0); code(err) != "phone_numbers_masked" {
			t.Fatalf("member phone search: %v", err)
		}
		write, err := f.svc.Export(member, f.wsA, Filter{})
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := write(&buf); err != nil || strings.Contains(buf.String(), "9876543210") || !strings.Contains(buf.String(), "+91 98*****210") {
			t.Fatalf("member export %q %v", buf.String(), err)
		}
		for _, who := range []string{"user_owner", "user_admin"} {
			if got, _ := f.svc.Get(f.as(who), f.wsA, c.ID); got.Phone != "+919876543210" {
				t.Fatalf("%s sees %q", who, got.Phone)
			}
		}
		key := authz.WithPrincipal(context.Background(), authz.NewAPIKey("key_1", f.wsA, "user_owner", []string{"contacts:read"}))
		if got, _ := f.svc.Get(key, f.wsA, c.ID); got.Phone != "+919876543210" {
			t.Fatalf("API key sees %q", got.Phone)
		}
	})
}

func TestExportStreamsEveryBatch(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := f.as("user_owner")
		// More than one batch, written straight to the store (the service path is tested above).
		n := exportBatch + 7
		tx, err := d.Write.BeginTx(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			c := Contact{ID: fmt.Sprintf("contact_%05d", i), WorkspaceID: f.wsA, Phone: fmt.Sprintf("+1415555%04d", i), Name: fmt.Sprintf("P%d", i),
				Attributes: map[string]any{"n": float64(i)}, Tags: []string{"t"}, CreatedAt: f.clock.Now(), UpdatedAt: f.clock.Now()}
			if i == 3 {
				c.Name, c.Attributes["note"] = "=HYPERLINK(1)", "a, \"quoted\"\nline"
			}
			if _, err := (store{}).insert(context.Background(), tx, c); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		write, err := f.svc.Export(ctx, f.wsA, Filter{Tags: []string{"t"}})
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := write(&buf); err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(&buf).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != n+1 || strings.Join(recs[0], ",") != "phone,name,email,timezone,tags,doNotCall,id,createdAt,updatedAt,n,note" {
			t.Fatalf("%d records, header %v", len(recs), recs[0])
		}
		if r := recs[1]; r[6] != fmt.Sprintf("contact_%05d", n-1) || r[0] != fmt.Sprintf("+1415555%04d", n-1) || r[4] != "t" || r[5] != "false" ||
			r[7] != "2026-11-27T09:00:00Z" || r[9] != fmt.Sprint(n-1) || r[10] != "" {
			t.Fatalf("first record %v", r)
		}
		r := recs[n+1-4]
		if r[1] != "'=HYPERLINK(1)" || r[10] != "a, \"quoted\"\nline" {
			t.Fatalf("record of contact 3: %v", r)
		}
		if _, err := f.svc.Export(f.as("user_b"), f.wsA, Filter{}); !errors.Is(err, apierr.NotFound) {
			t.Fatalf("outsider export: %v", err)
		}
	})
}

func TestLists(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := f.as("user_admin")
		a := f.create(t, f.wsA, CreateInput{Phone: "+14155550101", Name: "A"})
		b := f.create(t, f.wsA, CreateInput{Phone: "+14155550102", Name: "B"})
		outsider := f.create(t, f.wsB, CreateInput{Phone: "+14155550103", Name: "X"})
		l, err := f.svc.CreateList(ctx, f.wsA, " Spring ")
		if err != nil || l.Name != "Spring" || !strings.HasPrefix(l.ID, "list_") || l.Size != 0 {
			t.Fatalf("create %+v %v", l, err)
		}
		if _, err := f.svc.CreateList(ctx, f.wsA, "Spring"); code(err) != "list_exists" {
			t.Fatalf("same name: %v", err)
		}
		if _, err := f.svc.CreateList(f.as("user_b"), f.wsB, "Spring"); err != nil {
			t.Fatalf("same name in another workspace: %v", err)
		}
		if _, err := f.svc.CreateList(f.as("user_member"), f.wsA, "Mine"); !errors.Is(err, apierr.Forbidden) {
			t.Fatalf("member create: %v", err)
		}
		got, added, err := f.svc.AddMembers(ctx, f.wsA, l.ID, []string{a.ID, b.ID, a.ID})
		if err != nil || added != 2 || got.Size != 2 {
			t.Fatalf("add %+v %d %v", got, added, err)
		}
		if _, added, err = f.svc.AddMembers(ctx, f.wsA, l.ID, []string{a.ID}); err != nil || added != 0 {
			t.Fatalf("add again %d %v", added, err)
		}
		_, _, err = f.svc.AddMembers(ctx, f.wsA, l.ID, []string{b.ID, outsider.ID})
		if code(err) != "validation_failed" || location(err) != "body.contactIds" {
			t.Fatalf("another workspace's contact: %v", err)
		}
		if _, _, err := f.svc.AddMembers(f.as("user_b"), f.wsB, l.ID, []string{outsider.ID}); !errors.Is(err, apierr.NotFound) {
			t.Fatalf("another workspace's list: %v", err)
		}
		if p, _ := f.svc.List(f.as("user_member"), f.wsA, Filter{ListID: l.ID}, "", 0); ids(p) != "B,A" {
			t.Fatalf("members %q", ids(p))
		}
		if err := f.svc.RemoveMember(ctx, f.wsA, l.ID, a.ID); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.RemoveMember(ctx, f.wsA, l.ID, a.ID); !errors.Is(err, apierr.NotFound) {
			t.Fatalf("remove twice: %v", err)
		}
		if got, _ := f.svc.GetList(f.as("user_member"), f.wsA, l.ID); got.Size != 1 {
			t.Fatalf("size %+v", got)
		}
		// Deleting a contact takes it out of its lists.
		if err := f.svc.Delete(ctx, f.wsA, b.ID); err != nil {
			t.Fatal(err)
		}
		if got, _ := f.svc.GetList(ctx, f.wsA, l.ID); got.Size != 0 {
			t.Fatalf("size after delete %+v", got)
		}
		r, err := f.svc.RenameList(ctx, f.wsA, l.ID, "Summer")
		if err != nil || r.Name != "Summer" {
			t.Fatalf("rename %+v %v", r, err)
		}
		if _, err := f.svc.RenameList(f.as("user_b"), f.wsB, l.ID, "Mine"); !errors.Is(err, apierr.NotFound) {
			t.Fatalf("rename through another workspace: %v", err)
		}
		p, err := f.svc.ListLists(f.as("user_member"), f.wsA, "", 0)
		if err != nil || len(p.Data) != 1 || p.Data[0].Name != "Summer" {
			t.Fatalf("lists %+v %v", p, err)
		}
		if err := f.svc.DeleteList(f.as("user_b"), f.wsB, l.ID); !errors.Is(err, apierr.NotFound) {
			t.Fatalf("delete through another workspace: %v", err)
		}
		if err := f.svc.DeleteList(ctx, f.wsA, l.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.GetList(ctx, f.wsA, l.ID); !errors.Is(err, apierr.NotFound) {
			t.Fatalf("deleted list: %v", err)
		}
		if _, err := f.svc.Get(ctx, f.wsA, a.ID); err != nil {
			t.Fatalf("a list's deletion took its contact: %v", err)
		}
	})
}

// Every store method is confined to the workspace it is given.
func TestStoreIsConfinedToTheWorkspace(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		var st store
		now := f.clock.Now()
		c := Contact{ID: "contact_a1", WorkspaceID: f.wsA, Phone: "+14155550101", Name: "A", Attributes: map[string]any{"k": "v"}, Tags: []string{"t"}, CreatedAt: now, UpdatedAt: now}
		if ok, err := st.insert(ctx, d.Write, c); !ok || err != nil {
			t.Fatalf("insert %v %v", ok, err)
		}
		if ok, err := st.insert(ctx, d.Write, Contact{ID: "contact_a2", WorkspaceID: f.wsA, Phone: c.Phone, CreatedAt: now, UpdatedAt: now}); ok || err != nil {
			t.Fatalf("insert of a taken number: %v %v", ok, err)
		}
		l := List{ID: "list_a1", WorkspaceID: f.wsA, Name: "L", CreatedAt: now, UpdatedAt: now}
		if ok, err := st.insertList(ctx, d.Write, l); !ok || err != nil {
			t.Fatal(err)
		}
		if ok, err := st.addDNC(ctx, d.Write, DNCEntry{ID: "dnc_a1", WorkspaceID: f.wsA, Phone: c.Phone, CreatedAt: now}); !ok || err != nil {
			t.Fatal(err)
		}
		b := f.wsB
		if _, err := st.get(ctx, d.Read, b, c.ID); !errors.Is(err, sql.ErrNoRows) {
			t.Errorf("get: %v", err)
		}
		if cid, err := st.idByPhone(ctx, d.Read, b, c.Phone); cid != "" || err != nil {
			t.Errorf("idByPhone: %q %v", cid, err)
		}
		if rows, err := st.list(ctx, d.Read, b, Filter{}, "", 10); len(rows) != 0 || err != nil {
			t.Errorf("list: %v %v", rows, err)
		}
		if rows, err := st.list(ctx, d.Read, b, Filter{ListID: l.ID, Tags: []string{"t"}, Attributes: []AttributeEq{{"k", "v"}}}, "", 10); len(rows) != 0 || err != nil {
			t.Errorf("list by filter: %v %v", rows, err)
		}
		if names, err := st.attributeNames(ctx, d.Read, b); len(names) != 0 || err != nil {
			t.Errorf("attributeNames: %v %v", names, err)
		}
		cb := c
		cb.WorkspaceID, cb.Name = b, "hijacked"
		if ok, err := st.update(ctx, d.Write, cb); ok || err != nil {
			t.Errorf("update: %v %v", ok, err)
		}
		if ok, err := st.delete(ctx, d.Write, b, c.ID); ok || err != nil {
			t.Errorf("delete: %v %v", ok, err)
		}
		if _, err := st.getList(ctx, d.Read, b, l.ID); !errors.Is(err, sql.ErrNoRows) {
			t.Errorf("getList: %v", err)
		}
		if lid, err := st.listIDByName(ctx, d.Read, b, "L"); lid != "" || err != nil {
			t.Errorf("listIDByName: %v %v", lid, err)
		}
		if rows, err := st.lists(ctx, d.Read, b, "", 10); len(rows) != 0 || err != nil {
			t.Errorf("lists: %v %v", rows, err)
		}
		if ok, err := st.renameList(ctx, d.Write, b, l.ID, "x", now); ok || err != nil {
			t.Errorf("renameList: %v %v", ok, err)
		}
		if ok, err := st.contactExists(ctx, d.Read, b, c.ID); ok || err != nil {
			t.Errorf("contactExists: %v %v", ok, err)
		}
		if ok, err := st.addMember(ctx, d.Write, b, l.ID, c.ID, now); ok || err != nil {
			t.Errorf("addMember: %v %v", ok, err)
		}
		if ok, err := st.addMember(ctx, d.Write, f.wsA, l.ID, c.ID, now); !ok || err != nil {
			t.Errorf("addMember in its workspace: %v %v", ok, err)
		}
		if ok, err := st.removeMember(ctx, d.Write, b, l.ID, c.ID); ok || err != nil {
			t.Errorf("removeMember: %v %v", ok, err)
		}
		if ok, err := st.deleteList(ctx, d.Write, b, l.ID); ok || err != nil {
			t.Errorf("deleteList: %v %v", ok, err)
		}
		if _, err := st.getDNC(ctx, d.Read, b, c.Phone); !errors.Is(err, sql.ErrNoRows) {
			t.Errorf("getDNC: %v", err)
		}
		if rows, err := st.dncList(ctx, d.Read, b, "", 10); len(rows) != 0 || err != nil {
			t.Errorf("dncList: %v %v", rows, err)
		}
		if ok, err := st.removeDNC(ctx, d.Write, b, c.Phone); ok || err != nil {
			t.Errorf("removeDNC: %v %v", ok, err)
		}
		// All of it is still there, unchanged.
		got, err := st.get(ctx, d.Read, f.wsA, c.ID)
		if err != nil || got.Name != "A" || !got.DoNotCall || got.Attributes["k"] != "v" {
			t.Fatalf("after another workspace's calls: %+v %v", got, err)
		}
		if gl, err := st.getList(ctx, d.Read, f.wsA, l.ID); err != nil || gl.Size != 1 {
			t.Fatalf("list after: %+v %v", gl, err)
		}
	})
}
