package apikey

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/platform/db"
	"github.com/parleyhq/parley/internal/platform/db/dbtest"
)

// Every store method but byHash is confined to the workspace it is given.
func TestStoreIsConfinedToTheWorkspace(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		var st store
		now := f.clock.Now()
		exp := now.Add(time.Hour)
		k := APIKey{ID: "key_a1", WorkspaceID: f.wsA, Name: "a", Prefix: "parley_live_abcd", LastFour: "wxyz", Scopes: []string{"agents:read"},
			Mode: Live, CreatedBy: "user_owner", CreatedAt: now, ExpiresAt: &exp}
		if err := st.insert(ctx, d.Write, k, "hash-a1"); err != nil {
			t.Fatal(err)
		}
		got, err := st.get(ctx, d.Read, f.wsA, k.ID)
		if err != nil || got.Name != "a" || got.Mode != Live || got.ExpiresAt == nil || !got.ExpiresAt.Equal(exp) || got.LastUsedAt != nil ||
			got.RevokedAt != nil || len(got.Scopes) != 1 || !got.CreatedAt.Equal(now) {
			t.Fatalf("get %+v %v", got, err)
		}
		if _, err := st.get(ctx, d.Read, f.wsB, k.ID); !errors.Is(err, sql.ErrNoRows) {
			t.Fatalf("get from another workspace: %v", err)
		}
		if rows, err := st.list(ctx, d.Read, f.wsB, "", 10); err != nil || len(rows) != 0 {
			t.Fatalf("list of another workspace: %v %v", rows, err)
		}
		if ok, err := st.revoke(ctx, d.Write, f.wsB, k.ID, now); ok || err != nil {
			t.Fatalf("revoke from another workspace: %v %v", ok, err)
		}
		if err := st.touch(ctx, d.Write, f.wsB, k.ID, now); err != nil {
			t.Fatal(err)
		}
		if got, _ := st.get(ctx, d.Read, f.wsA, k.ID); got.RevokedAt != nil || got.LastUsedAt != nil {
			t.Fatalf("another workspace's calls changed the key: %+v", got)
		}
		// byHash is the exception: it finds the key whatever the workspace, and says which.
		byHash, err := st.byHash(ctx, d.Read, "hash-a1")
		if err != nil || byHash.ID != k.ID || byHash.WorkspaceID != f.wsA {
			t.Fatalf("byHash %+v %v", byHash, err)
		}
		if _, err := st.byHash(ctx, d.Read, "hash-none"); !errors.Is(err, sql.ErrNoRows) {
			t.Fatalf("byHash of an unknown hash: %v", err)
		}
		if ok, err := st.revoke(ctx, d.Write, f.wsA, k.ID, now); !ok || err != nil {
			t.Fatalf("revoke: %v %v", ok, err)
		}
		if ok, _ := st.revoke(ctx, d.Write, f.wsA, k.ID, now.Add(time.Hour)); ok {
			t.Fatal("revoked twice")
		}
	})
}

func TestStoreConstraints(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		var st store
		k := APIKey{ID: "key_1", WorkspaceID: f.wsA, Name: "a", Prefix: "p", LastFour: "l", Scopes: []string{"agents:read"}, Mode: Live, CreatedAt: f.clock.Now()}
		if err := st.insert(ctx, d.Write, k, "same-hash"); err != nil {
			t.Fatal(err)
		}
		k2 := k
		k2.ID = "key_2"
		if err := st.insert(ctx, d.Write, k2, "same-hash"); err == nil {
			t.Fatal("two keys with one hash")
		}
		k3 := k
		k3.ID, k3.Mode = "key_3", "prod"
		if err := st.insert(ctx, d.Write, k3, "other-hash"); err == nil {
			t.Fatal("mode prod accepted by the schema")
		}
		k4 := k
		k4.ID, k4.WorkspaceID = "key_4", "ws_missing"
		if err := st.insert(ctx, d.Write, k4, "hash-4"); err == nil {
			t.Fatal("key of a missing workspace accepted")
		}
		// Deleting the workspace deletes its keys.
		if _, err := d.Write.ExecContext(ctx, `DELETE FROM workspaces WHERE id = $1`, f.wsA); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := d.Read.QueryRowContext(ctx, `SELECT COUNT(*) FROM api_keys`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("%d keys left after the workspace was deleted (%v)", n, err)
		}
	})
}
