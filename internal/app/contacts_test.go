package app

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"mime/multipart"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/contact"
	"github.com/parleyhq/parley/internal/platform/authz"
)

func TestContactsEndToEnd(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		owner := e.signup("owner")
		ws := owner.workspace("Acme")
		base := "/v1/workspaces/" + ws
		member := e.signup("member")
		e.addMember(ws, member, "member")

		// National numbers are read in the workspace's defaultRegion (a setting of the agent package).
		owner.must(200, "PATCH", base+"/settings", map[string]any{"defaultRegion": "IN"})
		c := owner.must(201, "POST", base+"/contacts", map[string]any{"phone": "098765 43210", "name": "Asha Rao", "email": "asha@example.com",
			"attributes": map[string]any{"plan": "gold", "visits": 3, "vip": true}, "tags": []string{"vip", "b2b"}})
		id, _ := c["id"].(string)
		if c["phone"] != "+919876543210" || c["timezone"] != "Asia/Kolkata" || c["doNotCall"] != false || c["createdAt"] != "2026-11-27T09:00:00Z" ||
			!strings.HasPrefix(id, "contact_") || c["attributes"].(map[string]any)["visits"] != float64(3) || len(c["tags"].([]any)) != 2 {
			t.Fatalf("created %v", c)
		}
		if r := owner.do("POST", base+"/contacts", map[string]any{"phone": "+91 98765-43210"}); r.Status != 409 || r.Code(t) != "contact_exists" {
			t.Fatalf("duplicate: %d %s", r.Status, r.Body)
		}
		if got := member.must(200, "GET", base+"/contacts/"+id, nil); got["name"] != "Asha Rao" || got["phone"] != "+919876543210" {
			t.Fatalf("member get %v", got)
		}
		got := owner.must(200, "PATCH", base+"/contacts/"+id, map[string]any{"attributes": map[string]any{"visits": nil, "tier": 2}, "doNotCall": true})
		if a := got["attributes"].(map[string]any); a["tier"] != float64(2) || a["visits"] != nil || a["plan"] != "gold" || got["doNotCall"] != true {
			t.Fatalf("patched %v", got)
		}

		// Search.
		owner.must(201, "POST", base+"/contacts", map[string]any{"phone": "+14155550101", "name": "Ada Lovelace", "tags": []string{"vip"}})
		for q, want := range map[string]int{"": 2, "phone=%2B91": 1, "phone=1415": 1, "name=LOVE": 1, "tag=vip": 2, "tag=vip&tag=b2b": 1,
			"attribute=plan:gold": 1, "attribute=tier:2": 1, "doNotCall=true": 1, "doNotCall=false": 1, "limit=1": 1} {
			p := member.must(200, "GET", base+"/contacts?"+q, nil)
			if n := len(p["data"].([]any)); n != want {
				t.Errorf("?%s: %d contacts, want %d", q, n, want)
			}
		}
		p := owner.must(200, "GET", base+"/contacts?limit=1", nil)
		next := owner.must(200, "GET", base+"/contacts?limit=1&cursor="+p["nextCursor"].(string), nil)
		if next["data"].([]any)[0].(map[string]any)["id"] != id || next["nextCursor"] != nil {
			t.Fatalf("second page %v", next)
		}

		// Do-not-call.
		if r := owner.do("POST", base+"/dnc", map[string]any{"phone": "+91 98765 43210"}); r.Status != 200 {
			t.Fatalf("already listed: %d %s", r.Status, r.Body)
		}
		entry := owner.must(201, "POST", base+"/dnc", map[string]any{"phone": "+14155550199", "reason": "asked"})
		if entry["phone"] != "+14155550199" || entry["reason"] != "asked" {
			t.Fatalf("dnc %v", entry)
		}
		system := authz.WithPrincipal(context.Background(), authz.System())
		if err := e.srv.Contacts.IsCallable(system, ws, "+14155550199"); !errors.Is(err, contact.ErrDoNotCall) {
			t.Fatalf("a listed number: %v", err)
		}
		if l := member.must(200, "GET", base+"/dnc", nil); len(l["data"].([]any)) != 2 {
			t.Fatalf("dnc list %v", l)
		}
		owner.must(204, "DELETE", base+"/dnc/"+url.PathEscape("+14155550199"), nil)
		if err := e.srv.Contacts.IsCallable(system, ws, "+14155550199"); err != nil {
			t.Fatalf("an unlisted number: %v", err)
		}
		if r := owner.do("DELETE", base+"/dnc/+14155550199", nil); r.Status != 404 || r.Code(t) != "not_found" { // the + written as is
			t.Fatalf("remove twice: %d %s", r.Status, r.Body)
		}

		// Lists.
		l := owner.must(201, "POST", base+"/contact-lists", map[string]any{"name": "Spring"})
		lid := l["id"].(string)
		added := owner.must(200, "POST", base+"/contact-lists/"+lid+"/members", map[string]any{"contactIds": []string{id}})
		if added["added"] != float64(1) || added["list"].(map[string]any)["size"] != float64(1) {
			t.Fatalf("added %v", added)
		}
		if r := owner.do("POST", base+"/contact-lists/"+lid+"/members", map[string]any{"contactIds": []string{"contact_nope"}}); r.Status != 422 {
			t.Fatalf("unknown contact: %d %s", r.Status, r.Body)
		}
		if m := member.must(200, "GET", base+"/contacts?listId="+lid, nil); len(m["data"].([]any)) != 1 {
			t.Fatalf("list members %v", m)
		}
		if r := owner.do("POST", base+"/contact-lists", map[string]any{"name": "Spring"}); r.Status != 409 || r.Code(t) != "list_exists" {
			t.Fatalf("same name: %d %s", r.Status, r.Body)
		}

		// Masking: members see numbers masked once the workspace asks for it; owners do not.
		owner.must(200, "PATCH", base+"/settings", map[string]any{"privacy": map[string]any{"maskPhoneNumbersForMembers": true}})
		if got := member.must(200, "GET", base+"/contacts/"+id, nil); got["phone"] != "+91 98*****210" {
			t.Fatalf("member sees %v", got["phone"])
		}
		if got := owner.must(200, "GET", base+"/contacts/"+id, nil); got["phone"] != "+919876543210" {
			t.Fatalf("owner sees %v", got["phone"])
		}
		if r := member.do("GET", base+"/contacts?phone=%2B91", nil); r.Status != 403 || r.Code(t) != "phone_numbers_masked" {
			t.Fatalf("member phone search: %d %s", r.Status, r.Body)
		}

		// Export: streamed CSV, masked for members.
		for who, want := range map[*client]string{owner: "+919876543210", member: "+91 98*****210"} {
			r := who.do("GET", base+"/contacts/export.csv?tag=b2b", nil)
			if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/csv") {
				t.Fatalf("export: %d %v %s", r.Status, r.Header, r.Body)
			}
			recs, err := csv.NewReader(strings.NewReader(string(r.Body))).ReadAll()
			if err != nil || len(recs) != 2 || strings.Join(recs[0], ",") != "phone,name,email,timezone,tags,doNotCall,id,createdAt,updatedAt,plan,tier,vip" ||
				recs[1][0] != want || recs[1][4] != "b2b,vip" || recs[1][5] != "true" || recs[1][9] != "gold" || recs[1][10] != "2" {
				t.Fatalf("export %q %v", recs, err)
			}
		}

		// Delete: the contact goes, its number stays listed.
		owner.must(204, "DELETE", base+"/contacts/"+id, nil)
		if r := owner.do("GET", base+"/contacts/"+id, nil); r.Status != 404 {
			t.Fatalf("deleted: %d", r.Status)
		}
		if l := owner.must(200, "GET", base+"/dnc", nil); len(l["data"].([]any)) != 1 {
			t.Fatalf("dnc after delete %v", l)
		}
	})
}

