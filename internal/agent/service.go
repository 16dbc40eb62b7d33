package agent

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/audit"
	"github.com/parleyhq/parley/internal/platform/authz"
	"github.com/parleyhq/parley/internal/platform/db"
	"github.com/parleyhq/parley/internal/platform/events"
	"github.com/parleyhq/parley/internal/platform/id"
	"github.com/parleyhq/parley/internal/platform/page"
	"github.com/parleyhq/parley/internal/platform/secret"
)

// Service is the settings-and-agents service.
type Service struct {
	db      *db.DB
	st      store
	cat     *Catalog
	secrets *secret.Keyring
	now     func() time.Time
}

// Option configures a Service.
type Option func(*Service)

// WithSecrets gives the service the keyring that seals and opens provider keys. Without one,
// adding or reading a provider key fails (listing and deleting still work).
func WithSecrets(k *secret.Keyring) Option { return func(s *Service) { s.secrets = k } }

// NewService builds the service; now is the clock (time.Now in production).
func NewService(d *db.DB, now func() time.Time, opts ...Option) *Service {
	if now == nil {
		now = time.Now
	}
	cat, err := LoadCatalog()
	if err != nil {
		panic(err) // the embedded file is broken: TestCatalog fails first
	}
	s := &Service{db: d, cat: cat, now: func() time.Time { return now().UTC().Truncate(time.Millisecond) }}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Catalog returns the provider catalog (any signed-in user or API key).
func (s *Service) Catalog(ctx context.Context) (*Catalog, error) {
	if _, ok := authz.FromContext(ctx); !ok {
		return nil, authz.ErrUnauthenticated
	}
	return s.cat, nil
}

// ETag is the entity tag of a version.
func ETag(version int) string { return `"` + strconv.Itoa(version) + `"` }

// checkIfMatch compares an If-Match header (empty: no condition) with the current version, by
// strong comparison. Errors: PreconditionFailed version_mismatch.
func checkIfMatch(ifMatch, what string, version int) error {
	if ifMatch == "" {
		return nil
	}
	for t := range strings.SplitSeq(ifMatch, ",") {
		if t = strings.TrimSpace(t); t == "*" || t == ETag(version) {
			return nil
		}
	}
	return apierr.Newf(apierr.PreconditionFailed, "version_mismatch",
		"the %s is at version %d (ETag %s), not the one in If-Match: reload it and apply your change again", what, version, ETag(version))
}

// ---- Workspace settings.

func (s *Service) settingsView(row settingsRow, tz string) (SettingsView, error) {
	platform := platformTree()
	resolved := mergePatch(platform, row.overrides).(map[string]any)
	resolved["timezone"] = tz
	v := SettingsView{Version: row.version, PlatformDefaults: []string{}}
	if err := decodeTree(resolved, &v.Settings, "settings"); err != nil {
		return SettingsView{}, err
	}
	for path := range flatten("", platform, nil) {
		if _, ok := lookup(row.overrides, path); !ok {
			v.PlatformDefaults = append(v.PlatformDefaults, path)
		}
	}
	slices.Sort(v.PlatformDefaults)
	if !row.updatedAt.IsZero() {
		v.UpdatedAt = &row.updatedAt
	}
	return v, nil
}

// GetSettings returns the workspace's settings, platform defaults filled in (every role;
// API keys with agents:read). Errors: NotFound, Forbidden.
func (s *Service) GetSettings(ctx context.Context, wsID string) (SettingsView, error) {
	if _, err := authz.Require(ctx, wsID, authz.SettingsRead); err != nil {
		return SettingsView{}, err
	}
	tz, ok, err := s.st.timezone(ctx, s.db.Read, wsID)
	if err != nil {
		return SettingsView{}, err
	}
	if !ok {
		return SettingsView{}, apierr.NotFoundf("workspace")
	}
	row, err := s.st.settings(ctx, s.db.Read, wsID)
	if err != nil {
		return SettingsView{}, err
	}
	return s.settingsView(row, tz)
}

// UpdateSettings applies a JSON merge patch (RFC 7396) to the workspace's settings: a value
// sets, null returns the setting to the platform default (owner, admin). ifMatch, when not
// empty, must name the current version. The result is validated as a whole, including every
// agent that inherits a changed provider; nothing is saved unless all of it is valid.
// Errors: NotFound, Forbidden, Invalid, Conflict agents_incompatible, PreconditionFailed.
func (s *Service) UpdateSettings(ctx context.Context, wsID string, patch map[string]any, ifMatch string) (SettingsView, error) {
	p, err := authz.Require(ctx, wsID, authz.SettingsWrite)
	if err != nil {
		return SettingsView{}, err
	}
	now := s.now()
	var view SettingsView
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		tz, ok, err := s.st.timezone(ctx, tx, wsID)
		if err != nil {
			return err
		}
		if !ok {
			return apierr.NotFoundf("workspace")
		}
		row, err := s.st.settings(ctx, tx, wsID)
		if err != nil {
			return err
		}
		if err := checkIfMatch(ifMatch, "settings", row.version); err != nil {
			return err
		}
		patch = maps.Clone(patch)
		newTZ, setTZ := patch["timezone"]
		delete(patch, "timezone")
		if setTZ && newTZ == nil {
			return apierr.Validation(apierr.Field("timezone", "the workspace always has a time zone: set another one instead of null"))
		}
		overrides := prune(mergePatch(row.overrides, patch).(map[string]any))
		check := maps.Clone(overrides)
		if setTZ {
			check["timezone"] = newTZ
		}
		var set Settings
		if err := decodeTree(check, &set, "body"); err != nil {
			return err
		}
		if err := validateSettings(set); err != nil {
			return err
		}
		var resolved Settings
		if err := decodeTree(mergePatch(platformTree(), overrides).(map[string]any), &resolved, "body"); err != nil {
			return err
		}
		if err := checkResolvedSettings(resolved, s.cat); err != nil {
			return err
		}
		changes := changedPaths(row.overrides, overrides)
		if len(changes) > 0 {
			if err := s.checkAgentsWith(ctx, tx, wsID, overrides); err != nil {
				return err
			}
		}
		if setTZ && deref(set.Timezone) != tz {
			tz = deref(set.Timezone)
			changes = append(changes, "timezone")
			if err := s.st.setTimezone(ctx, tx, wsID, tz, now); err != nil {
				return err
			}
		}
		if len(changes) == 0 {
			view, err = s.settingsView(row, tz)
			return err
		}
		next := settingsRow{overrides: overrides, version: row.version + 1, updatedAt: now}
		ok, err = s.st.saveSettings(ctx, tx, wsID, p.ActorID(), next)
		if err != nil {
			return err
		}
		if !ok {
			return apierr.New(apierr.PreconditionFailed, "version_mismatch", "the settings changed meanwhile: reload them and apply your change again")
		}
		if view, err = s.settingsView(next, tz); err != nil {
			return err
		}
		audited := make([]string, len(changes))
		for i, c := range changes {
			audited[i] = "settings." + c
		}
		if err := audit.Record(ctx, tx, now, audit.Entry{WorkspaceID: wsID, Action: "workspace.settings_updated", ResourceType: "workspace", ResourceID: wsID, Changes: audited}); err != nil {
			return err
		}
		_, err = events.Publish(ctx, tx, events.Event{WorkspaceID: wsID, Type: "workspace.updated", Data: map[string]any{"settings": view, "changes": audited}, CreatedAt: now})
		return err
	})
	if err != nil {
		return SettingsView{}, err
	}
	return view, nil
}

