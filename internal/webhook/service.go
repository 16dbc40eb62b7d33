package webhook

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/audit"
	"github.com/parleyhq/parley/internal/platform/authz"
	"github.com/parleyhq/parley/internal/platform/db"
	"github.com/parleyhq/parley/internal/platform/events"
	"github.com/parleyhq/parley/internal/platform/id"
	"github.com/parleyhq/parley/internal/platform/page"
	"github.com/parleyhq/parley/internal/platform/secret"
)

// Inserter enqueues a job in a transaction (jobs.Queue).
type Inserter interface {
	InsertTx(ctx context.Context, tx *sql.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

// Options configure a Service.
type Options struct {
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// AllowPrivate accepts http:// URLs and private, loopback and link-local addresses
	// (--webhook-allow-private): for development and tests only.
	AllowPrivate bool
}

// Service is the webhooks service.
type Service struct {
	db     *db.DB
	st     store
	keys   *secret.Keyring
	queue  Inserter
	policy urlPolicy
	now    func() time.Time
}

// NewService builds the service. keys seals the signing secrets; queue enqueues deliveries.
func NewService(d *db.DB, keys *secret.Keyring, queue Inserter, opts Options) *Service {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Service{db: d, keys: keys, queue: queue, policy: urlPolicy{allowPrivate: opts.AllowPrivate, guard: newGuard()},
		now: func() time.Time { return now().UTC().Truncate(time.Millisecond) }}
}

func secretAAD(wsID, endpointID, column string) secret.AAD {
	return secret.AAD{WorkspaceID: wsID, Table: "webhook_endpoints", Column: column, RowID: endpointID}
}

func (s *Service) seal(r *endpointRow, plain string) error {
	sealed, err := s.keys.Seal([]byte(plain), secretAAD(r.WorkspaceID, r.ID, "secret"))
	if err != nil {
		return fmt.Errorf("webhook: seal secret: %w", err)
	}
	r.secret = sealed
	return nil
}

// sealHeaders seals the endpoint's custom headers (they often carry the receiver's credentials)
// into headersText, bound to the endpoint's row and column.
func (s *Service) sealHeaders(r *endpointRow) error {
	h := r.Headers
	if h == nil {
		h = map[string]string{}
	}
	sealed, err := s.keys.Seal([]byte(jsonText(h)), secretAAD(r.WorkspaceID, r.ID, "headers"))
	if err != nil {
		return fmt.Errorf("webhook: seal headers: %w", err)
	}
	r.headersText = sealed
	return nil
}

// openHeaders fills Headers from headersText: sealed, or JSON in clear for rows written before
// headers were sealed (SealLegacyHeaders seals those).
func (s *Service) openHeaders(r *endpointRow) error {
	plain := []byte(r.headersText)
	if !strings.HasPrefix(r.headersText, "{") {
		var err error
		if plain, err = s.keys.Open(r.headersText, secretAAD(r.WorkspaceID, r.ID, "headers")); err != nil {
			return fmt.Errorf("webhook: open headers of %s: %w", r.ID, err)
		}
	}
	if err := json.Unmarshal(plain, &r.Headers); err != nil {
		return fmt.Errorf("webhook: headers of %s: %w", r.ID, err)
	}
	if r.Headers == nil {
		r.Headers = map[string]string{}
	}
	return nil
}

// SealLegacyHeaders seals the custom headers of endpoints saved before headers were encrypted at
// rest (they are read either way meanwhile) and returns how many it sealed. The dispatcher runs
// it once when it starts; it is idempotent and safe on several replicas at once.
func (s *Service) SealLegacyHeaders(ctx context.Context) (int, error) {
	n := 0
	for {
		rows, err := s.st.legacyHeaders(ctx, s.db.Read)
		if err != nil || len(rows) == 0 {
			return n, err
		}
		for _, r := range rows {
			old := r.headersText
			if err := s.openHeaders(&r); err != nil {
				return n, err
			}
			if err := s.sealHeaders(&r); err != nil {
				return n, err
			}
			if err := s.db.Tx(ctx, func(tx *sql.Tx) error { return s.st.setHeaders(ctx, tx, r.WorkspaceID, r.ID, old, r.headersText) }); err != nil {
				return n, err
			}
			n++
		}
	}
}

// secrets returns the endpoint's signing secrets in clear: the current one, then the previous one
// while it is still valid at now.
func (s *Service) secrets(r endpointRow, now time.Time) ([]string, error) {
	cur, err := s.keys.Open(r.secret, secretAAD(r.WorkspaceID, r.ID, "secret"))
	if err != nil {
		return nil, fmt.Errorf("webhook: open secret of %s: %w", r.ID, err)
	}
	out := []string{string(cur)}
	if r.previousSecret != "" && now.Before(r.previousExpires) {
		prev, err := s.keys.Open(r.previousSecret, secretAAD(r.WorkspaceID, r.ID, "previous_secret"))
		if err != nil {
			return nil, fmt.Errorf("webhook: open previous secret of %s: %w", r.ID, err)
		}
		out = append(out, string(prev))
	}
	return out, nil
}

func (r endpointRow) view(now time.Time) Endpoint {
	e := r.Endpoint
	if r.previousSecret != "" && now.Before(r.previousExpires) {
		t := r.previousExpires
		e.PreviousSecretExpiresAt = &t
	}
	return e
}

// CreateInput is what creating an endpoint takes.
type CreateInput struct {
	URL         string
	Description string
	Events      []string
	AgentIDs    []string
	Headers     map[string]string
	// Enabled defaults to true.
	Enabled *bool
}

// Create makes an endpoint and returns it with its signing secret (owner, admin; webhooks:write).
// Errors: NotFound, Forbidden, Invalid.
func (s *Service) Create(ctx context.Context, wsID string, in CreateInput) (CreatedEndpoint, error) {
	if _, err := authz.Require(ctx, wsID, authz.WebhooksWrite); err != nil {
		return CreatedEndpoint{}, err
	}
	u, verr := s.policy.check(in.URL)
	if verr != nil {
		return CreatedEndpoint{}, verr
	}
	desc, verr := validDescription(in.Description)
	if verr != nil {
		return CreatedEndpoint{}, verr
	}
	evs, verr := validEvents(in.Events)
	if verr != nil {
		return CreatedEndpoint{}, verr
	}
	agents, verr := validAgents(in.AgentIDs)
	if verr != nil {
		return CreatedEndpoint{}, verr
	}
	hdrs, verr := validHeaders(in.Headers)
	if verr != nil {
		return CreatedEndpoint{}, verr
	}
	now := s.now()
	r := endpointRow{Endpoint: Endpoint{ID: id.New(id.Webhook), WorkspaceID: wsID, URL: u, Description: desc, Events: evs, AgentIDs: agents,
		Headers: hdrs, Enabled: in.Enabled == nil || *in.Enabled, CreatedAt: now, UpdatedAt: now}}
	plain := NewSecret()
	if err := s.seal(&r, plain); err != nil {
		return CreatedEndpoint{}, err
	}
	if err := s.sealHeaders(&r); err != nil {
		return CreatedEndpoint{}, err
	}
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := s.st.insertEndpoint(ctx, tx, r); err != nil {
			return err
		}
		return audit.Record(ctx, tx, now, audit.Entry{WorkspaceID: wsID, Action: "webhook_endpoint.created", ResourceType: "webhook_endpoint", ResourceID: r.ID,
			Changes: []string{"url", "description", "events", "agentIds", "headers", "enabled", "secret"}})
	})
	if err != nil {
		return CreatedEndpoint{}, err
	}
	return CreatedEndpoint{Endpoint: r.view(now), Secret: plain}, nil
}

