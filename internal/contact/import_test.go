package contact

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/authz"
	"github.com/parleyhq/parley/internal/platform/db"
	"github.com/parleyhq/parley/internal/platform/db/dbtest"
	"github.com/parleyhq/parley/internal/platform/events"
)

// fakeQueue records the jobs inserted.
type fakeQueue struct {
	mu   sync.Mutex
	jobs []ImportArgs
}

func (q *fakeQueue) InsertTx(_ context.Context, _ *sql.Tx, args river.JobArgs, _ *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.jobs = append(q.jobs, args.(ImportArgs))
	return &rivertype.JobInsertResult{Job: &rivertype.JobRow{ID: int64(len(q.jobs))}}, nil
}

// importFixture is a fixture whose service imports, with small batches.
func importFixture(t *testing.T, d *db.DB, batch int) (*fixture, *fakeQueue, string) {
	t.Helper()
	f := newFixture(t, d)
	q := &fakeQueue{}
	dir := t.TempDir()
	f.svc = NewService(d, f.clock.Now, WithImports(dir, q), WithImportBatch(batch))
	return f, q, dir
}

func (f *fixture) startImport(t *testing.T, ws, user, body string, opts ImportOptions) (Import, error) {
	t.Helper()
	ctx := f.as(user)
	up, err := f.svc.ReceiveImport(ctx, ws, "people.csv", strings.NewReader(body))
	if err != nil {
		return Import{}, err
	}
	imp, err := f.svc.StartImport(ctx, ws, up, opts)
	if err != nil {
		up.Discard()
	}
	return imp, err
}