// checkAgentsWith checks that every agent of the workspace stays valid with the workspace
// overrides ws (an agent that overrides a model but inherits the provider must not be left with
// a model its provider does not offer). Errors: Conflict agents_incompatible.
func (s *Service) checkAgentsWith(ctx context.Context, q db.Querier, wsID string, ws map[string]any) error {
	agents, err := s.st.listAgents(ctx, q, wsID, "", "", 0)
	if err != nil {
		return err
	}
	var fields []apierr.FieldError
	for _, a := range agents {
		for _, f := range checkAgent(s.cat, ws, a.doc) {
			f.Location = strings.Replace(f.Location, "body.", "agents."+a.ID+".", 1)
			fields = append(fields, f)
		}
	}
	if len(fields) == 0 {
		return nil
	}
	return &apierr.Error{Category: apierr.Conflict, Code: "agents_incompatible", Fields: fields,
		Detail: "the change would leave agents with settings their provider does not support; change those agents first (see errors)"}
}

// ---- Agents.

// checkDoc decodes and validates an agent's own settings.
func checkDoc(doc map[string]any) (Document, error) {
	var d Document
	if err := decodeTree(doc, &d, "body"); err != nil {
		return Document{}, err
	}
	if err := validateDocument(d); err != nil {
		return Document{}, err
	}
	if d.Name == nil {
		return Document{}, apierr.Validation(apierr.Field("name", "name is required"))
	}
	return d, nil
}