// List returns the workspace's endpoints, newest first (owner, admin; webhooks:read).
func (s *Service) List(ctx context.Context, wsID, cursor string, limit int) (page.Page[Endpoint], error) {
	if _, err := authz.Require(ctx, wsID, authz.WebhooksRead); err != nil {
		return page.Page[Endpoint]{}, err
	}
	limit = page.Limit(limit)
	before, err := page.Decode(cursor)
	if err != nil {
		return page.Page[Endpoint]{}, err
	}
	rows, err := s.st.listEndpoints(ctx, s.db.Read, wsID, before, limit+1)
	if err != nil {
		return page.Page[Endpoint]{}, err
	}
	now := s.now()
	out := make([]Endpoint, len(rows))
	for i, r := range rows {
		if err := s.openHeaders(&r); err != nil {
			return page.Page[Endpoint]{}, err
		}
		out[i] = r.view(now)
	}
	return page.Of(out, limit, func(e Endpoint) string { return e.ID }), nil
}

func (s *Service) get(ctx context.Context, q db.Querier, wsID, endpointID string) (endpointRow, error) {
	r, err := s.st.getEndpoint(ctx, q, wsID, endpointID)
	if errors.Is(err, sql.ErrNoRows) {
		return endpointRow{}, apierr.NotFoundf("webhook endpoint")
	}
	if err != nil {
		return endpointRow{}, err
	}
	return r, s.openHeaders(&r)
}

