package app

import (
	"slices"
	"strings"
	"testing"
)

func TestWorkspaceSettings(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		owner := e.signup("owner")
		ws := owner.workspace("Acme")
		path := "/v1/workspaces/" + ws + "/settings"

		// Platform defaults fill everything.
		r := owner.do("GET", path, nil)
		if r.Status != 200 || r.Header.Get("ETag") != `"0"` {
			t.Fatalf("%d %v %s", r.Status, r.Header, r.Body)
		}
		s := r.JSON(t)
		llm := s["llm"].(map[string]any)
		if llm["provider"] != "openai" || llm["model"] != "gpt-4o-mini" || s["timezone"] != "UTC" || s["defaultRegion"] != "US" {
			t.Fatalf("defaults %s", r.Body)
		}
		if d := s["platformDefaults"].([]any); !slices.Contains(d, any("llm.model")) || !slices.Contains(d, any("calls.recordCalls")) {
			t.Fatalf("platformDefaults %v", d)
		}

		// A merge patch sets, and null returns to the default.
		s = owner.must(200, "PATCH", path, map[string]any{"llm": map[string]any{"provider": "anthropic", "model": "claude-haiku-4-5", "temperature": 0.2},
			"calls": map[string]any{"recordCalls": true}, "timezone": "Europe/Berlin", "callingHours": map[string]any{"days": []string{"sat"}}}, "If-Match", `"0"`)
		llm = s["llm"].(map[string]any)
		if llm["provider"] != "anthropic" || llm["temperature"] != 0.2 || llm["maxTokens"] != float64(1024) || s["timezone"] != "Europe/Berlin" || s["version"] != float64(1) {
			t.Fatalf("patched %v", s)
		}
		if d := s["platformDefaults"].([]any); slices.Contains(d, any("llm.model")) || !slices.Contains(d, any("llm.maxTokens")) {
			t.Fatalf("platformDefaults %v", d)
		}
		if ch := s["callingHours"].(map[string]any); len(ch["days"].([]any)) != 1 || ch["start"] != "09:00" {
			t.Fatalf("callingHours %v", ch)
		}
		// The workspace's own time zone is the same value.
		if w := owner.must(200, "GET", "/v1/workspaces/"+ws, nil); w["timezone"] != "Europe/Berlin" {
			t.Fatalf("workspace %v", w)
		}
		s = owner.must(200, "PATCH", path, map[string]any{"llm": map[string]any{"temperature": nil}}, "Content-Type", "application/merge-patch+json")
		if s["llm"].(map[string]any)["temperature"] != 0.7 || s["version"] != float64(2) {
			t.Fatalf("reset %v", s)
		}
		// A no-op patch changes nothing.
		if s = owner.must(200, "PATCH", path, map[string]any{"calls": map[string]any{"recordCalls": true}}); s["version"] != float64(2) {
			t.Fatalf("no-op %v", s)
		}
		// A stale If-Match: 412.
		if r := owner.do("PATCH", path, map[string]any{"language": "de"}, "If-Match", `"1"`); r.Status != 412 || r.Code(t) != "version_mismatch" {
			t.Fatalf("stale: %d %s", r.Status, r.Body)
		}

		// Bad input: 422 naming the field, nothing saved.
		for _, c := range []struct {
			body any
			loc  string
		}{
			{map[string]any{"llm": map[string]any{"temperature": 2.5}}, "body.llm.temperature"},
			{map[string]any{"tts": map[string]any{"speed": 0.1}}, "body.tts.speed"},
			{map[string]any{"stt": map[string]any{"endpointingMs": 0}}, "body.stt.endpointingMs"},
			{map[string]any{"calls": map[string]any{"maxDurationSeconds": -1}}, "body.calls.maxDurationSeconds"},
			{map[string]any{"llm": map[string]any{"provider": "nope"}}, "body.llm.provider"},
			{map[string]any{"llm": map[string]any{"model": "gpt-4o"}}, "body.llm.model"},
			{map[string]any{"tts": map[string]any{"voice": "nobody"}}, "body.tts.voice"},
			{map[string]any{"llm": map[string]any{"colour": "red"}}, "body.llm.colour"},
			{map[string]any{"llm": map[string]any{"maxTokens": "many"}}, "body.llm.maxTokens"},
			{map[string]any{"timezone": "Mars/Olympus"}, "body.timezone"},
			{map[string]any{"timezone": nil}, "body.timezone"},
			{map[string]any{"defaultRegion": "usa"}, "body.defaultRegion"},
			{map[string]any{"telephony": map[string]any{"defaultFromNumber": "555-0100"}}, "body.telephony.defaultFromNumber"},
			{map[string]any{"callingHours": map[string]any{"start": "19:00"}}, "body.callingHours.end"},
			{map[string]any{"callingHours": map[string]any{"days": []string{"mon", "someday"}}}, "body.callingHours.days[1]"},
		} {
			r := owner.do("PATCH", path, c.body)
			if r.Status != 422 || r.Code(t) != "validation_failed" || !strings.Contains(string(r.Body), `"location":"`+c.loc+`"`) {
				t.Errorf("%v: %d %s, want 422 at %s", c.body, r.Status, r.Body, c.loc)
			}
		}
		if r := owner.do("PATCH", path, map[string]any{"llm": map[string]any{"provider": "nope"}}); !strings.Contains(string(r.Body), "valid providers: openai, anthropic") {
			t.Errorf("no list of valid providers: %s", r.Body)
		}
		if r := owner.do("PATCH", path, "{not json"); r.Status != 400 {
			t.Errorf("malformed: %d %s", r.Status, r.Body)
		}
		if r := owner.do("PATCH", path, "[1]"); r.Status != 422 {
			t.Errorf("array: %d %s", r.Status, r.Body)
		}
		if s = owner.must(200, "GET", path, nil); s["version"] != float64(2) || s["llm"].(map[string]any)["provider"] != "anthropic" {
			t.Fatalf("half-saved: %v", s)
		}

		// Members read, do not write; a key with agents:read reads; the audit log and events.
		member := e.signup("member")
		e.addMember(ws, member, "member")
		member.must(200, "GET", path, nil)
		if r := member.do("PATCH", path, map[string]any{"language": "de"}); r.Status != 403 {
			t.Fatalf("member writes: %d %s", r.Status, r.Body)
		}
		key := e.keyClient(owner.createKey(ws, nil)["secret"].(string))
		key.must(200, "GET", path, nil)
		log := owner.must(200, "GET", "/v1/workspaces/"+ws+"/audit-log", nil)["data"].([]any)
		found := false
		for _, en := range log {
			m := en.(map[string]any)
			if m["action"] == "workspace.settings_updated" && strings.Contains(toJSON(t, m["changes"]), "settings.llm.provider") {
				found = true
				if strings.Contains(toJSON(t, m), "anthropic") {
					t.Fatalf("audit entry holds a value: %v", m)
				}
			}
		}
		if !found {
			t.Fatalf("no audit entry: %v", log)
		}
		if n := e.countEvents(t, ws, "workspace.updated"); n != 2 {
			t.Fatalf("%d workspace.updated events, want 2", n)
		}

		// Another workspace's user: 404.
		outsider := e.signup("outsider")
		outsider.workspace("Elsewhere")
		for _, m := range []string{"GET", "PATCH"} {
			if r := outsider.do(m, path, map[string]any{}); r.Status != 404 {
				t.Fatalf("outsider %s: %d %s", m, r.Status, r.Body)
			}
		}
	})
}

