package app

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/platform/audit"
	"github.com/parleyhq/parley/internal/platform/authz"
)

// keyClient is a caller that authenticates with the API key secret only (no cookies).
func (e *env) keyClient(secret string) *client {
	c := e.client()
	c.hdr.Set("Authorization", "Bearer "+secret)
	return c
}

// mustAuthenticate checks that c's key was accepted on GET path (a route of the key's own
// workspace ws): authentication succeeded and authz decided. The permission matrix gives
// workspace.view no API-key scope (authz_test's contract), so today authz answers 403
// insufficient_scope; if the matrix ever lets keys view their workspace, the answer is 200 with
// it. Never 401 (refused key) or 404 (wrong workspace). TestAPIKeyPrincipal checks the
// principal itself.
func (c *client) mustAuthenticate(path, ws string) {
	c.e.t.Helper()
	r := c.do("GET", path, nil)
	switch {
	case r.Status == 200 && strings.Contains(string(r.Body), `"`+ws+`"`):
	case r.Status == 403 && r.Code(c.e.t) == "insufficient_scope":
	default:
		c.e.t.Fatalf("GET %s with a valid key: %d %s", path, r.Status, r.Body)
	}
}

// createKey creates a key in ws as c and returns the answer (with the secret).
func (c *client) createKey(ws string, body map[string]any) map[string]any {
	c.e.t.Helper()
	if body == nil {
		body = map[string]any{"name": "CI", "scopes": []string{"agents:read"}, "mode": "live"}
	}
	return c.must(201, "POST", "/v1/workspaces/"+ws+"/api-keys", body)
}

