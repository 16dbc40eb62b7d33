package web

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/parleyhq/parley/internal/agent"
	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/authz"
	"github.com/parleyhq/parley/internal/workspace"
)

// agentsPerPage is the page size of the agents list; versionsPerPage of the version history.
const (
	agentsPerPage   = 50
	versionsPerPage = 50
)

// agentGroups are the agent editor's fieldsets. Settings that inherit (language, llm.*, stt.*,
// tts.*, maxDurationSeconds) show where their value comes from; the others are the agent's own.
var agentGroups = []struct {
	legend, id string
	specs      []fieldSpec
}{
	{"Agent", "agent-basics", []fieldSpec{
		{Path: "name", Label: "Name", Kind: kindText},
		{Path: "description", Label: "Description", Kind: kindText, EmptyIsNull: true},
		{Path: "prompt", Label: "Prompt", Hint: "The system prompt. {{variable}} placeholders must be declared or built in (contact.name, contact.phone, workspace.name, agent.name, now, today).", Kind: kindTextarea, EmptyIsNull: true},
		{Path: "greetingMessage", Label: "Greeting", Hint: "What the agent says first.", Kind: kindTextarea, EmptyIsNull: true},
		{Path: "language", Label: "Language", Hint: "A BCP 47 tag, for example en or en-US.", Kind: kindLanguage, Inherits: true, EmptyIsNull: true},
		{Path: "status", Label: "Status", Kind: kindSelect, Options: []option{{"active", "Active", false}, {"paused", "Paused", false}, {"archived", "Archived", false}}},
	}},
	{"Language model", "agent-llm", []fieldSpec{
		{Path: "llm.provider", Label: "LLM provider", Kind: kindProvider, Service: "llm", Inherits: true},
		{Path: "llm.model", Label: "LLM model", Kind: kindModel, Service: "llm", Inherits: true},
		{Path: "llm.temperature", Label: "Temperature", Hint: "0 to 2.", Kind: kindFloat, Min: "0", Max: "2", Step: "0.1", Inherits: true, EmptyIsNull: true},
		{Path: "llm.maxTokens", Label: "Maximum tokens", Hint: "Longest reply, 1 to 128000.", Kind: kindInt, Min: "1", Max: "128000", Step: "1", Inherits: true, EmptyIsNull: true},
	}},
	{"Speech-to-text", "agent-stt", []fieldSpec{
		{Path: "stt.provider", Label: "STT provider", Kind: kindProvider, Service: "stt", Inherits: true},
		{Path: "stt.model", Label: "STT model", Kind: kindModel, Service: "stt", Inherits: true},
		{Path: "stt.language", Label: "STT language", Kind: kindLanguage, Inherits: true, EmptyIsNull: true},
	}},
	{"Voice (text-to-speech)", "agent-tts", []fieldSpec{
		{Path: "tts.provider", Label: "TTS provider", Kind: kindProvider, Service: "tts", Inherits: true},
		{Path: "tts.voice", Label: "Voice", Hint: "One of the provider's voices, or a voice ID where the provider has no fixed list.", Kind: kindVoice, Inherits: true, EmptyIsNull: true},
		{Path: "tts.model", Label: "TTS model", Kind: kindModel, Service: "tts", Inherits: true},
		{Path: "tts.speed", Label: "Speed", Hint: "0.5 to 2.", Kind: kindFloat, Min: "0.5", Max: "2", Step: "0.05", Inherits: true, EmptyIsNull: true},
	}},
	{"Calls", "agent-calls", []fieldSpec{
		{Path: "allowInterruptions", Label: "Allow interruptions", Hint: "Whether the caller may talk over the agent.", Kind: kindBool},
		{Path: "maxDurationSeconds", Label: "Maximum call duration (seconds)", Hint: "1 to 14400.", Kind: kindInt, Min: "1", Max: "14400", Step: "1", Inherits: true, EmptyIsNull: true},
		{Path: "voicemailAction", Label: "On voicemail", Kind: kindSelect, Options: []option{{"hangup", "Hang up", false}, {"leave_message", "Leave a message", false}}},
		{Path: "voicemailMessage", Label: "Voicemail message", Hint: "What the agent leaves on voicemail when it leaves a message.", Kind: kindTextarea, EmptyIsNull: true},
		{Path: "endCallPhrases", Label: "End-call phrases", Hint: "One per line: the call ends when the agent says one of them (at most 20).", Kind: kindLines, EmptyIsNull: true},
		{Path: "transferNumber", Label: "Transfer number", Hint: "E.164 number the agent may transfer the call to, e.g. +14155550100.", Kind: kindText, EmptyIsNull: true},
	}},
	{"Tools and data", "agent-tools", []fieldSpec{
		{Path: "tools", Label: "Tools", Hint: `JSON: a list of functions in OpenAI's shape, [{"name": "book", "description": "…", "parameters": {JSON Schema}}].`, Kind: kindJSON, EmptyIsNull: true},
		{Path: "variables", Label: "Variables", Hint: `JSON: the {{variables}} the prompt may use, [{"name": "plan", "default": "basic"}].`, Kind: kindJSON, EmptyIsNull: true},
		{Path: "analysis", Label: "After-call analysis", Hint: `JSON: fields to extract from each call, [{"name": "booked", "type": "boolean", "description": "…"}].`, Kind: kindJSON, EmptyIsNull: true},
	}},
}

