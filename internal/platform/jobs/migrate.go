package jobs

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/parleyhq/parley/internal/platform/db"
)

// MigrationVersion is the goose version of the migration that creates River's schema. Version 1
// is the SQL foundation migration; SQL migrations added later must not reuse this number.
const MigrationVersion = 2

// riverSchemaVersion is the River migration that MigrationVersion migrates up to (River's "main"
// line, v0.51.2 has versions 1–8). It is pinned so that the released migration keeps doing the
// same thing after a River upgrade: when an upgrade brings new River migrations, add a new goose
// Go migration that migrates River up to the new version, and leave this one alone.
const riverSchemaVersion = 8

// Migrations returns River's schema as goose Go migrations for the dialect, to pass to
// db.DB.Migrate and db.DB.MigrationStatus together with the embedded SQL files.
//
// On SQLite the migration runs in goose's transaction (RunTx), because the writer pool has a single
// connection that goose already holds. On PostgreSQL it runs on the pool (RunDB): River applies
// each of its own migrations in its own transaction, as some cannot share one. The River tables
// live in the connection's current schema (its search_path). Down removes River's schema entirely.
func Migrations(dialect db.Dialect) []*goose.Migration {
	up := &rivermigrate.MigrateOpts{TargetVersion: riverSchemaVersion}
	down := &rivermigrate.MigrateOpts{TargetVersion: -1}
	switch dialect {
	case db.SQLite:
		return []*goose.Migration{goose.NewGoMigration(MigrationVersion,
			&goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error {
				return migrateSQLite(ctx, tx, rivermigrate.DirectionUp, up)
			}},
			&goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error {
				return migrateSQLite(ctx, tx, rivermigrate.DirectionDown, down)
			}},
		)}
	case db.Postgres:
		return []*goose.Migration{goose.NewGoMigration(MigrationVersion,
			&goose.GoFunc{RunDB: func(ctx context.Context, sdb *sql.DB) error {
				return migratePostgres(ctx, sdb, rivermigrate.DirectionUp, up)
			}},
			&goose.GoFunc{RunDB: func(ctx context.Context, sdb *sql.DB) error {
				return migratePostgres(ctx, sdb, rivermigrate.DirectionDown, down)
			}},
		)}
	default:
		panic(fmt.Sprintf("jobs: unknown dialect %q", dialect))
	}
}

func migrateSQLite(ctx context.Context, tx *sql.Tx, dir rivermigrate.Direction, opts *rivermigrate.MigrateOpts) error {
	// A driver without a pool: the migration can only use the transaction it is given, so a slip
	// fails loudly instead of deadlocking on the single writer connection.
	m, err := rivermigrate.New(riversqlite.New(nil), &rivermigrate.Config{Logger: quietLogger()})
	if err != nil {
		return fmt.Errorf("river migrator: %w", err)
	}
	// MigrateTx is deprecated because some PostgreSQL migrations cannot share a transaction; on
	// SQLite they can, and goose holds the only writer connection in its transaction.
	//lint:ignore SA1019 see above
	if _, err := m.MigrateTx(ctx, tx, dir, opts); err != nil {
		return fmt.Errorf("river migrate %s: %w", dir, err)
	}
	return nil
}

func migratePostgres(ctx context.Context, sdb *sql.DB, dir rivermigrate.Direction, opts *rivermigrate.MigrateOpts) error {
	m, err := rivermigrate.New(riverdatabasesql.New(sdb), &rivermigrate.Config{Logger: quietLogger()})
	if err != nil {
		return fmt.Errorf("river migrator: %w", err)
	}
	if _, err := m.Migrate(ctx, dir, opts); err != nil {
		return fmt.Errorf("river migrate %s: %w", dir, err)
	}
	return nil
}
