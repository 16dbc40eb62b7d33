package app

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/parleyhq/parley/internal/platform/db"
)

// addMember puts c in the workspace with the role, directly in the store.
func (e *env) addMember(ws string, c *client, role string) {
	e.t.Helper()
	if _, err := e.srv.DB.Write.Exec(`INSERT INTO workspace_members (workspace_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)`,
		ws, c.userID(), role, db.Time(e.clock.Now())); err != nil {
		e.t.Fatal(err)
	}
}

// countEvents counts the workspace's events of a type.
func (e *env) countEvents(t *testing.T, ws, typ string) int {
	t.Helper()
	var n int
	if err := e.srv.DB.Read.QueryRow(`SELECT COUNT(*) FROM events WHERE workspace_id = $1 AND type = $2`, ws, typ).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func toJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// effective returns GET …/effective's settings.
func (c *client) effective(ws, agentID string) map[string]any {
	c.e.t.Helper()
	return c.must(200, "GET", "/v1/workspaces/"+ws+"/agents/"+agentID+"/effective", nil)["settings"].(map[string]any)
}

func TestAgentInheritance(t *testing.T) {
	type source struct {
		value  any
		source string
	}
	cases := []struct {
		name      string
		workspace map[string]any // settings patch
		agent     map[string]any // agent body (name added)
		patch     map[string]any // later agent patch, if any
		want      map[string]source
	}{
		{name: "nothing set: platform", agent: map[string]any{},
			want: map[string]source{"llm.model": {"gpt-4o-mini", "platform"}, "tts.voice": {"alloy", "platform"}, "language": {"en", "platform"},
				"maxDurationSeconds": {float64(1800), "platform"}, "voicemailAction": {"hangup", "platform"}, "allowInterruptions": {true, "platform"}, "name": {"A", "agent"}}},
		{name: "workspace default reaches the agent", workspace: map[string]any{"llm": map[string]any{"model": "gpt-4.1"}, "language": "de", "calls": map[string]any{"maxDurationSeconds": 600}},
			agent: map[string]any{},
			want:  map[string]source{"llm.model": {"gpt-4.1", "workspace"}, "llm.provider": {"openai", "platform"}, "language": {"de", "workspace"}, "maxDurationSeconds": {float64(600), "workspace"}}},
		{name: "agent overrides win", workspace: map[string]any{"llm": map[string]any{"model": "gpt-4.1"}},
			agent: map[string]any{"llm": map[string]any{"model": "gpt-4o", "temperature": 0.1}, "maxDurationSeconds": 60, "voicemailAction": "leave_message"},
			want: map[string]source{"llm.model": {"gpt-4o", "agent"}, "llm.temperature": {0.1, "agent"}, "llm.maxTokens": {float64(1024), "platform"},
				"maxDurationSeconds": {float64(60), "agent"}, "voicemailAction": {"leave_message", "agent"}}},
		{name: "null returns to inheriting", workspace: map[string]any{"tts": map[string]any{"voice": "coral"}},
			agent: map[string]any{"tts": map[string]any{"voice": "sage", "speed": 1.5}, "language": "fr"},
			patch: map[string]any{"tts": map[string]any{"voice": nil}, "language": nil},
			want:  map[string]source{"tts.voice": {"coral", "workspace"}, "tts.speed": {1.5, "agent"}, "language": {"en", "platform"}}},
		{name: "null object inherits it all", agent: map[string]any{"stt": map[string]any{"endpointingMs": 800}},
			patch: map[string]any{"stt": nil},
			want:  map[string]source{"stt.endpointingMs": {float64(300), "platform"}}},
		{name: "agent provider with workspace model change", workspace: map[string]any{"llm": map[string]any{"provider": "anthropic", "model": "claude-sonnet-4-5"}},
			agent: map[string]any{"llm": map[string]any{"provider": "openai", "model": "gpt-4o"}},
			want:  map[string]source{"llm.provider": {"openai", "agent"}, "llm.model": {"gpt-4o", "agent"}}},
	}
	eachEnv(t, func(t *testing.T, e *env) {
		owner := e.signup("owner")
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				ws := owner.workspace("Inherit")
				if c.workspace != nil {
					owner.must(200, "PATCH", "/v1/workspaces/"+ws+"/settings", c.workspace)
				}
				body := map[string]any{"name": "A"}
				for k, v := range c.agent {
					body[k] = v
				}
				a := owner.must(201, "POST", "/v1/workspaces/"+ws+"/agents", body)
				id := a["id"].(string)
				if c.patch != nil {
					owner.must(200, "PATCH", "/v1/workspaces/"+ws+"/agents/"+id, c.patch)
				}
				got := owner.effective(ws, id)
				for path, w := range c.want {
					s, ok := got[path].(map[string]any)
					if !ok || s["source"] != w.source || toJSON(t, s["value"]) != toJSON(t, w.value) {
						t.Errorf("%s = %v, want %v from %s", path, got[path], w.value, w.source)
					}
				}
			})
		}
	})
}

