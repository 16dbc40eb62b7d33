package db_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/platform/db"
	"github.com/parleyhq/parley/internal/platform/db/dbtest"
)

func TestTxCommitsAndRollsBack(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		now := time.Date(2026, 11, 27, 8, 0, 0, 123_000_000, time.UTC)
		err := d.Tx(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO workspaces (id, name, slug, timezone, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)`,
				"ws_a", "A", "a", "UTC", db.Time(now))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		boom := errors.New("boom")
		err = d.Tx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `INSERT INTO workspaces (id, name, slug, timezone, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)`,
				"ws_b", "B", "b", "UTC", db.Time(now)); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("err = %v, want boom", err)
		}
		var n int
		if err := d.Read.QueryRowContext(ctx, `SELECT COUNT(*) FROM workspaces`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Fatalf("rows = %d, want 1 (the rolled-back insert must not stay)", n)
		}
		var got time.Time
		if err := d.Read.QueryRowContext(ctx, `SELECT created_at FROM workspaces WHERE id = $1`, "ws_a").Scan((*db.Time)(&got)); err != nil {
			t.Fatal(err)
		}
		if !got.Equal(now) || got.Location() != time.UTC {
			t.Fatalf("time round trip: got %v, want %v", got, now)
		}
	})
}

func TestMigrateIsIdempotent(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		if err := d.Migrate(ctx, nil, dbtest.Migrations(d.Dialect)...); err != nil {
			t.Fatalf("second migrate: %v", err)
		}
		cur, latest, err := d.MigrationStatus(ctx, dbtest.Migrations(d.Dialect)...)
		if err != nil {
			t.Fatal(err)
		}
		if cur != latest || cur == 0 {
			t.Fatalf("version %d, latest %d", cur, latest)
		}
	})
}

func TestOpenRejectsBadConfig(t *testing.T) {
	ctx := context.Background()
	if _, err := db.Open(ctx, db.Config{URL: "mysql://x"}); err == nil {
		t.Fatal("mysql URL accepted")
	}
	if _, err := db.Open(ctx, db.Config{DataDir: t.TempDir(), SQLiteSynchronous: "off"}); err == nil {
		t.Fatal("synchronous=off accepted")
	}
}

func TestReadPool(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		for range 3 { // the second and third calls use the cached statement
			var n int
			if err := d.Read.QueryRowContext(ctx, `SELECT COUNT(*) FROM workspaces WHERE id <> $1`, "x").Scan(&n); err != nil || n != 0 {
				t.Fatalf("count: %d %v", n, err)
			}
		}
		var n int
		if err := d.Read.QueryRowContext(ctx, `SELECT nope FROM nowhere`).Scan(&n); err == nil {
			t.Fatal("a bad query succeeded")
		}
		if d.Dialect == db.SQLite {
			if _, err := d.Read.ExecContext(ctx, `INSERT INTO workspaces (id, name, slug, timezone, created_at, updated_at) VALUES ('ws_r', 'r', 'r', 'UTC', 0, 0)`); err == nil {
				t.Fatal("the SQLite read pool accepted a write")
			}
		}
	})
}

func TestIsUniqueViolation(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		if d.Dialect != db.Postgres {
			t.Skip("SQLite write transactions cannot race; the helper matters on PostgreSQL")
		}
		ctx := context.Background()
		insert := `INSERT INTO workspaces (id, name, slug, timezone, created_at, updated_at) VALUES ($1, $1, 'same', 'UTC', 0, 0)`
		if _, err := d.Write.ExecContext(ctx, insert, "ws_1"); err != nil {
			t.Fatal(err)
		}
		_, err := d.Write.ExecContext(ctx, insert, "ws_2")
		if !db.IsUniqueViolation(err, "workspaces_slug_key") {
			t.Fatalf("err %v is not recognised as a violation of workspaces_slug_key", err)
		}
		if db.IsUniqueViolation(err, "users_email_key") || db.IsUniqueViolation(nil, "workspaces_slug_key") {
			t.Fatal("matched the wrong constraint")
		}
	})
}