func view(r agentRow) Agent {
	a := r.Agent
	a.Warnings = warnings(a.Document)
	return a
}

// CreateAgent makes an agent from body, its own settings (absent or null: inherit) (owner,
// admin; API keys with agents:write). It is version 1. Errors: NotFound, Forbidden, Invalid.
func (s *Service) CreateAgent(ctx context.Context, wsID string, body map[string]any) (Agent, error) {
	p, err := authz.Require(ctx, wsID, authz.AgentsWrite)
	if err != nil {
		return Agent{}, err
	}
	doc := prune(mergePatch(map[string]any{}, body).(map[string]any))
	d, err := checkDoc(doc)
	if err != nil {
		return Agent{}, err
	}
	now := s.now()
	r := agentRow{Agent: Agent{ID: id.New(id.Agent), WorkspaceID: wsID, Document: d, Version: 1, CreatedBy: p.ActorID(), CreatedAt: now, UpdatedAt: now}, doc: doc}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		return s.insert(ctx, tx, p, r, "agent.created")
	})
	if err != nil {
		return Agent{}, err
	}
	return view(r), nil
}

// insert stores a new agent (version 1) with its checks, audit entry and event.
func (s *Service) insert(ctx context.Context, tx *sql.Tx, p *authz.Principal, r agentRow, action string) error {
	ws, err := s.st.settings(ctx, tx, r.WorkspaceID)
	if err != nil {
		return err
	}
	if errs := checkAgent(s.cat, ws.overrides, r.doc); len(errs) > 0 {
		return apierr.Validation(errs...)
	}
	if err := s.st.insertAgent(ctx, tx, r); err != nil {
		return err
	}
	changes := changedPaths(map[string]any{}, r.doc)
	if err := s.st.insertVersion(ctx, tx, r.WorkspaceID, Version{AgentID: r.ID, Number: 1, Author: p.ActorID(), CreatedAt: r.CreatedAt, Changes: changes}, r.doc); err != nil {
		return err
	}
	audited := changes
	if c := r.CopiedFrom; c != nil {
		audited = append(slices.Clone(changes), "copiedFrom.workspaceId="+c.WorkspaceID, "copiedFrom.agentId="+c.AgentID, "copiedFrom.version="+strconv.Itoa(c.Version))
	}
	if err := audit.Record(ctx, tx, r.CreatedAt, audit.Entry{WorkspaceID: r.WorkspaceID, Action: action, ResourceType: "agent", ResourceID: r.ID, Changes: audited}); err != nil {
		return err
	}
	_, err = events.Publish(ctx, tx, events.Event{WorkspaceID: r.WorkspaceID, Type: "agent.created", Data: view(r), CreatedAt: r.CreatedAt})
	return err
}

// ListAgents returns the workspace's agents, newest first, optionally of one status (every
// role; API keys with agents:read). Errors: NotFound, Forbidden, Invalid (cursor, status).
func (s *Service) ListAgents(ctx context.Context, wsID, status, cursor string, limit int) (page.Page[Agent], error) {
	if _, err := authz.Require(ctx, wsID, authz.AgentsRead); err != nil {
		return page.Page[Agent]{}, err
	}
	if status != "" && !slices.Contains([]string{"active", "paused", "archived"}, status) {
		return page.Page[Agent]{}, apierr.Validation(apierr.FieldError{Location: "query.status", Message: "must be active, paused or archived", Value: status})
	}
	limit = page.Limit(limit)
	before, err := page.Decode(cursor)
	if err != nil {
		return page.Page[Agent]{}, err
	}
	rows, err := s.st.listAgents(ctx, s.db.Read, wsID, status, before, limit+1)
	if err != nil {
		return page.Page[Agent]{}, err
	}
	out := make([]Agent, len(rows))
	for i, r := range rows {
		out[i] = view(r)
	}
	return page.Of(out, limit, func(a Agent) string { return a.ID }), nil
}