func TestAPIKeyLifecycle(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		owner := e.signup("owner")
		ws := owner.workspace("Acme")
		path := "/v1/workspaces/" + ws + "/api-keys"

		created := owner.createKey(ws, map[string]any{"name": "CRM sync", "scopes": []string{"usage:read", "agents:read"}, "mode": "live"})
		secret, _ := created["secret"].(string)
		keyID, _ := created["id"].(string)
		if !strings.HasPrefix(secret, "parley_live_") || len(secret) != 50 || !strings.HasPrefix(keyID, "key_") {
			t.Fatalf("created %v", created)
		}
		if created["prefix"] != secret[:16] || created["lastFour"] != secret[46:] || created["mode"] != "live" || created["status"] != "active" ||
			created["workspaceId"] != ws || created["createdAt"] != "2026-11-27T09:00:00Z" || created["createdBy"] == "" {
			t.Fatalf("created %v", created)
		}
		if s, _ := created["scopes"].([]any); len(s) != 2 || s[0] != "agents:read" || s[1] != "usage:read" {
			t.Fatalf("scopes %v", created["scopes"])
		}
		random := secret[12:44]

		// The secret is shown once: never in get or list.
		got := owner.do("GET", path+"/"+keyID, nil)
		list := owner.do("GET", path, nil)
		for _, r := range []response{got, list} {
			if r.Status != 200 || strings.Contains(string(r.Body), random) || strings.Contains(string(r.Body), `"secret"`) {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
		}
		if data := list.JSON(t)["data"].([]any); len(data) != 1 || data[0].(map[string]any)["id"] != keyID {
			t.Fatalf("list %s", list.Body)
		}

		// The key authenticates, in its own workspace only.
		key := e.keyClient(secret)
		key.mustAuthenticate("/v1/workspaces/"+ws, ws)
		key.mustAuthenticate("/v1/workspaces", ws)
		other := owner.workspace("Other")
		for _, target := range []string{other, "ws_01jq3v5x8kf9r1t6m2c4d7e8gh"} {
			if r := key.do("GET", "/v1/workspaces/"+target, nil); r.Status != 404 || r.Code(t) != "not_found" {
				t.Fatalf("key on another workspace: %d %s", r.Status, r.Body)
			}
			if r := key.do("GET", "/v1/workspaces/"+target+"/api-keys", nil); r.Status != 404 {
				t.Fatalf("key on another workspace's keys: %d %s", r.Status, r.Body)
			}
		}

		// Keys can never manage keys, the workspace or the account.
		for _, req := range []struct{ method, path string }{
			{"POST", path}, {"GET", path}, {"GET", path + "/" + keyID}, {"DELETE", path + "/" + keyID},
		} {
			var body any
			if req.method == "POST" {
				body = map[string]any{"name": "escalate", "scopes": []string{"agents:write"}, "mode": "live"}
			}
			if r := key.do(req.method, req.path, body); r.Status != 403 || r.Code(t) != "insufficient_scope" {
				t.Fatalf("key %s %s: %d %s", req.method, req.path, r.Status, r.Body)
			}
		}
		if r := key.do("PATCH", "/v1/workspaces/"+ws, map[string]any{"name": "Hijacked"}); r.Status != 403 || r.Code(t) != "insufficient_scope" {
			t.Fatalf("key renames the workspace: %d %s", r.Status, r.Body)
		}
		for _, p := range []string{"/v1/me"} {
			if r := key.do("GET", p, nil); r.Status != 401 {
				t.Fatalf("key on %s: %d %s", p, r.Status, r.Body)
			}
		}
		if r := key.do("POST", "/v1/workspaces", map[string]any{"name": "By key"}); r.Status != 401 {
			t.Fatalf("key creates a workspace: %d %s", r.Status, r.Body)
		}

		// lastUsedAt: the first use is recorded, later ones at most once a minute.
		k := owner.must(200, "GET", path+"/"+keyID, nil)
		if k["lastUsedAt"] != "2026-11-27T09:00:00Z" {
			t.Fatalf("lastUsedAt %v", k["lastUsedAt"])
		}
		e.clock.Advance(30 * time.Second)
		key.mustAuthenticate("/v1/workspaces/"+ws, ws)
		if k := owner.must(200, "GET", path+"/"+keyID, nil); k["lastUsedAt"] != "2026-11-27T09:00:00Z" {
			t.Fatalf("lastUsedAt within the minute %v", k["lastUsedAt"])
		}
		e.clock.Advance(31 * time.Second)
		key.mustAuthenticate("/v1/workspaces/"+ws, ws)
		if k := owner.must(200, "GET", path+"/"+keyID, nil); k["lastUsedAt"] != "2026-11-27T09:01:01Z" {
			t.Fatalf("lastUsedAt after a minute %v", k["lastUsedAt"])
		}

		// Revoke: at once; listed with revokedAt; DELETE again is a no-op.
		owner.must(204, "DELETE", path+"/"+keyID, nil)
		if r := key.do("GET", "/v1/workspaces/"+ws, nil); r.Status != 401 || r.Code(t) != "revoked_api_key" {
			t.Fatalf("revoked key: %d %s", r.Status, r.Body)
		}
		k = owner.must(200, "GET", path+"/"+keyID, nil)
		if k["status"] != "revoked" || k["revokedAt"] != "2026-11-27T09:01:01Z" {
			t.Fatalf("revoked %v", k)
		}
		owner.must(204, "DELETE", path+"/"+keyID, nil)
		if r := owner.do("DELETE", path+"/key_01jq3v5x8kf9r1t6m2c4d7e8gh", nil); r.Status != 404 || r.Code(t) != "not_found" {
			t.Fatalf("revoke a missing key: %d %s", r.Status, r.Body)
		}

		// Audited, never with the secret.
		entries, err := audit.List(context.Background(), e.srv.DB.Read, ws, "", 20)
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, en := range entries {
			actions = append(actions, en.Action)
			if strings.Contains(strings.Join(en.Changes, ",")+en.ResourceID+en.ActorID, random) {
				t.Fatalf("audit entry holds the secret: %+v", en)
			}
		}
		if strings.Join(actions, ",") != "api_key.revoked,api_key.created,workspace.created" {
			t.Fatalf("audit actions %v", actions)
		}
		if entries[0].ResourceID != keyID || entries[0].ActorType != "user" || entries[1].ResourceID != keyID {
			t.Fatalf("audit %+v", entries[:2])
		}
		var n int
		if err := e.srv.DB.Read.QueryRow(`SELECT COUNT(*) FROM audit_log WHERE changes LIKE $1 OR resource_id LIKE $1 OR user_agent LIKE $1`, "%"+random+"%").Scan(&n); err != nil || n != 0 {
			t.Fatalf("secret in the audit log: %d %v", n, err)
		}
	})
}