func TestAgentLifecycle(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		owner := e.signup("owner")
		ws := owner.workspace("Acme")
		base := "/v1/workspaces/" + ws + "/agents"

		// Create: version 1, ETag, warnings for undeclared placeholders.
		r := owner.do("POST", base, map[string]any{"name": "Front desk", "prompt": "Hi {{contact.name}} from {{company}}, ask about {{topic}}.",
			"variables": []any{map[string]any{"name": "company", "default": "Acme"}}, "llm": map[string]any{"temperature": 0.3, "provider": nil},
			"tools": []any{map[string]any{"name": "book", "description": "Book a slot", "parameters": map[string]any{"type": "object", "properties": map[string]any{"day": map[string]any{"type": "string"}}, "required": []string{"day"}}}}})
		if r.Status != 201 || r.Header.Get("ETag") != `"1"` {
			t.Fatalf("create: %d %v %s", r.Status, r.Header, r.Body)
		}
		a := r.JSON(t)
		id := a["id"].(string)
		if !strings.HasPrefix(id, "agent_") || a["version"] != float64(1) || a["name"] != "Front desk" {
			t.Fatalf("created %v", a)
		}
		if w := toJSON(t, a["warnings"]); !strings.Contains(w, "{{topic}}") || strings.Contains(w, "{{company}}") || strings.Contains(w, "{{contact.name}}") {
			t.Fatalf("warnings %s", w)
		}
		if _, ok := a["llm"].(map[string]any)["provider"]; ok {
			t.Fatalf("null stored: %v", a["llm"])
		}

		// Get and list.
		if g := owner.must(200, "GET", base+"/"+id, nil); g["name"] != "Front desk" {
			t.Fatalf("get %v", g)
		}
		if l := owner.must(200, "GET", base, nil)["data"].([]any); len(l) != 1 {
			t.Fatalf("list %v", l)
		}
		if l := owner.must(200, "GET", base+"?status=paused", nil)["data"].([]any); len(l) != 0 {
			t.Fatalf("paused list %v", l)
		}

		// Patch with If-Match; a stale one is 412 and changes nothing.
		r = owner.do("PATCH", base+"/"+id, map[string]any{"status": "paused", "llm": map[string]any{"temperature": nil, "model": "gpt-4.1"}}, "If-Match", `"1"`)
		if r.Status != 200 || r.Header.Get("ETag") != `"2"` {
			t.Fatalf("patch: %d %s", r.Status, r.Body)
		}
		if r := owner.do("PATCH", base+"/"+id, map[string]any{"name": "Lost update"}, "If-Match", `"1"`); r.Status != 412 || r.Code(t) != "version_mismatch" {
			t.Fatalf("stale patch: %d %s", r.Status, r.Body)
		}
		if r := owner.do("DELETE", base+"/"+id, nil, "If-Match", `"1"`); r.Status != 412 {
			t.Fatalf("stale delete: %d %s", r.Status, r.Body)
		}
		// A no-op patch makes no version.
		if a = owner.must(200, "PATCH", base+"/"+id, map[string]any{"status": "paused"}); a["version"] != float64(2) {
			t.Fatalf("no-op %v", a)
		}

		// Versions: immutable, with the changed fields.
		vs := owner.must(200, "GET", base+"/"+id+"/versions", nil)["data"].([]any)
		if len(vs) != 2 {
			t.Fatalf("versions %v", vs)
		}
		v2 := vs[0].(map[string]any)
		if v2["number"] != float64(2) || toJSON(t, v2["changes"]) != `["llm.model","llm.temperature","status"]` || !strings.HasPrefix(v2["author"].(string), "user_") {
			t.Fatalf("v2 %v", v2)
		}
		v1 := owner.must(200, "GET", base+"/"+id+"/versions/1", nil)
		if v1["document"].(map[string]any)["llm"].(map[string]any)["temperature"] != 0.3 {
			t.Fatalf("v1 %v", v1)
		}
		if r := owner.do("GET", base+"/"+id+"/versions/9", nil); r.Status != 404 {
			t.Fatalf("missing version: %d", r.Status)
		}
		// Paging versions.
		p1 := owner.must(200, "GET", base+"/"+id+"/versions?limit=1", nil)
		p2 := owner.must(200, "GET", base+"/"+id+"/versions?limit=1&cursor="+p1["nextCursor"].(string), nil)
		if p2["data"].([]any)[0].(map[string]any)["number"] != float64(1) || p2["nextCursor"] != nil {
			t.Fatalf("page 2 %v", p2)
		}

		// Restore version 1: a new version 3 that says so.
		r = owner.do("POST", base+"/"+id+"/versions/1/restore", nil, "If-Match", `"2"`)
		if r.Status != 200 || r.Header.Get("ETag") != `"3"` {
			t.Fatalf("restore: %d %s", r.Status, r.Body)
		}
		if a = r.JSON(t); a["status"] != nil || a["llm"].(map[string]any)["temperature"] != 0.3 {
			t.Fatalf("restored %v", a)
		}
		if v3 := owner.must(200, "GET", base+"/"+id+"/versions/3", nil); v3["restoredFrom"] != float64(1) {
			t.Fatalf("v3 %v", v3)
		}

		// Members read agents, never write them; keys by scope.
		member := e.signup("member")
		e.addMember(ws, member, "member")
		member.must(200, "GET", base+"/"+id, nil)
		member.must(200, "GET", base+"/"+id+"/effective", nil)
		if r := member.do("PATCH", base+"/"+id, map[string]any{"name": "x"}); r.Status != 403 {
			t.Fatalf("member patch: %d", r.Status)
		}
		writer := e.keyClient(owner.createKey(ws, map[string]any{"name": "w", "scopes": []string{"agents:write"}, "mode": "live"})["secret"].(string))
		byKey := writer.must(201, "POST", base, map[string]any{"name": "By key"})
		if !strings.HasPrefix(byKey["createdBy"].(string), "key_") {
			t.Fatalf("createdBy %v", byKey)
		}

		// Another workspace: every route answers 404, for its user and its key.
		outsider := e.signup("outsider")
		ows := outsider.workspace("Elsewhere")
		okey := e.keyClient(outsider.createKey(ows, map[string]any{"name": "all", "scopes": []string{"agents:read", "agents:write"}, "mode": "live"})["secret"].(string))
		for _, c := range []*client{outsider, okey} {
			for _, req := range []struct{ method, path string }{
				{"GET", base}, {"POST", base}, {"GET", base + "/" + id}, {"PATCH", base + "/" + id}, {"DELETE", base + "/" + id},
				{"GET", base + "/" + id + "/effective"}, {"GET", base + "/" + id + "/versions"}, {"GET", base + "/" + id + "/versions/1"},
				{"POST", base + "/" + id + "/versions/1/restore"},
				// The agent through the outsider's own workspace: not found either.
				{"GET", "/v1/workspaces/" + ows + "/agents/" + id}, {"PATCH", "/v1/workspaces/" + ows + "/agents/" + id},
				{"GET", "/v1/workspaces/" + ows + "/agents/" + id + "/effective"}, {"DELETE", "/v1/workspaces/" + ows + "/agents/" + id},
			} {
				if r := c.do(req.method, req.path, map[string]any{"name": "x"}); r.Status != 404 || r.Code(t) != "not_found" {
					t.Errorf("outsider %s %s: %d %s", req.method, req.path, r.Status, r.Body)
				}
			}
		}

		// Delete.
		owner.must(204, "DELETE", base+"/"+id, nil, "If-Match", `"3"`)
		if r := owner.do("GET", base+"/"+id, nil); r.Status != 404 {
			t.Fatalf("deleted: %d", r.Status)
		}
		for typ, n := range map[string]int{"agent.created": 2, "agent.updated": 2, "agent.deleted": 1} {
			if got := e.countEvents(t, ws, typ); got != n {
				t.Errorf("%d %s events, want %d", got, typ, n)
			}
		}
		log := toJSON(t, owner.must(200, "GET", "/v1/workspaces/"+ws+"/audit-log", nil)["data"])
		for _, action := range []string{"agent.created", "agent.updated", "agent.restored", "agent.deleted"} {
			if !strings.Contains(log, `"action":"`+action+`"`) {
				t.Errorf("no %s in the audit log", action)
			}
		}
		if strings.Contains(log, "Front desk") {
			t.Errorf("audit log holds values")
		}
	})
}

