package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/billing"
	"github.com/parleyhq/parley/internal/identity"
	"github.com/parleyhq/parley/internal/platform/authz"
	"github.com/parleyhq/parley/internal/platform/db"
)

// The isolation suite walks every operation of the served OpenAPI document whose path starts with
// /v1/workspaces/{workspaceId} and proves, without a case per route:
//   (a) a user or API key of another workspace gets 404, as for a workspace that does not exist;
//   (b) each role of the workspace gets exactly what the permission matrix allows for the
//       operation's action (x-parley-action): allowed → neither 401, 403 nor 404; denied → 403;
//   (c) an API key with each single scope gets exactly what the matrix allows.
// A new route is covered as soon as it is registered; a path parameter without a fixture, or a
// workspace route without x-parley-action, fails the suite.

type operation struct {
	ID, Method, Path string
	Action           authz.Action
	Body             any
}

// apiDoc is the part of the OpenAPI document the suite reads.
type apiDoc struct {
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas map[string]map[string]any `json:"schemas"`
	} `json:"components"`
}

func workspaceOperations(t *testing.T, c *client) []operation {
	t.Helper()
	r := c.do("GET", "/v1/openapi.json", nil)
	var doc apiDoc
	if err := json.Unmarshal(r.Body, &doc); err != nil {
		t.Fatal(err)
	}
	var ops []operation
	for path, methods := range doc.Paths {
		if !strings.HasPrefix(path, "/v1/workspaces/{workspaceId}") {
			continue
		}
		for method, raw := range methods {
			var op struct {
				OperationID string                `json:"operationId"`
				Action      string                `json:"x-parley-action"`
				Security    []map[string][]string `json:"security"`
				RequestBody struct {
					Content map[string]struct {
						Schema map[string]any `json:"schema"`
					} `json:"content"`
				} `json:"requestBody"`
			}
			if err := json.Unmarshal(raw, &op); err != nil {
				continue // not an operation (e.g. "parameters")
			}
			// Operator-token routes (e.g. POST …/usage) are not workspace-role routes: no role or
			// API key may call them (TestOperatorToken* in billing_test.go proves that), so skip them.
			if len(op.Security) == 1 && op.Security[0]["operator"] != nil {
				continue
			}
			if op.Action == "" {
				t.Errorf("%s %s (%s) has no x-parley-action: name the authz action it requires", strings.ToUpper(method), path, op.OperationID)
				continue
			}
			if _, ok := authz.Matrix[authz.Action(op.Action)]; !ok {
				t.Errorf("%s: x-parley-action %q is not in the matrix", op.OperationID, op.Action)
			}
			o := operation{ID: op.OperationID, Method: strings.ToUpper(method), Path: path, Action: authz.Action(op.Action)}
			if s, ok := op.RequestBody.Content["application/json"]; ok {
				o.Body = sample(doc.Components.Schemas, s.Schema)
			}
			ops = append(ops, o)
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].ID < ops[j].ID })
	if len(ops) == 0 {
		t.Fatal("no workspace operations in the OpenAPI document")
	}
	return ops
}

// sample makes a value that satisfies a JSON schema: required properties only, first enum value,
// examples where given.
func sample(schemas map[string]map[string]any, s map[string]any) any {
	if ref, ok := s["$ref"].(string); ok {
		return sample(schemas, schemas[strings.TrimPrefix(ref, "#/components/schemas/")])
	}
	if ex, ok := s["examples"].([]any); ok && len(ex) > 0 {
		return ex[0]
	}
	if en, ok := s["enum"].([]any); ok && len(en) > 0 {
		return en[0]
	}
	typ, _ := s["type"].(string)
	if ts, ok := s["type"].([]any); ok && len(ts) > 0 {
		typ, _ = ts[0].(string)
	}
	switch typ {
	case "object":
		out := map[string]any{}
		props, _ := s["properties"].(map[string]any)
		req, _ := s["required"].([]any)
		for _, name := range req {
			n := name.(string)
			if p, ok := props[n].(map[string]any); ok {
				out[n] = sample(schemas, p)
			}
		}
		return out
	case "array":
		items, _ := s["items"].(map[string]any)
		return []any{sample(schemas, items)}
	case "integer", "number":
		if m, ok := s["minimum"].(float64); ok {
			return m
		}
		return 1
	case "boolean":
		return false
	case "string":
		switch s["format"] {
		case "email":
			return "someone.new@example.com"
		case "date-time":
			return time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).Format(time.RFC3339)
		}
		return "sample"
	}
	return nil
}