// Get returns one endpoint (owner, admin; webhooks:read). Errors: NotFound, Forbidden.
func (s *Service) Get(ctx context.Context, wsID, endpointID string) (Endpoint, error) {
	if _, err := authz.Require(ctx, wsID, authz.WebhooksRead); err != nil {
		return Endpoint{}, err
	}
	r, err := s.get(ctx, s.db.Read, wsID, endpointID)
	if err != nil {
		return Endpoint{}, err
	}
	return r.view(s.now()), nil
}

// Patch changes an endpoint; nil fields stay.
type Patch struct {
	URL         *string
	Description *string
	Events      []string
	AgentIDs    []string
	Headers     map[string]string
	Enabled     *bool
}

// Update changes an endpoint (owner, admin; webhooks:write). Enabling an endpoint that Parley
// disabled clears its disabledReason. Errors: NotFound, Forbidden, Invalid.
func (s *Service) Update(ctx context.Context, wsID, endpointID string, p Patch) (Endpoint, error) {
	if _, err := authz.Require(ctx, wsID, authz.WebhooksWrite); err != nil {
		return Endpoint{}, err
	}
	now := s.now()
	var out endpointRow
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		r, err := s.get(ctx, tx, wsID, endpointID)
		if err != nil {
			return err
		}
		var changes []string
		if p.URL != nil {
			u, verr := s.policy.check(*p.URL)
			if verr != nil {
				return verr
			}
			if u != r.URL {
				r.URL, changes = u, append(changes, "url")
			}
		}
		if p.Description != nil {
			d, verr := validDescription(*p.Description)
			if verr != nil {
				return verr
			}
			if d != r.Description {
				r.Description, changes = d, append(changes, "description")
			}
		}
		if p.Events != nil {
			evs, verr := validEvents(p.Events)
			if verr != nil {
				return verr
			}
			if !slices.Equal(evs, r.Events) {
				r.Events, changes = evs, append(changes, "events")
			}
		}
		if p.AgentIDs != nil {
			a, verr := validAgents(p.AgentIDs)
			if verr != nil {
				return verr
			}
			if !slices.Equal(a, r.AgentIDs) {
				r.AgentIDs, changes = a, append(changes, "agentIds")
			}
		}
		if p.Headers != nil {
			h, verr := validHeaders(p.Headers)
			if verr != nil {
				return verr
			}
			r.Headers, changes = h, append(changes, "headers")
		}
		if p.Enabled != nil && *p.Enabled != r.Enabled {
			r.Enabled, changes = *p.Enabled, append(changes, "enabled")
			if r.Enabled {
				r.DisabledReason, r.failingSince = "", time.Time{} // a fresh start: five more days before auto-disable
			}
		}
		out = r
		if len(changes) == 0 {
			return nil
		}
		r.UpdatedAt = now
		out = r
		if err := s.sealHeaders(&r); err != nil {
			return err
		}
		if err := s.st.updateEndpoint(ctx, tx, r); err != nil {
			return err
		}
		return audit.Record(ctx, tx, now, audit.Entry{WorkspaceID: wsID, Action: "webhook_endpoint.updated", ResourceType: "webhook_endpoint", ResourceID: r.ID, Changes: changes})
	})
	if err != nil {
		return Endpoint{}, err
	}
	return out.view(now), nil
}

