package apikey

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/parleyhq/parley/internal/platform/clock"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/audit"
	"github.com/parleyhq/parley/internal/platform/authz"
	"github.com/parleyhq/parley/internal/platform/db"
	"github.com/parleyhq/parley/internal/platform/db/dbtest"
	"github.com/parleyhq/parley/internal/platform/events"
)

// fixture is a store with two workspaces: owner/admin/member of A, and owner of B.
type fixture struct {
	d     *db.DB
	svc   *Service
	clock *clock.Fake
	wsA   string
	wsB   string
	roles map[string]map[string]authz.Role // user → workspace → role
}

func newFixture(t *testing.T, d *db.DB) *fixture {
	t.Helper()
	ck := clock.NewFake(time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC))
	f := &fixture{d: d, svc: NewService(d, ck.Now), clock: ck, wsA: "ws_a", wsB: "ws_b", roles: map[string]map[string]authz.Role{}}
	ctx := context.Background()
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := d.Write.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	now := db.Time(ck.Now())
	for _, ws := range []string{f.wsA, f.wsB} {
		exec(`INSERT INTO workspaces (id, name, slug, timezone, created_at, updated_at) VALUES ($1, $1, $1, 'UTC', $2, $2)`, ws, now)
	}
	for _, m := range []struct {
		user, ws string
		role     authz.Role
	}{{"user_owner", f.wsA, authz.Owner}, {"user_admin", f.wsA, authz.Admin}, {"user_member", f.wsA, authz.Member}, {"user_b", f.wsB, authz.Owner}} {
		exec(`INSERT INTO users (id, email, email_normalized, name, password_hash, created_at, updated_at) VALUES ($1, $1, $1, $1, 'x', $2, $2)`, m.user, now)
		exec(`INSERT INTO workspace_members (workspace_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)`, m.ws, m.user, string(m.role), now)
		if f.roles[m.user] == nil {
			f.roles[m.user] = map[string]authz.Role{}
		}
		f.roles[m.user][m.ws] = m.role
	}
	return f
}

// as is a context signed in as the user.
func (f *fixture) as(user string) context.Context {
	roles := f.roles[user]
	return authz.WithPrincipal(context.Background(), authz.NewUser(user, "", func(_ context.Context, _, ws string) (authz.Role, bool, error) {
		r, ok := roles[ws]
		return r, ok, nil
	}))
}

func (f *fixture) create(t *testing.T, ctx context.Context, ws string, in CreateInput) CreatedAPIKey {
	t.Helper()
	c, err := f.svc.Create(ctx, ws, in)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	return c
}

func code(err error) string {
	var e *apierr.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return fmt.Sprintf("<%v>", err)
}