func TestCatalog(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		c := e.signup("user")
		cat := c.must(200, "GET", "/v1/catalog", nil)
		want := map[string][]string{
			"llm": {"openai", "anthropic", "google", "groq", "azure-openai", "openai-compatible"},
			"stt": {"deepgram", "assemblyai", "google", "azure", "elevenlabs", "openai"},
			"tts": {"cartesia", "elevenlabs", "openai", "azure", "google", "deepgram"},
		}
		for kind, ids := range want {
			var got []string
			for _, p := range cat[kind].([]any) {
				got = append(got, p.(map[string]any)["id"].(string))
			}
			if !slices.Equal(got, ids) {
				t.Errorf("%s providers %v, want %v", kind, got, ids)
			}
		}
		if r := e.client().do("GET", "/v1/catalog", nil); r.Status != 401 {
			t.Fatalf("anonymous: %d", r.Status)
		}
	})
}

func TestProviderKeys(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		owner, member, outsider := e.signup("owner"), e.signup("member"), e.signup("outsider")
		ws := owner.workspace("Acme")
		e.addMember(ws, member, "member")
		ows := outsider.workspace("Other")
		base := "/v1/workspaces/" + ws + "/provider-keys"
		const secretKey = "sk-proj-very-secret-value-wxyz"

		k := owner.must(201, "POST", base, map[string]any{"provider": "openai", "apiKey": secretKey})
		kid := k["id"].(string)
		if !strings.HasPrefix(kid, "pkey_") || k["lastFour"] != "…wxyz" || k["provider"] != "openai" || k["createdBy"] == "" || k["createdAt"] == nil {
			t.Fatalf("created %v", k)
		}
		if _, ok := k["apiKey"]; ok {
			t.Fatalf("the key came back: %v", k)
		}
		compat := owner.must(201, "POST", base, map[string]any{"provider": "openai-compatible", "apiKey": "local-key-000000000", "baseUrl": "https://llm.example.com/v1"})
		if compat["baseUrl"] != "https://llm.example.com/v1" || toJSON(t, compat["kinds"]) != `["llm"]` {
			t.Fatalf("compat %v", compat)
		}
		for _, path := range []string{base, base + "/" + kid} {
			r := owner.do("GET", path, nil)
			if r.Status != 200 || strings.Contains(string(r.Body), secretKey) || !strings.Contains(string(r.Body), "…wxyz") {
				t.Fatalf("GET %s: %d %s", path, r.Status, r.Body)
			}
		}
		if l := owner.must(200, "GET", base, nil)["data"].([]any); len(l) != 2 {
			t.Fatalf("list %v", l)
		}

		// One key per provider; bad input names the field.
		if r := owner.do("POST", base, map[string]any{"provider": "openai", "apiKey": "sk-second-000000000"}); r.Status != 409 || r.Code(t) != "provider_key_exists" {
			t.Fatalf("second key: %d %s", r.Status, r.Body)
		}
		for _, c := range []struct {
			body  map[string]any
			field string
		}{
			{map[string]any{"provider": "nope", "apiKey": "x"}, "body.provider"},
			{map[string]any{"provider": "azure-openai", "apiKey": "x"}, "body.baseUrl"},
			{map[string]any{"provider": "groq", "apiKey": "x", "baseUrl": "http://llm.example.com"}, "body.baseUrl"},
			{map[string]any{"provider": "groq", "apiKey": " "}, "body.apiKey"},
			{map[string]any{"provider": "groq", "apiKey": "x", "extra": 1}, ""},
		} {
			r := owner.do("POST", base, c.body)
			if r.Status != 422 || (c.field != "" && !strings.Contains(string(r.Body), `"`+c.field+`"`)) {
				t.Errorf("%v: %d %s, want 422 on %s", c.body, r.Status, r.Body, c.field)
			}
		}

		// Members and API keys may not; another workspace's user gets 404.
		for _, c := range []struct {
			method, path string
			body         any
		}{{"GET", base, nil}, {"GET", base + "/" + kid, nil}, {"POST", base, map[string]any{"provider": "groq", "apiKey": "gsk-000000000000"}}, {"DELETE", base + "/" + kid, nil}} {
			if r := member.do(c.method, c.path, c.body); r.Status != 403 || r.Code(t) != "insufficient_role" {
				t.Errorf("member %s %s: %d %s", c.method, c.path, r.Status, r.Body)
			}
		}
		writer := e.keyClient(owner.createKey(ws, map[string]any{"name": "w", "scopes": []string{"agents:read", "agents:write", "calls:write"}, "mode": "live"})["secret"].(string))
		for _, c := range []struct{ method, path string }{{"GET", base}, {"POST", base}, {"DELETE", base + "/" + kid}} {
			if r := writer.do(c.method, c.path, map[string]any{"provider": "groq", "apiKey": "gsk-000000000000"}); r.Status != 403 || r.Code(t) != "insufficient_scope" {
				t.Errorf("key %s %s: %d %s", c.method, c.path, r.Status, r.Body)
			}
		}
		for _, c := range []struct{ method, path string }{{"GET", base}, {"GET", base + "/" + kid}, {"DELETE", base + "/" + kid},
			{"GET", "/v1/workspaces/" + ows + "/provider-keys/" + kid}, {"DELETE", "/v1/workspaces/" + ows + "/provider-keys/" + kid}} {
			if r := outsider.do(c.method, c.path, nil); r.Status != 404 || r.Code(t) != "not_found" {
				t.Errorf("outsider %s %s: %d %s", c.method, c.path, r.Status, r.Body)
			}
		}

		// The effective configuration says whose key a call uses.
		ag := owner.must(201, "POST", "/v1/workspaces/"+ws+"/agents", map[string]any{"name": "A"})
		eff := owner.must(200, "GET", "/v1/workspaces/"+ws+"/agents/"+ag["id"].(string)+"/effective", nil)["keys"].(map[string]any)
		llm, stt := eff["llm"].(map[string]any), eff["stt"].(map[string]any)
		if llm["keySource"] != "workspace" || llm["providerKeyId"] != kid || llm["lastFour"] != "…wxyz" || stt["keySource"] != "platform" || stt["provider"] != "deepgram" {
			t.Fatalf("keys %v", eff)
		}
		owner.must(200, "PATCH", "/v1/workspaces/"+ws+"/agents/"+ag["id"].(string), map[string]any{"llm": map[string]any{"provider": "openai-compatible", "model": "llama3"}})
		if eff := owner.must(200, "GET", "/v1/workspaces/"+ws+"/agents/"+ag["id"].(string)+"/effective", nil)["keys"].(map[string]any); eff["llm"].(map[string]any)["providerKeyId"] != compat["id"] {
			t.Fatalf("compat keys %v", eff)
		}

		// Delete: calls fall back to the platform's key.
		owner.must(204, "DELETE", base+"/"+kid, nil)
		if r := owner.do("DELETE", base+"/"+kid, nil); r.Status != 404 {
			t.Fatalf("second delete: %d", r.Status)
		}
		owner.must(200, "PATCH", "/v1/workspaces/"+ws+"/agents/"+ag["id"].(string), map[string]any{"llm": nil})
		if eff := owner.must(200, "GET", "/v1/workspaces/"+ws+"/agents/"+ag["id"].(string)+"/effective", nil)["keys"].(map[string]any); eff["llm"].(map[string]any)["keySource"] != "platform" {
			t.Fatalf("after delete %v", eff)
		}

		// Audited and published, never with the key.
		log := owner.do("GET", "/v1/workspaces/"+ws+"/audit-log", nil)
		if !strings.Contains(string(log.Body), `"provider_key.created"`) || !strings.Contains(string(log.Body), `"provider_key.deleted"`) || strings.Contains(string(log.Body), secretKey) {
			t.Fatalf("audit %s", log.Body)
		}
		if e.countEvents(t, ws, "provider_key.created") != 2 || e.countEvents(t, ws, "provider_key.deleted") != 1 {
			t.Fatal("events")
		}
		var n int
		if err := e.srv.DB.Read.QueryRow(`SELECT COUNT(*) FROM events WHERE payload LIKE $1`, "%"+secretKey+"%").Scan(&n); err != nil || n != 0 {
			t.Fatalf("secret in %d events (%v)", n, err)
		}
		var stored string
		if err := e.srv.DB.Read.QueryRow(`SELECT api_key FROM provider_keys WHERE workspace_id = $1 AND provider = 'openai-compatible'`, ws).Scan(&stored); err != nil || strings.Contains(stored, "local-key") {
			t.Fatalf("stored %q %v", stored, err)
		}
	})
}
