package app

import (
	"context"
	"strings"
	"testing"

	"github.com/parleyhq/parley/internal/platform/audit"
	"github.com/parleyhq/parley/internal/platform/db"
)

func TestWorkspaceLifecycle(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		c := e.signup("owner")
		m := c.must(201, "POST", "/v1/workspaces", map[string]any{"name": "Acme Support", "timezone": "Europe/Berlin"})
		wsID := m["id"].(string)
		if !strings.HasPrefix(wsID, "ws_") || m["role"] != "owner" || m["slug"] != "acme-support" || m["timezone"] != "Europe/Berlin" {
			t.Fatalf("created %v", m)
		}
		// A second workspace with the same name gets another slug.
		m2 := c.must(201, "POST", "/v1/workspaces", map[string]any{"name": "Acme Support"})
		if m2["slug"] == "acme-support" || m2["timezone"] != "UTC" {
			t.Fatalf("second workspace %v", m2)
		}
		got := c.must(200, "GET", "/v1/workspaces/"+wsID, nil)
		if got["id"] != wsID || got["name"] != "Acme Support" || got["role"] != "owner" {
			t.Fatalf("get %v", got)
		}
		list := c.must(200, "GET", "/v1/workspaces", nil)
		data := list["data"].([]any)
		if len(data) != 2 || data[0].(map[string]any)["id"] != m2["id"] {
			t.Fatalf("list (newest first) %v", list)
		}
		// Pagination.
		p1 := c.must(200, "GET", "/v1/workspaces?limit=1", nil)
		if len(p1["data"].([]any)) != 1 || p1["nextCursor"] == nil {
			t.Fatalf("page 1 %v", p1)
		}
		p2 := c.must(200, "GET", "/v1/workspaces?limit=1&cursor="+p1["nextCursor"].(string), nil)
		if d := p2["data"].([]any); len(d) != 1 || d[0].(map[string]any)["id"] != wsID || p2["nextCursor"] != nil {
			t.Fatalf("page 2 %v", p2)
		}
		if r := c.do("GET", "/v1/workspaces?cursor=!!!", nil); r.Status != 422 {
			t.Fatalf("bad cursor: %d", r.Status)
		}

		up := c.must(200, "PATCH", "/v1/workspaces/"+wsID, map[string]any{"name": "Acme Care"})
		if up["name"] != "Acme Care" || up["id"] != wsID || up["timezone"] != "Europe/Berlin" {
			t.Fatalf("patch %v", up)
		}
		if r := c.do("PATCH", "/v1/workspaces/"+wsID, map[string]any{"timezone": "Mars/Olympus"}); r.Status != 422 {
			t.Fatalf("bad timezone: %d %s", r.Status, r.Body)
		}
		if r := c.do("PATCH", "/v1/workspaces/"+wsID, map[string]any{"id": "ws_other"}); r.Status != 422 {
			t.Fatalf("the ID is immutable: %d %s", r.Status, r.Body)
		}
		if r := c.do("POST", "/v1/workspaces", map[string]any{"name": ""}); r.Status != 422 {
			t.Fatalf("empty name: %d", r.Status)
		}

		// Every mutation is audited, with field names and no values.
		entries, err := audit.List(context.Background(), e.srv.DB.Read, wsID, "", 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 2 || entries[0].Action != "workspace.updated" || strings.Join(entries[0].Changes, ",") != "name" ||
			entries[0].ActorType != "user" || entries[0].RequestID == "" || entries[1].Action != "workspace.created" {
			t.Fatalf("audit %+v", entries)
		}

		// Delete: confirmation required, then everything goes.
		if r := c.do("DELETE", "/v1/workspaces/"+wsID, map[string]any{"confirm": "nope"}); r.Status != 422 || r.Code(t) != "confirmation_mismatch" {
			t.Fatalf("delete without confirmation: %d %s", r.Status, r.Body)
		}
		c.must(204, "DELETE", "/v1/workspaces/"+wsID, map[string]any{"confirm": wsID})
		if r := c.do("GET", "/v1/workspaces/"+wsID, nil); r.Status != 404 {
			t.Fatalf("deleted workspace: %d", r.Status)
		}
		for _, table := range []string{"workspace_members", "events"} {
			var n int
			if err := e.srv.DB.Read.QueryRow(`SELECT COUNT(*) FROM `+table+` WHERE workspace_id = $1`, wsID).Scan(&n); err != nil || n != 0 {
				t.Fatalf("%s rows left after delete: %d (%v)", table, n, err)
			}
		}
		entries, _ = audit.List(context.Background(), e.srv.DB.Read, wsID, "", 10)
		if len(entries) != 1 || entries[0].Action != "workspace.deleted" {
			t.Fatalf("audit after delete %+v", entries)
		}
	})
}

// addMember makes u a member of ws with role directly in the store (the invitation flow
// belongs to the Team capability).
func addMember(t *testing.T, e *env, wsID string, u *client, role string) {
	t.Helper()
	me := u.must(200, "GET", "/v1/me", nil)
	if _, err := e.srv.DB.Write.Exec(`INSERT INTO workspace_members (workspace_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)`,
		wsID, me["id"], role, db.Time(e.clock.Now())); err != nil {
		t.Fatal(err)
	}
}