func TestContactsBadInput(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		owner := e.signup("owner")
		ws := owner.workspace("Acme")
		path := "/v1/workspaces/" + ws + "/contacts"
		existing := owner.must(201, "POST", path, map[string]any{"phone": "+14155550101"})["id"].(string)
		for _, tc := range []struct {
			name, method, path string
			body               any
			status             int
			location, detail   string
		}{
			{"impossible number", "POST", path, map[string]any{"phone": "+1 415 555"}, 422, "body.phone", "too short"},
			{"not a number", "POST", path, map[string]any{"phone": "call me"}, 422, "body.phone", "not a phone number"},
			{"unknown country", "POST", path, map[string]any{"phone": "+999 123 4567"}, 422, "body.phone", "unknown country code"},
			{"missing phone", "POST", path, map[string]any{"name": "x"}, 422, "body", "required property phone"},
			{"bad timezone", "POST", path, map[string]any{"phone": "+14155550102", "timezone": "Mars/Olympus"}, 422, "body.timezone", ""},
			{"nested attributes", "POST", path, map[string]any{"phone": "+14155550102", "attributes": map[string]any{"a": map[string]any{"b": 1}}}, 422, "body.attributes.a", "flat"},
			{"list attribute", "POST", path, map[string]any{"phone": "+14155550102", "attributes": map[string]any{"a": []int{1}}}, 422, "body.attributes.a", "flat"},
			{"unknown field", "POST", path, map[string]any{"phone": "+14155550102", "nickname": "x"}, 422, "body.nickname", ""},
			{"bad email", "POST", path, map[string]any{"phone": "+14155550102", "email": "nope"}, 422, "body.email", ""},
			{"malformed JSON", "POST", path, `{"phone":`, 400, "", ""},
			{"patch impossible number", "PATCH", path + "/" + existing, map[string]any{"phone": "+1 415"}, 422, "body.phone", ""},
			{"patch unknown field", "PATCH", path + "/" + existing, map[string]any{"phone2": "x"}, 422, "body.phone2", ""},
			{"bad prefix", "GET", path + "?phone=abc", nil, 422, "query.phone", ""},
			{"bad attribute filter", "GET", path + "?attribute=plan", nil, 422, "query.attribute", ""},
			{"bad cursor", "GET", path + "?cursor=%21%21", nil, 422, "query.cursor", ""},
			{"dnc impossible number", "POST", "/v1/workspaces/" + ws + "/dnc", map[string]any{"phone": "12"}, 422, "body.phone", "too short"},
		} {
			r := owner.do(tc.method, tc.path, tc.body)
			if r.Status != tc.status {
				t.Errorf("%s: %d %s, want %d", tc.name, r.Status, r.Body, tc.status)
				continue
			}
			r.Code(t) // problem+json
			body := string(r.Body)
			if tc.location != "" && !strings.Contains(body, `"location":"`+tc.location+`"`) {
				t.Errorf("%s: no error at %s in %s", tc.name, tc.location, body)
			}
			if !strings.Contains(body, tc.detail) {
				t.Errorf("%s: no %q in %s", tc.name, tc.detail, body)
			}
		}
	})
}