func TestAPIKeyValidation(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		owner := e.signup("owner")
		ws := owner.workspace("Acme")
		path := "/v1/workspaces/" + ws + "/api-keys"
		cases := []struct {
			name string
			body map[string]any
			want string // a string the problem must contain
		}{
			{"unknown scope", map[string]any{"name": "k", "scopes": []string{"agents:read", "team:manage"}, "mode": "live"}, "webhooks:write"},
			{"no scope", map[string]any{"name": "k", "scopes": []string{}, "mode": "live"}, "scopes"},
			{"scopes missing", map[string]any{"name": "k", "mode": "live"}, "scopes"},
			{"bad mode", map[string]any{"name": "k", "scopes": []string{"agents:read"}, "mode": "prod"}, "mode"},
			{"mode missing", map[string]any{"name": "k", "scopes": []string{"agents:read"}}, "mode"},
			{"empty name", map[string]any{"name": "", "scopes": []string{"agents:read"}, "mode": "live"}, "name"},
			{"past expiry", map[string]any{"name": "k", "scopes": []string{"agents:read"}, "mode": "live", "expiresAt": "2026-11-27T08:59:59Z"}, "future"},
			{"unknown field", map[string]any{"name": "k", "scopes": []string{"agents:read"}, "mode": "live", "secret": "mine"}, "secret"},
		}
		for _, tc := range cases {
			r := owner.do("POST", path, tc.body)
			if r.Status != 422 || r.Code(t) != "validation_failed" || !strings.Contains(string(r.Body), tc.want) {
				t.Errorf("%s: %d %s", tc.name, r.Status, r.Body)
			}
		}
		if l := owner.must(200, "GET", path, nil); len(l["data"].([]any)) != 0 {
			t.Fatalf("invalid requests stored keys: %v", l)
		}
		// A test key with every scope and an expiry.
		all := []string{"agents:read", "agents:write", "contacts:read", "contacts:write", "campaigns:read", "campaigns:write",
			"calls:read", "calls:write", "webhooks:read", "webhooks:write", "usage:read"}
		k := owner.createKey(ws, map[string]any{"name": "Staging", "scopes": all, "mode": "test", "expiresAt": "2026-12-27T09:00:00Z"})
		if !strings.HasPrefix(k["secret"].(string), "parley_test_") || k["mode"] != "test" || k["expiresAt"] != "2026-12-27T09:00:00Z" || len(k["scopes"].([]any)) != 11 {
			t.Fatalf("test key %v", k)
		}
	})
}