func TestCreateStoresOnlyAHash(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := f.as("user_owner")
		c := f.create(t, ctx, f.wsA, CreateInput{Name: "  CRM sync ", Scopes: []string{"calls:write", "agents:read", "calls:write"}, Mode: Live})
		if !strings.HasPrefix(c.Secret, "parley_live_") || len(c.Secret) != TokenLen {
			t.Fatalf("secret %q", c.Secret)
		}
		if c.Name != "CRM sync" || strings.Join(c.Scopes, ",") != "agents:read,calls:write" || c.Mode != Live || c.Status != Active ||
			c.CreatedBy != "user_owner" || !c.CreatedAt.Equal(f.clock.Now()) || c.ExpiresAt != nil || c.LastUsedAt != nil || c.RevokedAt != nil ||
			!strings.HasPrefix(c.ID, "key_") || c.WorkspaceID != f.wsA {
			t.Fatalf("created %+v", c.APIKey)
		}
		if c.Prefix != c.Secret[:16] || c.LastFour != c.Secret[len(c.Secret)-4:] {
			t.Fatalf("prefix %q, last four %q of %q", c.Prefix, c.LastFour, c.Secret)
		}

		// The secret appears nowhere in the database: not in the row, not in the audit log, not in
		// the events. Every column of every row is scanned as text.
		random := c.Secret[len("parley_live_") : len("parley_live_")+randomLen]
		for _, table := range []string{"api_keys", "audit_log", "events"} {
			rows, err := d.Read.QueryContext(context.Background(), `SELECT * FROM `+table)
			if err != nil {
				t.Fatal(err)
			}
			cols, _ := rows.Columns()
			n := 0
			for rows.Next() {
				n++
				vals := make([]any, len(cols))
				ptrs := make([]any, len(cols))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				if err := rows.Scan(ptrs...); err != nil {
					t.Fatal(err)
				}
				for i, v := range vals {
					s := fmt.Sprint(v)
					if b, ok := v.([]byte); ok {
						s = string(b)
					}
					if strings.Contains(s, random) || strings.Contains(s, c.Secret) {
						t.Fatalf("%s.%s holds the secret: %q", table, cols[i], s)
					}
				}
			}
			rows.Close()
			if n == 0 {
				t.Fatalf("no rows in %s", table)
			}
		}
		var h string
		if err := d.Read.QueryRow(`SELECT token_hash FROM api_keys WHERE workspace_id = $1 AND id = $2`, f.wsA, c.ID).Scan(&h); err != nil || h != hashToken(c.Secret) || len(h) != 64 {
			t.Fatalf("stored hash %q (%v)", h, err)
		}

		// Audit and event, in the same transaction, without the secret.
		entries, err := audit.List(context.Background(), d.Read, f.wsA, "", 10)
		if err != nil || len(entries) != 1 || entries[0].Action != "api_key.created" || entries[0].ResourceID != c.ID ||
			entries[0].ActorID != "user_owner" || strings.Join(entries[0].Changes, ",") != "name,scopes,mode" {
			t.Fatalf("audit %+v %v", entries, err)
		}
		evs, err := events.List(context.Background(), d.Read, f.wsA, "", 10)
		if err != nil || len(evs) != 1 || evs[0].Type != "api_key.created" {
			t.Fatalf("events %+v %v", evs, err)
		}
		var data map[string]any
		if err := json.Unmarshal(evs[0].Data.(json.RawMessage), &data); err != nil || data["id"] != c.ID || data["prefix"] != c.Prefix {
			t.Fatalf("event data %v %v", data, err)
		}
		if _, ok := data["secret"]; ok {
			t.Fatal("event carries the secret")
		}

		// Get and List never return it either.
		got, err := f.svc.Get(ctx, f.wsA, c.ID)
		if err != nil || got.ID != c.ID || got.Prefix != c.Prefix {
			t.Fatalf("get %+v %v", got, err)
		}
		b, _ := json.Marshal(got)
		if strings.Contains(string(b), random) || strings.Contains(string(b), "secret") {
			t.Fatalf("get shows the secret: %s", b)
		}
	})
}

func TestCreateValidation(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := f.as("user_admin")
		past := f.clock.Now().Add(-time.Second)
		now := f.clock.Now()
		for name, in := range map[string]CreateInput{
			"empty name":       {Name: " ", Scopes: []string{"agents:read"}, Mode: Live},
			"control char":     {Name: "a\x00b", Scopes: []string{"agents:read"}, Mode: Live},
			"long name":        {Name: strings.Repeat("n", 101), Scopes: []string{"agents:read"}, Mode: Live},
			"no scope":         {Name: "k", Mode: Live},
			"unknown scope":    {Name: "k", Scopes: []string{"agents:read", "team:manage"}, Mode: Live},
			"bad mode":         {Name: "k", Scopes: []string{"agents:read"}, Mode: "prod"},
			"no mode":          {Name: "k", Scopes: []string{"agents:read"}},
			"past expiry":      {Name: "k", Scopes: []string{"agents:read"}, Mode: Live, ExpiresAt: &past},
			"expiry right now": {Name: "k", Scopes: []string{"agents:read"}, Mode: Live, ExpiresAt: &now},
		} {
			if _, err := f.svc.Create(ctx, f.wsA, in); !errors.Is(err, apierr.Invalid) {
				t.Errorf("%s: err = %v, want Invalid", name, err)
			}
		}
		var n int
		_ = d.Read.QueryRow(`SELECT COUNT(*) FROM api_keys`).Scan(&n)
		if n != 0 {
			t.Fatalf("%d keys stored by invalid requests", n)
		}
		future := f.clock.Now().Add(24 * time.Hour)
		c := f.create(t, ctx, f.wsA, CreateInput{Name: "Test key", Scopes: Scopes, Mode: Test, ExpiresAt: &future})
		if !strings.HasPrefix(c.Secret, "parley_test_") || c.Mode != Test || c.ExpiresAt == nil || !c.ExpiresAt.Equal(future) || len(c.Scopes) != len(Scopes) {
			t.Fatalf("test key %+v", c)
		}
	})
}

