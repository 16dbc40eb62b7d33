package workspace

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
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

// Service is the workspaces service.
type Service struct {
	db  *db.DB
	st  store
	now func() time.Time
	// baseURL is the public URL that emailed invitation links start with.
	baseURL string
	// invites limits how many invitation emails each workspace sends (per replica).
	invites *sendLimiter
	// onCreate runs in the transaction that creates a workspace (see WithCreateHook).
	onCreate []CreateHook
}

// CreateHook runs inside the transaction that creates a workspace, after the workspace, its
// owner, its audit entry and its workspace.created event are written: what it writes commits or rolls back with the workspace. It must use only
// tx and, like every DB.Tx function, be safe to run again (the transaction may be retried).
type CreateHook func(ctx context.Context, tx *sql.Tx, wsID string, now time.Time) error

// WithCreateHook adds a hook that runs when a workspace is created (billing's welcome credits).
func WithCreateHook(h CreateHook) Option {
	return func(s *Service) { s.onCreate = append(s.onCreate, h) }
}

// Option configures the service.
type Option func(*Service)

// WithBaseURL sets the public URL of the server, which invitation links start with
// ({baseURL}/invitations/{token}).
func WithBaseURL(u string) Option {
	return func(s *Service) { s.baseURL = strings.TrimRight(u, "/") }
}

// WithInvitationLimit lets each workspace send n invitation emails (invitations and resends) per
// period, as a token bucket kept in this process's memory. The default is 20 per hour.
func WithInvitationLimit(n int, per time.Duration) Option {
	return func(s *Service) { s.invites = newSendLimiter(n, per) }
}

// NewService builds the service; now is the clock (time.Now in production).
func NewService(d *db.DB, now func() time.Time, opts ...Option) *Service {
	if now == nil {
		now = time.Now
	}
	s := &Service{db: d, now: func() time.Time { return now().UTC() }}
	for _, o := range opts {
		o(s)
	}
	if s.invites == nil {
		s.invites = newSendLimiter(DefaultInvitationLimit, time.Hour)
	}
	return s
}

// RoleOf is the authz.RoleLookup over memberships: it reads the membership on every call, so a
// removed member loses access on their very next request.
func (s *Service) RoleOf(ctx context.Context, userID, workspaceID string) (authz.Role, bool, error) {
	return s.st.role(ctx, s.db.Read, workspaceID, userID)
}

// CreateInput is what creating a workspace takes.
type CreateInput struct {
	Name     string
	Timezone string
}

// Create makes a workspace owned by the signed-in user. Errors: Unauthenticated, Invalid.
func (s *Service) Create(ctx context.Context, in CreateInput) (Membership, error) {
	p, err := authz.CurrentUser(ctx)
	if err != nil {
		return Membership{}, err
	}
	return s.create(ctx, p.UserID, in)
}

// CreateFor makes a workspace owned by userID (operator CLI, as the system principal).
func (s *Service) CreateFor(ctx context.Context, userID string, in CreateInput) (Membership, error) {
	if p, ok := authz.FromContext(ctx); !ok || p.Kind != authz.KindSystem {
		return Membership{}, authz.ErrUnauthenticated
	}
	return s.create(ctx, userID, in)
}

