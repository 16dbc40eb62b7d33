package contact

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/platform/db"
)

// importPlan is the stored form of what an import was asked and found at upload.
type importPlan struct {
	Delimiter   string         `json:"delimiter"`
	Columns     []ImportColumn `json:"columns"`
	OnDuplicate string         `json:"onDuplicate"`
	ListID      string         `json:"listId,omitempty"`
	Tags        []string       `json:"tags"`
}

const importCols = `id, workspace_id, status, file_name, file_size, plan, total, processed, created, updated, skipped, failed,
next_offset, next_line, error, created_by, created_at, updated_at, started_at, finished_at`

// importRow is an import with its checkpoint.
type importRow struct {
	Import
	nextOffset, nextLine int64
}

func scanImport(sc interface{ Scan(...any) error }) (importRow, error) {
	var r importRow
	var plan string
	var started, finished db.Time
	if err := sc.Scan(&r.ID, &r.WorkspaceID, &r.Status, &r.FileName, &r.FileSize, &plan, &r.Total, &r.Processed, &r.Created, &r.Updated,
		&r.Skipped, &r.Failed, &r.nextOffset, &r.nextLine, &r.Error, &r.CreatedBy, (*db.Time)(&r.CreatedAt), (*db.Time)(&r.UpdatedAt),
		&started, &finished); err != nil {
		return importRow{}, err
	}
	var p importPlan
	if err := json.Unmarshal([]byte(plan), &p); err != nil {
		return importRow{}, fmt.Errorf("import %s: plan: %w", r.ID, err)
	}
	r.Delimiter, r.Columns, r.OnDuplicate, r.ListID, r.Tags = p.Delimiter, p.Columns, p.OnDuplicate, p.ListID, p.Tags
	if r.Tags == nil {
		r.Tags = []string{}
	}
	if t := time.Time(started); !t.IsZero() {
		r.StartedAt = &t
	}
	if t := time.Time(finished); !t.IsZero() {
		r.FinishedAt = &t
	}
	return r, nil
}

// insertImport adds the import.
func (store) insertImport(ctx context.Context, q db.Querier, r importRow) error {
	plan, err := json.Marshal(importPlan{Delimiter: r.Delimiter, Columns: r.Columns, OnDuplicate: r.OnDuplicate, ListID: r.ListID, Tags: r.Tags})
	if err != nil {
		return err
	}
	_, err = q.ExecContext(ctx, `INSERT INTO contact_imports (`+importCols+`)
VALUES ($1, $2, $3, $4, $5, $6, $7, 0, 0, 0, 0, 0, $8, $9, '', $10, $11, $11, NULL, NULL)`,
		r.ID, r.WorkspaceID, r.Status, r.FileName, r.FileSize, string(plan), r.Total, r.nextOffset, r.nextLine, r.CreatedBy, db.Time(r.CreatedAt))
	return err
}

// getImport returns the workspace's import; sql.ErrNoRows when there is none.
func (store) getImport(ctx context.Context, q db.Querier, wsID, importID string) (importRow, error) {
	return scanImport(q.QueryRowContext(ctx, `SELECT `+importCols+` FROM contact_imports WHERE workspace_id = $1 AND id = $2`, wsID, importID))
}

// imports returns the workspace's imports, newest first, with IDs below beforeID.
func (store) imports(ctx context.Context, q db.Querier, wsID, beforeID string, limit int) ([]Import, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+importCols+` FROM contact_imports
WHERE workspace_id = $1 AND ($2 = '' OR id < $2) ORDER BY id DESC LIMIT $3`, wsID, beforeID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Import
	for rows.Next() {
		r, err := scanImport(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r.Import)
	}
	return out, rows.Err()
}

// importCounts are what one batch adds to an import's counts.
type importCounts struct{ created, updated, skipped, failed int64 }

func (c importCounts) processed() int64 { return c.created + c.updated + c.skipped + c.failed }

// advanceImport moves the workspace's running import's checkpoint from (fromOffset) to
// (offset, line) and adds the batch's counts; ok is false when the checkpoint is no longer at
// fromOffset (another run moved it) or the import is not queued or running.
func (store) advanceImport(ctx context.Context, q db.Querier, wsID, importID string, fromOffset, offset, line int64, n importCounts, now time.Time) (bool, error) {
	res, err := q.ExecContext(ctx, `UPDATE contact_imports SET next_offset = $4, next_line = $5, processed = processed + $6, created = created + $7,
updated = updated + $8, skipped = skipped + $9, failed = failed + $10, status = 'running', updated_at = $11, started_at = COALESCE(started_at, $11)
WHERE workspace_id = $1 AND id = $2 AND next_offset = $3 AND status IN ('queued', 'running')`,
		wsID, importID, fromOffset, offset, line, n.processed(), n.created, n.updated, n.skipped, n.failed, db.Time(now))
	if err != nil {
		return false, err
	}
	k, err := res.RowsAffected()
	return k == 1, err
}