// Every contacts route answers another workspace's people and keys 404, whatever exists.
func TestContactsAcrossWorkspaces(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		owner := e.signup("owner")
		ws := owner.workspace("Acme")
		base := "/v1/workspaces/" + ws
		cid := owner.must(201, "POST", base+"/contacts", map[string]any{"phone": "+14155550101", "name": "Ada"})["id"].(string)
		lid := owner.must(201, "POST", base+"/contact-lists", map[string]any{"name": "L"})["id"].(string)
		owner.must(200, "POST", base+"/contact-lists/"+lid+"/members", map[string]any{"contactIds": []string{cid}})
		owner.must(201, "POST", base+"/dnc", map[string]any{"phone": "+14155550102"})

		other := e.signup("other")
		ows := other.workspace("Other")
		obase := "/v1/workspaces/" + ows
		secret := other.must(201, "POST", obase+"/api-keys", map[string]any{"name": "all", "scopes": []string{"contacts:read", "contacts:write"}, "mode": "live"})["secret"].(string)
		key := e.keyClient(secret)
		oc := other.must(201, "POST", obase+"/contacts", map[string]any{"phone": "+14155550103"})["id"].(string)
		ol := other.must(201, "POST", obase+"/contact-lists", map[string]any{"name": "L"})["id"].(string)

		routes := []struct {
			method, path string
			body         any
		}{
			{"POST", base + "/contacts", map[string]any{"phone": "+14155550104"}},
			{"GET", base + "/contacts", nil},
			{"GET", base + "/contacts/export.csv", nil},
			{"GET", base + "/contacts/" + cid, nil},
			{"PATCH", base + "/contacts/" + cid, map[string]any{"name": "Mallory"}},
			{"DELETE", base + "/contacts/" + cid, nil},
			{"POST", base + "/contact-lists", map[string]any{"name": "M"}},
			{"GET", base + "/contact-lists", nil},
			{"GET", base + "/contact-lists/" + lid, nil},
			{"PATCH", base + "/contact-lists/" + lid, map[string]any{"name": "M"}},
			{"DELETE", base + "/contact-lists/" + lid, nil},
			{"POST", base + "/contact-lists/" + lid + "/members", map[string]any{"contactIds": []string{cid}}},
			{"DELETE", base + "/contact-lists/" + lid + "/members/" + cid, nil},
			{"POST", base + "/dnc", map[string]any{"phone": "+14155550105"}},
			{"GET", base + "/dnc", nil},
			{"DELETE", base + "/dnc/%2B14155550102", nil},
			// My resources named through the other workspace's own URL.
			{"GET", obase + "/contacts/" + cid, nil},
			{"PATCH", obase + "/contacts/" + cid, map[string]any{"name": "Mallory"}},
			{"DELETE", obase + "/contacts/" + cid, nil},
			{"GET", obase + "/contacts?listId=" + lid, nil},
			{"GET", obase + "/contact-lists/" + lid, nil},
			{"PATCH", obase + "/contact-lists/" + lid, map[string]any{"name": "M"}},
			{"DELETE", obase + "/contact-lists/" + lid, nil},
			{"POST", obase + "/contact-lists/" + lid + "/members", map[string]any{"contactIds": []string{oc}}},
			{"DELETE", obase + "/contact-lists/" + ol + "/members/" + cid, nil},
			{"DELETE", obase + "/dnc/%2B14155550102", nil},
		}
		for _, rt := range routes {
			for who, c := range map[string]*client{"user": other, "key": key} {
				if r := c.do(rt.method, rt.path, rt.body); r.Status != 404 || r.Code(t) != "not_found" {
					t.Errorf("%s %s by the other workspace's %s: %d %s", rt.method, rt.path, who, r.Status, r.Body)
				}
			}
		}
		// Adding my contact to their list is a bad body, not a leak: 422 without saying more.
		if r := other.do("POST", obase+"/contact-lists/"+ol+"/members", map[string]any{"contactIds": []string{cid}}); r.Status != 422 {
			t.Errorf("my contact into their list: %d %s", r.Status, r.Body)
		}
		// Nothing changed.
		if got := owner.must(200, "GET", base+"/contacts/"+cid, nil); got["name"] != "Ada" || got["doNotCall"] != false {
			t.Fatalf("after the other workspace's calls: %v", got)
		}
		if l := owner.must(200, "GET", base+"/contact-lists/"+lid, nil); l["size"] != float64(1) || l["name"] != "L" {
			t.Fatalf("list after: %v", l)
		}
		if d := owner.must(200, "GET", base+"/dnc", nil); len(d["data"].([]any)) != 1 {
			t.Fatalf("dnc after: %v", d)
		}
	})
}