// newAgentValues are the values of a new agent's own (not inherited) fields.
var newAgentValues = map[string]string{"allowInterruptions": "true", "voicemailAction": "hangup", "status": "active"}

func agentSpecs() []fieldSpec {
	var out []fieldSpec
	for _, g := range agentGroups {
		out = append(out, g.specs...)
	}
	return out
}

// workspacePathOf names the workspace setting an agent setting inherits.
func workspacePathOf(path string) string {
	if path == "maxDurationSeconds" {
		return "calls.maxDurationSeconds"
	}
	return path
}

// defaults are the workspace's resolved settings by path, with where each comes from.
type defaults struct {
	values map[string]any
	source map[string]string
}

func defaultsOf(s agent.SettingsView) defaults {
	d := defaults{values: treeOf(s.Settings), source: map[string]string{}}
	for p := range d.values {
		d.source[p] = agent.SourceWorkspace
	}
	for _, p := range s.PlatformDefaults {
		d.source[p] = agent.SourcePlatform
	}
	return d
}

// agentFields builds the editor's fields: eff is the agent's effective settings (nil for a new
// agent), ws the workspace's.
func agentFields(eff map[string]agent.Setting, ws defaults, cat *agent.Catalog) []fieldGroup {
	var groups []fieldGroup
	for _, g := range agentGroups {
		fg := fieldGroup{Legend: g.legend, ID: g.id}
		for _, spec := range g.specs {
			fv := &fieldView{fieldSpec: spec, Name: fieldName(spec.Path), Level: "agent"}
			if spec.Inherits {
				wp := workspacePathOf(spec.Path)
				fv.Default, fv.DefaultSource = specValue(spec, ws.values[wp]), ws.source[wp]
			}
			switch s, ok := eff[spec.Path]; {
			case ok:
				fv.Value, fv.Set = specValue(spec, s.Value), s.Source == agent.SourceAgent && spec.Inherits
			case spec.Inherits:
				fv.Value = fv.Default
			default:
				fv.Value = newAgentValues[spec.Path]
			}
			fv.Orig = fv.Value
			fg.Fields = append(fg.Fields, fv)
		}
		groups = append(groups, fg)
	}
	return groups
}

// withChoices fills the selects from the catalog (after any posted values are in).
func withChoices(groups []fieldGroup, cat *agent.Catalog) {
	providers := map[string]string{}
	for _, fv := range allFields(groups) {
		if fv.Kind == kindProvider {
			providers[fv.Service] = fv.Value
		}
	}
	for _, fv := range allFields(groups) {
		opts := fv.Options // the spec's choices (provider and model choices come from the catalog)
		fv.Options = nil
		for _, o := range opts {
			o.Selected = o.Value == fv.Value
			fv.Options = append(fv.Options, o)
		}
		fv.Groups = nil
		if fv.Kind == kindProvider || fv.Kind == kindModel {
			fv.choices(cat, providers[fv.Service])
		}
		if fv.Kind == kindDays {
			fv.Days = nil
			for _, d := range weekdays {
				fv.Days = append(fv.Days, dayOption{Value: d.Value, Label: d.Label, Checked: strings.Contains(","+fv.Value+",", ","+d.Value+",")})
			}
		}
		fv.Display = fv.Shown()
	}
}

