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