// Delete removes an endpoint with its messages and attempts; queued deliveries are dropped
// (owner, admin; webhooks:write). Errors: NotFound, Forbidden.
func (s *Service) Delete(ctx context.Context, wsID, endpointID string) error {
	if _, err := authz.Require(ctx, wsID, authz.WebhooksWrite); err != nil {
		return err
	}
	now := s.now()
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		ok, err := s.st.deleteEndpoint(ctx, tx, wsID, endpointID)
		if err != nil {
			return err
		}
		if !ok {
			return apierr.NotFoundf("webhook endpoint")
		}
		return audit.Record(ctx, tx, now, audit.Entry{WorkspaceID: wsID, Action: "webhook_endpoint.deleted", ResourceType: "webhook_endpoint", ResourceID: endpointID})
	})
}

// RevealSecret returns the endpoint's current signing secret (owner, admin; webhooks:write). It is
// audited. Errors: NotFound, Forbidden.
func (s *Service) RevealSecret(ctx context.Context, wsID, endpointID string) (Secret, error) {
	if _, err := authz.Require(ctx, wsID, authz.WebhooksWrite); err != nil {
		return Secret{}, err
	}
	now := s.now()
	var out Secret
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		r, err := s.get(ctx, tx, wsID, endpointID)
		if err != nil {
			return err
		}
		secrets, err := s.secrets(r, now)
		if err != nil {
			return err
		}
		out = Secret{Secret: secrets[0]}
		return audit.Record(ctx, tx, now, audit.Entry{WorkspaceID: wsID, Action: "webhook_endpoint.secret_revealed", ResourceType: "webhook_endpoint", ResourceID: r.ID})
	})
	return out, err
}

// RotateSecret gives the endpoint a new signing secret and returns it; the previous one keeps
// signing deliveries (a second signature) for PreviousSecretValidity (owner, admin;
// webhooks:write). Errors: NotFound, Forbidden.
func (s *Service) RotateSecret(ctx context.Context, wsID, endpointID string) (Secret, error) {
	if _, err := authz.Require(ctx, wsID, authz.WebhooksWrite); err != nil {
		return Secret{}, err
	}
	now := s.now()
	plain := NewSecret()
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		r, err := s.get(ctx, tx, wsID, endpointID)
		if err != nil {
			return err
		}
		cur, err := s.keys.Open(r.secret, secretAAD(wsID, r.ID, "secret"))
		if err != nil {
			return fmt.Errorf("webhook: open secret of %s: %w", r.ID, err)
		}
		if r.previousSecret, err = s.keys.Seal(cur, secretAAD(wsID, r.ID, "previous_secret")); err != nil {
			return err
		}
		r.previousExpires = now.Add(PreviousSecretValidity)
		if err := s.seal(&r, plain); err != nil {
			return err
		}
		r.UpdatedAt = now
		if err := s.sealHeaders(&r); err != nil {
			return err
		}
		if err := s.st.updateEndpoint(ctx, tx, r); err != nil {
			return err
		}
		return audit.Record(ctx, tx, now, audit.Entry{WorkspaceID: wsID, Action: "webhook_endpoint.secret_rotated", ResourceType: "webhook_endpoint", ResourceID: r.ID,
			Changes: []string{"secret"}})
	})
	if err != nil {
		return Secret{}, err
	}
	return Secret{Secret: plain}, nil
}