func TestAgentBadInput(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		owner := e.signup("owner")
		ws := owner.workspace("Acme")
		base := "/v1/workspaces/" + ws + "/agents"
		for _, c := range []struct {
			body map[string]any
			loc  string
		}{
			{map[string]any{}, "body.name"},
			{map[string]any{"name": ""}, "body.name"},
			{map[string]any{"name": "A", "llm": map[string]any{"temperature": 3}}, "body.llm.temperature"},
			{map[string]any{"name": "A", "tts": map[string]any{"speed": 2.5}}, "body.tts.speed"},
			{map[string]any{"name": "A", "maxDurationSeconds": 0}, "body.maxDurationSeconds"},
			{map[string]any{"name": "A", "prompt": strings.Repeat("x", 32<<10+1)}, "body.prompt"},
			{map[string]any{"name": "A", "llm": map[string]any{"model": "claude-haiku-4-5"}}, "body.llm.model"},
			{map[string]any{"name": "A", "stt": map[string]any{"provider": "whisperer"}}, "body.stt.provider"},
			{map[string]any{"name": "A", "voicemailAction": "sing"}, "body.voicemailAction"},
			{map[string]any{"name": "A", "status": "deleted"}, "body.status"},
			{map[string]any{"name": "A", "transferNumber": "12345"}, "body.transferNumber"},
			{map[string]any{"name": "A", "colour": "red"}, "body.colour"},
			{map[string]any{"name": "A", "allowInterruptions": "yes"}, "body.allowInterruptions"},
			{map[string]any{"name": "A", "tools": []any{map[string]any{"name": "x", "parameters": map[string]any{"type": "object", "properties": map[string]any{"a": map[string]any{"type": "nonsense"}}}}}}, "body.tools[0].parameters"},
			{map[string]any{"name": "A", "tools": []any{map[string]any{"name": "x", "parameters": map[string]any{"type": "string"}}}}, "body.tools[0].parameters"},
			{map[string]any{"name": "A", "tools": []any{map[string]any{"name": "has space"}}}, "body.tools[0].name"},
			{map[string]any{"name": "A", "tools": []any{map[string]any{"name": "x", "extra": 1}}}, "body.tools[0].extra"},
			{map[string]any{"name": "A", "variables": []any{map[string]any{"name": "a"}, map[string]any{"name": "a"}}}, "body.variables[1].name"},
			{map[string]any{"name": "A", "analysis": []any{map[string]any{"name": "ok", "type": "date"}}}, "body.analysis[0].type"},
		} {
			r := owner.do("POST", base, c.body)
			if r.Status != 422 || !strings.Contains(string(r.Body), `"location":"`+c.loc+`"`) {
				t.Errorf("%.200v: %d %.300s, want 422 at %s", c.body, r.Status, r.Body, c.loc)
			}
		}
		// A tool schema that points outside itself is refused, and nothing is fetched.
		r := owner.do("POST", base, map[string]any{"name": "A", "tools": []any{map[string]any{"name": "x", "parameters": map[string]any{"type": "object", "$ref": "file:///etc/passwd"}}}})
		if r.Status != 422 || strings.Contains(string(r.Body), "root:") {
			t.Errorf("external $ref: %d %s", r.Status, r.Body)
		}
		if l := owner.must(200, "GET", base, nil)["data"].([]any); len(l) != 0 {
			t.Fatalf("half-saved: %v", l)
		}

		// Removing the name is refused; the agent is unchanged.
		a := owner.must(201, "POST", base, map[string]any{"name": "A", "llm": map[string]any{"model": "gpt-4o"}})
		if r := owner.do("PATCH", base+"/"+a["id"].(string), map[string]any{"name": nil, "prompt": "x"}); r.Status != 422 {
			t.Fatalf("name removed: %d %s", r.Status, r.Body)
		}
		// A workspace change that would strand the agent's model: 409, nothing saved.
		r = owner.do("PATCH", "/v1/workspaces/"+ws+"/settings", map[string]any{"llm": map[string]any{"provider": "anthropic", "model": "claude-haiku-4-5"}})
		if r.Status != 409 || r.Code(t) != "agents_incompatible" || !strings.Contains(string(r.Body), "agents."+a["id"].(string)+".llm.model") {
			t.Fatalf("stranding change: %d %s", r.Status, r.Body)
		}
		if s := owner.must(200, "GET", "/v1/workspaces/"+ws+"/settings", nil); s["version"] != float64(0) {
			t.Fatalf("settings saved: %v", s)
		}
	})
}

