// Package authz decides who may do what in which workspace.
//
// A request is made by a Principal: a signed-in user (dashboard session), an API key (bound to one
// workspace, with scopes) or the system itself (CLI, background jobs). Every service method that
// touches a workspace starts with Require(ctx, workspaceID, action). The decision comes from one
// table, Matrix: for each action, the roles that may perform it and the API-key scope that grants
// it (no scope: no key may ever perform it).
//
// Answers: no principal → Unauthenticated; a principal that is not in the workspace (a user who is
// not a member, a key of another workspace) → NotFound, exactly as if the workspace did not exist;
// a member whose role is not enough → Forbidden (insufficient_role); a key without the scope →
// Forbidden (insufficient_scope).
package authz

import (
	"context"
	"fmt"
	"sync"

	"github.com/parleyhq/parley/internal/platform/apierr"
)

// Role is a member's role in a workspace.
type Role string

const (
	Owner  Role = "owner"
	Admin  Role = "admin"
	Member Role = "member"
)

// Roles lists every role, most powerful first.
var Roles = []Role{Owner, Admin, Member}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == Owner || r == Admin || r == Member }

// Kind says what sort of principal made a request.
type Kind string

const (
	KindUser   Kind = "user"
	KindAPIKey Kind = "api_key"
	KindSystem Kind = "system"
)

// RoleLookup finds a user's role in a workspace; ok is false when the user is not a member.
type RoleLookup func(ctx context.Context, userID, workspaceID string) (role Role, ok bool, err error)

// Principal is whoever makes a request.
type Principal struct {
	Kind Kind
	// UserID is the signed-in user (KindUser) or the user who created the key (KindAPIKey).
	UserID string
	// APIKeyID, WorkspaceID and Scopes describe an API key (KindAPIKey).
	APIKeyID    string
	WorkspaceID string
	Scopes      []string
	// SessionID is the dashboard session (KindUser), when there is one.
	SessionID string
	// Test is true for a test-mode API key (parley_test_…): its calls always run on the
	// simulator, whatever credential they name.
	Test bool

	lookup RoleLookup
	mu     sync.Mutex
	roles  map[string]roleAnswer
}

type roleAnswer struct {
	role Role
	ok   bool
}

// NewUser is a user principal whose workspace roles come from lookup (asked once per workspace
// per principal, so once per request).
func NewUser(userID, sessionID string, lookup RoleLookup) *Principal {
	return &Principal{Kind: KindUser, UserID: userID, SessionID: sessionID, lookup: lookup}
}

// NewAPIKey is an API-key principal, confined to its workspace and scopes.
func NewAPIKey(keyID, workspaceID, createdBy string, scopes []string) *Principal {
	return &Principal{Kind: KindAPIKey, APIKeyID: keyID, WorkspaceID: workspaceID, UserID: createdBy, Scopes: scopes}
}

// System is the principal of the operator's CLI and of background jobs: it may do anything.
func System() *Principal { return &Principal{Kind: KindSystem} }

// ActorID names the principal in audit entries.
func (p *Principal) ActorID() string {
	switch p.Kind {
	case KindAPIKey:
		return p.APIKeyID
	case KindUser:
		return p.UserID
	}
	return "system"
}

// Role returns the principal's role in the workspace; ok is false when it has none. An API key
// has no role; the system has none either (it bypasses roles).
func (p *Principal) Role(ctx context.Context, workspaceID string) (Role, bool, error) {
	if p.Kind != KindUser || p.lookup == nil {
		return "", false, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if a, ok := p.roles[workspaceID]; ok {
		return a.role, a.ok, nil
	}
	role, ok, err := p.lookup(ctx, p.UserID, workspaceID)
	if err != nil {
		return "", false, fmt.Errorf("look up role: %w", err)
	}
	if p.roles == nil {
		p.roles = map[string]roleAnswer{}
	}
	p.roles[workspaceID] = roleAnswer{role, ok}
	return role, ok, nil
}

// Forget drops the cached role for the workspace (after the principal's own role changed).
func (p *Principal) Forget(workspaceID string) {
	p.mu.Lock()
	delete(p.roles, workspaceID)
	p.mu.Unlock()
}

type ctxKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// FromContext returns the principal in ctx, if any.
func FromContext(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(ctxKey{}).(*Principal)
	return p, ok && p != nil
}

// ErrUnauthenticated is returned when there is no principal.
var ErrUnauthenticated = apierr.New(apierr.Unauthenticated, "unauthenticated", "sign in or send an API key")

// CurrentUser returns the signed-in user's principal, or Unauthenticated. API keys and the system
// are not users: account routes (/v1/me, creating workspaces) need a person.
func CurrentUser(ctx context.Context) (*Principal, error) {
	p, ok := FromContext(ctx)
	if !ok || p.Kind != KindUser {
		return nil, ErrUnauthenticated
	}
	return p, nil
}

// Require checks that the principal in ctx may perform action in the workspace and returns it.
func Require(ctx context.Context, workspaceID string, action Action) (*Principal, error) {
	p, ok := FromContext(ctx)
	if !ok {
		return nil, ErrUnauthenticated
	}
	rule, known := Matrix[action]
	if !known {
		return nil, fmt.Errorf("authz: action %q has no row in the matrix", action)
	}
	notFound := apierr.NotFoundf("workspace")
	switch p.Kind {
	case KindSystem:
		return p, nil
	case KindAPIKey:
		if p.WorkspaceID != workspaceID {
			return nil, notFound
		}
		if rule.Scope == "" {
			return nil, apierr.Newf(apierr.Forbidden, "insufficient_scope", "API keys cannot %s; sign in as a person", rule.Description)
		}
		for _, s := range p.Scopes {
			if s == rule.Scope || rule.Scope == AnyScope {
				return p, nil
			}
		}
		return nil, apierr.Newf(apierr.Forbidden, "insufficient_scope", "this API key lacks the %s scope", rule.Scope)
	case KindUser:
		role, member, err := p.Role(ctx, workspaceID)
		if err != nil {
			return nil, err
		}
		if !member {
			return nil, notFound
		}
		if !rule.allows(role) {
			return nil, apierr.Newf(apierr.Forbidden, "insufficient_role", "your role (%s) may not %s", role, rule.Description)
		}
		return p, nil
	}
	return nil, ErrUnauthenticated
}