// agentsPage is what the agents template gets.
type agentsPage struct {
	Workspace  workspace.Membership
	Agents     []agentRow
	NextCursor string
	Paged      bool
	CanEdit    bool
}

// agentRow is one agent of the list with its effective LLM and voice.
type agentRow struct {
	agent.Agent
	Name, Status, LLM, Voice string
	// LLMSource and VoiceSource say where the model and the voice come from.
	LLMSource, VoiceSource string
}

// agents lists the workspace's agents with their effective LLM and voice.
func (h *Handler) agents(w http.ResponseWriter, r *http.Request) {
	v, m, ok := h.workspaceView(w, r, "agents")
	if !ok {
		return
	}
	ctx := r.Context()
	cursor := r.URL.Query().Get("cursor")
	list, err := h.d.Agents.ListAgents(ctx, m.ID, "", cursor, agentsPerPage)
	if err != nil {
		if cursor != "" && errors.Is(err, apierr.Invalid) {
			redirect(w, r, "/w/"+url.PathEscape(m.ID)+"/agents")
			return
		}
		h.fail(w, r, v, err)
		return
	}
	p := agentsPage{Workspace: m, NextCursor: list.NextCursor, Paged: cursor != "", CanEdit: can(m.Role, authz.AgentsWrite)}
	for _, a := range list.Data {
		eff, err := h.d.Agents.Effective(ctx, m.ID, a.ID)
		if err != nil {
			if errors.Is(err, apierr.NotFound) {
				continue // deleted meanwhile
			}
			h.fail(w, r, v, err)
			return
		}
		s := func(p string) string { return valueString(eff.Settings[p].Value) }
		row := agentRow{Agent: a, Name: valueString(eff.Settings["name"].Value), Status: s("status"),
			LLM: s("llm.provider") + " / " + s("llm.model"), Voice: s("tts.provider") + " / " + s("tts.voice"),
			LLMSource: eff.Settings["llm.model"].Source, VoiceSource: eff.Settings["tts.voice"].Source}
		p.Agents = append(p.Agents, row)
	}
	v.Page = p
	h.render(w, r, http.StatusOK, "agents", v)
}

// agentPage is what the agent template gets.
type agentPage struct {
	Workspace workspace.Membership
	// Agent is nil for the new-agent form.
	Agent   *agent.Agent
	Version int
	CanEdit bool
	Groups  []fieldGroup
	Lists   catalogLists
	// Stale: the save was refused because someone else changed the agent meanwhile (412).
	Stale bool
}

// Action is where the editor's form posts.
func (p agentPage) Action() string {
	if p.Agent == nil {
		return "/w/" + p.Workspace.ID + "/agents"
	}
	return "/w/" + p.Workspace.ID + "/agents/" + p.Agent.ID
}

// newAgent shows the form for a new agent, every inheritable field inheriting.
func (h *Handler) newAgent(w http.ResponseWriter, r *http.Request) {
	h.showAgent(w, r, http.StatusOK, "", nil, nil)
}

// editAgent shows an agent: the editor (owner, admin) or its settings, read-only (members).
func (h *Handler) editAgent(w http.ResponseWriter, r *http.Request) {
	h.showAgent(w, r, http.StatusOK, r.PathValue("agentId"), nil, nil)
}