func TestWhoMayManageKeys(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		in := CreateInput{Name: "k", Scopes: []string{"agents:read"}, Mode: Live}
		c := f.create(t, f.as("user_owner"), f.wsA, in)
		f.create(t, f.as("user_admin"), f.wsA, in)
		keyB := f.create(t, f.as("user_b"), f.wsB, in)

		member := f.as("user_member")
		if _, err := f.svc.Create(member, f.wsA, in); code(err) != "insufficient_role" {
			t.Fatalf("member create: %v", err)
		}
		if _, err := f.svc.List(member, f.wsA, "", 0); code(err) != "insufficient_role" {
			t.Fatalf("member list: %v", err)
		}
		if err := f.svc.Revoke(member, f.wsA, c.ID); code(err) != "insufficient_role" {
			t.Fatalf("member revoke: %v", err)
		}
		// Another workspace's owner: not found, for the workspace and for the key.
		b := f.as("user_b")
		if _, err := f.svc.List(b, f.wsA, "", 0); !errors.Is(err, apierr.NotFound) {
			t.Fatalf("B lists A's keys: %v", err)
		}
		if _, err := f.svc.Get(b, f.wsA, c.ID); !errors.Is(err, apierr.NotFound) {
			t.Fatalf("B gets A's key: %v", err)
		}
		if err := f.svc.Revoke(b, f.wsA, c.ID); !errors.Is(err, apierr.NotFound) {
			t.Fatalf("B revokes A's key: %v", err)
		}
		// A's key ID under B's own workspace: not found (the store filters on the workspace).
		if _, err := f.svc.Get(b, f.wsB, c.ID); !errors.Is(err, apierr.NotFound) {
			t.Fatalf("A's key via B's workspace: %v", err)
		}
		if err := f.svc.Revoke(b, f.wsB, c.ID); !errors.Is(err, apierr.NotFound) {
			t.Fatalf("revoke A's key via B's workspace: %v", err)
		}
		if _, err := f.svc.Get(f.as("user_owner"), f.wsA, keyB.ID); !errors.Is(err, apierr.NotFound) {
			t.Fatalf("B's key via A's workspace: %v", err)
		}
		if k, err := f.svc.Get(f.as("user_owner"), f.wsA, c.ID); err != nil || k.Status != Active {
			t.Fatalf("A's key after B's attempts: %+v %v", k, err)
		}
		// A key can never manage keys, whatever its scopes.
		p, err := f.svc.Authenticate(context.Background(), c.Secret)
		if err != nil {
			t.Fatal(err)
		}
		all := authz.WithPrincipal(context.Background(), authz.NewAPIKey(p.APIKeyID, f.wsA, "user_owner", Scopes))
		if _, err := f.svc.Create(all, f.wsA, in); code(err) != "insufficient_scope" {
			t.Fatalf("key creates a key: %v", err)
		}
		if _, err := f.svc.List(all, f.wsA, "", 0); code(err) != "insufficient_scope" {
			t.Fatalf("key lists keys: %v", err)
		}
		if err := f.svc.Revoke(all, f.wsA, c.ID); code(err) != "insufficient_scope" {
			t.Fatalf("key revokes a key: %v", err)
		}
		if _, err := f.svc.List(context.Background(), f.wsA, "", 0); !errors.Is(err, apierr.Unauthenticated) {
			t.Fatalf("anonymous list: %v", err)
		}
	})
}

func TestListPagesNewestFirst(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := f.as("user_owner")
		var ids []string
		for i := range 5 {
			c := f.create(t, ctx, f.wsA, CreateInput{Name: fmt.Sprint("k", i), Scopes: []string{"agents:read"}, Mode: Live})
			ids = append(ids, c.ID)
			time.Sleep(2 * time.Millisecond) // IDs order by their own (real) time
		}
		f.create(t, f.as("user_b"), f.wsB, CreateInput{Name: "other", Scopes: []string{"agents:read"}, Mode: Live})
		var got []string
		cursor := ""
		for {
			p, err := f.svc.List(ctx, f.wsA, cursor, 2)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range p.Data {
				got = append(got, k.ID)
			}
			if p.NextCursor == "" {
				break
			}
			cursor = p.NextCursor
		}
		if len(got) != 5 {
			t.Fatalf("listed %d keys, want 5 (and none of B's)", len(got))
		}
		for i := range got {
			if got[i] != ids[len(ids)-1-i] {
				t.Fatalf("order %v, want newest first of %v", got, ids)
			}
		}
		if _, err := f.svc.List(ctx, f.wsA, "!!", 0); !errors.Is(err, apierr.Invalid) {
			t.Fatalf("bad cursor: %v", err)
		}
	})
}