// importAll uploads body into workspace A as the owner and runs the import to its end.
func (f *fixture) importAll(t *testing.T, body string, opts ImportOptions) Import {
	t.Helper()
	imp, err := f.startImport(t, f.wsA, "user_owner", body, opts)
	if err != nil {
		t.Fatalf("start import: %v", err)
	}
	if err := f.svc.RunImport(authz.WithPrincipal(context.Background(), authz.System()), f.wsA, imp.ID); err != nil {
		t.Fatalf("run import: %v", err)
	}
	got, err := f.svc.GetImport(f.as("user_member"), f.wsA, imp.ID)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func (f *fixture) errorsCSV(t *testing.T, user, importID string) [][]string {
	t.Helper()
	write, err := f.svc.ImportErrors(f.as(user), f.wsA, importID)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := write(&buf); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(recs[0], ",") != "line,column,value,reason" {
		t.Fatalf("errors.csv header %v", recs[0])
	}
	return recs[1:]
}

func (f *fixture) contactByPhone(t *testing.T, ws, phone string) (Contact, bool) {
	t.Helper()
	cs, err := f.svc.st.contactsByPhone(context.Background(), f.d.Read, ws, []string{phone})
	if err != nil {
		t.Fatal(err)
	}
	c, ok := cs[phone]
	return c, ok
}

func (f *fixture) count(t *testing.T, q string, args ...any) int {
	t.Helper()
	var n int
	if err := f.d.Read.QueryRowContext(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func counts(i Import) string {
	return fmt.Sprintf("total=%d processed=%d created=%d updated=%d skipped=%d failed=%d", i.Total, i.Processed, i.Created, i.Updated, i.Skipped, i.Failed)
}

func TestImportFormats(t *testing.T) {
	cases := []struct {
		name, body string
		delim      string
	}{
		{"comma with BOM, CRLF, quotes and blank lines", "\xEF\xBB\xBFPhone Number,Full Name,E-mail,Plan\r\n" +
			"+14155550101,\"Lovelace, Ada\",ada@example.com,gold\r\n\r\n" +
			"+14155550102,\"Grace\r\nHopper\",,\"says \"\"hi\"\"\"\r\n" +
			",,,\r\n" +
			"(415) 555-0103,Alan Turing,,silver\r\n", ","},
		{"semicolon", "mobile;name;email;plan\n+14155550101;Lovelace, Ada;ada@example.com;gold\n+14155550102;\"Grace\nHopper\";;\"says \"\"hi\"\"\"\n\n4155550103;Alan Turing;;silver\n", ";"},
		{"tab", "Phone\tName\tEmail\tPlan\n+14155550101\tLovelace, Ada\tada@example.com\tgold\n+14155550102\t\"Grace\nHopper\"\t\t\"says \"\"hi\"\"\"\n4155550103\tAlan Turing\t\tsilver", "\t"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dbtest.Each(t, func(t *testing.T, d *db.DB) {
				f, _, dir := importFixture(t, d, 2)
				imp := f.importAll(t, tc.body, ImportOptions{})
				if imp.Status != ImportCompleted || counts(imp) != "total=3 processed=3 created=3 updated=0 skipped=0 failed=0" || imp.Delimiter != tc.delim {
					t.Fatalf("import %s %s delim %q err %q", imp.Status, counts(imp), imp.Delimiter, imp.Error)
				}
				if imp.StartedAt == nil || imp.FinishedAt == nil {
					t.Errorf("times %v %v", imp.StartedAt, imp.FinishedAt)
				}
				ada, _ := f.contactByPhone(t, f.wsA, "+14155550101")
				grace, _ := f.contactByPhone(t, f.wsA, "+14155550102")
				alan, ok := f.contactByPhone(t, f.wsA, "+14155550103")
				if ada.Name != "Lovelace, Ada" || ada.Email != "ada@example.com" || ada.Attributes["plan"] != "gold" || ada.Timezone != "America/Los_Angeles" {
					t.Errorf("ada %+v", ada)
				}
				if grace.Name != "Grace\nHopper" || grace.Attributes["plan"] != `says "hi"` {
					t.Errorf("grace %+v", grace)
				}
				if !ok || alan.Name != "Alan Turing" {
					t.Errorf("alan %+v", alan)
				}
				if n := f.count(t, `SELECT COUNT(*) FROM contact_attributes WHERE workspace_id = $1 AND name = 'plan'`, f.wsA); n != 3 {
					t.Errorf("search rows of the attribute: %d", n)
				}
				if entries, _ := os.ReadDir(dir); len(entries) != 0 {
					t.Errorf("files left in the import directory: %v", entries)
				}
			})
		})
	}
}

func TestImportFailedRowsNameTheirLines(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f, _, _ := importFixture(t, d, 2)
		body := "phone,name,email,timezone,tags,vip\n" + // line 1
			"+14155550101,Ada,,,,yes\n" + // 2
			"12,Too Short,,,,\n" + // 3
			"\n" + // 4 (blank)
			"+14155550102,Grace,not-an-email,,,\n" + // 5
			"+14155550103,\"Split\nName\",bad@,,,\n" + // 6–7: a quoted newline
			"+14155550104,Latin \xe9,,,,\n" + // 8: not UTF-8
			"+14155550105,Zone,,Mars/Olympus,,\n" + // 9
			",No Phone,,,,\n" + // 10
			"+14155550106,Tagged,,,\"b,a\",\n" // 11
		imp := f.importAll(t, body, ImportOptions{})
		if imp.Status != ImportCompleted || counts(imp) != "total=8 processed=8 created=2 updated=0 skipped=0 failed=6" {
			t.Fatalf("%s %s %s", imp.Status, counts(imp), imp.Error)
		}
		rows := f.errorsCSV(t, "user_owner", imp.ID)
		want := []struct{ line, col, value, reason string }{
			{"3", "phone", "12", "short"}, {"5", "email", "not-an-email", "not an email address"}, {"6", "email", "bad@", "not an email address"},
			{"8", "name", "Latin \uFFFD", "not UTF-8 text"}, {"9", "timezone", "Mars/Olympus", "IANA"}, {"10", "phone", "", "phone is required"},
		}
		if len(rows) != len(want) {
			t.Fatalf("errors.csv rows %q", rows)
		}
		for i, w := range want {
			r := rows[i]
			if r[0] != w.line || r[1] != w.col || r[2] != w.value || !strings.Contains(r[3], w.reason) {
				t.Errorf("row %d = %q, want line %s column %s value %q reason ~%q", i, r, w.line, w.col, w.value, w.reason)
			}
		}
		tagged, _ := f.contactByPhone(t, f.wsA, "+14155550106")
		ada, _ := f.contactByPhone(t, f.wsA, "+14155550101")
		if strings.Join(tagged.Tags, ",") != "a,b" || ada.Attributes["vip"] != "yes" {
			t.Errorf("tagged %+v ada %+v", tagged, ada)
		}
	})
}