func TestWorkspaceRoles(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		owner := e.signup("owner")
		wsID := owner.workspace("Team")
		admin, member := e.signup("admin"), e.signup("member")
		addMember(t, e, wsID, admin, "admin")
		addMember(t, e, wsID, member, "member")

		cases := []struct {
			who            *client
			role           string
			update, delete int
		}{
			{member, "member", 403, 403},
			{admin, "admin", 200, 403},
		}
		for _, tc := range cases {
			if got := tc.who.must(200, "GET", "/v1/workspaces/"+wsID, nil); got["role"] != tc.role {
				t.Fatalf("%s sees role %v", tc.role, got["role"])
			}
			if r := tc.who.do("PATCH", "/v1/workspaces/"+wsID, map[string]any{"name": "By " + tc.role}); r.Status != tc.update {
				t.Errorf("%s update: %d, want %d", tc.role, r.Status, tc.update)
			} else if r.Status == 403 && r.Code(t) != "insufficient_role" {
				t.Errorf("%s update code %q", tc.role, r.Code(t))
			}
			if r := tc.who.do("DELETE", "/v1/workspaces/"+wsID, map[string]any{"confirm": wsID}); r.Status != tc.delete {
				t.Errorf("%s delete: %d, want %d", tc.role, r.Status, tc.delete)
			}
		}
		// Removal takes effect on the very next request.
		if _, err := e.srv.DB.Write.Exec(`DELETE FROM workspace_members WHERE workspace_id = $1 AND role = 'member'`, wsID); err != nil {
			t.Fatal(err)
		}
		if r := member.do("GET", "/v1/workspaces/"+wsID, nil); r.Status != 404 {
			t.Fatalf("removed member: %d", r.Status)
		}
	})
}

// TestCrossWorkspaceIsolation: for every workspace route, another workspace's user gets 404,
// exactly as for a workspace that does not exist, and nothing changes.
func TestCrossWorkspaceIsolation(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		alice, bob := e.signup("alice"), e.signup("bob")
		aws := alice.workspace("Alice Co")
		bob.workspace("Bob Co")
		missing := "ws_01jq3v5x8kf9r1t6m2c4d7e8gh"
		for _, target := range []string{aws, missing} {
			for _, req := range []struct {
				method string
				body   any
			}{
				{"GET", nil},
				{"PATCH", map[string]any{"name": "Hijacked"}},
				{"DELETE", map[string]any{"confirm": target}},
			} {
				r := bob.do(req.method, "/v1/workspaces/"+target, req.body)
				if r.Status != 404 || r.Code(t) != "not_found" {
					t.Errorf("bob %s %s: %d %s", req.method, target, r.Status, r.Body)
				}
			}
		}
		list := bob.must(200, "GET", "/v1/workspaces", nil)
		for _, w := range list["data"].([]any) {
			if w.(map[string]any)["id"] == aws {
				t.Fatal("bob's list includes alice's workspace")
			}
		}
		if got := alice.must(200, "GET", "/v1/workspaces/"+aws, nil); got["name"] != "Alice Co" {
			t.Fatalf("alice's workspace changed: %v", got)
		}
		// Unauthenticated: 401, not 404.
		if r := e.client().do("GET", "/v1/workspaces/"+aws, nil); r.Status != 401 || r.Code(t) != "unauthenticated" {
			t.Fatalf("anonymous: %d %s", r.Status, r.Body)
		}
		if r := e.client().do("GET", "/v1/workspaces/"+aws, nil, "Authorization", "Bearer parley_live_nope"); r.Status != 401 || r.Code(t) != "invalid_api_key" {
			t.Fatalf("unknown bearer: %d %s", r.Status, r.Body)
		}
	})
}

func TestIdempotencyKey(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		c := e.signup("retry")
		body := map[string]any{"name": "Once Only"}
		a := c.do("POST", "/v1/workspaces", body, "Idempotency-Key", "k1")
		b := c.do("POST", "/v1/workspaces", body, "Idempotency-Key", "k1")
		if a.Status != 201 || b.Status != 201 || string(a.Body) != string(b.Body) || b.Header.Get("Idempotency-Replayed") != "true" {
			t.Fatalf("replay: %d %s / %d %s", a.Status, a.Body, b.Status, b.Body)
		}
		if r := c.do("POST", "/v1/workspaces", map[string]any{"name": "Other"}, "Idempotency-Key", "k1"); r.Status != 409 || r.Code(t) != "idempotency_key_reused" {
			t.Fatalf("reused key: %d %s", r.Status, r.Body)
		}
		// Another principal with the same key is another request.
		other := e.signup("other")
		if r := other.do("POST", "/v1/workspaces", body, "Idempotency-Key", "k1"); r.Status != 201 || string(r.Body) == string(a.Body) {
			t.Fatalf("other principal: %d %s", r.Status, r.Body)
		}
		list := c.must(200, "GET", "/v1/workspaces", nil)
		if n := len(list["data"].([]any)); n != 1 {
			t.Fatalf("%d workspaces, want 1", n)
		}
	})
}

func TestCrossOriginWritesRefused(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		c := e.signup("csrf")
		r := c.do("POST", "/v1/workspaces", map[string]any{"name": "Evil"}, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
		if r.Status != 403 || r.Code(t) != "cross_origin_request" {
			t.Fatalf("cross-site POST: %d %s", r.Status, r.Body)
		}
		c.must(201, "POST", "/v1/workspaces", map[string]any{"name": "Fine"}, "Origin", e.http.URL, "Sec-Fetch-Site", "same-origin")
	})
}

func TestOperationalEndpoints(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		c := e.client()
		for _, tc := range [][2]string{{"/healthz", "ok"}, {"/readyz", "ready"}, {"/metrics", "parley_http_requests_total"}, {"/v1/openapi.json", `"openapi":"3.1`}, {"/docs", "swagger"}} {
			path, want := tc[0], tc[1]
			r := c.do("GET", path, nil)
			if r.Status != 200 || !strings.Contains(strings.ReplaceAll(string(r.Body), " ", ""), strings.ReplaceAll(want, " ", "")) {
				t.Errorf("%s: %d, body lacks %q: %.200s", path, r.Status, want, r.Body)
			}
		}
	})
}
