package web

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/parleyhq/parley/internal/agent"
)

// agentFixture is a workspace with an owner, ready for agent pages.
type agentFixture struct {
	env  *testEnv
	ada  *browser
	wsID string
}

func newAgentFixture(t *testing.T) agentFixture {
	t.Helper()
	env := newEnv(t)
	ada := env.browser(t)
	ada.signupAs("Ada", "ada@example.com")
	return agentFixture{env: env, ada: ada, wsID: ada.createWorkspace("Acme", "UTC")}
}

// createAgent makes an agent through the service.
func (fx agentFixture) createAgent(t *testing.T, body map[string]any) agent.Agent {
	t.Helper()
	a, err := fx.env.ags.CreateAgent(fx.ada.ctx(), fx.wsID, body)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// setWorkspace patches the workspace's settings through the service.
func (fx agentFixture) setWorkspace(t *testing.T, patch map[string]any) {
	t.Helper()
	if _, err := fx.env.ags.UpdateSettings(fx.ada.ctx(), fx.wsID, patch, ""); err != nil {
		t.Fatal(err)
	}
}

func (fx agentFixture) agentURL(id string) string { return "/w/" + fx.wsID + "/agents/" + id }

// agentDoc reads an agent's own settings through the service.
func (fx agentFixture) agent(t *testing.T, id string) agent.Agent {
	t.Helper()
	a, err := fx.env.ags.GetAgent(fx.ada.ctx(), fx.wsID, id)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestAgentsListShowsEffectiveValues(t *testing.T) {
	fx := newAgentFixture(t)
	a := fx.createAgent(t, map[string]any{"name": "Inheritor"})
	b := fx.createAgent(t, map[string]any{"name": "Overrider", "llm": map[string]any{"model": "gpt-4.1"}, "tts": map[string]any{"voice": "coral"}, "status": "paused"})
	fx.setWorkspace(t, map[string]any{"llm": map[string]any{"model": "gpt-4o"}})

	res := fx.ada.get("/w/" + fx.wsID + "/agents")
	expect(t, res, http.StatusOK,
		`<a href="/w/`+fx.wsID+`/agents" aria-current="page">Agents</a>`, `<a href="/w/`+fx.wsID+`/settings">Settings</a>`,
		`href="/w/`+fx.wsID+`/agents/new" id="new-agent">New agent</a>`,
		`<a href="/w/`+fx.wsID+`/agents/`+a.ID+`">Inheritor</a>`, `<a href="/w/`+fx.wsID+`/agents/`+b.ID+`">Overrider</a>`,
		`<span class="status status-paused">Paused</span>`)
	row := func(id string) string {
		i := strings.Index(res.body, `<tr id="agent-`+id+`">`)
		if i < 0 {
			t.Fatalf("no row for %s", id)
		}
		j := strings.Index(res.body[i:], "</tr>")
		return res.body[i : i+j]
	}
	for _, c := range []struct{ row, want string }{
		{row(a.ID), `<code>openai / gpt-4o</code><br><span class="muted source">From the workspace</span>`},
		{row(a.ID), `<code>openai / alloy</code><br><span class="muted source">Platform default</span>`},
		{row(b.ID), `<code>openai / gpt-4.1</code><br><span class="muted source">Overridden</span>`},
		{row(b.ID), `<code>openai / coral</code><br><span class="muted source">Overridden</span>`},
	} {
		if !strings.Contains(c.row, c.want) {
			t.Errorf("row lacks %q:\n%s", c.want, c.row)
		}
	}
	noInline(t, res)
}

func TestAgentEditorOverrideThenResetInherits(t *testing.T) {
	fx := newAgentFixture(t)
	fx.setWorkspace(t, map[string]any{"llm": map[string]any{"model": "gpt-4o"}})

	// Create from the form: only what was typed is sent; the rest inherits.
	res := fx.ada.get("/w/" + fx.wsID + "/agents/new")
	expect(t, res, http.StatusOK, "<h1 id=\"agent-title\">New agent</h1>", `action="/w/`+fx.wsID+`/agents"`,
		`Inherited from workspace: <strong class="inherited-value">gpt-4o</strong>`, `Platform default: <strong class="inherited-value">alloy</strong>`,
		`<input type="hidden" name="orig-llm-model" value="gpt-4o">`, `<option value="hangup" selected>Hang up</option>`,
		`<option value="active" selected>Active</option>`, `<option value="true" selected>Yes</option>`)
	noInline(t, res)
	// A nameless agent is refused beside the field, with what was typed kept.
	res = fx.ada.post("/w/"+fx.wsID+"/agents", url.Values{"name": {""}, "orig-name": {""}, "greetingMessage": {"Hi <there>"}, "orig-greetingMessage": {""}})
	expect(t, res, http.StatusUnprocessableEntity, `id="name-error"`, `href="#name"`, "Hi &lt;there&gt;</textarea>", "<h1 id=\"agent-title\">New agent</h1>")
	res = fx.ada.post("/w/"+fx.wsID+"/agents", url.Values{
		"name": {"Front desk"}, "orig-name": {""},
		"prompt": {"You work for {{company}}."}, "orig-prompt": {""},
		"llm-model": {"gpt-4o"}, "orig-llm-model": {"gpt-4o"}, // untouched: inherits
		"llm-temperature": {"0.7"}, "orig-llm-temperature": {"0.7"}, "override": {"llm-temperature"}, // pinned
	})
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/w/"+fx.wsID+"/agents/agent_") {
		t.Fatalf("create: %d %q\n%s", res.StatusCode, res.Header.Get("Location"), res.body)
	}
	loc := res.Header.Get("Location")
	id := strings.TrimSuffix(strings.TrimPrefix(loc, "/w/"+fx.wsID+"/agents/"), "?notice=agent-created")
	a := fx.agent(t, id)
	if a.LLM == nil || a.LLM.Model != nil || a.LLM.Temperature == nil || *a.LLM.Temperature != 0.7 || *a.Name != "Front desk" {
		t.Fatalf("created agent = %+v (llm %+v)", a.Document, a.LLM)
	}
	res = fx.ada.get(loc)
	expect(t, res, http.StatusOK, "Agent created.", `id="agent-warnings"`, "prompt: {{company}} is neither declared",
		`<input type="hidden" name="version" value="1">`,
		`Inherited from workspace: <strong class="inherited-value">gpt-4o</strong>`,
		`<button type="submit" name="reset" value="llm-temperature"`)

	// Override the model by changing it.
	res = fx.ada.post("/w/"+fx.wsID+"/agents/"+id, url.Values{"version": {"1"}, "llm-model": {"gpt-4.1"}, "orig-llm-model": {"gpt-4o"}})
	expectRedirect(t, res, "/w/"+fx.wsID+"/agents/"+id+"?notice=agent-saved")
	if a = fx.agent(t, id); a.Version != 2 || a.LLM.Model == nil || *a.LLM.Model != "gpt-4.1" {
		t.Fatalf("after override: v%d %+v", a.Version, a.LLM)
	}
	res = fx.ada.get("/w/" + fx.wsID + "/agents/" + id)
	expect(t, res, http.StatusOK, `<span class="badge badge-set">Overridden</span> Default: gpt-4o (from the workspace).`,
		`<button type="submit" name="reset" value="llm-model" class="button-quiet" id="llm-model-reset">Reset to default`)
	// A workspace change does not reach the override…
	fx.setWorkspace(t, map[string]any{"llm": map[string]any{"model": "gpt-4.1-mini"}})
	expect(t, fx.ada.get("/w/"+fx.wsID+"/agents"), http.StatusOK, "<code>openai / gpt-4.1</code>")

	// …until "Reset to default" sends null: the agent inherits again.
	res = fx.ada.post("/w/"+fx.wsID+"/agents/"+id, url.Values{"version": {"2"}, "reset": {"llm-model"}, "llm-model": {"gpt-4.1"}, "orig-llm-model": {"gpt-4.1"}})
	expectRedirect(t, res, "/w/"+fx.wsID+"/agents/"+id+"?notice=agent-saved")
	if a = fx.agent(t, id); a.Version != 3 || a.LLM == nil || a.LLM.Model != nil {
		t.Fatalf("after reset: v%d %+v", a.Version, a.LLM)
	}
	res = fx.ada.get("/w/" + fx.wsID + "/agents/" + id)
	expect(t, res, http.StatusOK, `Inherited from workspace: <strong class="inherited-value">gpt-4.1-mini</strong>`, `id="llm-model-override"`)
	expect(t, fx.ada.get("/w/"+fx.wsID+"/agents"), http.StatusOK, "<code>openai / gpt-4.1-mini</code>")

	// Saving nothing makes no version.
	res = fx.ada.post("/w/"+fx.wsID+"/agents/"+id, url.Values{"version": {"3"}, "llm-model": {"gpt-4.1-mini"}, "orig-llm-model": {"gpt-4.1-mini"}})
	expectRedirect(t, res, "/w/"+fx.wsID+"/agents/"+id+"?notice=agent-unchanged")

	// Bad input comes back on the form, beside its field, with what was typed.
	res = fx.ada.post("/w/"+fx.wsID+"/agents/"+id, url.Values{"version": {"3"}, "llm-temperature": {"7"}, "orig-llm-temperature": {"0.7"}})
	expect(t, res, http.StatusUnprocessableEntity, "There is a problem", `id="llm-temperature-error"`, "Must be between 0 and 2.", `value="7"`, `href="#llm-temperature"`)
	res = fx.ada.post("/w/"+fx.wsID+"/agents/"+id, url.Values{"version": {"3"}, "maxDurationSeconds": {"soon"}, "orig-maxDurationSeconds": {"1800"}})
	expect(t, res, http.StatusUnprocessableEntity, `id="maxDurationSeconds-error"`, "Enter a whole number.", `value="soon"`)
	res = fx.ada.post("/w/"+fx.wsID+"/agents/"+id, url.Values{"version": {"3"}, "llm-model": {"claude-haiku-4-5"}, "orig-llm-model": {"gpt-4.1-mini"}})
	expect(t, res, http.StatusUnprocessableEntity, `id="llm-model-error"`, "Unknown model")
	if a = fx.agent(t, id); a.Version != 3 {
		t.Errorf("a refused save made version %d", a.Version)
	}
}

func TestAgentStaleVersionIs412(t *testing.T) {
	fx := newAgentFixture(t)
	a := fx.createAgent(t, map[string]any{"name": "Front desk"})
	if _, err := fx.env.ags.UpdateAgent(fx.ada.ctx(), fx.wsID, a.ID, map[string]any{"description": "changed elsewhere"}, ""); err != nil {
		t.Fatal(err)
	}
	res := fx.ada.post(fx.agentURL(a.ID), url.Values{"version": {"1"}, "name": {"Mine"}, "orig-name": {"Front desk"}})
	expect(t, res, http.StatusPreconditionFailed, "Someone else changed this agent; reload",
		`<a href="/w/`+fx.wsID+`/agents/`+a.ID+`" id="reload">`, `value="Mine"`)
	if got := fx.agent(t, a.ID); *got.Name != "Front desk" || got.Version != 2 {
		t.Errorf("the stale save was applied: %q v%d", *got.Name, got.Version)
	}
	// Deleting with a stale version is refused the same way; with the current one it deletes.
	res = fx.ada.post(fx.agentURL(a.ID)+"/delete", url.Values{"version": {"1"}})
	expect(t, res, http.StatusPreconditionFailed, "Someone else changed this agent; reload")
	expectRedirect(t, fx.ada.post(fx.agentURL(a.ID)+"/delete", url.Values{"version": {"2"}}), "/w/"+fx.wsID+"/agents?notice=agent-deleted")
	expect(t, fx.ada.get(fx.agentURL(a.ID)), http.StatusNotFound, "Page not found")
}

func TestAgentVersionsAndRestore(t *testing.T) {
	fx := newAgentFixture(t)
	a := fx.createAgent(t, map[string]any{"name": "Front desk", "llm": map[string]any{"model": "gpt-4.1"}})
	if _, err := fx.env.ags.UpdateAgent(fx.ada.ctx(), fx.wsID, a.ID, map[string]any{"llm": map[string]any{"model": nil}, "greetingMessage": "Hello"}, ""); err != nil {
		t.Fatal(err)
	}
	res := fx.ada.get(fx.agentURL(a.ID) + "/versions")
	expect(t, res, http.StatusOK, "<h1>Version history</h1>", `<tr id="version-2">`, `<th scope="row">2 <span class="badge">Current</span></th>`,
		`<tr id="version-1">`, "<td>Ada (ada@example.com)</td>", "<code>greetingMessage</code>, <code>llm.model</code>",
		`action="/w/`+fx.wsID+`/agents/`+a.ID+`/versions/1/restore"`)
	lacks(t, res, "/versions/2/restore")
	noInline(t, res)

	res = fx.ada.post(fx.agentURL(a.ID)+"/versions/1/restore", url.Values{"version": {"2"}})
	expectRedirect(t, res, fx.agentURL(a.ID)+"?notice=agent-restored")
	got := fx.agent(t, a.ID)
	if got.Version != 3 || got.LLM == nil || *got.LLM.Model != "gpt-4.1" || got.GreetingMessage != nil {
		t.Fatalf("after restore: v%d %+v", got.Version, got.Document)
	}
	expect(t, fx.ada.get(fx.agentURL(a.ID)+"/versions"), http.StatusOK, `<span class="muted">Restored version 1:</span>`)
	// A restore from a stale page is refused and says so.
	res = fx.ada.post(fx.agentURL(a.ID)+"/versions/2/restore", url.Values{"version": {"2"}})
	expect(t, res, http.StatusPreconditionFailed, "Someone else changed this agent meanwhile")
	expect(t, fx.ada.post(fx.agentURL(a.ID)+"/versions/99/restore", url.Values{"version": {"3"}}), http.StatusNotFound)
}

func TestMemberSeesAgentsAndSettingsReadOnly(t *testing.T) {
	fx := newAgentFixture(t)
	a := fx.createAgent(t, map[string]any{"name": "Front desk", "llm": map[string]any{"model": "gpt-4.1"}})
	fx.setWorkspace(t, map[string]any{"tts": map[string]any{"voice": "coral"}})
	bob := fx.ada.join(fx.wsID, "Bob", "bob@example.com", "member")

	res := bob.get("/w/" + fx.wsID + "/agents")
	expect(t, res, http.StatusOK, "Front desk", "<code>openai / gpt-4.1</code>", `<a href="/w/`+fx.wsID+`/settings">Settings</a>`)
	lacks(t, res, "New agent", "/agents/new")

	res = bob.get(fx.agentURL(a.ID))
	expect(t, res, http.StatusOK, `id="read-only"`, `<span class="value" id="llm-model">gpt-4.1</span>`,
		`<span class="value" id="tts-voice">coral</span>`, "Inherited from workspace", "Version history")
	lacks(t, res, "<form method=\"post\" action=\"/w/", "<select", "<input type=\"text\"", "<textarea", "Reset to default", "Override", "Delete agent")
	res = bob.get(fx.agentURL(a.ID) + "/versions")
	expect(t, res, http.StatusOK, `<tr id="version-1">`)
	lacks(t, res, "/restore", "Restore")

	res = bob.get("/w/" + fx.wsID + "/settings")
	expect(t, res, http.StatusOK, `id="read-only"`, `<span class="value" id="tts-voice">coral</span>`, "Set for this workspace", "Platform default")
	lacks(t, res, "<form method=\"post\" action=\"/w/", "<select", "Reset to default")

	// Posting anyway is the 403 page, and nothing changes.
	for _, p := range []struct {
		path string
		form url.Values
	}{
		{fx.agentURL(a.ID), url.Values{"version": {"1"}, "name": {"Mine"}, "orig-name": {"Front desk"}}},
		{fx.agentURL(a.ID), url.Values{"version": {"1"}, "llm-temperature": {"abc"}, "orig-llm-temperature": {"0.7"}}},
		{"/w/" + fx.wsID + "/agents", url.Values{"name": {"Mine"}, "orig-name": {""}}},
		{fx.agentURL(a.ID) + "/delete", url.Values{"version": {"1"}}},
		{fx.agentURL(a.ID) + "/versions/1/restore", url.Values{"version": {"1"}}},
		{"/w/" + fx.wsID + "/settings", url.Values{"version": {"1"}, "llm-model": {"gpt-4o"}, "orig-llm-model": {"gpt-4o-mini"}}},
		{"/w/" + fx.wsID + "/settings", url.Values{"version": {"1"}, "calls-maxConcurrentCalls": {"many"}, "orig-calls-maxConcurrentCalls": {"5"}}},
	} {
		expect(t, bob.post(p.path, p.form), http.StatusForbidden, "You cannot open this page")
	}
	expect(t, bob.get("/w/"+fx.wsID+"/agents/new"), http.StatusForbidden, "You cannot open this page")
	if got := fx.agent(t, a.ID); got.Version != 1 {
		t.Errorf("a member's post changed the agent (v%d)", got.Version)
	}
}

func TestSettingsEditByAdmin(t *testing.T) {
	fx := newAgentFixture(t)
	inheritor := fx.createAgent(t, map[string]any{"name": "Inheritor"})
	admin := fx.ada.join(fx.wsID, "Cleo", "cleo@example.com", "admin")
	ws := "/w/" + fx.wsID + "/settings"

	res := admin.get(ws)
	expect(t, res, http.StatusOK, `<a href="`+ws+`" aria-current="page">Settings</a>`, `<form method="post" action="`+ws+`"`,
		`<input type="hidden" name="version" value="0">`, `<p class="source" id="llm-model-source"><span class="badge">Platform default</span></p>`,
		`<option value="gpt-4o-mini" selected>gpt-4o-mini</option>`, `value="UTC"`, `id="callingHours-days-mon" name="callingHours-days" value="mon" checked`)
	noInline(t, res)

	// Change the default model and the calling days; untouched settings stay platform defaults.
	form := url.Values{"version": {"0"}, "llm-model": {"gpt-4o"}, "orig-llm-model": {"gpt-4o-mini"},
		"llm-temperature": {"0.7"}, "orig-llm-temperature": {"0.7"},
		"callingHours-days": {"mon", "sat"}, "orig-callingHours-days": {"mon,tue,wed,thu,fri"},
		"timezone": {"Europe/Berlin"}, "orig-timezone": {"UTC"}}
	expectRedirect(t, admin.post(ws, form), ws+"?notice=settings-saved")
	s, err := fx.env.ags.GetSettings(fx.ada.ctx(), fx.wsID)
	if err != nil {
		t.Fatal(err)
	}
	if *s.LLM.Model != "gpt-4o" || strings.Join(s.CallingHours.Days, ",") != "mon,sat" || *s.Timezone != "Europe/Berlin" || s.Version != 1 {
		t.Fatalf("settings = %+v %+v v%d", s.LLM, s.CallingHours, s.Version)
	}
	if !slices.Contains(s.PlatformDefaults, "llm.temperature") || slices.Contains(s.PlatformDefaults, "llm.model") {
		t.Errorf("platform defaults = %v: want llm.temperature (untouched) and not llm.model", s.PlatformDefaults)
	}
	res = admin.get(ws + "?notice=settings-saved")
	expect(t, res, http.StatusOK, "Settings saved.", `<span class="badge badge-set">Set for this workspace</span> Platform default: gpt-4o-mini.`,
		`<button type="submit" name="reset" value="llm-model"`, `value="Europe/Berlin"`)
	lacks(t, res, `name="reset" value="timezone"`)
	// The agent that inherits follows.
	expect(t, admin.get("/w/"+fx.wsID+"/agents"), http.StatusOK, "<code>openai / gpt-4o</code>")
	expect(t, admin.get(fx.agentURL(inheritor.ID)), http.StatusOK, `Inherited from workspace: <strong class="inherited-value">gpt-4o</strong>`)

	// Bad values come back beside their fields.
	res = admin.post(ws, url.Values{"version": {"1"}, "tts-speed": {"9"}, "orig-tts-speed": {"1"}, "callingHours-end": {"08:00"}, "orig-callingHours-end": {"18:00"}})
	expect(t, res, http.StatusUnprocessableEntity, `id="tts-speed-error"`, "Must be between 0.5 and 2.", `value="9"`)
	res = admin.post(ws, url.Values{"version": {"1"}, "callingHours-end": {"08:00"}, "orig-callingHours-end": {"18:00"}})
	expect(t, res, http.StatusUnprocessableEntity, `id="callingHours-end-error"`, "Must be after start")
	// A change that would leave an agent invalid names the agent.
	fx.createAgent(t, map[string]any{"name": "Pinned", "llm": map[string]any{"model": "gpt-4.1"}})
	res = admin.post(ws, url.Values{"version": {"1"}, "llm-provider": {"anthropic"}, "orig-llm-provider": {"openai"}, "llm-model": {"claude-haiku-4-5"}, "orig-llm-model": {"gpt-4o"}})
	expect(t, res, http.StatusConflict, "There is a problem", "Agent “Pinned” (llm.model): unknown model", `value="anthropic" selected`)
	// A stale form is 412.
	res = admin.post(ws, url.Values{"version": {"0"}, "language": {"de"}, "orig-language": {"en"}})
	expect(t, res, http.StatusPreconditionFailed, "Someone else changed these settings; reload")

	// Reset returns the model to the platform default, and the agent with it.
	expectRedirect(t, admin.post(ws, url.Values{"version": {"1"}, "reset": {"llm-model"}, "llm-model": {"gpt-4o"}, "orig-llm-model": {"gpt-4o"}}), ws+"?notice=settings-saved")
	res = admin.get(ws)
	expect(t, res, http.StatusOK, `<p class="source" id="llm-model-source"><span class="badge">Platform default</span></p>`)
	expect(t, admin.get("/w/"+fx.wsID+"/agents"), http.StatusOK, "<code>openai / gpt-4o-mini</code>")
}

func TestProviderKeysOnSettings(t *testing.T) {
	fx := newAgentFixture(t)
	ws := "/w/" + fx.wsID + "/settings"
	const secretKey = "sk-test-very-secret-value-9z8y"

	res := fx.ada.get(ws)
	expect(t, res, http.StatusOK, `id="provider-keys"`, "No provider keys", `<form method="post" action="`+ws+`/provider-keys"`, `<option value="openai-compatible">`)
	res = fx.ada.post(ws+"/provider-keys", url.Values{"provider": {"openai"}, "apiKey": {secretKey}})
	expectRedirect(t, res, ws+"?notice=provider-key-added#provider-keys")
	res = fx.ada.get(ws + "?notice=provider-key-added")
	expect(t, res, http.StatusOK, "Provider key added.", `id="provider-key-list"`, "<code>openai</code>", "9z8y", "llm, stt, tts")
	lacks(t, res, secretKey)

	// Bad input comes back on the form, without the key.
	res = fx.ada.post(ws+"/provider-keys", url.Values{"provider": {"openai"}, "apiKey": {secretKey}})
	expect(t, res, http.StatusConflict, "There is a problem")
	lacks(t, res, secretKey)
	res = fx.ada.post(ws+"/provider-keys", url.Values{"provider": {"openai-compatible"}, "apiKey": {secretKey}, "baseUrl": {"http://127.0.0.1/v1"}})
	expect(t, res, http.StatusUnprocessableEntity, `id="baseUrl-error"`, `value="http://127.0.0.1/v1"`, `<option value="openai-compatible" selected>`)
	lacks(t, res, secretKey)

	keys, err := fx.env.ags.ListProviderKeys(fx.ada.ctx(), fx.wsID)
	if err != nil || len(keys) != 1 {
		t.Fatalf("keys = %v, %v", keys, err)
	}
	// Members see neither the keys nor the form, and cannot post.
	bob := fx.ada.join(fx.wsID, "Bob", "bob@example.com", "member")
	res = bob.get(ws)
	expect(t, res, http.StatusOK, `id="read-only"`)
	lacks(t, res, "provider-keys", "9z8y")
	expect(t, bob.post(ws+"/provider-keys", url.Values{"provider": {"anthropic"}, "apiKey": {secretKey}}), http.StatusForbidden)
	expect(t, bob.post(ws+"/provider-keys/"+keys[0].ID+"/delete", nil), http.StatusForbidden)

	expectRedirect(t, fx.ada.post(ws+"/provider-keys/"+keys[0].ID+"/delete", nil), ws+"?notice=provider-key-deleted#provider-keys")
	expect(t, fx.ada.get(ws), http.StatusOK, "No provider keys")
}

func TestAgentEditorListsAndJSONFields(t *testing.T) {
	fx := newAgentFixture(t)
	a := fx.createAgent(t, map[string]any{"name": "Booker"})
	res := fx.ada.get(fx.agentURL(a.ID))
	expect(t, res, http.StatusOK, `id="endCallPhrases"`, `id="tools"`, `id="variables"`, `id="analysis"`, `id="transferNumber"`, `id="voicemailMessage"`,
		`<input type="hidden" name="orig-tools" value="[]">`)

	tools := `[{"name": "book", "description": "Book a slot", "parameters": {"type": "object", "properties": {"day": {"type": "string"}}, "required": ["day"]}}]`
	res = fx.ada.post(fx.agentURL(a.ID), url.Values{"version": {"1"},
		"endCallPhrases": {"Goodbye!\r\n\r\n  Have a nice day  \r\n"}, "orig-endCallPhrases": {""},
		"tools": {tools}, "orig-tools": {"[]"},
		"variables": {`[{"name": "plan", "default": "basic"}]`}, "orig-variables": {"[]"},
		"transferNumber": {"+14155550100"}, "orig-transferNumber": {""},
	})
	expectRedirect(t, res, fx.agentURL(a.ID)+"?notice=agent-saved")
	got := fx.agent(t, a.ID)
	if !slices.Equal(got.EndCallPhrases, []string{"Goodbye!", "Have a nice day"}) || len(got.Tools) != 1 || got.Tools[0].Name != "book" ||
		len(got.Variables) != 1 || got.Variables[0].Name != "plan" || got.TransferNumber == nil || *got.TransferNumber != "+14155550100" {
		t.Fatalf("saved %+v", got.Document)
	}
	// Shown back: one phrase per line, the tools as indented JSON.
	res = fx.ada.get(fx.agentURL(a.ID))
	expect(t, res, http.StatusOK, "Goodbye!\nHave a nice day</textarea>", `&#34;name&#34;: &#34;book&#34;`)

	// Malformed JSON and an invalid JSON Schema come back beside the field; nothing is saved.
	res = fx.ada.post(fx.agentURL(a.ID), url.Values{"version": {"2"}, "tools": {`[{"name": "book",`}, "orig-tools": {"[]"}})
	expect(t, res, http.StatusUnprocessableEntity, `id="tools-error"`, "Enter valid JSON")
	res = fx.ada.post(fx.agentURL(a.ID), url.Values{"version": {"2"}, "tools": {`[{"name": "book", "parameters": {"type": 12}}]`}, "orig-tools": {"[]"}})
	expect(t, res, http.StatusUnprocessableEntity, `id="tools-error"`)
	if v := fx.agent(t, a.ID).Version; v != 2 {
		t.Fatalf("a refused save made version %d", v)
	}
	// Emptying a list field returns it to its default.
	res = fx.ada.post(fx.agentURL(a.ID), url.Values{"version": {"2"}, "endCallPhrases": {""}, "orig-endCallPhrases": {"Goodbye!\nHave a nice day"}})
	expectRedirect(t, res, fx.agentURL(a.ID)+"?notice=agent-saved")
	if got := fx.agent(t, a.ID); len(got.EndCallPhrases) != 0 {
		t.Fatalf("phrases after emptying: %v", got.EndCallPhrases)
	}
}