func (s *Service) get(ctx context.Context, q db.Querier, wsID, agentID string) (agentRow, error) {
	r, err := s.st.getAgent(ctx, q, wsID, agentID)
	if errors.Is(err, sql.ErrNoRows) {
		return agentRow{}, apierr.NotFoundf("agent")
	}
	return r, err
}

// GetAgent returns one of the workspace's agents (every role; agents:read). Errors: NotFound
// (also for another workspace's agent), Forbidden.
func (s *Service) GetAgent(ctx context.Context, wsID, agentID string) (Agent, error) {
	if _, err := authz.Require(ctx, wsID, authz.AgentsRead); err != nil {
		return Agent{}, err
	}
	r, err := s.get(ctx, s.db.Read, wsID, agentID)
	if err != nil {
		return Agent{}, err
	}
	return view(r), nil
}

// UpdateAgent applies a JSON merge patch to the agent's own settings (null: inherit again)
// and stores the result as a new version if anything changed (owner, admin; agents:write).
// ifMatch, when not empty, must name the current version. Errors: NotFound, Forbidden,
// Invalid, PreconditionFailed.
func (s *Service) UpdateAgent(ctx context.Context, wsID, agentID string, patch map[string]any, ifMatch string) (Agent, error) {
	p, err := authz.Require(ctx, wsID, authz.AgentsWrite)
	if err != nil {
		return Agent{}, err
	}
	var out agentRow
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		r, err := s.get(ctx, tx, wsID, agentID)
		if err != nil {
			return err
		}
		if err := checkIfMatch(ifMatch, "agent", r.Version); err != nil {
			return err
		}
		out, err = s.save(ctx, tx, p, r, prune(mergePatch(r.doc, patch).(map[string]any)), nil)
		return err
	})
	if err != nil {
		return Agent{}, err
	}
	return view(out), nil
}

// save replaces the agent's own settings with doc as a new version (unless nothing changes).
func (s *Service) save(ctx context.Context, tx *sql.Tx, p *authz.Principal, r agentRow, doc map[string]any, restoredFrom *int) (agentRow, error) {
	d, err := checkDoc(doc)
	if err != nil {
		return agentRow{}, err
	}
	changes := changedPaths(r.doc, doc)
	if len(changes) == 0 {
		return r, nil
	}
	ws, err := s.st.settings(ctx, tx, r.WorkspaceID)
	if err != nil {
		return agentRow{}, err
	}
	if errs := checkAgent(s.cat, ws.overrides, doc); len(errs) > 0 {
		return agentRow{}, apierr.Validation(errs...)
	}
	now := s.now()
	r.doc, r.Document, r.Version, r.UpdatedAt = doc, d, r.Version+1, now
	ok, err := s.st.updateAgent(ctx, tx, r)
	if err != nil {
		return agentRow{}, err
	}
	if !ok {
		return agentRow{}, apierr.New(apierr.PreconditionFailed, "version_mismatch", "the agent changed meanwhile: reload it and apply your change again")
	}
	v := Version{AgentID: r.ID, Number: r.Version, Author: p.ActorID(), CreatedAt: now, Changes: changes, RestoredFrom: restoredFrom}
	if err := s.st.insertVersion(ctx, tx, r.WorkspaceID, v, doc); err != nil {
		return agentRow{}, err
	}
	action := "agent.updated"
	if restoredFrom != nil {
		action = "agent.restored"
	}
	if err := audit.Record(ctx, tx, now, audit.Entry{WorkspaceID: r.WorkspaceID, Action: action, ResourceType: "agent", ResourceID: r.ID, Changes: changes}); err != nil {
		return agentRow{}, err
	}
	_, err = events.Publish(ctx, tx, events.Event{WorkspaceID: r.WorkspaceID, Type: "agent.updated", Data: map[string]any{"agent": view(r), "changes": changes}, CreatedAt: now})
	return r, err
}