// world is one workspace with a member of each role, a plain member to act on, a pending
// invitation and an API key: the values of every path parameter.
type world struct {
	ws     string
	params map[string]string
	keys   map[string]string // scope → API key secret of the workspace with only that scope
}

// people are the users of the suite, made once (sign-up is rate limited per IP): an owner, an
// admin, a member, a target member to act on, and an outsider who owns another workspace.
type people struct {
	owner, admin, member, target, outsider *client
	outsiderWS, outsiderKey                string
}

func (e *env) person(name string) *client {
	e.t.Helper()
	email := name + "@isolation.example"
	if _, err := e.srv.Identity.CreateUser(context.Background(), identity.NewAccount{Email: email, Password: "isolation passphrase", Name: name}); err != nil {
		e.t.Fatal(err)
	}
	c := e.client()
	c.must(200, "POST", "/v1/auth/login", map[string]any{"email": email, "password": "isolation passphrase"})
	return c
}

func (e *env) newPeople() *people {
	p := &people{owner: e.person("owner"), admin: e.person("admin"), member: e.person("member"), target: e.person("target"), outsider: e.person("outsider")}
	p.outsiderWS = p.outsider.workspace("Outsider Co")
	p.outsiderKey = p.outsider.must(201, "POST", "/v1/workspaces/"+p.outsiderWS+"/api-keys",
		map[string]any{"name": "all", "scopes": allScopes(), "mode": "live"})["secret"].(string)
	return p
}

func allScopes() []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range authz.Matrix {
		if r.Scope != "" && r.Scope != authz.AnyScope && !seen[r.Scope] {
			seen[r.Scope] = true
			out = append(out, r.Scope)
		}
	}
	sort.Strings(out)
	return out
}