func TestImportDuplicates(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f, _, _ := importFixture(t, d, 2)
		old := f.create(t, f.wsA, CreateInput{Phone: "+14155550101", Name: "Ada", Email: "ada@old.example", Timezone: "Europe/London",
			Attributes: map[string]any{"plan": "gold", "visits": 3.0}, Tags: []string{"old"}})
		body := "phone,name,email,plan,tags\n" +
			"+14155550101,Ada Lovelace,,platinum,new\n" + // existing: name, plan, tag change
			"+14155550102,Grace,,,\n" + // new
			"4155550102,Grace Hopper,,,\n" + // the same number again in the file
			"+14155550101,,,,\n" // existing, nothing to change
		skip := f.importAll(t, body, ImportOptions{})
		if counts(skip) != "total=4 processed=4 created=1 updated=0 skipped=3 failed=0" || skip.OnDuplicate != OnDuplicateSkip {
			t.Fatalf("skip: %s %s", counts(skip), skip.OnDuplicate)
		}
		if c, _ := f.contactByPhone(t, f.wsA, "+14155550101"); c.Name != "Ada" || c.Attributes["plan"] != "gold" || c.UpdatedAt != old.UpdatedAt {
			t.Errorf("skip changed the contact: %+v", c)
		}
		if c, _ := f.contactByPhone(t, f.wsA, "+14155550102"); c.Name != "Grace" {
			t.Errorf("skip: a later row of the file changed the contact an earlier one made: %+v", c)
		}

		upd := f.importAll(t, body, ImportOptions{OnDuplicate: OnDuplicateUpdate, Tags: []string{"spring"}})
		if counts(upd) != "total=4 processed=4 created=0 updated=3 skipped=1 failed=0" {
			t.Fatalf("update: %s", counts(upd))
		}
		c, _ := f.contactByPhone(t, f.wsA, "+14155550101")
		if c.Name != "Ada Lovelace" || c.Email != "ada@old.example" || c.Timezone != "Europe/London" || c.Attributes["plan"] != "platinum" ||
			c.Attributes["visits"] != 3.0 || strings.Join(c.Tags, ",") != "new,old,spring" || c.ID != old.ID {
			t.Errorf("update: %+v", c)
		}
		if g, _ := f.contactByPhone(t, f.wsA, "+14155550102"); g.Name != "Grace Hopper" || strings.Join(g.Tags, ",") != "spring" {
			t.Errorf("update: %+v", g)
		}
		// The search rows follow the update.
		if n := f.count(t, `SELECT COUNT(*) FROM contact_attributes WHERE workspace_id = $1 AND name = 'plan' AND value_text = 'platinum'`, f.wsA); n != 1 {
			t.Errorf("attribute search rows: %d", n)
		}
		if n := f.count(t, `SELECT COUNT(*) FROM contact_tags WHERE workspace_id = $1 AND tag = 'spring'`, f.wsA); n != 2 {
			t.Errorf("tag search rows: %d", n)
		}
		if n := f.count(t, `SELECT COUNT(*) FROM contacts WHERE workspace_id = $1`, f.wsA); n != 2 {
			t.Errorf("contacts: %d", n)
		}
	})
}