// showAgent renders the editor of agentID ("" for a new agent). After a failed save, posted
// is true (r's form is shown again) and problem, if not nil, is shown on it.
func (h *Handler) showAgent(w http.ResponseWriter, r *http.Request, status int, agentID string, problem *apierr.Error, local *form) {
	v, m, ok := h.workspaceView(w, r, "agents")
	if !ok {
		return
	}
	ctx := r.Context()
	p := agentPage{Workspace: m, CanEdit: can(m.Role, authz.AgentsWrite)}
	if agentID == "" && !p.CanEdit {
		h.fail(w, r, v, apierr.New(apierr.Forbidden, "forbidden", "only the workspace's owner and admins can create agents."))
		return
	}
	cat, err := h.d.Agents.Catalog(ctx)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	set, err := h.d.Agents.GetSettings(ctx, m.ID)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	var eff map[string]agent.Setting
	if agentID != "" {
		a, err := h.d.Agents.GetAgent(ctx, m.ID, agentID)
		if err != nil {
			h.fail(w, r, v, err)
			return
		}
		e, err := h.d.Agents.Effective(ctx, m.ID, agentID)
		if err != nil {
			h.fail(w, r, v, err)
			return
		}
		p.Agent, p.Version, eff = &a, a.Version, e.Settings
	}
	p.Groups = agentFields(eff, defaultsOf(set), cat)
	p.Lists = newCatalogLists(cat)
	f := formFor(p.Groups)
	if r.Method == http.MethodPost {
		postedFields(r, allFields(p.Groups))
		if n, err := strconv.Atoi(r.PostFormValue("version")); err == nil && agentID != "" {
			p.Version = n
		}
		if local != nil {
			f.errs = local.errs
		}
		if problem != nil {
			if errors.Is(problem, apierr.PreconditionFailed) {
				p.Stale = true
			} else {
				placeErrors(f, problem)
			}
		}
	}
	withChoices(p.Groups, cat)
	finish(f, p.Groups)
	v.Form = f
	v.Page = p
	h.render(w, r, status, "agent", v)
}

// versionHeader is the If-Match of a posted form's version ("" when it has none).
func versionHeader(r *http.Request) string {
	n, err := strconv.Atoi(r.PostFormValue("version"))
	if err != nil {
		return ""
	}
	return agent.ETag(n)
}

