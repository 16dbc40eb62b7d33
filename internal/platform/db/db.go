// Package db opens Parley's store — embedded SQLite (the default) or PostgreSQL — applies the
// embedded migrations, and gives capabilities the few helpers they share: a transaction helper,
// explicit time conversion and the dialect differences.
//
// Contract for callers:
//   - SQL is written with numbered placeholders ($1, $2, …); both drivers bind them positionally.
//   - Writes go through DB.Tx (or DB.Write); reads that need no transaction use DB.Read.
//   - A function running inside a transaction uses only the Querier it was given. On SQLite there is
//     one writer connection: touching DB.Write while holding a transaction deadlocks.
//   - Times are stored as int64 Unix milliseconds (UTC) on both dialects; use db.Time to scan and bind.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Dialect names a supported SQL dialect.
type Dialect string

const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Querier is what store methods take: a pool or a transaction.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Config says where the data lives.
type Config struct {
	// URL is a postgres:// URL; empty means SQLite in DataDir.
	URL string
	// DataDir holds the SQLite file (parley.db) and other local state.
	DataDir string
	// SQLiteSynchronous is the SQLite synchronous pragma: "normal" (default) or "full".
	SQLiteSynchronous string
	// ReadConns is the size of the SQLite reader pool (default 4) or the PostgreSQL pool (default 20).
	ReadConns int
}

// DB is an open store.
type DB struct {
	Dialect Dialect
	// Write is the pool for writes and transactions. On SQLite it has exactly one connection.
	Write *sql.DB
	// Read is the pool for reads outside transactions. On SQLite it is a pool of read-only
	// connections that keeps prepared statements; on PostgreSQL it wraps the same pool as Write
	// (pgx keeps prepared statements itself).
	Read *Pool
	// Pool is the pgx pool under Write on PostgreSQL (nil on SQLite); River's listener uses it.
	Pool *pgxpool.Pool

	commits *committer // SQLite: group commit of concurrent transactions
}

// Open opens the store that cfg names. It does not migrate; call Migrate.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	if cfg.URL != "" {
		if !strings.HasPrefix(cfg.URL, "postgres://") && !strings.HasPrefix(cfg.URL, "postgresql://") {
			return nil, fmt.Errorf("database URL must start with postgres:// (or be empty for SQLite)")
		}
		return openPostgres(ctx, cfg)
	}
	return openSQLite(ctx, cfg)
}

func openPostgres(ctx context.Context, cfg Config) (*DB, error) {
	pcfg, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("parse database URL: %w", err)
	}
	if cfg.ReadConns > 0 {
		pcfg.MaxConns = int32(cfg.ReadConns)
	} else if pcfg.MaxConns < 20 {
		pcfg.MaxConns = 20
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	sdb := stdlib.OpenDBFromPool(pool)
	sdb.SetMaxOpenConns(int(pcfg.MaxConns))
	return &DB{Dialect: Postgres, Write: sdb, Read: NewPool(sdb, false), Pool: pool}, nil
}

func openSQLite(ctx context.Context, cfg Config) (*DB, error) {
	dir := cfg.DataDir
	if dir == "" {
		dir = "parley-data"
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	sync := strings.ToLower(cfg.SQLiteSynchronous)
	switch sync {
	case "":
		sync = "normal"
	case "normal", "full":
	default:
		return nil, fmt.Errorf("sqlite synchronous must be normal or full, not %q", cfg.SQLiteSynchronous)
	}
	path := filepath.Join(dir, "parley.db")
	base := "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(" + sync +
		")&_pragma=foreign_keys(1)"
	w, err := sql.Open("sqlite", base+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open SQLite: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("open SQLite %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", base+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open SQLite readers: %w", err)
	}
	n := cfg.ReadConns
	if n <= 0 {
		n = 4
	}
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	r.SetConnMaxIdleTime(0)
	r.SetConnMaxLifetime(0)
	d := &DB{Dialect: SQLite, Write: w, Read: NewPool(r, true)}
	d.commits = newCommitter(d)
	return d, nil
}

// Close closes every pool.
func (d *DB) Close() error {
	if d.commits != nil {
		d.commits.shutdown()
	}
	var errs []error
	if d.Read.DB != d.Write {
		errs = append(errs, d.Read.Close())
	}
	errs = append(errs, d.Write.Close())
	if d.Pool != nil {
		d.Pool.Close()
	}
	return errors.Join(errs...)
}

// Ping checks that the store answers.
func (d *DB) Ping(ctx context.Context) error {
	var one int
	return d.Read.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// Tx runs fn in a write transaction and commits it when fn returns nil. On PostgreSQL a
// serialization failure or deadlock is retried a few times; on SQLite concurrent transactions
// share one COMMIT (see group.go) and may be run again alone if that COMMIT fails. So fn must
// have no side effects outside the transaction (enqueue jobs and events through it instead).
func (d *DB) Tx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if d.commits != nil {
		return d.commits.do(ctx, fn)
	}
	for attempt := 0; ; attempt++ {
		err := d.tx(ctx, fn)
		if err == nil || attempt >= 4 || !retryable(err) {
			return err
		}
		time.Sleep(time.Duration(attempt+1) * 5 * time.Millisecond)
	}
}

func (d *DB) tx(ctx context.Context, fn func(tx *sql.Tx) error) (err error) {
	tx, err := d.Write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
