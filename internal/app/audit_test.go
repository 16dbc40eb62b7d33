package app

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestAuditLogAPI(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		owner := e.signup("auditor")
		wsID := owner.workspace("Audited")
		me := owner.must(200, "GET", "/v1/me", nil)
		start := e.clock.Now()
		for _, name := range []string{"One", "Two", "Three"} {
			e.clock.Advance(time.Minute)
			owner.must(200, "PATCH", "/v1/workspaces/"+wsID, map[string]any{"name": name}, "User-Agent", "audit-test/1.0")
		}
		all := owner.must(200, "GET", "/v1/workspaces/"+wsID+"/audit-log", nil)
		data := all["data"].([]any)
		if len(data) != 4 {
			t.Fatalf("%d entries, want 4 (create + 3 updates): %v", len(data), all)
		}
		newest := data[0].(map[string]any)
		if newest["action"] != "workspace.updated" || newest["actorId"] != me["id"] || newest["actorType"] != "user" ||
			newest["userAgent"] != "audit-test/1.0" || newest["ip"] == "" || newest["requestId"] == "" || newest["resourceId"] != wsID {
			t.Fatalf("newest entry %v", newest)
		}
		if ch := newest["changes"].([]any); len(ch) != 1 || ch[0] != "name" {
			t.Fatalf("changes %v", ch)
		}
		if strings.Contains(string(owner.do("GET", "/v1/workspaces/"+wsID+"/audit-log", nil).Body), "Three") {
			t.Fatal("the audit log holds a changed value, not only the field name")
		}
		only := owner.must(200, "GET", "/v1/workspaces/"+wsID+"/audit-log?action=workspace.created", nil)
		if d := only["data"].([]any); len(d) != 1 || d[0].(map[string]any)["action"] != "workspace.created" {
			t.Fatalf("filter by action %v", only)
		}
		since := url.QueryEscape(start.Add(90 * time.Second).Format(time.RFC3339))
		recent := owner.must(200, "GET", "/v1/workspaces/"+wsID+"/audit-log?since="+since, nil)
		if d := recent["data"].([]any); len(d) != 2 {
			t.Fatalf("since filter: %d entries, want 2", len(d))
		}
		p1 := owner.must(200, "GET", "/v1/workspaces/"+wsID+"/audit-log?limit=3", nil)
		p2 := owner.must(200, "GET", "/v1/workspaces/"+wsID+"/audit-log?limit=3&cursor="+p1["nextCursor"].(string), nil)
		if len(p1["data"].([]any)) != 3 || len(p2["data"].([]any)) != 1 || p2["nextCursor"] != nil {
			t.Fatalf("pages %v / %v", p1, p2)
		}

		member, stranger := e.signup("member"), e.signup("stranger")
		addMember(t, e, wsID, member, "member")
		if r := member.do("GET", "/v1/workspaces/"+wsID+"/audit-log", nil); r.Status != 403 || r.Code(t) != "insufficient_role" {
			t.Fatalf("member: %d %s", r.Status, r.Body)
		}
		admin := e.signup("admin")
		addMember(t, e, wsID, admin, "admin")
		admin.must(200, "GET", "/v1/workspaces/"+wsID+"/audit-log", nil)
		stranger.workspace("Elsewhere")
		if r := stranger.do("GET", "/v1/workspaces/"+wsID+"/audit-log", nil); r.Status != 404 {
			t.Fatalf("another workspace's user: %d %s", r.Status, r.Body)
		}
	})
}