func (e *env) newWorld(p *people, scopes ...string) *world {
	e.t.Helper()
	w := &world{ws: p.owner.workspace("Isolated"), keys: map[string]string{}}
	for c, role := range map[*client]string{p.admin: "admin", p.member: "member", p.target: "member"} {
		if _, err := e.srv.DB.Write.Exec(`INSERT INTO workspace_members (workspace_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)`,
			w.ws, c.userID(), role, db.Time(e.clock.Now())); err != nil {
			e.t.Fatal(err)
		}
	}
	inv := p.owner.must(201, "POST", "/v1/workspaces/"+w.ws+"/invitations", map[string]any{"email": fmt.Sprintf("invitee-%s@example.com", w.ws[len(w.ws)-6:]), "role": "member"})
	key := p.owner.must(201, "POST", "/v1/workspaces/"+w.ws+"/api-keys", map[string]any{"name": "fixture", "scopes": []string{"agents:read"}, "mode": "test"})
	ag := p.owner.must(201, "POST", "/v1/workspaces/"+w.ws+"/agents", map[string]any{"name": "Fixture agent"})
	ct := p.owner.must(201, "POST", "/v1/workspaces/"+w.ws+"/contacts", map[string]any{"phone": "+14155550101", "name": "Fixture contact"})
	cl := p.owner.must(201, "POST", "/v1/workspaces/"+w.ws+"/contact-lists", map[string]any{"name": "Fixture list"})
	p.owner.must(200, "POST", "/v1/workspaces/"+w.ws+"/contact-lists/"+cl["id"].(string)+"/members", map[string]any{"contactIds": []string{ct["id"].(string)}})
	p.owner.must(201, "POST", "/v1/workspaces/"+w.ws+"/dnc", map[string]any{"phone": "+14155550102"})
	imp := p.owner.must(202, "POST", "/v1/workspaces/"+w.ws+"/contact-imports", "phone\n+14155550103\n", "Content-Type", "text/csv")
	pk := p.owner.must(201, "POST", "/v1/workspaces/"+w.ws+"/provider-keys", map[string]any{"provider": "deepgram", "apiKey": "dg-fixture-0123456789"})
	wh := p.owner.must(201, "POST", "/v1/workspaces/"+w.ws+"/webhooks", map[string]any{"url": "https://hooks.example.com/fixture", "events": []string{"*"}})
	msg := p.owner.must(202, "POST", "/v1/workspaces/"+w.ws+"/webhooks/"+wh["id"].(string)+"/test", nil)
	cred := p.owner.must(201, "POST", "/v1/workspaces/"+w.ws+"/telephony/credentials", map[string]any{"provider": "sim", "name": "Fixture simulator"})
	num := p.owner.must(201, "POST", "/v1/workspaces/"+w.ws+"/telephony/numbers", map[string]any{"e164": "+14155550188", "credentialId": cred["id"], "inboundAgentId": ag["id"]})
	if _, err := e.srv.Billing.Grant(authz.WithPrincipal(context.Background(), authz.System()), billing.GrantInput{WorkspaceID: w.ws, Amount: 5_000_000, Key: "fixture"}); err != nil {
		e.t.Fatal(err)
	}
	p.owner.must(200, "PATCH", "/v1/workspaces/"+w.ws+"/settings", map[string]any{"calls": map[string]any{"maxConcurrentCalls": 100}})
	cal := p.owner.must(201, "POST", "/v1/workspaces/"+w.ws+"/calls", map[string]any{"agentId": ag["id"], "to": "+14155550142"})
	camp := p.owner.must(201, "POST", "/v1/workspaces/"+w.ws+"/campaigns", map[string]any{"name": "Fixture campaign", "agentId": ag["id"], "audience": map[string]any{"listId": cl["id"]}})
	trig := p.owner.must(201, "POST", "/v1/workspaces/"+w.ws+"/call-triggers", map[string]any{"name": "Fixture trigger", "agentId": ag["id"], "mapping": map[string]any{"to": "phone"}})
	w.params = map[string]string{"workspaceId": w.ws, "userId": p.target.userID(), "invitationId": inv["id"].(string), "keyId": key["id"].(string),
		"agentId": ag["id"].(string), "number": "1", "contactId": ct["id"].(string), "listId": cl["id"].(string), "phone": "+14155550102", "providerKeyId": pk["id"].(string),
		"endpointId": wh["id"].(string), "messageId": msg["id"].(string), "credentialId": cred["id"].(string), "numberId": num["id"].(string), "callId": cal["id"].(string), "importId": imp["id"].(string), "triggerId": trig["id"].(string)}
	w.params["campaignId"] = camp["id"].(string)
	for _, s := range scopes {
		w.keys[s] = p.owner.must(201, "POST", "/v1/workspaces/"+w.ws+"/api-keys", map[string]any{"name": s, "scopes": []string{s}, "mode": "live"})["secret"].(string)
	}
	return w
}

func (w *world) path(t testing.TB, op operation) string {
	t.Helper()
	path := op.Path
	for {
		i := strings.IndexByte(path, '{')
		if i < 0 {
			return path
		}
		j := strings.IndexByte(path[i:], '}') + i
		name := path[i+1 : j]
		v, ok := w.params[name]
		if !ok {
			t.Fatalf("%s: no fixture for path parameter {%s}: add one to newWorld", op.ID, name)
		}
		path = path[:i] + v + path[j+1:]
	}
}

// bodies replace the schema's sample body of operations whose body names other resources of
// the workspace: "{param}" is the world's value of that path parameter.
var bodies = map[string]map[string]any{
	"place-call":          {"agentId": "{agentId}", "to": "+14155550142"},
	"create-phone-number": {"e164": "+14155550177", "credentialId": "{credentialId}"},
	"create-campaign":     {"name": "Fixture campaign", "agentId": "{agentId}", "audience": map[string]any{"listId": "{listId}"}},
	"create-call-trigger": {"name": "CRM", "agentId": "{agentId}", "mapping": map[string]any{"to": "phone"}},
}

