// Package dbtest runs one test body against every store: SQLite always, PostgreSQL when
// PARLEY_TEST_POSTGRES_URL is set. Each run gets a fresh, fully migrated database (a temporary
// directory for SQLite, a fresh schema for PostgreSQL) that is removed when the test ends.
package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/parleyhq/parley/internal/platform/db"
)

// PostgresURLEnv names the environment variable that enables the PostgreSQL runs.
const PostgresURLEnv = "PARLEY_TEST_POSTGRES_URL"

// Dialects lists the dialects this test run covers.
func Dialects() []db.Dialect {
	if os.Getenv(PostgresURLEnv) != "" {
		return []db.Dialect{db.SQLite, db.Postgres}
	}
	return []db.Dialect{db.SQLite}
}

// Each runs fn as a subtest per dialect, each with its own migrated database.
func Each(t *testing.T, fn func(t *testing.T, d *db.DB)) {
	t.Helper()
	for _, dialect := range Dialects() {
		t.Run(string(dialect), func(t *testing.T) {
			fn(t, Open(t, dialect))
		})
	}
}

// EachConfig is like Each but hands over a db.Config, for tests that open the store themselves
// (the app's end-to-end tests start a whole server on it).
func EachConfig(t *testing.T, fn func(t *testing.T, cfg db.Config)) {
	t.Helper()
	for _, dialect := range Dialects() {
		t.Run(string(dialect), func(t *testing.T) {
			fn(t, Config(t, dialect))
		})
	}
}

// Config returns the configuration of a fresh, empty database of the dialect, removed at cleanup.
func Config(t testing.TB, dialect db.Dialect) db.Config {
	t.Helper()
	if dialect == db.SQLite {
		return db.Config{DataDir: t.TempDir()}
	}
	base := os.Getenv(PostgresURLEnv)
	if base == "" {
		t.Skip(PostgresURLEnv + " is not set")
	}
	ctx := context.Background()
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to PostgreSQL: %v", err)
	}
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	_ = conn.Close(ctx)
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), base)
		if err != nil {
			return
		}
		defer conn.Close(context.Background())
		_, _ = conn.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", PostgresURLEnv, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	q.Set("pool_max_conns", "10")
	u.RawQuery = q.Encode()
	return db.Config{URL: u.String(), DataDir: t.TempDir()}
}

// Open returns a fresh, migrated database of the dialect, closed at cleanup.
func Open(t testing.TB, dialect db.Dialect) *db.DB {
	t.Helper()
	cfg := Config(t, dialect)
	ctx := context.Background()
	d, err := db.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("open %s: %v", dialect, err)
	}
	t.Cleanup(func() { _ = d.Close() })
	if err := d.Migrate(ctx, nil, Migrations(dialect)...); err != nil {
		t.Fatalf("migrate %s: %v", dialect, err)
	}
	return d
}
