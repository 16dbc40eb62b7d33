package contact

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/audit"
	"github.com/parleyhq/parley/internal/platform/authz"
	"github.com/parleyhq/parley/internal/platform/events"
	"github.com/parleyhq/parley/internal/platform/id"
	"github.com/parleyhq/parley/internal/platform/page"
)

// importPrefix is the prefix of import IDs (imp_…).
const importPrefix = "imp"

// Inserter enqueues a job in a transaction (jobs.Queue).
type Inserter interface {
	InsertTx(ctx context.Context, tx *sql.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

// Option configures a Service.
type Option func(*Service)

// WithImports enables CSV imports: uploaded files are kept in dir (created if needed) until
// their import ends, and queue runs the imports as jobs. Without it, starting an import is 503.
func WithImports(dir string, queue Inserter) Option {
	return func(s *Service) { s.imp.dir, s.imp.queue = dir, queue }
}

// WithImportBatch sets how many rows one transaction of an import writes (DefaultImportBatch).
func WithImportBatch(n int) Option {
	return func(s *Service) {
		if n > 0 {
			s.imp.batch = n
		}
	}
}

type importConfig struct {
	dir      string
	queue    Inserter
	batch    int
	maxBytes int64 // MaxImportBytes; tests lower it
}

var errImportsOff = apierr.New(apierr.Unavailable, "imports_unavailable", "CSV imports are not enabled on this server")

// Upload is a CSV file received for an import. It is removed by Discard, or kept by StartImport
// for the import's job.
type Upload struct {
	path string
	name string
	size int64
}

// Discard removes the file (when StartImport did not take it).
func (u *Upload) Discard() {
	if u != nil && u.path != "" {
		_ = os.Remove(u.path)
	}
}

// ReceiveImport checks the caller (owner, admin; contacts:write) and writes r to a file in the
// import directory, streaming: at most MaxImportBytes (TooLarge beyond). Errors: NotFound,
// Forbidden, TooLarge, Unavailable (imports not enabled).
func (s *Service) ReceiveImport(ctx context.Context, wsID, fileName string, r io.Reader) (*Upload, error) {
	if _, err := authz.Require(ctx, wsID, authz.ContactsWrite); err != nil {
		return nil, err
	}
	if s.imp.dir == "" || s.imp.queue == nil {
		return nil, errImportsOff
	}
	if err := os.MkdirAll(s.imp.dir, 0o700); err != nil {
		return nil, fmt.Errorf("import directory: %w", err)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	u := &Upload{path: filepath.Join(s.imp.dir, "upload-"+hex.EncodeToString(b[:])+".part"), name: cleanFileName(fileName)}
	f, err := os.OpenFile(u.path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("import upload: %w", err)
	}
	limit := s.imp.maxBytes
	if limit <= 0 {
		limit = MaxImportBytes
	}
	src := &sourceReader{r: io.LimitReader(r, limit+1)}
	n, err := io.Copy(f, src)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	u.size = n
	if err != nil {
		u.Discard()
		if src.err != nil {
			return nil, apierr.New(apierr.BadRequest, "upload_failed", "the upload was cut short: "+src.err.Error())
		}
		return nil, fmt.Errorf("import upload: %w", err) // the disk: a 500
	}
	if n > limit {
		u.Discard()
		return nil, errTooLarge
	}
	return u, nil
}

// sourceReader remembers the error of the request body, to tell it from the disk's.
type sourceReader struct {
	r   io.Reader
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		s.err = err
	}
	return n, err
}

var errTooLarge = apierr.New(apierr.TooLarge, "file_too_large", fmt.Sprintf("a CSV file of at most %d MB", MaxImportBytes>>20))

func cleanFileName(name string) string {
	name = strings.TrimSpace(filepath.Base(strings.ReplaceAll(name, `\`, "/")))
	if name == "." || name == "/" || name == "" {
		name = "contacts.csv"
	}
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, name)
	if r := []rune(name); len(r) > 200 {
		name = string(r[:200])
	}
	return name
}

// StartImport checks the uploaded file (its header, delimiter and that it is CSV throughout) and
// the options, and queues the import (owner, admin; contacts:write). The import takes the file;
// on error the caller discards it. Errors: NotFound, Forbidden, Invalid (no file, not CSV, no
// phone column, bad options, a list that is not the workspace's), Unavailable.
func (s *Service) StartImport(ctx context.Context, wsID string, up *Upload, opts ImportOptions) (Import, error) {
	p, err := authz.Require(ctx, wsID, authz.ContactsWrite)
	if err != nil {
		return Import{}, err
	}
	if s.imp.dir == "" || s.imp.queue == nil {
		return Import{}, errImportsOff
	}
	if up == nil {
		return Import{}, apierr.Validation(apierr.FieldError{Location: "file", Message: "send the CSV file: a text/csv body, or a multipart/form-data part named file"})
	}
	switch opts.OnDuplicate {
	case "":
		opts.OnDuplicate = OnDuplicateSkip
	case OnDuplicateSkip, OnDuplicateUpdate:
	default:
		return Import{}, apierr.Validation(apierr.FieldError{Location: "onDuplicate", Message: "skip or update", Value: opts.OnDuplicate})
	}
	tags, err := validTags("tags", opts.Tags)
	if err != nil {
		return Import{}, err
	}
	if opts.ListID != "" {
		if _, err := s.st.getList(ctx, s.db.Read, wsID, opts.ListID); errors.Is(err, sql.ErrNoRows) {
			return Import{}, apierr.Validation(apierr.FieldError{Location: "listId", Message: "no such list in this workspace", Value: opts.ListID})
		} else if err != nil {
			return Import{}, err
		}
	}
	f, err := os.Open(up.path)
	if err != nil {
		return Import{}, err
	}
	sc, err := scanFile(f)
	_ = f.Close()
	if err != nil {
		return Import{}, err
	}
	cols, err := planColumns(sc.header, opts.Mapping)
	if err != nil {
		return Import{}, err
	}
	now := s.now()
	r := importRow{Import: Import{ID: id.New(importPrefix), WorkspaceID: wsID, Status: ImportQueued, FileName: up.name, FileSize: up.size,
		Total: sc.total, OnDuplicate: opts.OnDuplicate, ListID: opts.ListID, Tags: tags, Delimiter: string(sc.delim), Columns: cols,
		CreatedBy: p.ActorID(), CreatedAt: now, UpdatedAt: now}, nextOffset: sc.dataOffset, nextLine: sc.dataLine}
	path := s.importPath(r.ID)
	if err := os.Rename(up.path, path); err != nil {
		return Import{}, err
	}
	up.path = path
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := s.st.insertImport(ctx, tx, r); err != nil {
			return err
		}
		changes := []string{"file", "onDuplicate"}
		if r.ListID != "" {
			changes = append(changes, "listId")
		}
		if len(r.Tags) > 0 {
			changes = append(changes, "tags")
		}
		if len(opts.Mapping) > 0 {
			changes = append(changes, "mapping")
		}
		slices.Sort(changes)
		if err := audit.Record(ctx, tx, now, audit.Entry{WorkspaceID: wsID, Action: "contact_import.created", ResourceType: "contact_import", ResourceID: r.ID, Changes: changes}); err != nil {
			return err
		}
		_, err := s.imp.queue.InsertTx(ctx, tx, ImportArgs{WorkspaceID: wsID, ImportID: r.ID}, nil)
		return err
	})
	if err != nil {
		return Import{}, err
	}
	return r.Import, nil
}

func (s *Service) importPath(importID string) string {
	return filepath.Join(s.imp.dir, importID+".csv")
}

// GetImport returns one of the workspace's imports with its status and counts (every role;
// contacts:read). Errors: NotFound, Forbidden.
func (s *Service) GetImport(ctx context.Context, wsID, importID string) (Import, error) {
	if _, err := authz.Require(ctx, wsID, authz.ContactsRead); err != nil {
		return Import{}, err
	}
	r, err := s.st.getImport(ctx, s.db.Read, wsID, importID)
	if errors.Is(err, sql.ErrNoRows) {
		return Import{}, apierr.NotFoundf("contact import")
	}
	return r.Import, err
}

// ListImports returns the workspace's imports, newest first (every role; contacts:read).
// Errors: NotFound, Forbidden, Invalid (cursor).
func (s *Service) ListImports(ctx context.Context, wsID, cursor string, limit int) (page.Page[Import], error) {
	if _, err := authz.Require(ctx, wsID, authz.ContactsRead); err != nil {
		return page.Page[Import]{}, err
	}
	return page.Fetch(cursor, limit, func(before string, n int) ([]Import, error) {
		return s.st.imports(ctx, s.db.Read, wsID, before, n)
	}, func(i Import) string { return i.ID })
}

// ImportErrorColumns are the columns of an import's errors.csv.
var ImportErrorColumns = []string{"line", "column", "value", "reason"}

// ImportErrors checks the caller (every role; contacts:read) and returns the writer of the CSV
// of the import's failed rows, in line order. Errors (before any byte): NotFound, Forbidden.
// Phone values are masked for members when the workspace masks numbers.
func (s *Service) ImportErrors(ctx context.Context, wsID, importID string) (func(w io.Writer) error, error) {
	p, err := authz.Require(ctx, wsID, authz.ContactsRead)
	if err != nil {
		return nil, err
	}
	imp, err := s.st.getImport(ctx, s.db.Read, wsID, importID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, apierr.NotFoundf("contact import")
	}
	if err != nil {
		return nil, err
	}
	masked, err := s.viewer(ctx, p, wsID)
	if err != nil {
		return nil, err
	}
	phoneCol := ""
	for _, c := range imp.Columns {
		if c.Target == targetPhone {
			phoneCol = c.Header
		}
	}
	return func(w io.Writer) error {
		cw := csv.NewWriter(w)
		if err := cw.Write(ImportErrorColumns); err != nil {
			return err
		}
		after := int64(0)
		for {
			rows, err := s.st.importErrors(ctx, s.db.Read, wsID, importID, after, exportBatch)
			if err != nil {
				return err
			}
			for _, e := range rows {
				v := e.Value
				if masked && e.Column == phoneCol && v != "" {
					v = "***"
				}
				if err := cw.Write([]string{strconv.FormatInt(e.Line, 10), cell(e.Column), cell(v), cell(e.Reason)}); err != nil {
					return err
				}
			}
			cw.Flush()
			if err := cw.Error(); err != nil {
				return err
			}
			if len(rows) < exportBatch {
				return nil
			}
			after = rows[len(rows)-1].Line
		}
	}, nil
}

// ---- Running an import (the job).

// errStopped ends a test run of an import after its batches, as a crash would.
var errStopped = errors.New("import stopped")

// RunImport works the workspace's import from its checkpoint to the end of its file, a batch
// of rows per transaction, each transaction also moving the checkpoint and the counts: a run
// interrupted anywhere resumes where the last committed batch ended, and counts stay exact. It
// is for the import job (the system principal). An ended import is left alone. A file that
// cannot be read to the end fails the import with the reason, naming the line.
func (s *Service) RunImport(ctx context.Context, wsID, importID string) error {
	return s.runImport(ctx, wsID, importID, 0, nil)
}

// runImport is RunImport that stops (errStopped) after maxBatches batches when maxBatches > 0,
// and calls inTx inside each batch's transaction (a test's crash).
func (s *Service) runImport(ctx context.Context, wsID, importID string, maxBatches int, inTx func(batch int) error) error {
	if _, err := authz.Require(ctx, wsID, authz.ContactsWrite); err != nil {
		return err
	}
	r, err := s.st.getImport(ctx, s.db.Read, wsID, importID)
	if errors.Is(err, sql.ErrNoRows) {
		// The workspace (and its imports) were deleted: only the file is left.
		_ = os.Remove(s.importPath(importID))
		return nil
	}
	if err != nil {
		return err
	}
	path := s.importPath(importID)
	if r.Status == ImportCompleted || r.Status == ImportFailed {
		_ = os.Remove(path)
		return nil
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return s.endImport(ctx, r, ImportFailed, "the uploaded file is missing from the data directory: upload it again")
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Seek(r.nextOffset, io.SeekStart); err != nil {
		return err
	}
	prefs, err := s.st.prefs(ctx, s.db.Read, wsID)
	if err != nil {
		return err
	}
	delim := ','
	if r.Delimiter != "" {
		delim = []rune(r.Delimiter)[0]
	}
	cr := newCSVReader(f, delim, r.nextOffset, r.nextLine)
	pctx, stop := context.WithCancel(ctx)
	batches := make(chan rowBatch, 1)
	var reading sync.WaitGroup
	reading.Add(1)
	go func() {
		defer reading.Done()
		s.readBatches(pctx, cr, prefs.Region, r.Import, batches)
	}()
	defer reading.Wait()
	defer stop()
	offset := r.nextOffset
	for n := 0; ; n++ {
		if maxBatches > 0 && n == maxBatches {
			return errStopped
		}
		var b rowBatch
		select {
		case b = <-batches:
		case <-ctx.Done():
			return ctx.Err()
		}
		if b.err != nil {
			return s.endImport(ctx, r, ImportFailed, "the file is not CSV any more: "+b.err.Error())
		}
		if len(b.rows) > 0 {
			now := s.now()
			err := s.db.Tx(ctx, func(tx *sql.Tx) error {
				counts, err := s.applyBatch(ctx, tx, r.Import, b.rows, now)
				if err != nil {
					return err
				}
				if inTx != nil {
					if err := inTx(n); err != nil {
						return err
					}
				}
				ok, err := s.st.advanceImport(ctx, tx, wsID, importID, offset, b.end, b.endLine, counts, now)
				if err != nil {
					return err
				}
				if !ok {
					return fmt.Errorf("import %s: the checkpoint moved under this run (another run, or the import ended)", importID)
				}
				return nil
			})
			if errors.Is(err, errListGone) {
				return s.endImport(ctx, r, ImportFailed, "the list "+r.ListID+" was deleted during the import")
			}
			if err != nil {
				return err
			}
			offset = b.end
		}
		if b.eof {
			return s.endImport(ctx, r, ImportCompleted, "")
		}
	}
}

// rowBatch is a batch of checked rows and where the record after it starts; eof when it is the
// file's last, err when the file could not be read.
type rowBatch struct {
	rows         []preparedRow
	end, endLine int64
	eof          bool
	err          error
}

// readBatches reads the file a batch at a time and checks its rows on every core (the phone
// number checks are most of an import's CPU), while the caller writes the batch before: the
// file is read once, in order, and memory holds two batches at most.
func (s *Service) readBatches(ctx context.Context, cr *csvReader, region string, imp Import, out chan<- rowBatch) {
	workers := max(1, runtime.GOMAXPROCS(0))
	for {
		b := rowBatch{rows: make([]preparedRow, 0, s.imp.batch)}
		recs := make([][]string, 0, s.imp.batch)
		lines := make([]int64, 0, s.imp.batch)
		for len(recs) < s.imp.batch {
			rec, line, next, nextLine, err := cr.next()
			if errors.Is(err, io.EOF) {
				b.eof = true
				break
			}
			if err != nil {
				b.err = err
				break
			}
			recs = append(recs, slices.Clone(rec))
			lines = append(lines, line)
			b.end, b.endLine = next, nextLine
		}
		if b.err == nil {
			b.rows = b.rows[:len(recs)]
			var wg sync.WaitGroup
			per := (len(recs) + workers - 1) / workers
			for w := 0; w < len(recs); w += max(1, per) {
				wg.Add(1)
				go func(from, to int) {
					defer wg.Done()
					for i := from; i < to; i++ {
						b.rows[i] = prepareRow(region, imp.Columns, imp.Tags, recs[i], lines[i])
					}
				}(w, min(len(recs), w+max(1, per)))
			}
			wg.Wait()
		}
		select {
		case out <- b:
		case <-ctx.Done():
			return
		}
		if b.eof || b.err != nil {
			return
		}
	}
}

// endImport ends the import with the status and publishes contact_import.completed with its
// counts, then removes its file.
func (s *Service) endImport(ctx context.Context, r importRow, status, reason string) error {
	now := s.now()
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		ok, err := s.st.finishImport(ctx, tx, r.WorkspaceID, r.ID, status, reason, now)
		if err != nil || !ok {
			return err
		}
		cur, err := s.st.getImport(ctx, tx, r.WorkspaceID, r.ID)
		if err != nil {
			return err
		}
		data := map[string]any{"importId": cur.ID, "status": cur.Status, "total": cur.Total, "processed": cur.Processed, "created": cur.Created,
			"updated": cur.Updated, "skipped": cur.Skipped, "failed": cur.Failed}
		if reason != "" {
			data["error"] = reason
		}
		_, err = events.Publish(ctx, tx, events.Event{WorkspaceID: r.WorkspaceID, Type: "contact_import.completed", Data: data, CreatedAt: now})
		return err
	})
	if err != nil {
		return err
	}
	_ = os.Remove(s.importPath(r.ID))
	return nil
}

// preparedRow is a CSV row checked and turned into a contact, or why it failed.
type preparedRow struct {
	line    int64
	c       Contact
	tzGiven bool
	// col, value and reason say why the row failed ("" when it did not).
	col, value, reason string
}

// prepareRow checks a record by the same rules as creating a contact (newContact).
func prepareRow(region string, cols []ImportColumn, tags []string, rec []string, line int64) preparedRow {
	in, col, value, reason := rowInput(cols, rec, tags)
	if reason != "" {
		return preparedRow{line: line, col: col, value: clip(value), reason: reason}
	}
	c, err := newContact(region, in)
	if err != nil {
		col, value, reason := rowError(cols, in, err)
		return preparedRow{line: line, col: col, value: clip(value), reason: reason}
	}
	return preparedRow{line: line, c: c, tzGiven: in.Timezone != ""}
}

var errListGone = errors.New("the import's list is gone")

// applyBatch writes a batch's rows in tx: new numbers are created, known ones skipped or
// updated, and every row's contact joins the import's list.
func (s *Service) applyBatch(ctx context.Context, sqlTx *sql.Tx, imp Import, batch []preparedRow, now time.Time) (importCounts, error) {
	tx := newStmtCache(sqlTx, s.db.Dialect)
	defer tx.Close()
	var n importCounts
	if imp.ListID != "" {
		if _, err := s.st.getList(ctx, tx, imp.WorkspaceID, imp.ListID); errors.Is(err, sql.ErrNoRows) {
			return n, errListGone
		} else if err != nil {
			return n, err
		}
	}
	phones := make([]string, 0, len(batch))
	for _, r := range batch {
		if r.reason == "" {
			phones = append(phones, r.c.Phone)
		}
	}
	known, err := s.st.contactsByPhone(ctx, tx, imp.WorkspaceID, phones)
	if err != nil {
		return n, err
	}
	var creates []Contact
	created := map[string]int{} // phone → index in creates
	changed := map[string]bool{}
	var failures []ImportError
	members := make([]string, 0, len(batch))
	inList := map[string]bool{}
	for _, r := range batch {
		if r.reason != "" {
			n.failed++
			failures = append(failures, ImportError{Line: r.line, Column: r.col, Value: r.value, Reason: r.reason})
			continue
		}
		var cur *Contact
		if i, ok := created[r.c.Phone]; ok {
			cur = &creates[i]
		} else if c, ok := known[r.c.Phone]; ok {
			cur = &c
		}
		switch {
		case cur == nil:
			c := r.c
			c.ID, c.WorkspaceID, c.CreatedAt, c.UpdatedAt = id.New(id.Contact), imp.WorkspaceID, now, now
			created[c.Phone] = len(creates)
			creates = append(creates, c)
			cur = &creates[len(creates)-1]
			n.created++
		case imp.OnDuplicate == OnDuplicateSkip:
			n.skipped++
		default:
			merged, diff, reason := mergeImported(*cur, r)
			if reason != "" {
				n.failed++
				failures = append(failures, ImportError{Line: r.line, Column: "", Value: "", Reason: reason})
				continue
			}
			if !diff {
				n.skipped++
				break
			}
			n.updated++
			merged.UpdatedAt = now
			if i, ok := created[r.c.Phone]; ok {
				creates[i] = merged
			} else {
				known[r.c.Phone] = merged
				changed[r.c.Phone] = true
			}
			cur = &merged
		}
		if imp.ListID != "" && !inList[cur.ID] {
			inList[cur.ID] = true
			members = append(members, cur.ID)
		}
	}
	if err := s.st.insertContacts(ctx, tx, creates); err != nil {
		return n, err
	}
	for _, p := range slices.Sorted(maps.Keys(changed)) {
		if _, err := s.st.update(ctx, tx, known[p]); err != nil {
			return n, err
		}
	}
	if len(members) > 0 {
		if err := s.st.addMembers(ctx, tx, imp.WorkspaceID, imp.ListID, members, now); err != nil {
			return n, err
		}
	}
	if len(failures) > 0 {
		if err := s.st.insertImportErrors(ctx, tx, imp.WorkspaceID, imp.ID, failures); err != nil {
			return n, err
		}
	}
	return n, nil
}

// mergeImported applies a row to an existing contact (onDuplicate update): the row's non-empty
// fields replace the contact's, its attributes are merged in, its tags added. diff says whether
// anything changed; reason is why the result is refused.
func mergeImported(c Contact, r preparedRow) (out Contact, diff bool, reason string) {
	out = c
	out.Attributes = maps.Clone(c.Attributes)
	if r.c.Name != "" && r.c.Name != c.Name {
		out.Name, diff = r.c.Name, true
	}
	if r.c.Email != "" && r.c.Email != c.Email {
		out.Email, diff = r.c.Email, true
	}
	if r.tzGiven && r.c.Timezone != c.Timezone {
		out.Timezone, diff = r.c.Timezone, true
	}
	if out.Attributes == nil {
		out.Attributes = map[string]any{}
	}
	for k, v := range r.c.Attributes {
		if old, ok := out.Attributes[k]; !ok || old != v {
			out.Attributes[k], diff = v, true
		}
	}
	if len(out.Attributes) > MaxAttributes {
		return c, false, fmt.Sprintf("the contact would have more than %d attributes", MaxAttributes)
	}
	tags := slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(c.Tags), r.c.Tags...))))
	if len(tags) > MaxTags {
		return c, false, fmt.Sprintf("the contact would have more than %d tags", MaxTags)
	}
	if !slices.Equal(tags, c.Tags) {
		out.Tags, diff = tags, true
	}
	return out, diff, ""
}