// TestImportResumesAfterACrash stops an import after two committed batches, crashes the next
// run inside a batch's transaction, then runs it to the end: the counts are those of one clean
// run and no contact or error row is written twice.
func TestImportResumesAfterACrash(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f, q, dir := importFixture(t, d, 3)
		l, err := f.svc.CreateList(f.as("user_owner"), f.wsA, "Imported")
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		b.WriteString("phone,name,city\n")
		for i := range 20 {
			if i%7 == 3 {
				fmt.Fprintf(&b, "bad-%d,Bad %d,Nowhere\n", i, i)
				continue
			}
			fmt.Fprintf(&b, "+1415555%04d,\"Person, %d\",City %d\n", 1000+i, i, i)
			if i == 11 {
				b.WriteString("\n\n")
			}
		}
		// A number twice, in different batches.
		b.WriteString("+14155551000,Again,Elsewhere\n")
		imp, err := f.startImport(t, f.wsA, "user_owner", b.String(), ImportOptions{ListID: l.ID})
		if err != nil {
			t.Fatal(err)
		}
		if len(q.jobs) != 1 || q.jobs[0].ImportID != imp.ID || q.jobs[0].WorkspaceID != f.wsA || imp.Status != ImportQueued || imp.Total != 21 {
			t.Fatalf("queued %+v, import %+v", q.jobs, imp)
		}
		sys := authz.WithPrincipal(context.Background(), authz.System())
		if err := f.svc.runImport(sys, f.wsA, imp.ID, 2, nil); !errors.Is(err, errStopped) {
			t.Fatalf("first run: %v", err)
		}
		mid, _ := f.svc.GetImport(f.as("user_owner"), f.wsA, imp.ID)
		if mid.Status != ImportRunning || counts(mid) != "total=21 processed=6 created=5 updated=0 skipped=0 failed=1" {
			t.Fatalf("after two batches: %s %s", mid.Status, counts(mid))
		}
		crash := errors.New("power cut")
		if err := f.svc.runImport(sys, f.wsA, imp.ID, 0, func(batch int) error {
			if batch == 1 {
				return crash
			}
			return nil
		}); !errors.Is(err, crash) {
			t.Fatalf("crashing run: %v", err)
		}
		if mid, _ := f.svc.GetImport(f.as("user_owner"), f.wsA, imp.ID); counts(mid) != "total=21 processed=9 created=8 updated=0 skipped=0 failed=1" {
			t.Fatalf("after the crash: %s", counts(mid))
		}
		if err := f.svc.RunImport(sys, f.wsA, imp.ID); err != nil {
			t.Fatal(err)
		}
		end, _ := f.svc.GetImport(f.as("user_owner"), f.wsA, imp.ID)
		if end.Status != ImportCompleted || counts(end) != "total=21 processed=21 created=17 updated=0 skipped=1 failed=3" {
			t.Fatalf("end: %s %s %s", end.Status, counts(end), end.Error)
		}
		if n := f.count(t, `SELECT COUNT(*) FROM contacts WHERE workspace_id = $1`, f.wsA); n != 17 {
			t.Errorf("contacts: %d", n)
		}
		if n := f.count(t, `SELECT COUNT(*) FROM contact_list_members WHERE workspace_id = $1 AND list_id = $2`, f.wsA, l.ID); n != 17 {
			t.Errorf("list members: %d", n)
		}
		rows := f.errorsCSV(t, "user_owner", imp.ID)
		if len(rows) != 3 || rows[0][0] != "5" || rows[1][0] != "12" || rows[2][0] != "21" || rows[2][2] != "bad-17" {
			t.Errorf("errors %q", rows)
		}
		// The lines are those of the file, across the blank lines and the resumptions.
		if c, _ := f.contactByPhone(t, f.wsA, "+14155551019"); c.Name != "Person, 19" || c.Attributes["city"] != "City 19" {
			t.Errorf("last row %+v", c)
		}
		// Exactly one completion event, with the counts.
		evs, err := events.List(context.Background(), f.d.Read, f.wsA, "", 1000)
		if err != nil {
			t.Fatal(err)
		}
		var done []events.Event
		for _, e := range evs {
			if e.Type == "contact_import.completed" {
				done = append(done, e)
			}
		}
		if len(done) != 1 || !strings.Contains(string(done[0].Data.(json.RawMessage)), `"created":17`) {
			t.Errorf("completion events %v", done)
		}
		// A later run (a duplicate job) does nothing.
		if err := f.svc.RunImport(sys, f.wsA, imp.ID); err != nil {
			t.Fatal(err)
		}
		if again, _ := f.svc.GetImport(f.as("user_owner"), f.wsA, imp.ID); counts(again) != counts(end) {
			t.Errorf("a second run changed the counts: %s", counts(again))
		}
		if _, err := os.Stat(filepath.Join(dir, imp.ID+".csv")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the file stays after the import: %v", err)
		}
	})
}

