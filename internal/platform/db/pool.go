package db

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
)

// maxCachedStatements bounds a Pool's statement cache; queries beyond it run unprepared.
const maxCachedStatements = 1000

// Pool is a connection pool that keeps each query's prepared statement, so a hot query is parsed
// once per connection instead of on every call (on SQLite, parsing was a sixth of the CPU of an
// authenticated read). It is a Querier; the embedded *sql.DB gives everything else.
type Pool struct {
	*sql.DB
	cache bool
	stmts sync.Map // query → *sql.Stmt
	n     atomic.Int32
}

// NewPool wraps d; cacheStatements keeps each query's prepared statement.
func NewPool(d *sql.DB, cacheStatements bool) *Pool { return &Pool{DB: d, cache: cacheStatements} }

// stmt returns the cached statement of query, preparing it on first use; nil when not cached.
func (p *Pool) stmt(ctx context.Context, query string) *sql.Stmt {
	if !p.cache {
		return nil
	}
	if s, ok := p.stmts.Load(query); ok {
		return s.(*sql.Stmt)
	}
	if p.n.Load() >= maxCachedStatements {
		return nil
	}
	s, err := p.DB.PrepareContext(ctx, query)
	if err != nil {
		return nil // the unprepared call reports the error
	}
	if prev, loaded := p.stmts.LoadOrStore(query, s); loaded {
		_ = s.Close()
		return prev.(*sql.Stmt)
	}
	p.n.Add(1)
	return s
}

// ExecContext implements Querier.
func (p *Pool) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if s := p.stmt(ctx, query); s != nil {
		return s.ExecContext(ctx, args...)
	}
	return p.DB.ExecContext(ctx, query, args...)
}

// QueryContext implements Querier.
func (p *Pool) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if s := p.stmt(ctx, query); s != nil {
		return s.QueryContext(ctx, args...)
	}
	return p.DB.QueryContext(ctx, query, args...)
}

// QueryRowContext implements Querier.
func (p *Pool) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if s := p.stmt(ctx, query); s != nil {
		return s.QueryRowContext(ctx, args...)
	}
	return p.DB.QueryRowContext(ctx, query, args...)
}

// Close closes the cached statements and the pool.
func (p *Pool) Close() error {
	p.stmts.Range(func(_, s any) bool {
		_ = s.(*sql.Stmt).Close()
		return true
	})
	return p.DB.Close()
}