// DeleteAgent removes the agent and its versions (owner, admin; agents:write). ifMatch, when
// not empty, must name the current version. Errors: NotFound, Forbidden, PreconditionFailed.
func (s *Service) DeleteAgent(ctx context.Context, wsID, agentID, ifMatch string) error {
	if _, err := authz.Require(ctx, wsID, authz.AgentsWrite); err != nil {
		return err
	}
	now := s.now()
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		r, err := s.get(ctx, tx, wsID, agentID)
		if err != nil {
			return err
		}
		if err := checkIfMatch(ifMatch, "agent", r.Version); err != nil {
			return err
		}
		if _, err := s.st.deleteAgent(ctx, tx, wsID, agentID); err != nil {
			return err
		}
		if err := audit.Record(ctx, tx, now, audit.Entry{WorkspaceID: wsID, Action: "agent.deleted", ResourceType: "agent", ResourceID: agentID}); err != nil {
			return err
		}
		_, err = events.Publish(ctx, tx, events.Event{WorkspaceID: wsID, Type: "agent.deleted", Data: map[string]any{"id": agentID, "name": deref(r.Name), "version": r.Version}, CreatedAt: now})
		return err
	})
}

// Effective returns every setting of the agent with its value and source: the agent's own,
// else the workspace's, else the platform's (every role; agents:read). Errors: NotFound,
// Forbidden.
func (s *Service) Effective(ctx context.Context, wsID, agentID string) (Effective, error) {
	if _, err := authz.Require(ctx, wsID, authz.AgentsRead); err != nil {
		return Effective{}, err
	}
	r, err := s.get(ctx, s.db.Read, wsID, agentID)
	if err != nil {
		return Effective{}, err
	}
	ws, err := s.st.settings(ctx, s.db.Read, wsID)
	if err != nil {
		return Effective{}, err
	}
	keys, err := s.st.listProviderKeys(ctx, s.db.Read, wsID)
	if err != nil {
		return Effective{}, err
	}
	settings := resolve(ws.overrides, r.doc)
	cfg := config(settings)
	return Effective{AgentID: r.ID, Version: r.Version, Settings: settings, Config: cfg, Keys: keyUses(s.cat, cfg, keys)}, nil
}

// ---- Versions.

// ListVersions returns the agent's versions, newest first (every role; agents:read). The
// cursor is the number of the last version of the previous page. Errors: NotFound, Forbidden,
// Invalid (cursor).
func (s *Service) ListVersions(ctx context.Context, wsID, agentID, cursor string, limit int) (page.Page[Version], error) {
	if _, err := authz.Require(ctx, wsID, authz.AgentsRead); err != nil {
		return page.Page[Version]{}, err
	}
	limit = page.Limit(limit)
	c, err := page.Decode(cursor)
	if err != nil {
		return page.Page[Version]{}, err
	}
	before := 0
	if c != "" {
		if before, err = strconv.Atoi(c); err != nil || before < 1 {
			return page.Page[Version]{}, apierr.Validation(apierr.FieldError{Location: "query.cursor", Message: "not a valid cursor", Value: cursor})
		}
	}
	if _, err := s.get(ctx, s.db.Read, wsID, agentID); err != nil {
		return page.Page[Version]{}, err
	}
	rows, err := s.st.listVersions(ctx, s.db.Read, wsID, agentID, before, limit+1)
	if err != nil {
		return page.Page[Version]{}, err
	}
	return page.Of(rows, limit, func(v Version) string { return strconv.Itoa(v.Number) }), nil
}

// GetVersion returns one version of the agent (every role; agents:read). Errors: NotFound,
// Forbidden.
func (s *Service) GetVersion(ctx context.Context, wsID, agentID string, n int) (Version, error) {
	if _, err := authz.Require(ctx, wsID, authz.AgentsRead); err != nil {
		return Version{}, err
	}
	v, _, err := s.st.getVersion(ctx, s.db.Read, wsID, agentID, n)
	if errors.Is(err, sql.ErrNoRows) {
		return Version{}, apierr.NotFoundf("agent version")
	}
	return v, err
}