func TestAuthenticate(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := f.as("user_owner")
		c := f.create(t, ctx, f.wsA, CreateInput{Name: "k", Scopes: []string{"agents:read", "usage:read"}, Mode: Live})
		p, err := f.svc.Authenticate(context.Background(), c.Secret)
		if err != nil {
			t.Fatal(err)
		}
		if p.Kind != authz.KindAPIKey || p.APIKeyID != c.ID || p.WorkspaceID != f.wsA || p.UserID != "user_owner" || strings.Join(p.Scopes, ",") != "agents:read,usage:read" {
			t.Fatalf("principal %+v", p)
		}
		pctx := authz.WithPrincipal(context.Background(), p)
		if _, err := authz.Require(pctx, f.wsA, authz.AgentsRead); err != nil {
			t.Fatalf("in-scope action: %v", err)
		}
		if _, err := authz.Require(pctx, f.wsA, authz.AgentsWrite); code(err) != "insufficient_scope" {
			t.Fatalf("out-of-scope action: %v", err)
		}
		if _, err := authz.Require(pctx, f.wsB, authz.AgentsRead); !errors.Is(err, apierr.NotFound) {
			t.Fatalf("other workspace: %v", err)
		}
		if p, err := f.svc.AuthenticateHeader(context.Background(), "Bearer "+c.Secret); err != nil || p.APIKeyID != c.ID {
			t.Fatalf("header: %v", err)
		}

		// Malformed: refused before the store is asked (a closed store would fail otherwise).
		offline := *d
		offline.Read, offline.Write = db.NewPool(closedPool(t), false), closedPool(t)
		closed := NewService(&offline, f.clock.Now)
		flipped := []byte(c.Secret)
		flipped[20] = map[bool]byte{true: 'B', false: 'A'}[flipped[20] == 'A']
		for _, bad := range []string{"", "parley_live_nope", string(flipped), "Bearer " + c.Secret} {
			if _, err := closed.Authenticate(context.Background(), bad); code(err) != "invalid_api_key" {
				t.Errorf("Authenticate(%q) = %v, want invalid_api_key", bad, err)
			}
		}
		if _, err := closed.Authenticate(context.Background(), c.Secret); err == nil || errors.Is(err, apierr.Unauthenticated) {
			t.Fatalf("a well-formed key did not reach the (closed) store: %v", err)
		}
		// Well-formed but unknown.
		if _, err := f.svc.Authenticate(context.Background(), newToken(Live)); code(err) != "unknown_api_key" {
			t.Fatalf("unknown: %v", err)
		}
		if _, err := f.svc.Authenticate(context.Background(), strings.Replace(c.Secret, "_live_", "_test_", 1)); code(err) != "unknown_api_key" {
			t.Fatalf("relabelled: %v", err)
		}
	})
}

func TestRevoke(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := f.as("user_admin")
		c := f.create(t, ctx, f.wsA, CreateInput{Name: "k", Scopes: []string{"agents:read"}, Mode: Live})
		if _, err := f.svc.Authenticate(context.Background(), c.Secret); err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(time.Second)
		if err := f.svc.Revoke(ctx, f.wsA, c.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Authenticate(context.Background(), c.Secret); code(err) != "revoked_api_key" {
			t.Fatalf("revoked key: %v", err)
		}
		k, err := f.svc.Get(ctx, f.wsA, c.ID)
		if err != nil || k.Status != Revoked || k.RevokedAt == nil || !k.RevokedAt.Equal(f.clock.Now()) {
			t.Fatalf("after revoke %+v %v", k, err)
		}
		// Listed, with its revocation.
		p, _ := f.svc.List(ctx, f.wsA, "", 0)
		if len(p.Data) != 1 || p.Data[0].Status != Revoked {
			t.Fatalf("list %+v", p.Data)
		}
		// Again: succeeds, changes nothing, records nothing.
		f.clock.Advance(time.Hour)
		if err := f.svc.Revoke(ctx, f.wsA, c.ID); err != nil {
			t.Fatal(err)
		}
		if k2, _ := f.svc.Get(ctx, f.wsA, c.ID); !k2.RevokedAt.Equal(*k.RevokedAt) {
			t.Fatalf("second revoke moved revokedAt: %v", k2.RevokedAt)
		}
		entries, _ := audit.List(context.Background(), d.Read, f.wsA, "", 10)
		if len(entries) != 2 || entries[0].Action != "api_key.revoked" || entries[0].ResourceID != c.ID || entries[0].ActorID != "user_admin" {
			t.Fatalf("audit %+v", entries)
		}
		evs, _ := events.List(context.Background(), d.Read, f.wsA, "", 10)
		if len(evs) != 2 || evs[1].Type != "api_key.revoked" || strings.Contains(string(evs[1].Data.(json.RawMessage)), c.Secret[12:44]) {
			t.Fatalf("events %+v", evs)
		}
		if err := f.svc.Revoke(ctx, f.wsA, "key_01jq3v5x8kf9r1t6m2c4d7e8gh"); !errors.Is(err, apierr.NotFound) {
			t.Fatalf("missing key: %v", err)
		}
	})
}