// saveAgent creates (agentId "") or changes an agent from the editor's form.
func (h *Handler) saveAgent(w http.ResponseWriter, r *http.Request) {
	if !h.parseForm(w, r) {
		return
	}
	if !signedIn(r) {
		toLogin(w, r)
		return
	}
	ctx := r.Context()
	wsID, agentID := r.PathValue("workspaceId"), r.PathValue("agentId")
	local := newForm(nil)
	patch := readPatch(r, agentSpecs(), local)
	var err error
	if len(local.errs) > 0 {
		// Check the permission first, so a member gets 403 whatever they typed.
		if _, err = authz.Require(ctx, wsID, authz.AgentsWrite); err == nil {
			h.showAgent(w, r, http.StatusUnprocessableEntity, agentID, nil, local)
			return
		}
	} else if agentID == "" {
		var a agent.Agent
		if a, err = h.d.Agents.CreateAgent(ctx, wsID, patch); err == nil {
			redirect(w, r, "/w/"+url.PathEscape(wsID)+"/agents/"+url.PathEscape(a.ID)+"?notice=agent-created")
			return
		}
	} else {
		var a agent.Agent
		if a, err = h.d.Agents.UpdateAgent(ctx, wsID, agentID, patch, versionHeader(r)); err == nil {
			notice := "agent-saved"
			if a.Version == atoi(r.PostFormValue("version")) {
				notice = "agent-unchanged"
			}
			redirect(w, r, "/w/"+url.PathEscape(wsID)+"/agents/"+url.PathEscape(agentID)+"?notice="+notice)
			return
		}
	}
	h.agentError(w, r, agentID, err)
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// agentError shows a failed agent action: the form again for invalid input, a conflict or a
// stale version; the error page for anything else.
func (h *Handler) agentError(w http.ResponseWriter, r *http.Request, agentID string, err error) {
	e, status, ok := actionError(err)
	if !ok || errors.Is(err, apierr.NotFound) || errors.Is(err, apierr.Forbidden) {
		h.fail(w, r, nil, err)
		return
	}
	h.showAgent(w, r, status, agentID, e, nil)
}

// deleteAgent deletes an agent (with its versions) after the browser's confirmation.
func (h *Handler) deleteAgent(w http.ResponseWriter, r *http.Request) {
	if !h.parseForm(w, r) {
		return
	}
	if !signedIn(r) {
		toLogin(w, r)
		return
	}
	wsID, agentID := r.PathValue("workspaceId"), r.PathValue("agentId")
	if err := h.d.Agents.DeleteAgent(r.Context(), wsID, agentID, versionHeader(r)); err != nil {
		h.agentError(w, r, agentID, err)
		return
	}
	redirect(w, r, "/w/"+url.PathEscape(wsID)+"/agents?notice=agent-deleted")
}

// versionsPage is what the agent-versions template gets.
type versionsPage struct {
	Workspace  workspace.Membership
	Agent      agent.Agent
	Versions   []versionRow
	NextCursor string
	Paged      bool
	CanEdit    bool
	Problem    string
}

// versionRow is one version with its author named.
type versionRow struct {
	agent.Version
	AuthorName string
	Current    bool
}

// agentVersions lists an agent's versions, newest first, with Restore (owner, admin).
func (h *Handler) agentVersions(w http.ResponseWriter, r *http.Request) {
	h.showVersions(w, r, http.StatusOK, "")
}

func (h *Handler) showVersions(w http.ResponseWriter, r *http.Request, status int, problem string) {
	v, m, ok := h.workspaceView(w, r, "agents")
	if !ok {
		return
	}
	ctx := r.Context()
	a, err := h.d.Agents.GetAgent(ctx, m.ID, r.PathValue("agentId"))
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	cursor := ""
	if r.Method == http.MethodGet {
		cursor = r.URL.Query().Get("cursor")
	}
	list, err := h.d.Agents.ListVersions(ctx, m.ID, a.ID, cursor, versionsPerPage)
	if err != nil {
		if cursor != "" && errors.Is(err, apierr.Invalid) {
			redirect(w, r, "/w/"+url.PathEscape(m.ID)+"/agents/"+url.PathEscape(a.ID)+"/versions")
			return
		}
		h.fail(w, r, v, err)
		return
	}
	people := h.people(ctx, m.ID)
	p := versionsPage{Workspace: m, Agent: a, NextCursor: list.NextCursor, Paged: cursor != "", CanEdit: can(m.Role, authz.AgentsWrite), Problem: problem}
	for _, ver := range list.Data {
		name := people.name(ver.Author)
		if strings.HasPrefix(ver.Author, "key_") {
			name = "API key " + ver.Author
		}
		p.Versions = append(p.Versions, versionRow{Version: ver, AuthorName: name, Current: ver.Number == a.Version})
	}
	v.Page = p
	h.render(w, r, status, "agent-versions", v)
}

// restoreVersion makes an old version current (as a new version) and goes back to the editor.
func (h *Handler) restoreVersion(w http.ResponseWriter, r *http.Request) {
	if !h.parseForm(w, r) {
		return
	}
	if !signedIn(r) {
		toLogin(w, r)
		return
	}
	wsID, agentID := r.PathValue("workspaceId"), r.PathValue("agentId")
	n, err := strconv.Atoi(r.PathValue("number"))
	if err != nil || n < 1 {
		h.fail(w, r, nil, apierr.NotFoundf("agent version"))
		return
	}
	if _, err := h.d.Agents.RestoreVersion(r.Context(), wsID, agentID, n, versionHeader(r)); err != nil {
		e, status, ok := actionError(err)
		if !ok || errors.Is(err, apierr.NotFound) || errors.Is(err, apierr.Forbidden) {
			h.fail(w, r, nil, err)
			return
		}
		msg := sentence(e.Detail)
		if errors.Is(err, apierr.PreconditionFailed) {
			msg = "Someone else changed this agent meanwhile; the list below is up to date. Check it and restore again."
		} else if len(e.Fields) > 0 {
			for _, fe := range e.Fields {
				msg += " " + sentence(fe.Message)
			}
		}
		h.showVersions(w, r, status, msg)
		return
	}
	redirect(w, r, "/w/"+url.PathEscape(wsID)+"/agents/"+url.PathEscape(agentID)+"?notice=agent-restored")
}
