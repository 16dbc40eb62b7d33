package db

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
)

// Group commit (SQLite). SQLite has one writer, and each commit appends every page it changed to
// the WAL: committing each small transaction alone spends most of a write request in COMMIT.
// The committer runs the transactions that arrive together in one SQLite transaction, each inside
// its own SAVEPOINT, and commits once:
//
//   - a function that returns an error (or panics) is rolled back to its savepoint alone, and gets
//     its error (or its panic, re-raised in its own goroutine); the others still commit;
//   - every function of a batch learns the outcome of the one COMMIT: nil only once its writes are
//     durable as far as the synchronous setting makes them;
//   - if anything else goes wrong (a savepoint statement or the COMMIT fails), the batch is rolled
//     back and each function is run again alone, in a transaction of its own, so each gets its own
//     true answer. Functions must therefore be safe to run again — the contract DB.Tx already
//     states for PostgreSQL's retries.
//
// Functions run one after another, in arrival order, on the one writer connection, exactly as
// they would without batching: a function sees the writes of the functions before it in its batch.
type committer struct {
	d     *DB
	reqs  chan *txRequest
	stop  chan struct{}
	done  sync.WaitGroup
	close sync.Once
}

// maxBatch bounds how many transactions one COMMIT carries.
const maxBatch = 64

type txRequest struct {
	ctx    context.Context
	fn     func(*sql.Tx) error
	result chan txResult
}

type txResult struct {
	err   error
	panic any
}

func newCommitter(d *DB) *committer {
	c := &committer{d: d, reqs: make(chan *txRequest), stop: make(chan struct{})}
	c.done.Add(1)
	go c.run()
	return c
}

// do runs fn through the committer and waits for its outcome.
func (c *committer) do(ctx context.Context, fn func(*sql.Tx) error) error {
	req := &txRequest{ctx: ctx, fn: fn, result: make(chan txResult, 1)}
	select {
	case c.reqs <- req:
	case <-ctx.Done():
		return ctx.Err()
	case <-c.stop:
		return fmt.Errorf("db: store is closed")
	}
	r := <-req.result // always answered, even when ctx ends meanwhile: the writes may commit
	if r.panic != nil {
		panic(r.panic)
	}
	return r.err
}

func (c *committer) shutdown() {
	c.close.Do(func() { close(c.stop) })
	c.done.Wait()
}

func (c *committer) run() {
	defer c.done.Done()
	batch := make([]*txRequest, 0, maxBatch)
	for {
		select {
		case <-c.stop:
			return
		case req := <-c.reqs:
			batch = append(batch[:0], req)
		}
	gather:
		for len(batch) < maxBatch {
			select {
			case req := <-c.reqs:
				batch = append(batch, req)
			default:
				break gather
			}
		}
		c.runBatch(batch)
	}
}

// runBatch commits the batch together, or falls back to one transaction per request.
func (c *committer) runBatch(batch []*txRequest) {
	if len(batch) == 1 {
		c.alone(batch[0])
		return
	}
	results, ok := c.together(batch)
	if !ok {
		for _, req := range batch {
			c.alone(req)
		}
		return
	}
	for i, req := range batch {
		req.result <- results[i]
	}
}

// alone runs one request in its own transaction.
func (c *committer) alone(req *txRequest) {
	var r txResult
	func() {
		defer func() {
			if p := recover(); p != nil {
				r = txResult{panic: p}
			}
		}()
		r.err = c.d.tx(req.ctx, req.fn)
	}()
	req.result <- r
}

// together runs the batch in one transaction with a savepoint per request; ok is false when the
// batch could not be committed as a whole (the caller then runs each request alone).
func (c *committer) together(batch []*txRequest) ([]txResult, bool) {
	ctx := context.Background()
	tx, err := c.d.Write.BeginTx(ctx, nil)
	if err != nil {
		return nil, false
	}
	results := make([]txResult, len(batch))
	for i, req := range batch {
		if err := req.ctx.Err(); err != nil {
			results[i].err = err
			continue
		}
		if _, err := tx.ExecContext(ctx, "SAVEPOINT parley_batch"); err != nil {
			_ = tx.Rollback()
			return nil, false
		}
		results[i] = call(req.ctx, tx, req.fn)
		if results[i].err != nil || results[i].panic != nil {
			if _, err := tx.ExecContext(ctx, "ROLLBACK TO parley_batch"); err != nil {
				_ = tx.Rollback()
				return nil, false
			}
		}
		if _, err := tx.ExecContext(ctx, "RELEASE parley_batch"); err != nil {
			_ = tx.Rollback()
			return nil, false
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, false
	}
	return results, true
}

func call(ctx context.Context, tx *sql.Tx, fn func(*sql.Tx) error) (r txResult) {
	defer func() {
		if p := recover(); p != nil {
			r = txResult{panic: p}
		}
	}()
	return txResult{err: fn(tx)}
}