func TestExpiry(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := f.as("user_owner")
		exp := f.clock.Now().Add(time.Hour)
		c := f.create(t, ctx, f.wsA, CreateInput{Name: "k", Scopes: []string{"agents:read"}, Mode: Test, ExpiresAt: &exp})
		f.clock.Advance(time.Hour - time.Millisecond)
		if _, err := f.svc.Authenticate(context.Background(), c.Secret); err != nil {
			t.Fatalf("a millisecond before expiry: %v", err)
		}
		f.clock.Advance(time.Millisecond)
		if _, err := f.svc.Authenticate(context.Background(), c.Secret); code(err) != "expired_api_key" {
			t.Fatalf("at expiry: %v", err)
		}
		if k, _ := f.svc.Get(ctx, f.wsA, c.ID); k.Status != Expired {
			t.Fatalf("status %q", k.Status)
		}
		// Revocation wins over expiry.
		if err := f.svc.Revoke(ctx, f.wsA, c.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Authenticate(context.Background(), c.Secret); code(err) != "revoked_api_key" {
			t.Fatalf("revoked and expired: %v", err)
		}
	})
}

// lastUsedAt is written at most once a minute, whatever the number of requests.
func TestLastUsedIsThrottled(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := f.as("user_owner")
		c := f.create(t, ctx, f.wsA, CreateInput{Name: "k", Scopes: []string{"agents:read"}, Mode: Live})
		lastUsed := func() *time.Time {
			t.Helper()
			k, err := f.svc.Get(ctx, f.wsA, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			return k.LastUsedAt
		}
		if lastUsed() != nil {
			t.Fatal("a new key has a lastUsedAt")
		}
		first := f.clock.Now()
		use := func() {
			t.Helper()
			if _, err := f.svc.Authenticate(context.Background(), c.Secret); err != nil {
				t.Fatal(err)
			}
		}
		use()
		if lu := lastUsed(); lu == nil || !lu.Equal(first) {
			t.Fatalf("after first use: %v", lu)
		}
		// Within the minute no write is even attempted: a service whose write pool is closed
		// still authenticates.
		readOnly := *d
		readOnly.Write = closedPool(t)
		ro := NewService(&readOnly, f.clock.Now)
		for range 20 {
			f.clock.Advance(2 * time.Second) // 40 s in all: still within the minute
			if _, err := ro.Authenticate(context.Background(), c.Secret); err != nil {
				t.Fatalf("within the minute: %v (a write was attempted)", err)
			}
		}
		if lu := lastUsed(); !lu.Equal(first) {
			t.Fatalf("lastUsedAt moved within the minute: %v", lu)
		}
		f.clock.Advance(20 * time.Second) // a minute after the first use
		if _, err := ro.Authenticate(context.Background(), c.Secret); err == nil {
			t.Fatal("a minute later no write was attempted")
		}
		use()
		if lu := lastUsed(); !lu.Equal(first.Add(time.Minute)) {
			t.Fatalf("lastUsedAt after a minute: %v", lu)
		}
		// The conditional UPDATE refuses a stale writer: a second authentication that read the
		// row before the first one wrote does not write again.
		if err := f.svc.st.touch(context.Background(), d.Write, f.wsA, c.ID, f.clock.Now().Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		if lu := lastUsed(); !lu.Equal(first.Add(time.Minute)) {
			t.Fatalf("stale touch wrote: %v", lu)
		}
	})
}

// closedPool is a pool that fails every query: a service given it proves it does not touch the
// store.
func closedPool(t *testing.T) *sql.DB {
	t.Helper()
	p, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	_ = p.Close()
	return p
}
