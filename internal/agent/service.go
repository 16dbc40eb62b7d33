package agent

import (
	"context"
	"database/sql"
	"errors"
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
)

// Service is the settings-and-agents service.
type Service struct {
	db  *db.DB
	st  store
	cat *Catalog
	now func() time.Time
}

// NewService builds the service; now is the clock (time.Now in production).
func NewService(d *db.DB, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	cat, err := LoadCatalog()
	if err != nil {
		panic(err) // the embedded file is broken: TestCatalog fails first
	}
	return &Service{db: d, cat: cat, now: func() time.Time { return now().UTC().Truncate(time.Millisecond) }}
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
	if err := audit.Record(ctx, tx, r.CreatedAt, audit.Entry{WorkspaceID: r.WorkspaceID, Action: action, ResourceType: "agent", ResourceID: r.ID, Changes: changes}); err != nil {
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
	settings := resolve(ws.overrides, r.doc)
	return Effective{AgentID: r.ID, Version: r.Version, Settings: settings, Config: config(settings)}, nil
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