func TestAPIKeyRefusals(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		owner := e.signup("owner")
		ws := owner.workspace("Acme")
		target := "/v1/workspaces/" + ws
		expiring := owner.createKey(ws, map[string]any{"name": "short", "scopes": []string{"agents:read"}, "mode": "live", "expiresAt": "2026-11-27T10:00:00Z"})
		good := owner.createKey(ws, nil)["secret"].(string)
		flipped := []byte(good)
		if flipped[30] == 'a' {
			flipped[30] = 'b'
		} else {
			flipped[30] = 'a'
		}
		relabelled := strings.Replace(good, "_live_", "_test_", 1)

		for _, tc := range []struct {
			name, header, code string
		}{
			{"malformed", "Bearer parley_live_nope", "invalid_api_key"},
			{"bad checksum", "Bearer " + string(flipped), "invalid_api_key"},
			{"not bearer", "Basic " + good, "invalid_api_key"},
			{"empty bearer", "Bearer ", "invalid_api_key"},
			{"unknown", "Bearer " + relabelled, "unknown_api_key"},
		} {
			r := e.client().do("GET", target, nil, "Authorization", tc.header)
			if r.Status != 401 || r.Code(t) != tc.code {
				t.Errorf("%s: %d %s", tc.name, r.Status, r.Body)
			}
		}
		// The Authorization header wins over a session cookie: a bad key is refused even for a
		// signed-in browser.
		if r := owner.do("GET", target, nil, "Authorization", "Bearer "+string(flipped)); r.Status != 401 || r.Code(t) != "invalid_api_key" {
			t.Fatalf("bad key with a cookie: %d %s", r.Status, r.Body)
		}
		// Open routes ignore a refused key.
		if r := e.client().do("GET", "/healthz", nil, "Authorization", "Bearer nope"); r.Status != 200 {
			t.Fatalf("healthz with a bad key: %d", r.Status)
		}

		key := e.keyClient(expiring["secret"].(string))
		key.mustAuthenticate(target, ws)
		e.clock.Advance(time.Hour)
		if r := key.do("GET", target, nil); r.Status != 401 || r.Code(t) != "expired_api_key" {
			t.Fatalf("expired: %d %s", r.Status, r.Body)
		}
		// The good key (no expiry) still works.
		e.keyClient(good).mustAuthenticate(target, ws)
	})
}

func TestAPIKeyRoles(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		owner := e.signup("owner")
		ws := owner.workspace("Team")
		admin, member := e.signup("admin"), e.signup("member")
		addMember(t, e, ws, admin, "admin")
		addMember(t, e, ws, member, "member")
		path := "/v1/workspaces/" + ws + "/api-keys"
		byOwner := owner.createKey(ws, nil)
		byAdmin := admin.createKey(ws, nil)
		if byAdmin["createdBy"] == byOwner["createdBy"] {
			t.Fatalf("createdBy %v / %v", byAdmin["createdBy"], byOwner["createdBy"])
		}
		for _, r := range []response{
			member.do("POST", path, map[string]any{"name": "k", "scopes": []string{"agents:read"}, "mode": "live"}),
			member.do("GET", path, nil),
			member.do("GET", path+"/"+byOwner["id"].(string), nil),
			member.do("DELETE", path+"/"+byOwner["id"].(string), nil),
		} {
			if r.Status != 403 || r.Code(t) != "insufficient_role" {
				t.Fatalf("member: %d %s", r.Status, r.Body)
			}
		}
		// Admins manage every key of the workspace, the owner's too.
		admin.must(204, "DELETE", path+"/"+byOwner["id"].(string), nil)
		if l := owner.must(200, "GET", path, nil); len(l["data"].([]any)) != 2 || l["data"].([]any)[0].(map[string]any)["id"] != byAdmin["id"] {
			t.Fatalf("list %v", l)
		}
		// Pagination.
		p1 := owner.must(200, "GET", path+"?limit=1", nil)
		p2 := owner.must(200, "GET", path+"?limit=1&cursor="+p1["nextCursor"].(string), nil)
		if p2["data"].([]any)[0].(map[string]any)["id"] != byOwner["id"] || p2["nextCursor"] != nil {
			t.Fatalf("page 2 %v", p2)
		}
	})
}