func TestImportRefusesBadFilesAndOptions(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f, q, dir := importFixture(t, d, 10)
		lB, err := f.svc.CreateList(f.as("user_b"), f.wsB, "B's list")
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name, user, body string
			opts             ImportOptions
			code, loc, msg   string
		}{
			{"member", "user_member", "phone\n+14155550101\n", ImportOptions{}, "insufficient_role", "", ""},
			{"another workspace's user", "user_b", "phone\n+14155550101\n", ImportOptions{}, "not_found", "", ""},
			{"empty", "user_owner", "", ImportOptions{}, "validation_failed", "file", "empty"},
			{"blank lines only", "user_owner", "\n\r\n\n", ImportOptions{}, "validation_failed", "file", "empty"},
			{"no phone column", "user_owner", "name,email\nAda,ada@example.com\n", ImportOptions{}, "validation_failed", "columns", "no phone column"},
			{"header not UTF-8", "user_owner", "phone,T\xe9l\xe9phone\n+14155550101,x\n", ImportOptions{}, "validation_failed", "file", "line 1: the header is not UTF-8"},
			{"bare quote", "user_owner", "phone,name\n+14155550101,Ada\n+14155550102,Gr\"ace\n", ImportOptions{}, "validation_failed", "file", "line 3"},
			{"unclosed quote", "user_owner", "phone,name\n+14155550101,\"Ada\n+14155550102,Grace\n", ImportOptions{}, "validation_failed", "file", "line 2"},
			{"two phone columns mapped", "user_owner", "phone,mobile\n1,2\n", ImportOptions{Mapping: map[string]string{"mobile": "phone"}}, "validation_failed", "columns", "both become phone"},
			{"mapping of a missing column", "user_owner", "phone\n1\n", ImportOptions{Mapping: map[string]string{"Tel": "phone"}}, "validation_failed", "mapping", "no column"},
			{"bad target", "user_owner", "phone,x\n1,2\n", ImportOptions{Mapping: map[string]string{"x": "salary"}}, "validation_failed", "mapping.x", "attribute:<name>"},
			{"reserved attribute", "user_owner", "phone,x\n1,2\n", ImportOptions{Mapping: map[string]string{"x": "attribute:createdAt"}}, "validation_failed", "mapping.x", "contact field"},
			{"onDuplicate", "user_owner", "phone\n1\n", ImportOptions{OnDuplicate: "merge"}, "validation_failed", "onDuplicate", "skip or update"},
			{"bad tag", "user_owner", "phone\n1\n", ImportOptions{Tags: []string{strings.Repeat("x", 51)}}, "validation_failed", "tags[0]", ""},
			{"another workspace's list", "user_owner", "phone\n1\n", ImportOptions{ListID: lB.ID}, "validation_failed", "listId", "no such list"},
		} {
			_, err := f.startImport(t, f.wsA, tc.user, tc.body, tc.opts)
			if code(err) != tc.code || location(err) != tc.loc || !strings.Contains(fmt.Sprint(err)+detailOf(err), tc.msg) {
				t.Errorf("%s: %v (code %s, location %s, detail %s)", tc.name, err, code(err), location(err), detailOf(err))
			}
		}
		if len(q.jobs) != 0 {
			t.Errorf("jobs queued for refused imports: %v", q.jobs)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("files left behind: %v", entries)
		}
		// Too large: the limit is checked while streaming.
		f.svc.imp.maxBytes = 64
		if _, err := f.startImport(t, f.wsA, "user_owner", "phone\n"+strings.Repeat("+14155550101\n", 10), ImportOptions{}); code(err) != "file_too_large" {
			t.Errorf("too large: %v", err)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("files left behind: %v", entries)
		}
		// Imports not enabled.
		plain := NewService(d, f.clock.Now)
		if _, err := plain.ReceiveImport(f.as("user_owner"), f.wsA, "x.csv", strings.NewReader("phone\n1\n")); code(err) != "imports_unavailable" {
			t.Errorf("without imports: %v", err)
		}
	})
}

func detailOf(err error) string {
	var e *apierr.Error
	if errors.As(err, &e) {
		s := e.Detail
		for _, fe := range e.Fields {
			s += " | " + fe.Message
		}
		return s
	}
	return ""
}