func TestAgentCopy(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		owner, admin, outsider := e.signup("owner"), e.signup("admin"), e.signup("outsider")
		dev, prod := owner.workspace("Dev"), owner.workspace("Prod")
		ows := outsider.workspace("Elsewhere")
		e.addMember(dev, admin, "admin")
		e.addMember(prod, admin, "member")
		owner.must(201, "POST", "/v1/workspaces/"+dev+"/provider-keys", map[string]any{"provider": "openai", "apiKey": "sk-dev-only-00000000"})
		src := owner.must(201, "POST", "/v1/workspaces/"+dev+"/agents", map[string]any{"name": "Front desk", "prompt": "Hello {{company}}",
			"variables": []any{map[string]any{"name": "company", "default": "Acme"}}, "llm": map[string]any{"model": "gpt-4.1", "temperature": 0.2}})
		sid := src["id"].(string)
		owner.must(200, "PATCH", "/v1/workspaces/"+dev+"/agents/"+sid, map[string]any{"tts": map[string]any{"voice": "coral"}})
		copyPath := "/v1/workspaces/" + dev + "/agents/" + sid + "/copy"

		// Happy path: dev → prod.
		r := owner.do("POST", copyPath, map[string]any{"targetWorkspaceId": prod})
		if r.Status != 201 || r.Header.Get("ETag") != `"1"` {
			t.Fatalf("copy: %d %s", r.Status, r.Body)
		}
		c := r.JSON(t)
		cf, _ := c["copiedFrom"].(map[string]any)
		if c["id"] == sid || c["workspaceId"] != prod || c["version"] != float64(1) || c["name"] != "Front desk" || c["prompt"] != "Hello {{company}}" ||
			toJSON(t, c["llm"]) != `{"model":"gpt-4.1","temperature":0.2}` || c["tts"].(map[string]any)["voice"] != "coral" ||
			cf["workspaceId"] != dev || cf["agentId"] != sid || cf["version"] != float64(2) {
			t.Fatalf("copy %v", c)
		}
		cid := c["id"].(string)
		if got := owner.must(200, "GET", "/v1/workspaces/"+prod+"/agents/"+cid, nil); toJSON(t, got["copiedFrom"]) != toJSON(t, cf) {
			t.Fatalf("stored copy %v", got)
		}
		if v := owner.must(200, "GET", "/v1/workspaces/"+prod+"/agents/"+cid+"/versions", nil)["data"].([]any); len(v) != 1 {
			t.Fatalf("versions %v", v)
		}
		// Provider keys stay behind: the copy uses the platform's key in prod.
		if k := owner.must(200, "GET", "/v1/workspaces/"+prod+"/agents/"+cid+"/effective", nil)["keys"].(map[string]any)["llm"].(map[string]any); k["keySource"] != "platform" {
			t.Fatalf("keys in prod %v", k)
		}
		if e.countEvents(t, prod, "agent.created") != 1 || e.countEvents(t, dev, "agent.copied_out") != 1 {
			t.Fatal("events")
		}
		if log := owner.do("GET", "/v1/workspaces/"+prod+"/audit-log?action=agent.created", nil); !strings.Contains(string(log.Body), "copiedFrom.agentId="+sid) {
			t.Fatalf("prod audit %s", log.Body)
		}
		if log := owner.do("GET", "/v1/workspaces/"+dev+"/audit-log?action=agent.copied_out", nil); !strings.Contains(string(log.Body), "copiedTo.agentId="+cid) {
			t.Fatalf("dev audit %s", log.Body)
		}

		// Validated against the target's settings: the target's provider does not offer gpt-4.1.
		claude := owner.workspace("Claude shop")
		owner.must(200, "PATCH", "/v1/workspaces/"+claude+"/settings", map[string]any{"llm": map[string]any{"provider": "anthropic", "model": "claude-haiku-4-5"}})
		if r := owner.do("POST", copyPath, map[string]any{"targetWorkspaceId": claude}); r.Status != 422 || !strings.Contains(string(r.Body), `"body.llm.model"`) {
			t.Fatalf("incompatible: %d %s", r.Status, r.Body)
		}
		if n := len(owner.must(200, "GET", "/v1/workspaces/"+claude+"/agents", nil)["data"].([]any)); n != 0 || e.countEvents(t, dev, "agent.copied_out") != 1 {
			t.Fatalf("half-saved: %d agents", n)
		}

		// A target the caller cannot write agents in: the same 422, whatever the reason.
		denied := func(who *client, target string) {
			t.Helper()
			r := who.do("POST", copyPath, map[string]any{"targetWorkspaceId": target})
			if r.Status != 422 || !strings.Contains(string(r.Body), `"body.targetWorkspaceId"`) || !strings.Contains(string(r.Body), "you cannot write agents in that workspace") {
				t.Errorf("copy to %s: %d %s, want 422 on body.targetWorkspaceId", target, r.Status, r.Body)
			}
		}
		denied(admin, prod)                            // only a member there
		denied(owner, ows)                             // not a member
		denied(owner, "ws_01jq3v5x8kf9r1t6m2c4d7e8gh") // no such workspace
		writer := e.keyClient(owner.createKey(dev, map[string]any{"name": "w", "scopes": []string{"agents:write"}, "mode": "live"})["secret"].(string))
		denied(writer, prod) // a key belongs to one workspace
		// … but the admin of dev may copy within dev.
		if r := admin.do("POST", copyPath, map[string]any{"targetWorkspaceId": dev}); r.Status != 201 {
			t.Fatalf("copy within dev: %d %s", r.Status, r.Body)
		}

		// The source must be the path's workspace's: another workspace's agent is 404.
		if r := outsider.do("POST", "/v1/workspaces/"+ows+"/agents/"+sid+"/copy", map[string]any{"targetWorkspaceId": ows}); r.Status != 404 {
			t.Fatalf("cross-workspace source: %d %s", r.Status, r.Body)
		}
		if r := outsider.do("POST", copyPath, map[string]any{"targetWorkspaceId": ows}); r.Status != 404 {
			t.Fatalf("outsider on dev: %d %s", r.Status, r.Body)
		}
		member := e.signup("member")
		e.addMember(dev, member, "member")
		if r := member.do("POST", copyPath, map[string]any{"targetWorkspaceId": dev}); r.Status != 403 {
			t.Fatalf("member: %d %s", r.Status, r.Body)
		}
	})
}