func TestContactImportsEndToEnd(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		e.startWorkers(t)
		owner := e.signup("owner")
		ws := owner.workspace("Importers")
		base := "/v1/workspaces/" + ws
		member := e.signup("member")
		e.addMember(ws, member, "member")
		list := owner.must(201, "POST", base+"/contact-lists", map[string]any{"name": "Spring"})

		wait := func(id string) map[string]any {
			t.Helper()
			var imp map[string]any
			waitFor(t, "import "+id, 20*time.Second, func() bool {
				imp = member.must(200, "GET", base+"/contact-imports/"+id, nil)
				return imp["status"] == "completed" || imp["status"] == "failed"
			})
			return imp
		}
		counts := func(imp map[string]any) string {
			return fmt.Sprintf("%v/%v/%v/%v/%v/%v", imp["total"], imp["processed"], imp["created"], imp["updated"], imp["skipped"], imp["failed"])
		}

		// A text/csv body: ; delimiter, BOM, CRLF, a quoted newline; options in the query.
		body := "\xEF\xBB\xBFMobile;Full Name;Plan\r\n+14155550101;\"Ada\r\nLovelace\";gold\r\n\r\n12;Too Short;silver\r\n4155550102;Grace;\r\n"
		r := owner.do("POST", base+"/contact-imports?listId="+list["id"].(string)+"&tags=spring,csv&fileName=people.csv", body, "Content-Type", "text/csv")
		if r.Status != 202 {
			t.Fatalf("start: %d %s", r.Status, r.Body)
		}
		imp := r.JSON(t)
		if imp["status"] != "queued" || imp["total"] != float64(3) || imp["fileName"] != "people.csv" || imp["delimiter"] != ";" || imp["onDuplicate"] != "skip" {
			t.Fatalf("queued %v", imp)
		}
		id := imp["id"].(string)
		imp = wait(id)
		if imp["status"] != "completed" || counts(imp) != "3/3/2/0/0/1" || imp["finishedAt"] == nil {
			t.Fatalf("done %v", imp)
		}
		ada := owner.must(200, "GET", base+"/contacts?phone=%2B14155550101", nil)["data"].([]any)[0].(map[string]any)
		if ada["name"] != "Ada\nLovelace" || ada["attributes"].(map[string]any)["plan"] != "gold" || fmt.Sprint(ada["tags"]) != "[csv spring]" {
			t.Errorf("ada %v", ada)
		}
		if n := len(owner.must(200, "GET", base+"/contacts?listId="+list["id"].(string), nil)["data"].([]any)); n != 2 {
			t.Errorf("list members %d", n)
		}
		er := member.do("GET", base+"/contact-imports/"+id+"/errors.csv", nil)
		recs, err := csv.NewReader(strings.NewReader(string(er.Body))).ReadAll()
		if er.Status != 200 || !strings.HasPrefix(er.Header.Get("Content-Type"), "text/csv") || err != nil || len(recs) != 2 ||
			strings.Join(recs[1][:3], "|") != "5|Mobile|12" || !strings.Contains(recs[1][3], "short") {
			t.Errorf("errors.csv %d %q %v", er.Status, recs, err)
		}

		// multipart/form-data: the file part and option fields (which override the query).
		var mp bytes.Buffer
		mw := multipart.NewWriter(&mp)
		_ = mw.WriteField("onDuplicate", "update")
		fw, _ := mw.CreateFormFile("file", "update.csv")
		_, _ = fw.Write([]byte("phone,name,email\n+14155550102,Grace Hopper,grace@example.com\n+14155550103,Alan,\n"))
		_ = mw.WriteField("tags", "autumn")
		_ = mw.Close()
		r = owner.do("POST", base+"/contact-imports?onDuplicate=skip", mp.Bytes(), "Content-Type", mw.FormDataContentType())
		if r.Status != 202 || r.JSON(t)["fileName"] != "update.csv" || r.JSON(t)["onDuplicate"] != "update" {
			t.Fatalf("multipart: %d %s", r.Status, r.Body)
		}
		if imp := wait(r.JSON(t)["id"].(string)); counts(imp) != "2/2/1/1/0/0" {
			t.Fatalf("multipart done %v", imp)
		}
		grace := owner.must(200, "GET", base+"/contacts?phone=%2B14155550102", nil)["data"].([]any)[0].(map[string]any)
		if grace["name"] != "Grace Hopper" || grace["email"] != "grace@example.com" || fmt.Sprint(grace["tags"]) != "[autumn csv spring]" {
			t.Errorf("grace %v", grace)
		}

		// The list, newest first; one audit entry per import; the completion event.
		if l := member.must(200, "GET", base+"/contact-imports", nil)["data"].([]any); len(l) != 2 || l[1].(map[string]any)["id"] != id {
			t.Errorf("list %v", l)
		}
		audits := owner.must(200, "GET", base+"/audit-log", nil)["data"].([]any)
		n := 0
		for _, a := range audits {
			if a.(map[string]any)["action"] == "contact_import.created" {
				n++
			}
		}
		if n != 2 {
			t.Errorf("audit entries for imports: %d", n)
		}
		var evs int
		if err := e.srv.DB.Read.QueryRow(`SELECT COUNT(*) FROM events WHERE workspace_id = $1 AND type = 'contact_import.completed'`, ws).Scan(&evs); err != nil || evs != 2 {
			t.Errorf("completion events %d %v", evs, err)
		}

		// Refusals, as problems.
		for _, tc := range []struct {
			who         *client
			body, ctype string
			status      int
			code        string
		}{
			{member, "phone\n+14155550104\n", "text/csv", 403, "insufficient_role"},
			{owner, "name\nAda\n", "text/csv", 422, "validation_failed"},
			{owner, "phone,name\n1,\"unclosed\n", "text/csv", 422, "validation_failed"},
			{owner, `{"phone":"+14155550104"}`, "application/json", 422, "validation_failed"},
			{owner, "--x\r\nbroken", "multipart/form-data; boundary=x", 400, "bad_multipart"},
		} {
			if r := tc.who.do("POST", base+"/contact-imports", tc.body, "Content-Type", tc.ctype); r.Status != tc.status || r.Code(t) != tc.code {
				t.Errorf("%s: %d %s", tc.body, r.Status, r.Body)
			}
		}
		if r := owner.do("GET", base+"/contact-imports/imp_nope", nil); r.Status != 404 {
			t.Errorf("missing import: %d", r.Status)
		}
		// Another workspace's import is not found.
		other := e.signup("other")
		ows := other.workspace("Other")
		if r := other.do("GET", "/v1/workspaces/"+ows+"/contact-imports/"+id, nil); r.Status != 404 {
			t.Errorf("another workspace's import: %d", r.Status)
		}
	})
}