func (s *Service) create(ctx context.Context, ownerID string, in CreateInput) (Membership, error) {
	name, err := validName(in.Name)
	if err != nil {
		return Membership{}, err
	}
	tz, err := validTimezone(in.Timezone)
	if err != nil {
		return Membership{}, err
	}
	now := s.now()
	w := Workspace{ID: id.New(id.Workspace), Name: name, Timezone: tz, CreatedAt: now, UpdatedAt: now}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		base := slugify(name)
		for attempt := 0; ; attempt++ {
			w.Slug = base
			if attempt > 0 {
				w.Slug = base + "-" + randomSuffix()
			}
			ok, err := s.st.insert(ctx, tx, w)
			if err != nil {
				return err
			}
			if ok {
				break
			}
			if attempt == 5 {
				return fmt.Errorf("no free slug for %q", base)
			}
		}
		if err := s.st.addMember(ctx, tx, w.ID, ownerID, authz.Owner, now); err != nil {
			return err
		}
		if err := audit.Record(ctx, tx, now, audit.Entry{WorkspaceID: w.ID, Action: "workspace.created", ResourceType: "workspace", ResourceID: w.ID,
			Changes: []string{"name", "timezone"}}); err != nil {
			return err
		}
		if _, err := events.Publish(ctx, tx, events.Event{WorkspaceID: w.ID, Type: "workspace.created", Data: w, CreatedAt: now}); err != nil {
			return err
		}
		for _, h := range s.onCreate {
			if err := h(ctx, tx, w.ID, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Membership{}, err
	}
	return Membership{Workspace: w, Role: authz.Owner}, nil
}

// Get returns the workspace with the caller's role. Errors: NotFound for non-members.
func (s *Service) Get(ctx context.Context, wsID string) (Membership, error) {
	p, err := authz.Require(ctx, wsID, authz.WorkspaceView)
	if err != nil {
		return Membership{}, err
	}
	w, err := s.st.get(ctx, s.db.Read, wsID)
	if errors.Is(err, sql.ErrNoRows) {
		return Membership{}, apierr.NotFoundf("workspace")
	}
	if err != nil {
		return Membership{}, err
	}
	role, _, err := p.Role(ctx, wsID)
	return Membership{Workspace: w, Role: role}, err
}

// List returns the signed-in user's workspaces, newest first. An API key sees its own workspace.
func (s *Service) List(ctx context.Context, cursor string, limit int) (page.Page[Membership], error) {
	p, ok := authz.FromContext(ctx)
	if !ok {
		return page.Page[Membership]{}, authz.ErrUnauthenticated
	}
	if p.Kind == authz.KindAPIKey {
		m, err := s.Get(ctx, p.WorkspaceID)
		if err != nil {
			return page.Page[Membership]{}, err
		}
		return page.Page[Membership]{Data: []Membership{m}}, nil
	}
	if p.Kind != authz.KindUser {
		return page.Page[Membership]{}, authz.ErrUnauthenticated
	}
	return page.Fetch(cursor, limit, func(before string, n int) ([]Membership, error) {
		return s.st.listForUser(ctx, s.db.Read, p.UserID, before, n)
	}, func(m Membership) string { return m.ID })
}

// UpdateInput is a partial update; nil fields stay as they are.
type UpdateInput struct {
	Name     *string
	Timezone *string
}

// Update changes the workspace's name or timezone (owner, admin).
func (s *Service) Update(ctx context.Context, wsID string, in UpdateInput) (Membership, error) {
	if _, err := authz.Require(ctx, wsID, authz.WorkspaceUpdate); err != nil {
		return Membership{}, err
	}
	var changed []string
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		w, err := s.st.get(ctx, tx, wsID)
		if errors.Is(err, sql.ErrNoRows) {
			return apierr.NotFoundf("workspace")
		}
		if err != nil {
			return err
		}
		if in.Name != nil {
			name, err := validName(*in.Name)
			if err != nil {
				return err
			}
			if name != w.Name {
				w.Name = name
				changed = append(changed, "name")
			}
		}
		if in.Timezone != nil {
			if *in.Timezone == "" {
				return apierr.Validation(apierr.Field("timezone", "timezone must not be empty"))
			}
			tz, err := validTimezone(*in.Timezone)
			if err != nil {
				return err
			}
			if tz != w.Timezone {
				w.Timezone = tz
				changed = append(changed, "timezone")
			}
		}
		if len(changed) == 0 {
			return nil
		}
		w.UpdatedAt = s.now()
		if err := s.st.update(ctx, tx, w); err != nil {
			return err
		}
		if err := audit.Record(ctx, tx, w.UpdatedAt, audit.Entry{WorkspaceID: wsID, Action: "workspace.updated", ResourceType: "workspace", ResourceID: wsID, Changes: changed}); err != nil {
			return err
		}
		_, err = events.Publish(ctx, tx, events.Event{WorkspaceID: wsID, Type: "workspace.updated", Data: map[string]any{"workspace": w, "changes": changed}, CreatedAt: w.UpdatedAt})
		return err
	})
	if err != nil {
		return Membership{}, err
	}
	return s.Get(ctx, wsID)
}

// Delete removes the workspace and all of its data in one transaction (owner only). confirm must
// equal the workspace ID. Errors: NotFound, Forbidden, Invalid confirmation_mismatch.
func (s *Service) Delete(ctx context.Context, wsID, confirm string) error {
	if _, err := authz.Require(ctx, wsID, authz.WorkspaceDelete); err != nil {
		return err
	}
	if confirm != wsID {
		return &apierr.Error{Category: apierr.Invalid, Code: "confirmation_mismatch",
			Detail: "to delete a workspace, send its ID as \"confirm\"", Fields: []apierr.FieldError{apierr.Field("confirm", "must equal the workspace ID")}}
	}
	now := s.now()
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		ok, err := s.st.delete(ctx, tx, wsID)
		if err != nil {
			return err
		}
		if !ok {
			return apierr.NotFoundf("workspace")
		}
		return audit.Record(ctx, tx, now, audit.Entry{WorkspaceID: wsID, Action: "workspace.deleted", ResourceType: "workspace", ResourceID: wsID})
	})
}

// Details is the operator's view of one workspace (`parley workspaces show`).
type Details struct {
	Workspace
	Owner   Member   `json:"owner"`
	Members []Member `json:"members"`
}

// ListAll lists every workspace (system principal only: the operator's CLI).
func (s *Service) ListAll(ctx context.Context, limit int) ([]Workspace, error) {
	if p, ok := authz.FromContext(ctx); !ok || p.Kind != authz.KindSystem {
		return nil, authz.ErrUnauthenticated
	}
	return s.st.listAll(ctx, s.db.Read, limit)
}

// Show returns a workspace with its owner and members (system principal only).
func (s *Service) Show(ctx context.Context, wsID string) (Details, error) {
	if p, ok := authz.FromContext(ctx); !ok || p.Kind != authz.KindSystem {
		return Details{}, authz.ErrUnauthenticated
	}
	w, err := s.st.get(ctx, s.db.Read, wsID)
	if errors.Is(err, sql.ErrNoRows) {
		return Details{}, apierr.NotFoundf("workspace")
	}
	if err != nil {
		return Details{}, err
	}
	members, err := s.st.members(ctx, s.db.Read, wsID)
	if err != nil {
		return Details{}, err
	}
	d := Details{Workspace: w, Members: members}
	for _, m := range members {
		if m.Role == authz.Owner {
			d.Owner = m
		}
	}
	return d, nil
}