// ListMessages returns the endpoint's messages, newest first (owner, admin; webhooks:read).
func (s *Service) ListMessages(ctx context.Context, wsID, endpointID, cursor string, limit int) (page.Page[Message], error) {
	if _, err := authz.Require(ctx, wsID, authz.WebhooksRead); err != nil {
		return page.Page[Message]{}, err
	}
	if _, err := s.get(ctx, s.db.Read, wsID, endpointID); err != nil {
		return page.Page[Message]{}, err
	}
	return page.Fetch(cursor, limit, func(before string, n int) ([]Message, error) {
		return s.st.listMessages(ctx, s.db.Read, wsID, endpointID, before, n)
	}, func(m Message) string { return m.ID })
}

// ListAttempts returns the endpoint's delivery attempts, newest first (owner, admin;
// webhooks:read).
func (s *Service) ListAttempts(ctx context.Context, wsID, endpointID, cursor string, limit int) (page.Page[Attempt], error) {
	if _, err := authz.Require(ctx, wsID, authz.WebhooksRead); err != nil {
		return page.Page[Attempt]{}, err
	}
	if _, err := s.get(ctx, s.db.Read, wsID, endpointID); err != nil {
		return page.Page[Attempt]{}, err
	}
	return page.Fetch(cursor, limit, func(before string, n int) ([]Attempt, error) {
		return s.st.listAttempts(ctx, s.db.Read, wsID, endpointID, before, n)
	}, func(a Attempt) string { return a.ID })
}

// Retry sends a message again now, whatever its status, with the same webhook-id (owner, admin;
// webhooks:write). Errors: NotFound, Forbidden, Conflict (the endpoint is disabled).
func (s *Service) Retry(ctx context.Context, wsID, endpointID, msgID string) (Message, error) {
	if _, err := authz.Require(ctx, wsID, authz.WebhooksWrite); err != nil {
		return Message{}, err
	}
	now := s.now()
	var out Message
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		r, err := s.get(ctx, tx, wsID, endpointID)
		if err != nil {
			return err
		}
		m, err := s.st.getMessage(ctx, tx, wsID, endpointID, msgID)
		if errors.Is(err, sql.ErrNoRows) {
			return apierr.NotFoundf("webhook message")
		}
		if err != nil {
			return err
		}
		if !r.Enabled {
			return apierr.New(apierr.Conflict, "endpoint_disabled", "the endpoint is disabled: enable it first")
		}
		if err := s.st.setMessage(ctx, tx, wsID, m.ID, MessagePending, false, now); err != nil {
			return err
		}
		m.Status = MessagePending
		out = m
		if err := s.enqueue(ctx, tx, wsID, m.ID, true); err != nil {
			return err
		}
		return audit.Record(ctx, tx, now, audit.Entry{WorkspaceID: wsID, Action: "webhook_message.retried", ResourceType: "webhook_message", ResourceID: m.ID})
	})
	return out, err
}

// Replay limits.
const (
	// MaxReplay is how many messages one replay re-sends at most (the oldest since the time
	// given); replay again from the last one's time for more.
	MaxReplay = 10000
)

// ReplayInput says which of an endpoint's messages to send again.
type ReplayInput struct {
	// Since: messages created at or after this time.
	Since time.Time
	// All re-sends every message since then; otherwise only the failed ones.
	All bool
}

// ReplayResult is what a replay did.
type ReplayResult struct {
	// Replayed is how many messages were queued again.
	Replayed int `json:"replayed" doc:"How many messages were queued to be sent again."`
	// Truncated is true when more than MaxReplay messages matched: the oldest MaxReplay were
	// queued.
	Truncated bool `json:"truncated" doc:"True when more messages matched than one replay sends (10,000): replay again from the last one's time."`
}