// TestAPIKeyCrossWorkspace: a user of workspace B gets 404 on everything of A's keys, exactly as
// for a workspace that does not exist, and changes nothing.
func TestAPIKeyCrossWorkspace(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		alice, bob := e.signup("alice"), e.signup("bob")
		aws, bws := alice.workspace("Alice Co"), bob.workspace("Bob Co")
		ak := alice.createKey(aws, nil)
		aKeyID := ak["id"].(string)
		bk := bob.createKey(bws, nil)
		for _, req := range []struct {
			method, path string
			body         any
		}{
			{"GET", "/v1/workspaces/" + aws + "/api-keys", nil},
			{"POST", "/v1/workspaces/" + aws + "/api-keys", map[string]any{"name": "k", "scopes": []string{"agents:read"}, "mode": "live"}},
			{"GET", "/v1/workspaces/" + aws + "/api-keys/" + aKeyID, nil},
			{"DELETE", "/v1/workspaces/" + aws + "/api-keys/" + aKeyID, nil},
			// A's key through Bob's own workspace.
			{"GET", "/v1/workspaces/" + bws + "/api-keys/" + aKeyID, nil},
			{"DELETE", "/v1/workspaces/" + bws + "/api-keys/" + aKeyID, nil},
		} {
			if r := bob.do(req.method, req.path, req.body); r.Status != 404 || r.Code(t) != "not_found" {
				t.Errorf("bob %s %s: %d %s", req.method, req.path, r.Status, r.Body)
			}
		}
		// Bob's key on Alice's workspace: 404 as well.
		if r := e.keyClient(bk["secret"].(string)).do("GET", "/v1/workspaces/"+aws, nil); r.Status != 404 {
			t.Fatalf("bob's key on alice's workspace: %d %s", r.Status, r.Body)
		}
		k := alice.must(200, "GET", "/v1/workspaces/"+aws+"/api-keys/"+aKeyID, nil)
		if k["status"] != "active" {
			t.Fatalf("alice's key after bob's attempts: %v", k)
		}
		e.keyClient(ak["secret"].(string)).mustAuthenticate("/v1/workspaces/"+aws, aws)
		if l := alice.must(200, "GET", "/v1/workspaces/"+aws+"/api-keys", nil); len(l["data"].([]any)) != 1 {
			t.Fatalf("alice's keys %v", l)
		}
	})
}

// TestAPIKeyPrincipal: behind the authentication middleware, a valid key is a principal of its
// own workspace, with its scopes, acting for its creator.
func TestAPIKeyPrincipal(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		owner := e.signup("owner")
		ws := owner.workspace("Acme")
		me := owner.must(200, "GET", "/v1/me", nil)
		k := owner.createKey(ws, map[string]any{"name": "k", "scopes": []string{"agents:read", "calls:write"}, "mode": "test"})
		var got *authz.Principal
		h := e.srv.authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got, _ = authz.FromContext(r.Context())
		}))
		req := httptest.NewRequest("GET", "/anything", nil)
		req.Header.Set("Authorization", "Bearer "+k["secret"].(string))
		h.ServeHTTP(httptest.NewRecorder(), req)
		if got == nil || got.Kind != authz.KindAPIKey || got.APIKeyID != k["id"] || got.WorkspaceID != ws || got.UserID != me["id"] ||
			strings.Join(got.Scopes, ",") != "agents:read,calls:write" {
			t.Fatalf("principal %+v", got)
		}
		ctx := authz.WithPrincipal(context.Background(), got)
		if _, err := authz.Require(ctx, ws, authz.AgentsRead); err != nil {
			t.Fatalf("agents.read with agents:read: %v", err)
		}
		if _, err := authz.Require(ctx, ws, authz.AgentsWrite); err == nil {
			t.Fatal("agents.write without agents:write allowed")
		}
	})
}

func TestAPIKeysInOpenAPI(t *testing.T) {
	e := newEnv(t, testConfig(dbtestSQLite(t)))
	r := e.client().do("GET", "/v1/openapi.json", nil)
	for _, want := range []string{`"bearer":{`, `"scheme":"bearer"`, `/v1/workspaces/{workspaceId}/api-keys/{keyId}`, `"revoke-api-key"`, `"webhooks:write"`} {
		if !strings.Contains(string(r.Body), want) {
			t.Errorf("openapi.json lacks %s", want)
		}
	}
}