// RestoreVersion makes version n's settings the agent's current ones, as a new version that
// records which one it restored (owner, admin; agents:write). Restoring what is already current
// changes nothing. Errors: NotFound, Forbidden, Invalid (the old settings no longer fit the
// workspace), PreconditionFailed.
func (s *Service) RestoreVersion(ctx context.Context, wsID, agentID string, n int, ifMatch string) (Agent, error) {
	p, err := authz.Require(ctx, wsID, authz.AgentsWrite)
	if err != nil {
		return Agent{}, err
	}
	var out agentRow
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		r, err := s.get(ctx, tx, wsID, agentID)
		if err != nil {
			return err
		}
		if err := checkIfMatch(ifMatch, "agent", r.Version); err != nil {
			return err
		}
		_, doc, err := s.st.getVersion(ctx, tx, wsID, agentID, n)
		if errors.Is(err, sql.ErrNoRows) {
			return apierr.NotFoundf("agent version")
		}
		if err != nil {
			return err
		}
		out, err = s.save(ctx, tx, p, r, doc, &n)
		return err
	})
	if err != nil {
		return Agent{}, err
	}
	return view(out), nil
}

// ---- Promotion.

// CopyAgent copies the agent to the target workspace (promotion, e.g. development to
// production): a new agent, version 1, with the same own settings and copiedFrom naming the
// source and its version. The caller must be able to write agents in both workspaces (owner,
// admin; an API key belongs to one workspace, so it can copy only within it). A target the caller
// cannot write agents in — not a member, only a member, no such workspace — is the same 422 on
// body.targetWorkspaceId, which never says whether the workspace exists. The copy is validated
// against the target's settings (422 naming the field). Nothing else comes along: provider keys,
// phone numbers and credentials belong to their workspace. Errors: NotFound (the source), Forbidden,
// Invalid.
func (s *Service) CopyAgent(ctx context.Context, wsID, agentID, targetWS string) (Agent, error) {
	p, err := authz.Require(ctx, wsID, authz.AgentsWrite)
	if err != nil {
		return Agent{}, err
	}
	noTarget := apierr.Validation(apierr.FieldError{Location: "body.targetWorkspaceId", Message: "you cannot write agents in that workspace", Value: targetWS})
	if _, err := authz.Require(ctx, targetWS, authz.AgentsWrite); err != nil {
		if errors.Is(err, apierr.NotFound) || errors.Is(err, apierr.Forbidden) {
			return Agent{}, noTarget
		}
		return Agent{}, err
	}
	now := s.now()
	var out agentRow
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		src, err := s.get(ctx, tx, wsID, agentID)
		if err != nil {
			return err
		}
		if _, ok, err := s.st.timezone(ctx, tx, targetWS); err != nil {
			return err
		} else if !ok {
			return noTarget // only the system principal gets here
		}
		d, err := checkDoc(src.doc)
		if err != nil {
			return err
		}
		out = agentRow{Agent: Agent{ID: id.New(id.Agent), WorkspaceID: targetWS, Document: d, Version: 1, CreatedBy: p.ActorID(), CreatedAt: now, UpdatedAt: now,
			CopiedFrom: &CopiedFrom{WorkspaceID: wsID, AgentID: agentID, Version: src.Version}}, doc: src.doc}
		if err := s.insert(ctx, tx, p, out, "agent.created"); err != nil {
			return err
		}
		if err := audit.Record(ctx, tx, now, audit.Entry{WorkspaceID: wsID, Action: "agent.copied_out", ResourceType: "agent", ResourceID: agentID,
			Changes: []string{"copiedTo.workspaceId=" + targetWS, "copiedTo.agentId=" + out.ID, "version=" + strconv.Itoa(src.Version)}}); err != nil {
			return err
		}
		_, err = events.Publish(ctx, tx, events.Event{WorkspaceID: wsID, Type: "agent.copied_out", CreatedAt: now,
			Data: map[string]any{"agentId": agentID, "version": src.Version, "targetWorkspaceId": targetWS, "copyId": out.ID}})
		return err
	})
	if err != nil {
		return Agent{}, err
	}
	return view(out), nil
}

// ---- Provider keys.

var errNoKeyring = errors.New("agent: no keyring to seal provider keys (NewService without WithSecrets)")

