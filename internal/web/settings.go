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

// settingsGroups are the Settings page's fieldsets: the workspace defaults every agent inherits
// and the workspace's own settings. (The telephony defaults belong to the telephony pages.)
var settingsGroups = []struct {
	legend, id string
	specs      []fieldSpec
}{
	{"Language model", "settings-llm", []fieldSpec{
		{Path: "llm.provider", Label: "LLM provider", Kind: kindProvider, Service: "llm"},
		{Path: "llm.model", Label: "LLM model", Kind: kindModel, Service: "llm"},
		{Path: "llm.temperature", Label: "Temperature", Hint: "0 to 2.", Kind: kindFloat, Min: "0", Max: "2", Step: "0.1", EmptyIsNull: true},
		{Path: "llm.maxTokens", Label: "Maximum tokens", Hint: "Longest reply, 1 to 128000.", Kind: kindInt, Min: "1", Max: "128000", Step: "1", EmptyIsNull: true},
	}},
	{"Speech-to-text", "settings-stt", []fieldSpec{
		{Path: "stt.provider", Label: "STT provider", Kind: kindProvider, Service: "stt"},
		{Path: "stt.model", Label: "STT model", Kind: kindModel, Service: "stt"},
		{Path: "stt.language", Label: "STT language", Kind: kindLanguage, EmptyIsNull: true},
		{Path: "stt.endpointingMs", Label: "End of turn after (ms of silence)", Hint: "1 to 10000.", Kind: kindInt, Min: "1", Max: "10000", Step: "1", EmptyIsNull: true},
	}},
	{"Voice (text-to-speech)", "settings-tts", []fieldSpec{
		{Path: "tts.provider", Label: "TTS provider", Kind: kindProvider, Service: "tts"},
		{Path: "tts.voice", Label: "Voice", Hint: "One of the provider's voices, or a voice ID where the provider has no fixed list.", Kind: kindVoice, EmptyIsNull: true},
		{Path: "tts.model", Label: "TTS model", Kind: kindModel, Service: "tts"},
		{Path: "tts.speed", Label: "Speed", Hint: "0.5 to 2.", Kind: kindFloat, Min: "0.5", Max: "2", Step: "0.05", EmptyIsNull: true},
	}},
	{"Workspace", "settings-workspace", []fieldSpec{
		{Path: "language", Label: "Default language", Hint: "Of agents that set none; a BCP 47 tag, for example en or en-US.", Kind: kindLanguage, EmptyIsNull: true},
		{Path: "timezone", Label: "Time zone", Hint: "An IANA name, for example Europe/Berlin. Calling hours are in this time zone.", Kind: kindText, NoReset: true},
		{Path: "defaultRegion", Label: "Default region", Hint: "ISO 3166-1 alpha-2, for phone numbers written without a country code.", Kind: kindText, EmptyIsNull: true},
	}},
	{"Calls", "settings-calls", []fieldSpec{
		{Path: "calls.maxDurationSeconds", Label: "Maximum call duration (seconds)", Hint: "1 to 14400; agents may override it.", Kind: kindInt, Min: "1", Max: "14400", Step: "1", EmptyIsNull: true},
		{Path: "calls.maxConcurrentCalls", Label: "Maximum concurrent calls", Hint: "1 to 1000.", Kind: kindInt, Min: "1", Max: "1000", Step: "1", EmptyIsNull: true},
		{Path: "calls.recordCalls", Label: "Record calls", Kind: kindBool},
	}},
	{"Calling hours", "settings-hours", []fieldSpec{
		{Path: "callingHours.days", Label: "Days", Kind: kindDays},
		{Path: "callingHours.start", Label: "From", Hint: "HH:MM, 24-hour, in the workspace's time zone.", Kind: kindTime, EmptyIsNull: true},
		{Path: "callingHours.end", Label: "Until", Hint: "HH:MM, 24-hour, after the start.", Kind: kindTime, EmptyIsNull: true},
	}},
	{"Privacy", "settings-privacy", []fieldSpec{
		{Path: "privacy.maskPhoneNumbersForMembers", Label: "Mask phone numbers for members", Hint: "Members (not owners or admins) see phone numbers masked.", Kind: kindBool},
	}},
}