// Replay sends again, now and with their own webhook-ids, the endpoint's failed messages (every
// message with in.All) created since in.Since (owner, admin; webhooks:write). Errors: NotFound,
// Forbidden, Invalid (since in the future or before the retention), Conflict (the endpoint is
// disabled).
func (s *Service) Replay(ctx context.Context, wsID, endpointID string, in ReplayInput) (ReplayResult, error) {
	if _, err := authz.Require(ctx, wsID, authz.WebhooksWrite); err != nil {
		return ReplayResult{}, err
	}
	now := s.now()
	if in.Since.IsZero() || in.Since.After(now) {
		return ReplayResult{}, apierr.Validation(apierr.FieldError{Location: "body.since", Message: "since must be a time in the past"})
	}
	var out ReplayResult
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		r, err := s.get(ctx, tx, wsID, endpointID)
		if err != nil {
			return err
		}
		if !r.Enabled {
			return apierr.New(apierr.Conflict, "endpoint_disabled", "the endpoint is disabled: enable it first")
		}
		status := MessageFailed
		if in.All {
			status = ""
		}
		ids, err := s.st.messagesSince(ctx, tx, wsID, endpointID, in.Since, status, MaxReplay+1)
		if err != nil {
			return err
		}
		if len(ids) > MaxReplay {
			ids, out.Truncated = ids[:MaxReplay], true
		}
		for _, m := range ids {
			if err := s.st.setMessage(ctx, tx, wsID, m, MessagePending, false, now); err != nil {
				return err
			}
			if err := s.enqueue(ctx, tx, wsID, m, true); err != nil {
				return err
			}
		}
		out.Replayed = len(ids)
		return audit.Record(ctx, tx, now, audit.Entry{WorkspaceID: wsID, Action: "webhook_endpoint.replayed", ResourceType: "webhook_endpoint", ResourceID: r.ID})
	})
	return out, err
}

// Test sends a ping event to the endpoint, even when it is disabled, and returns its message
// (owner, admin; webhooks:write). Errors: NotFound, Forbidden.
func (s *Service) Test(ctx context.Context, wsID, endpointID string) (Message, error) {
	if _, err := authz.Require(ctx, wsID, authz.WebhooksWrite); err != nil {
		return Message{}, err
	}
	now := s.now()
	var out Message
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		r, err := s.get(ctx, tx, wsID, endpointID)
		if err != nil {
			return err
		}
		ev := events.Event{ID: id.New(id.Event), WorkspaceID: wsID, Type: "ping", CreatedAt: now,
			Data: map[string]any{"endpointId": r.ID, "message": "Hello from Parley"}}
		body, err := ev.MarshalJSON()
		if err != nil {
			return err
		}
		m := Message{ID: id.New(id.Message), EndpointID: r.ID, EventID: ev.ID, EventType: ev.Type, Status: MessagePending, CreatedAt: now,
			payload: string(body), workspaceID: wsID}
		if err := s.st.insertMessage(ctx, tx, m); err != nil {
			return err
		}
		out = m
		return s.enqueue(ctx, tx, wsID, m.ID, true)
	})
	return out, err
}

// riverClient is what jobs.Queue offers beyond InsertTx: its River client, whose InsertManyTx
// enqueues a batch in one statement.
type riverClient interface {
	Client() *river.Client[*sql.Tx]
}

// enqueueMany enqueues the deliveries of a fan-out batch in tx: in one statement when the queue
// is River's, else one by one.
func (s *Service) enqueueMany(ctx context.Context, tx *sql.Tx, args []DeliverArgs) error {
	if len(args) == 0 {
		return nil
	}
	if s.queue == nil {
		return apierr.New(apierr.Unavailable, "webhooks_unavailable", "webhook delivery is not running")
	}
	if rc, ok := s.queue.(riverClient); ok && rc.Client() != nil {
		params := make([]river.InsertManyParams, len(args))
		for i, a := range args {
			params[i] = river.InsertManyParams{Args: a}
		}
		if _, err := rc.Client().InsertManyTx(ctx, tx, params); err != nil {
			return fmt.Errorf("webhook: enqueue %d deliveries: %w", len(args), err)
		}
		return nil
	}
	for _, a := range args {
		if _, err := s.queue.InsertTx(ctx, tx, a, nil); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) enqueue(ctx context.Context, tx *sql.Tx, wsID, msgID string, manual bool) error {
	if s.queue == nil {
		return apierr.New(apierr.Unavailable, "webhooks_unavailable", "webhook delivery is not running")
	}
	_, err := s.queue.InsertTx(ctx, tx, DeliverArgs{WorkspaceID: wsID, MessageID: msgID, Manual: manual}, nil)
	return err
}
