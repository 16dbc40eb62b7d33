package apikey

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/audit"
	"github.com/parleyhq/parley/internal/platform/authz"
	"github.com/parleyhq/parley/internal/platform/db"
	"github.com/parleyhq/parley/internal/platform/events"
	"github.com/parleyhq/parley/internal/platform/id"
	"github.com/parleyhq/parley/internal/platform/page"
)

// UsageInterval is how often, at most, a key's lastUsedAt is written.
const UsageInterval = time.Minute

// Service is the API-keys service.
type Service struct {
	db  *db.DB
	st  store
	now func() time.Time
}

// NewService builds the service; now is the clock (time.Now in production).
func NewService(d *db.DB, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{db: d, now: func() time.Time { return now().UTC().Truncate(time.Millisecond) }}
}

// CreateInput is what creating a key takes.
type CreateInput struct {
	Name   string
	Scopes []string
	Mode   Mode
	// ExpiresAt, when not nil, must be in the future.
	ExpiresAt *time.Time
}

// Create makes a key in the workspace and returns it with its secret, which is never shown
// again (owner, admin). Errors: NotFound, Forbidden, Invalid.
func (s *Service) Create(ctx context.Context, wsID string, in CreateInput) (CreatedAPIKey, error) {
	p, err := authz.Require(ctx, wsID, authz.APIKeysManage)
	if err != nil {
		return CreatedAPIKey{}, err
	}
	name, err := validName(in.Name)
	if err != nil {
		return CreatedAPIKey{}, err
	}
	scopes, err := validScopes(in.Scopes)
	if err != nil {
		return CreatedAPIKey{}, err
	}
	if !in.Mode.Valid() {
		return CreatedAPIKey{}, apierr.Validation(apierr.FieldError{Location: "body.mode", Message: "mode must be live or test", Value: string(in.Mode)})
	}
	now := s.now()
	var expires *time.Time
	if in.ExpiresAt != nil {
		t := in.ExpiresAt.UTC().Truncate(time.Millisecond)
		if !t.After(now) {
			return CreatedAPIKey{}, apierr.Validation(apierr.FieldError{Location: "body.expiresAt", Message: "expiresAt must be in the future", Value: in.ExpiresAt})
		}
		expires = &t
	}
	token := newToken(in.Mode)
	k := APIKey{
		ID: id.New(id.APIKey), WorkspaceID: wsID, Name: name, Prefix: displayPrefix(token), LastFour: lastFour(token),
		Scopes: scopes, Mode: in.Mode, Status: Active, CreatedBy: p.UserID, CreatedAt: now, ExpiresAt: expires,
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := s.st.insert(ctx, tx, k, hashToken(token)); err != nil {
			return err
		}
		changes := []string{"name", "scopes", "mode"}
		if expires != nil {
			changes = append(changes, "expiresAt")
		}
		if err := audit.Record(ctx, tx, now, audit.Entry{WorkspaceID: wsID, Action: "api_key.created", ResourceType: "api_key", ResourceID: k.ID, Changes: changes}); err != nil {
			return err
		}
		_, err := events.Publish(ctx, tx, events.Event{WorkspaceID: wsID, Type: "api_key.created", Data: k, CreatedAt: now})
		return err
	})
	if err != nil {
		return CreatedAPIKey{}, err
	}
	return CreatedAPIKey{APIKey: k, Secret: token}, nil
}

// List returns the workspace's keys, newest first, revoked and expired ones included (see their
// status) (owner, admin). Errors: NotFound, Forbidden, Invalid (cursor).
func (s *Service) List(ctx context.Context, wsID, cursor string, limit int) (page.Page[APIKey], error) {
	if _, err := authz.Require(ctx, wsID, authz.APIKeysManage); err != nil {
		return page.Page[APIKey]{}, err
	}
	limit = page.Limit(limit)
	before, err := page.Decode(cursor)
	if err != nil {
		return page.Page[APIKey]{}, err
	}
	rows, err := s.st.list(ctx, s.db.Read, wsID, before, limit+1)
	if err != nil {
		return page.Page[APIKey]{}, err
	}
	now := s.now()
	for i := range rows {
		rows[i].Status = statusAt(rows[i], now)
	}
	return page.Of(rows, limit, func(k APIKey) string { return k.ID }), nil
}

// Get returns one of the workspace's keys (owner, admin). Errors: NotFound (also for another
// workspace's key), Forbidden.
func (s *Service) Get(ctx context.Context, wsID, keyID string) (APIKey, error) {
	if _, err := authz.Require(ctx, wsID, authz.APIKeysManage); err != nil {
		return APIKey{}, err
	}
	k, err := s.st.get(ctx, s.db.Read, wsID, keyID)
	if errors.Is(err, sql.ErrNoRows) {
		return APIKey{}, apierr.NotFoundf("API key")
	}
	if err != nil {
		return APIKey{}, err
	}
	k.Status = statusAt(k, s.now())
	return k, nil
}

// Revoke makes the key stop working at once (owner, admin). Revoking a revoked key succeeds
// and changes nothing. Errors: NotFound, Forbidden.
func (s *Service) Revoke(ctx context.Context, wsID, keyID string) error {
	if _, err := authz.Require(ctx, wsID, authz.APIKeysManage); err != nil {
		return err
	}
	now := s.now()
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		k, err := s.st.get(ctx, tx, wsID, keyID)
		if errors.Is(err, sql.ErrNoRows) {
			return apierr.NotFoundf("API key")
		}
		if err != nil {
			return err
		}
		ok, err := s.st.revoke(ctx, tx, wsID, keyID, now)
		if err != nil || !ok {
			return err
		}
		k.RevokedAt = &now
		k.Status = Revoked
		if err := audit.Record(ctx, tx, now, audit.Entry{WorkspaceID: wsID, Action: "api_key.revoked", ResourceType: "api_key", ResourceID: keyID, Changes: []string{"revokedAt"}}); err != nil {
			return err
		}
		_, err = events.Publish(ctx, tx, events.Event{WorkspaceID: wsID, Type: "api_key.revoked", Data: k, CreatedAt: now})
		return err
	})
}

// Authenticate turns a token into an API-key principal confined to the key's workspace and
// scopes, and records the use (at most once per UsageInterval). Errors (all Unauthenticated):
// ErrInvalidKey (checked before any lookup), ErrUnknownKey, ErrRevokedKey, ErrExpiredKey; any
// other error is the store's.
func (s *Service) Authenticate(ctx context.Context, token string) (*authz.Principal, error) {
	if _, err := parseToken(token); err != nil {
		return nil, err
	}
	k, err := s.st.byHash(ctx, s.db.Read, hashToken(token))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrUnknownKey
	}
	if err != nil {
		return nil, err
	}
	now := s.now()
	switch statusAt(k, now) {
	case Revoked:
		return nil, ErrRevokedKey
	case Expired:
		return nil, ErrExpiredKey
	}
	if k.LastUsedAt == nil || now.Sub(*k.LastUsedAt) >= UsageInterval {
		if err := s.st.touch(ctx, s.db.Write, k.WorkspaceID, k.ID, now); err != nil {
			return nil, err
		}
	}
	pr := authz.NewAPIKey(k.ID, k.WorkspaceID, k.CreatedBy, k.Scopes)
	pr.Test = k.Mode == Test
	return pr, nil
}

// AuthenticateHeader is Authenticate for an Authorization header ("Bearer <token>").
func (s *Service) AuthenticateHeader(ctx context.Context, authorization string) (*authz.Principal, error) {
	token, err := Bearer(authorization)
	if err != nil {
		return nil, err
	}
	return s.Authenticate(ctx, token)
}