func (w *world) body(op operation) any {
	b, ok := bodies[op.ID]
	if !ok {
		return op.Body
	}
	out := map[string]any{}
	for k, v := range b {
		if s, ok := v.(string); ok && strings.HasPrefix(s, "{") {
			v = w.params[strings.Trim(s, "{}")]
		}
		if m, ok := v.(map[string]any); ok { // one level of nesting (a campaign's audience)
			n := map[string]any{}
			for k2, v2 := range m {
				if s, ok := v2.(string); ok && strings.HasPrefix(s, "{") {
					v2 = w.params[strings.Trim(s, "{}")]
				}
				n[k2] = v2
			}
			v = n
		}
		out[k] = v
	}
	return out
}

func (e *env) call(c *client, op operation, w *world) response {
	e.t.Helper()
	path := w.path(e.t, op)
	r := c.do(op.Method, path, w.body(op))
	if r.Status >= 500 {
		e.t.Fatalf("%s %s: %d %s", op.Method, path, r.Status, r.Body)
	}
	return r
}

func TestIsolationSuite(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		p := e.newPeople()
		ops := workspaceOperations(t, p.owner)
		outsiderKey := e.keyClient(p.outsiderKey)
		shared := e.newWorld(p, allScopes()...)
		for _, op := range ops {
			mutating := op.Method != http.MethodGet
			fresh := func(scopes ...string) *world {
				if mutating {
					return e.newWorld(p, scopes...)
				}
				return shared
			}

			// (a) Another workspace's user and key: 404, and nothing changes.
			w := fresh()
			for who, c := range map[string]*client{"outsider user": p.outsider, "outsider key": outsiderKey} {
				if r := e.call(c, op, w); r.Status != 404 || r.Code(t) != "not_found" {
					t.Errorf("%s by the %s of another workspace: %d %s, want 404 not_found", op.ID, who, r.Status, r.Body)
				}
			}
			// The workspace and the acted-on resources are all still there.
			if r := p.owner.do("GET", "/v1/workspaces/"+w.ws, nil); r.Status != 200 {
				t.Errorf("%s by an outsider removed the workspace", op.ID)
			}

			// (b) Each role gets what the matrix says.
			rule := authz.Matrix[op.Action]
			for _, rc := range []struct {
				role    authz.Role
				c       *client
				allowed bool
			}{{authz.Owner, p.owner, rule.Owner}, {authz.Admin, p.admin, rule.Admin}, {authz.Member, p.member, rule.Member}} {
				w := fresh()
				r := e.call(rc.c, op, w)
				denied := r.Status == 403 && r.Code(t) == "insufficient_role"
				switch {
				case rc.allowed && (r.Status == 401 || r.Status == 403 || r.Status == 404):
					t.Errorf("%s as %s: %d %s, but the matrix allows %s", op.ID, rc.role, r.Status, r.Body, op.Action)
				case !rc.allowed && !denied:
					t.Errorf("%s as %s: %d %s, but the matrix denies %s (want 403 insufficient_role)", op.ID, rc.role, r.Status, r.Body, op.Action)
				}
			}

			// (c) Each single-scope key of the workspace gets what the matrix says.
			for _, scope := range allScopes() {
				w := fresh(scope)
				r := e.call(e.keyClient(w.keys[scope]), op, w)
				allowed := rule.Scope == authz.AnyScope || rule.Scope == scope
				switch {
				case allowed && (r.Status == 401 || r.Status == 403 || r.Status == 404):
					t.Errorf("%s by a key with %s: %d %s, but the matrix grants it", op.ID, scope, r.Status, r.Body)
				case !allowed && !(r.Status == 403 && r.Code(t) == "insufficient_scope"):
					t.Errorf("%s by a key with %s: %d %s, want 403 insufficient_scope", op.ID, scope, r.Status, r.Body)
				}
			}
		}
		t.Logf("%d workspace operations checked", len(ops))
	})
}