func TestImportMappingListTagsAuditAndMasking(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f, _, _ := importFixture(t, d, 100)
		l, err := f.svc.CreateList(f.as("user_owner"), f.wsA, "Spring")
		if err != nil {
			t.Fatal(err)
		}
		existing := f.create(t, f.wsA, CreateInput{Phone: "+14155550109", Name: "Known"})
		body := "Mobile No;First Name;Last Name;Customer Plan;Internal ref;id;createdAt;Labels\n" +
			"415 555 0101;Ada;Lovelace;gold;X1;contact_x;2020;vip\n" +
			"+14155550109;;;silver;X2;;;\n" +
			"0;Bad;Number;;;;;\n"
		imp, err := f.startImport(t, f.wsA, "user_admin", body, ImportOptions{FileName: "ignored", ListID: l.ID, Tags: []string{"spring"},
			Mapping: map[string]string{"Internal ref": "ignore"}})
		if err != nil {
			t.Fatal(err)
		}
		var targets []string
		for _, c := range imp.Columns {
			targets = append(targets, c.Target+":"+c.Attribute)
		}
		if strings.Join(targets, " ") != "phone: firstName: lastName: attribute:customer_plan ignore: ignore: ignore: tags:" || imp.FileName != "people.csv" || imp.CreatedBy != "user_admin" {
			t.Fatalf("columns %v file %q by %q", targets, imp.FileName, imp.CreatedBy)
		}
		if err := f.svc.RunImport(authz.WithPrincipal(context.Background(), authz.System()), f.wsA, imp.ID); err != nil {
			t.Fatal(err)
		}
		imp, _ = f.svc.GetImport(f.as("user_owner"), f.wsA, imp.ID)
		if counts(imp) != "total=3 processed=3 created=1 updated=0 skipped=1 failed=1" {
			t.Fatalf("%s", counts(imp))
		}
		ada, _ := f.contactByPhone(t, f.wsA, "+14155550101")
		if ada.Name != "Ada Lovelace" || ada.Attributes["customer_plan"] != "gold" || len(ada.Attributes) != 1 || strings.Join(ada.Tags, ",") != "spring,vip" {
			t.Errorf("ada %+v", ada)
		}
		members, err := f.svc.List(f.as("user_owner"), f.wsA, Filter{ListID: l.ID}, "", 10)
		if err != nil || len(members.Data) != 2 || members.Data[1].ID != existing.ID {
			t.Errorf("list members %+v %v", members.Data, err)
		}
		// One audit entry for the creation, by the admin, naming the options (no values).
		var actor, changes string
		if err := d.Read.QueryRowContext(context.Background(), `SELECT actor_id, changes FROM audit_log WHERE workspace_id = $1 AND action = 'contact_import.created' AND resource_id = $2`,
			f.wsA, imp.ID).Scan(&actor, &changes); err != nil {
			t.Fatal(err)
		}
		if actor != "user_admin" || changes != `["file","listId","mapping","onDuplicate","tags"]` {
			t.Errorf("audit %s %s", actor, changes)
		}
		// errors.csv: a member who sees numbers masked does not see the phone value.
		if rows := f.errorsCSV(t, "user_owner", imp.ID); len(rows) != 1 || rows[0][0] != "4" || rows[0][1] != "Mobile No" || rows[0][2] != "0" {
			t.Errorf("owner errors %q", rows)
		}
		f.settings(t, f.wsA, `{"privacy":{"maskPhoneNumbersForMembers":true}}`)
		if rows := f.errorsCSV(t, "user_member", imp.ID); len(rows) != 1 || rows[0][2] != "***" {
			t.Errorf("member errors %q", rows)
		}
		// Reads: every role of the workspace; another workspace's import is not found.
		if p, err := f.svc.ListImports(f.as("user_member"), f.wsA, "", 10); err != nil || len(p.Data) != 1 || p.Data[0].ID != imp.ID {
			t.Errorf("list %+v %v", p, err)
		}
		if _, err := f.svc.GetImport(f.as("user_b"), f.wsB, imp.ID); code(err) != "not_found" {
			t.Errorf("another workspace's import: %v", err)
		}
		if _, err := f.svc.ImportErrors(f.as("user_b"), f.wsB, imp.ID); code(err) != "not_found" {
			t.Errorf("another workspace's errors: %v", err)
		}
	})
}

// TestPhoneLookupSearchesTheIndex: each number of a batch is one search of the (workspace_id,
// phone) index, never a scan of the workspace's contacts (which made a million-row import
// quadratic).
func TestPhoneLookupSearchesTheIndex(t *testing.T) {
	d := dbtest.Open(t, db.SQLite)
	args := []any{"ws_a"}
	for i := range 250 {
		args = append(args, fmt.Sprintf("+1212555%04d", i))
	}
	rows, err := d.Read.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+phoneLookup(250), args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notUsed int
		var detail string
		if err := rows.Scan(&id, &parent, &notUsed, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	joined := strings.Join(plan, "\n")
	if !strings.Contains(joined, "SEARCH c USING INDEX contacts_workspace_phone_key (workspace_id=? AND phone=?)") || strings.Contains(joined, "SCAN c") {
		t.Fatalf("plan:\n%s", joined)
	}
}