func (s *Service) providerKeyView(r providerKeyRow) ProviderKey {
	k := r.ProviderKey
	k.Kinds = s.cat.kindsOf(k.Provider)
	if k.Kinds == nil {
		k.Kinds = []string{}
	}
	return k
}

// CreateProviderKey stores the workspace's key for a provider of the catalog, encrypted (owner,
// admin; no API key). The answer never holds the key: only lastFour. One key per provider: a
// second is 409 provider_key_exists. Errors: NotFound, Forbidden, Invalid, Conflict.
func (s *Service) CreateProviderKey(ctx context.Context, wsID string, in NewProviderKey) (ProviderKey, error) {
	p, err := authz.Require(ctx, wsID, authz.ProviderKeysManage)
	if err != nil {
		return ProviderKey{}, err
	}
	if err := checkProviderKey(s.cat, in); err != nil {
		return ProviderKey{}, err
	}
	if s.secrets == nil {
		return ProviderKey{}, errNoKeyring
	}
	r := providerKeyRow{ProviderKey: ProviderKey{ID: id.New(id.ProviderKey), WorkspaceID: wsID, Provider: in.Provider,
		LastFour: secret.Last4(in.APIKey), CreatedBy: p.ActorID(), CreatedAt: s.now()}}
	if in.BaseURL != "" {
		r.BaseURL = &in.BaseURL
	}
	if r.sealed, err = s.secrets.Seal([]byte(in.APIKey), r.aad()); err != nil {
		return ProviderKey{}, fmt.Errorf("seal provider key: %w", err)
	}
	view := s.providerKeyView(r)
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, ok, err := s.st.timezone(ctx, tx, wsID); err != nil {
			return err
		} else if !ok {
			return apierr.NotFoundf("workspace")
		}
		ok, err := s.st.insertProviderKey(ctx, tx, r)
		if err != nil {
			return err
		}
		if !ok {
			return apiErrProviderKeyExists(in.Provider)
		}
		changes := []string{"provider", "apiKey"}
		if r.BaseURL != nil {
			changes = append(changes, "baseUrl")
		}
		if err := audit.Record(ctx, tx, r.CreatedAt, audit.Entry{WorkspaceID: wsID, Action: "provider_key.created", ResourceType: "provider_key", ResourceID: r.ID, Changes: changes}); err != nil {
			return err
		}
		_, err = events.Publish(ctx, tx, events.Event{WorkspaceID: wsID, Type: "provider_key.created", Data: view, CreatedAt: r.CreatedAt})
		return err
	})
	if err != nil {
		return ProviderKey{}, err
	}
	return view, nil
}

// ListProviderKeys returns the workspace's provider keys, newest first, never the keys
// themselves (owner, admin; no API key). Errors: NotFound, Forbidden.
func (s *Service) ListProviderKeys(ctx context.Context, wsID string) ([]ProviderKey, error) {
	if _, err := authz.Require(ctx, wsID, authz.ProviderKeysManage); err != nil {
		return nil, err
	}
	rows, err := s.st.listProviderKeys(ctx, s.db.Read, wsID)
	if err != nil {
		return nil, err
	}
	out := make([]ProviderKey, len(rows))
	for i, r := range rows {
		out[i] = s.providerKeyView(r)
	}
	return out, nil
}

// GetProviderKey returns one of the workspace's provider keys, never the key itself (owner,
// admin; no API key). Errors: NotFound (also another workspace's), Forbidden.
func (s *Service) GetProviderKey(ctx context.Context, wsID, keyID string) (ProviderKey, error) {
	if _, err := authz.Require(ctx, wsID, authz.ProviderKeysManage); err != nil {
		return ProviderKey{}, err
	}
	r, err := s.st.getProviderKey(ctx, s.db.Read, wsID, keyID)
	if errors.Is(err, sql.ErrNoRows) {
		return ProviderKey{}, apierr.NotFoundf("provider key")
	}
	if err != nil {
		return ProviderKey{}, err
	}
	return s.providerKeyView(r), nil
}