func TestContactImportDashboard(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		e.startWorkers(t)
		owner := e.signup("owner")
		ws := owner.workspace("Dashboard imports")
		member := e.signup("member")
		e.addMember(ws, member, "member")

		page := owner.do("GET", "/w/"+ws+"/contacts", nil)
		if page.Status != 200 || !strings.Contains(string(page.Body), `id="import-form"`) {
			t.Fatalf("contacts page: %d, no import form", page.Status)
		}
		if p := member.do("GET", "/w/"+ws+"/contacts", nil); strings.Contains(string(p.Body), `id="import-form"`) {
			t.Error("members see the import form")
		}
		form := func(csvText string) ([]byte, string) {
			var b bytes.Buffer
			mw := multipart.NewWriter(&b)
			_ = mw.WriteField("onDuplicate", "skip")
			_ = mw.WriteField("tags", "dashboard")
			fw, _ := mw.CreateFormFile("file", "from-the-dashboard.csv")
			_, _ = fw.Write([]byte(csvText))
			_ = mw.Close()
			return b.Bytes(), mw.FormDataContentType()
		}
		body, ctype := form("Phone Number,Full Name\n+14155550101,Ada\nnope,Bad\n")
		r := owner.do("POST", "/w/"+ws+"/contact-imports", body, "Content-Type", ctype)
		loc := r.Header.Get("Location")
		if r.Status != 303 || !strings.HasPrefix(loc, "/w/"+ws+"/contact-imports/imp_") {
			t.Fatalf("upload: %d %s %s", r.Status, loc, r.Body)
		}
		var html string
		waitFor(t, "the import page to say done", 20*time.Second, func() bool {
			r := owner.do("GET", loc, nil)
			html = string(r.Body)
			return r.Status == 200 && strings.Contains(html, "Done: 2 of 2 rows")
		})
		for _, want := range []string{"from-the-dashboard.csv", `id="count-created">1<`, `id="count-failed">1<`, "/errors.csv", `<code>Phone Number</code> → phone`} {
			if !strings.Contains(html, want) {
				t.Errorf("import page lacks %q", want)
			}
		}
		if strings.Contains(html, `http-equiv="refresh"`) {
			t.Error("a finished import's page still refreshes")
		}
		// A refused file is explained on the page.
		body, ctype = form("name,email\nAda,ada@example.com\n")
		if r := owner.do("POST", "/w/"+ws+"/contact-imports", body, "Content-Type", ctype); r.Status != 422 || !strings.Contains(string(r.Body), "no phone column") {
			t.Errorf("refused: %d %s", r.Status, r.Body)
		}
		// Members may not import.
		body, ctype = form("phone\n+14155550102\n")
		if r := member.do("POST", "/w/"+ws+"/contact-imports", body, "Content-Type", ctype); r.Status != 403 {
			t.Errorf("member upload: %d", r.Status)
		}
	})
}