func settingsSpecs() []fieldSpec {
	var out []fieldSpec
	for _, g := range settingsGroups {
		out = append(out, g.specs...)
	}
	return out
}

// settingsPage is what the settings template gets.
type settingsPage struct {
	Workspace workspace.Membership
	Version   int
	CanEdit   bool
	Groups    []fieldGroup
	Lists     catalogLists
	Stale     bool
	// CanManageKeys shows the provider keys (owner, admin), with KeyForm to add one.
	CanManageKeys bool
	Keys          []agent.ProviderKey
	KeyForm       *form
	KeyProviders  []option
}

var providerKeyFields = []string{"provider", "apiKey", "baseUrl"}

// settingsFields builds the Settings page's fields from the workspace's settings.
func settingsFields(s agent.SettingsView) []fieldGroup {
	d := defaultsOf(s)
	platform := treeOf(agent.PlatformSettings())
	var groups []fieldGroup
	for _, g := range settingsGroups {
		fg := fieldGroup{Legend: g.legend, ID: g.id}
		for _, spec := range g.specs {
			fv := &fieldView{fieldSpec: spec, Name: fieldName(spec.Path), Level: "workspace"}
			fv.Value = valueString(d.values[spec.Path])
			fv.Orig = fv.Value
			fv.Set = d.source[spec.Path] == agent.SourceWorkspace && !spec.NoReset
			fv.Default, fv.DefaultSource = valueString(platform[spec.Path]), agent.SourcePlatform
			fg.Fields = append(fg.Fields, fv)
		}
		groups = append(groups, fg)
	}
	return groups
}

// settings shows the workspace's settings: a form for the owner and admins, the values for
// members.
func (h *Handler) settings(w http.ResponseWriter, r *http.Request) {
	h.showSettings(w, r, http.StatusOK, nil, nil, nil)
}