// DeleteProviderKey removes the workspace's provider key; calls then use the platform's key for
// that provider (owner, admin; no API key). Errors: NotFound (also another workspace's), Forbidden.
func (s *Service) DeleteProviderKey(ctx context.Context, wsID, keyID string) error {
	if _, err := authz.Require(ctx, wsID, authz.ProviderKeysManage); err != nil {
		return err
	}
	now := s.now()
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		r, err := s.st.getProviderKey(ctx, tx, wsID, keyID)
		if errors.Is(err, sql.ErrNoRows) {
			return apierr.NotFoundf("provider key")
		}
		if err != nil {
			return err
		}
		if _, err := s.st.deleteProviderKey(ctx, tx, wsID, keyID); err != nil {
			return err
		}
		if err := audit.Record(ctx, tx, now, audit.Entry{WorkspaceID: wsID, Action: "provider_key.deleted", ResourceType: "provider_key", ResourceID: keyID, Changes: []string{"provider", "apiKey"}}); err != nil {
			return err
		}
		_, err = events.Publish(ctx, tx, events.Event{WorkspaceID: wsID, Type: "provider_key.deleted", Data: map[string]any{"id": keyID, "provider": r.Provider}, CreatedAt: now})
		return err
	})
}

// ProviderKey returns the workspace's key for a provider, decrypted, for a call to use; ok is
// false when the workspace has none (use the platform's key). It is for the call runtime, which
// acts as whoever places the call (agents.use: every role, API keys with calls:write) or as the
// system principal: never put its answer in a response, an event or a log. Errors: NotFound,
// Forbidden; an error wrapping secret.ErrDecrypt when the stored value does not open (another
// master key, or a value moved from another row or workspace).
func (s *Service) ProviderKey(ctx context.Context, wsID, provider string) (apiKey, baseURL string, ok bool, err error) {
	if _, err := authz.Require(ctx, wsID, authz.AgentsUse); err != nil {
		return "", "", false, err
	}
	r, err := s.st.providerKeyFor(ctx, s.db.Read, wsID, provider)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", false, nil
	}
	if err != nil {
		return "", "", false, err
	}
	if s.secrets == nil {
		return "", "", false, errNoKeyring
	}
	plain, err := s.secrets.Open(r.sealed, r.aad())
	if err != nil {
		return "", "", false, fmt.Errorf("provider key %s of workspace %s: %w", r.ID, wsID, err)
	}
	if r.BaseURL != nil {
		baseURL = *r.BaseURL
	}
	return string(plain), baseURL, true, nil
}

// CheckCallOverrides checks one call's overrides of an agent with the rules of agents: the
// overrides are a document of an agent's fields (not name or status), and the agent's document
// with the overrides laid over it must pass the same checks as an agent (ranges, catalog
// providers, models, voices and languages, resolved through the workspace's settings). Errors
// name fields under body.overrides (agents.use: every role, keys with calls:write).
// Errors: NotFound, Forbidden, Invalid.
func (s *Service) CheckCallOverrides(ctx context.Context, wsID, agentID string, overrides map[string]any) error {
	if _, err := authz.Require(ctx, wsID, authz.AgentsUse); err != nil {
		return err
	}
	if len(overrides) == 0 {
		return nil
	}
	relocate := func(err error) error {
		var e *apierr.Error
		if errors.As(err, &e) {
			for i := range e.Fields {
				e.Fields[i].Location = strings.Replace(e.Fields[i].Location, "body", "body.overrides", 1)
			}
		}
		return err
	}
	var over Document
	if err := decodeTree(overrides, &over, "body"); err != nil {
		return relocate(err)
	}
	if err := validateDocument(over); err != nil {
		return relocate(err)
	}
	if over.Name != nil || over.Status != nil {
		return apierr.Validation(apierr.FieldError{Location: "body.overrides", Message: "a call cannot change the agent's name or status"})
	}
	r, err := s.get(ctx, s.db.Read, wsID, agentID)
	if err != nil {
		return err
	}
	ws, err := s.st.settings(ctx, s.db.Read, wsID)
	if err != nil {
		return err
	}
	merged := prune(mergePatch(mergePatch(map[string]any{}, r.doc), overrides).(map[string]any))
	if errs := checkAgent(s.cat, ws.overrides, merged); len(errs) > 0 {
		return relocate(apierr.Validation(errs...))
	}
	return nil
}