// finishImport ends the workspace's import with the status (completed or failed) and reason;
// ok is false when it had ended already.
func (store) finishImport(ctx context.Context, q db.Querier, wsID, importID, status, reason string, now time.Time) (bool, error) {
	res, err := q.ExecContext(ctx, `UPDATE contact_imports SET status = $3, error = $4, updated_at = $5, finished_at = $5, started_at = COALESCE(started_at, $5)
WHERE workspace_id = $1 AND id = $2 AND status IN ('queued', 'running')`, wsID, importID, status, reason, db.Time(now))
	if err != nil {
		return false, err
	}
	k, err := res.RowsAffected()
	return k == 1, err
}

// importErrors returns the workspace's import's failed rows in line order, after line afterLine.
func (store) importErrors(ctx context.Context, q db.Querier, wsID, importID string, afterLine int64, limit int) ([]ImportError, error) {
	rows, err := q.QueryContext(ctx, `SELECT line, col, value, reason FROM contact_import_errors
WHERE workspace_id = $1 AND import_id = $2 AND line > $3 ORDER BY line LIMIT $4`, wsID, importID, afterLine, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ImportError
	for rows.Next() {
		var e ImportError
		if err := rows.Scan(&e.Line, &e.Column, &e.Value, &e.Reason); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// maxParams bounds the parameters of one multi-row statement: PostgreSQL allows 65,535, but a
// statement of a few thousand is already one round trip for hundreds of rows. (SQLite, which
// resolves each $N by a linear search of the ones before it, gets one-row statements anyway.)
const maxParams = 2000

// stmtCache is a transaction that prepares each distinct statement once: a batch of an import
// runs the same multi-row INSERT dozens of times, and parsing it is most of its cost on SQLite.
type stmtCache struct {
	*sql.Tx
	stmts map[string]*sql.Stmt
	// oneRow makes insertMany write a row per statement (see rowsPerStatement).
	oneRow bool
}

// newStmtCache wraps tx. On SQLite, inserts go a row per statement: a multi-row INSERT must
// keep a statement journal (written to a temporary file) in case it fails half-way, which costs
// more than running a prepared one-row statement many times; on PostgreSQL each statement is a
// round trip, so rows go by the hundred.
func newStmtCache(tx *sql.Tx, dialect db.Dialect) *stmtCache {
	return &stmtCache{Tx: tx, stmts: map[string]*sql.Stmt{}, oneRow: dialect == db.SQLite}
}

// ExecContext runs query as a prepared statement of the transaction.
func (c *stmtCache) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := c.prepare(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// QueryContext runs query as a prepared statement of the transaction.
func (c *stmtCache) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := c.prepare(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func (c *stmtCache) prepare(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := c.stmts[query]; ok {
		return st, nil
	}
	st, err := c.Tx.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.stmts[query] = st
	return st, nil
}

// Close closes the prepared statements (the transaction stays).
func (c *stmtCache) Close() {
	for _, st := range c.stmts {
		_ = st.Close()
	}
}

// insertMany runs prefix VALUES (…), (…) suffix for rows (each of width values) in as few
// statements as the parameter bound allows.
func insertMany(ctx context.Context, q db.Querier, prefix, suffix string, width int, rows [][]any) error {
	per := max(1, min(500, maxParams/width))
	if c, ok := q.(*stmtCache); ok && c.oneRow {
		per = 1
	}
	var b strings.Builder
	args := make([]any, 0, per*width)
	for start := 0; start < len(rows); start += per {
		chunk := rows[start:min(len(rows), start+per)]
		b.Reset()
		args = args[:0]
		b.WriteString(prefix)
		b.WriteString(" VALUES ")
		for i, r := range chunk {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('(')
			for j, v := range r {
				if j > 0 {
					b.WriteByte(',')
				}
				args = append(args, v)
				b.WriteByte('$')
				b.WriteString(strconv.Itoa(len(args)))
			}
			b.WriteByte(')')
		}
		b.WriteString(suffix)
		if _, err := q.ExecContext(ctx, b.String(), args...); err != nil {
			return err
		}
	}
	return nil
}

// insertImportErrors records failed rows of the workspace's import.
func (store) insertImportErrors(ctx context.Context, q db.Querier, wsID, importID string, errs []ImportError) error {
	rows := make([][]any, len(errs))
	for i, e := range errs {
		rows[i] = []any{wsID, importID, e.Line, e.Column, e.Value, e.Reason}
	}
	return insertMany(ctx, q, `INSERT INTO contact_import_errors (workspace_id, import_id, line, col, value, reason)`, ``, 6, rows)
}

// contactsByPhone returns the workspace's contacts with the numbers, by number.
func (store) contactsByPhone(ctx context.Context, q db.Querier, wsID string, phones []string) (map[string]Contact, error) {
	out := make(map[string]Contact, len(phones))
	const per = 250
	for start := 0; start < len(phones); start += per {
		chunk := phones[start:min(len(phones), start+per)]
		args := make([]any, 0, len(chunk)+1)
		args = append(args, wsID)
		for _, p := range chunk {
			args = append(args, p)
		}
		rows, err := q.QueryContext(ctx, phoneLookup(len(chunk)), args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			c, err := scanContact(rows)
			if err != nil {
				rows.Close()
				return nil, err
			}
			out[c.Phone] = c
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// phoneLookup is the query of n numbers ($2…) of workspace $1. The numbers are a VALUES list
// (its column is column1 on both dialects) cross-joined to contacts, so that each is looked up
// in the (workspace_id, phone) index:
//   - not IN ($2, …): PostgreSQL's generic plan of a prepared IN list of parameters cannot hash
//     it, and compares every contact of the workspace with every number — seconds per batch at a
//     million contacts;
//   - CROSS JOIN, not JOIN … ON: SQLite keeps a CROSS JOIN's order (VALUES outside, an index
//     search inside), where with a plain join it scans the workspace's contacts and probes the
//     numbers. PostgreSQL plans a CROSS JOIN like any inner join.
//
// TestPhoneLookupSearchesTheIndex checks SQLite's plan.
func phoneLookup(n int) string {
	var b strings.Builder
	b.WriteString(`SELECT ` + contactCols + ` FROM (VALUES (CAST($2 AS TEXT))`)
	for i := 1; i < n; i++ {
		b.WriteString(",($" + strconv.Itoa(i+2) + ")")
	}
	b.WriteString(`) AS v CROSS JOIN contacts c
LEFT JOIN dnc_numbers d ON d.workspace_id = c.workspace_id AND d.phone = c.phone
WHERE c.workspace_id = $1 AND c.phone = v.column1`)
	return b.String()
}

// insertContacts adds new contacts (numbers the workspace does not have) with their search rows.
func (store) insertContacts(ctx context.Context, q db.Querier, cs []Contact) error {
	rows := make([][]any, 0, len(cs))
	var tagRows, attrRows [][]any
	for _, c := range cs {
		attrs, tags, err := encode(c)
		if err != nil {
			return err
		}
		rows = append(rows, []any{c.ID, c.WorkspaceID, c.Phone, c.Name, strings.ToLower(c.Name), c.Email, c.Timezone, attrs, tags,
			db.Time(c.CreatedAt), db.Time(c.UpdatedAt)})
		for _, t := range c.Tags {
			tagRows = append(tagRows, []any{c.WorkspaceID, c.ID, t})
		}
		for _, k := range slices.Sorted(maps.Keys(c.Attributes)) {
			attrRows = append(attrRows, []any{c.WorkspaceID, c.ID, k, valueText(c.Attributes[k])})
		}
	}
	if err := insertMany(ctx, q, `INSERT INTO contacts (id, workspace_id, phone, name, name_lower, email, timezone, attributes, tags, created_at, updated_at)`, ``, 11, rows); err != nil {
		return err
	}
	if err := insertMany(ctx, q, `INSERT INTO contact_tags (workspace_id, contact_id, tag)`, ``, 3, tagRows); err != nil {
		return err
	}
	return insertMany(ctx, q, `INSERT INTO contact_attributes (workspace_id, contact_id, name, value_text)`, ` `, 4, attrRows)
}

// addMembers puts the workspace's contacts in its list (those already there stay as they are).
func (store) addMembers(ctx context.Context, q db.Querier, wsID, listID string, contactIDs []string, now time.Time) error {
	rows := make([][]any, len(contactIDs))
	for i, id := range contactIDs {
		rows[i] = []any{wsID, listID, id, db.Time(now)}
	}
	return insertMany(ctx, q, `INSERT INTO contact_list_members (workspace_id, list_id, contact_id, added_at)`, ` ON CONFLICT (list_id, contact_id) DO NOTHING`, 4, rows)
}