// showSettings renders the Settings page; after a failed save, problem or local is shown on the
// settings form, or keyForm is the provider key form with its problem.
func (h *Handler) showSettings(w http.ResponseWriter, r *http.Request, status int, problem *apierr.Error, local, keyForm *form) {
	v, m, ok := h.workspaceView(w, r, "settings")
	if !ok {
		return
	}
	ctx := r.Context()
	s, err := h.d.Agents.GetSettings(ctx, m.ID)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	cat, err := h.d.Agents.Catalog(ctx)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	p := settingsPage{Workspace: m, Version: s.Version, CanEdit: can(m.Role, authz.SettingsWrite), Groups: settingsFields(s), Lists: newCatalogLists(cat)}
	if p.CanManageKeys = can(m.Role, authz.ProviderKeysManage); p.CanManageKeys {
		if p.Keys, err = h.d.Agents.ListProviderKeys(ctx, m.ID); err != nil {
			h.fail(w, r, v, err)
			return
		}
		p.KeyForm = keyForm
		if p.KeyForm == nil {
			p.KeyForm = newForm(nil, providerKeyFields...)
		}
		seen := map[string]bool{}
		for _, kind := range [][]agent.Provider{cat.LLM, cat.STT, cat.TTS} {
			for _, pr := range kind {
				if !seen[pr.ID] {
					seen[pr.ID] = true
					p.KeyProviders = append(p.KeyProviders, option{pr.ID, pr.Name, pr.ID == p.KeyForm.Get("provider")})
				}
			}
		}
	}
	f := formFor(p.Groups)
	if r.Method == http.MethodPost && keyForm == nil {
		postedFields(r, allFields(p.Groups))
		if n, err := strconv.Atoi(r.PostFormValue("version")); err == nil {
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
	h.render(w, r, status, "settings", v)
}

// saveSettings applies the Settings form: what changed, and null for a reset.
func (h *Handler) saveSettings(w http.ResponseWriter, r *http.Request) {
	if !h.parseForm(w, r) {
		return
	}
	if !signedIn(r) {
		toLogin(w, r)
		return
	}
	ctx := r.Context()
	wsID := r.PathValue("workspaceId")
	local := newForm(nil)
	patch := readPatch(r, settingsSpecs(), local)
	var err error
	if len(local.errs) > 0 {
		if _, err = authz.Require(ctx, wsID, authz.SettingsWrite); err == nil {
			h.showSettings(w, r, http.StatusUnprocessableEntity, nil, local, nil)
			return
		}
	} else {
		ifMatch := ""
		if n, perr := strconv.Atoi(r.PostFormValue("version")); perr == nil {
			ifMatch = agent.ETag(n)
		}
		if _, err = h.d.Agents.UpdateSettings(ctx, wsID, patch, ifMatch); err == nil {
			redirect(w, r, "/w/"+url.PathEscape(wsID)+"/settings?notice=settings-saved")
			return
		}
	}
	e, status, ok := actionError(err)
	if !ok || errors.Is(err, apierr.NotFound) || errors.Is(err, apierr.Forbidden) {
		h.fail(w, r, nil, err)
		return
	}
	if errors.Is(err, apierr.Conflict) {
		e = h.nameAgents(r, wsID, e)
	}
	h.showSettings(w, r, status, e, nil, nil)
}

// nameAgents rewrites the field errors of agents_incompatible ("agents.<id>.llm.model") to name
// the agents, so the page can say which agents to change first. It is best effort.
func (h *Handler) nameAgents(r *http.Request, wsID string, e *apierr.Error) *apierr.Error {
	names := map[string]string{}
	if list, err := h.d.Agents.ListAgents(r.Context(), wsID, "", "", 100); err == nil {
		for _, a := range list.Data {
			if a.Name != nil {
				names[a.ID] = *a.Name
			}
		}
	}
	out := *e
	out.Fields = nil
	for _, fe := range e.Fields {
		if rest, ok := strings.CutPrefix(fe.Location, "agents."); ok {
			id, path, _ := strings.Cut(rest, ".")
			name := names[id]
			if name == "" {
				name = id
			}
			fe.Message = "agent “" + name + "” (" + path + "): " + fe.Message
		}
		out.Fields = append(out.Fields, fe)
	}
	return &out
}

// addProviderKey stores a provider key (owner, admin). The key is never sent back: an error
// shows the form again without it.
func (h *Handler) addProviderKey(w http.ResponseWriter, r *http.Request) {
	if !h.parseForm(w, r) {
		return
	}
	if !signedIn(r) {
		toLogin(w, r)
		return
	}
	wsID := r.PathValue("workspaceId")
	in := agent.NewProviderKey{Provider: strings.TrimSpace(r.PostFormValue("provider")), APIKey: strings.TrimSpace(r.PostFormValue("apiKey")),
		BaseURL: strings.TrimSpace(r.PostFormValue("baseUrl"))}
	_, err := h.d.Agents.CreateProviderKey(r.Context(), wsID, in)
	if err == nil {
		redirect(w, r, "/w/"+url.PathEscape(wsID)+"/settings?notice=provider-key-added#provider-keys")
		return
	}
	e, status, ok := actionError(err)
	if !ok || errors.Is(err, apierr.NotFound) || errors.Is(err, apierr.Forbidden) {
		h.fail(w, r, nil, err)
		return
	}
	f := newForm(r, providerKeyFields...)
	f.Set("apiKey", "") // write-only
	f.setError(e)
	h.showSettings(w, r, status, nil, nil, f)
}

// deleteProviderKey removes a provider key (owner, admin).
func (h *Handler) deleteProviderKey(w http.ResponseWriter, r *http.Request) {
	if !h.parseForm(w, r) {
		return
	}
	if !signedIn(r) {
		toLogin(w, r)
		return
	}
	wsID := r.PathValue("workspaceId")
	if err := h.d.Agents.DeleteProviderKey(r.Context(), wsID, r.PathValue("keyId")); err != nil {
		h.fail(w, r, nil, err)
		return
	}
	redirect(w, r, "/w/"+url.PathEscape(wsID)+"/settings?notice=provider-key-deleted#provider-keys")
}
