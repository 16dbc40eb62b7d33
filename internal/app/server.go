package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parleyhq/parley/internal/agent"
	"github.com/parleyhq/parley/internal/apikey"
	"github.com/parleyhq/parley/internal/billing"
	"github.com/parleyhq/parley/internal/call"
	"github.com/parleyhq/parley/internal/campaign"
	"github.com/parleyhq/parley/internal/contact"
	"github.com/parleyhq/parley/internal/identity"
	"github.com/parleyhq/parley/internal/platform/db"
	"github.com/parleyhq/parley/internal/platform/jobs"
	"github.com/parleyhq/parley/internal/platform/mail"
	"github.com/parleyhq/parley/internal/platform/secret"
	"github.com/parleyhq/parley/internal/telephony"
	"github.com/parleyhq/parley/internal/telephony/sim"
	"github.com/parleyhq/parley/internal/webhook"
	"github.com/parleyhq/parley/internal/workspace"
)

// Server is a wired Parley: the store, the services and the HTTP handler.
type Server struct {
	Config     Config
	Logger     *slog.Logger
	DB         *db.DB
	Identity   *identity.Service
	Workspaces *workspace.Service
	APIKeys    *apikey.Service
	Agents     *agent.Service
	Contacts   *contact.Service
	Billing    *billing.Service
	Webhooks   *webhook.Service
	Telephony  *telephony.Service
	Calls      *call.Service
	Campaigns  *campaign.Service
	Sim        *sim.Engine
	Mail       *mail.Deliverer
	Secrets    *secret.Keyring
	Handler    http.Handler
	queue      *jobs.Queue
	dispatch   func() // stops the webhook dispatcher and waits for it (set by StartWorkers)
	metrics    *prometheus.Registry
	now        func() time.Time
}

// Overrides are what tests may change beyond Config.
type Overrides struct {
	Now  func() time.Time
	Hash identity.HashParams
	// Getenv reads PARLEY_MASTER_KEY and PARLEY_MASTER_KEY_PREVIOUS (os.Getenv in production).
	Getenv func(string) string
}

// openStore opens and migrates the store that cfg names.
func openStore(ctx context.Context, cfg Config, logger *slog.Logger) (*db.DB, error) {
	d, err := db.Open(ctx, db.Config{URL: cfg.DatabaseURL, DataDir: cfg.DataDir, SQLiteSynchronous: cfg.SQLiteSynchronous})
	if err != nil {
		return nil, err
	}
	if err := d.Migrate(ctx, logger, jobs.Migrations(d.Dialect)...); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// NewServer opens the store, applies migrations and wires every service and route.
func NewServer(ctx context.Context, cfg Config, logger *slog.Logger, ov Overrides) (*Server, error) {
	if !strings.HasPrefix(cfg.BaseURL, "http://") && !strings.HasPrefix(cfg.BaseURL, "https://") {
		return nil, fmt.Errorf("--base-url must start with http:// or https://, not %q", cfg.BaseURL)
	}
	now := ov.Now
	if now == nil {
		now = time.Now
	}
	getenv := ov.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	keys, err := secret.Load(cfg.DataDir, getenv)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	if keys.Generated() {
		logger.Warn("generated a new master key; back it up: stored credentials cannot be decrypted without it",
			"path", filepath.Join(cfg.DataDir, secret.FileName), "key_id", keys.PrimaryID())
	}
	if cfg.DatabaseURL != "" && keys.Source() == "file" {
		logger.Warn("on PostgreSQL every replica needs the same master key: set PARLEY_MASTER_KEY", "key_id", keys.PrimaryID())
	}
	d, err := openStore(ctx, cfg, logger)
	if err != nil {
		return nil, err
	}
	bill := billing.NewService(d, now)
	ws := workspace.NewService(d, now, workspace.WithBaseURL(cfg.BaseURL), workspace.WithCreateHook(welcomeCredits(bill, cfg.WelcomeCredits)))
	ids := identity.NewService(d, logger, identity.Options{
		Hash: ov.Hash, IdleTimeout: cfg.SessionIdle, MaxAge: cfg.SessionMaxAge,
		Signup: identity.SignupMode(cfg.Signup), BaseURL: cfg.BaseURL, Roles: ws.RoleOf, Invitations: ws, Now: now,
	})
	s := &Server{
		Config: cfg, Logger: logger, DB: d, Secrets: keys, Identity: ids, Workspaces: ws, now: now,
		APIKeys: apikey.NewService(d, now),
		Agents:  agent.NewService(d, now, agent.WithSecrets(keys)),
		Mail:    &mail.Deliverer{DB: d, Logger: logger, SMTPURL: cfg.SMTPURL, Now: now},
		metrics: prometheus.NewRegistry(),
	}
	s.Billing = bill
	// Webhook jobs are inserted through an insert-only queue (InsertTx works without workers);
	// StartWorkers runs them and the dispatcher.
	inserts, err := jobs.New(d, logger, jobs.Options{})
	if err != nil {
		d.Close()
		return nil, err
	}
	s.Webhooks = webhook.NewService(d, keys, inserts, webhook.Options{Now: now, AllowPrivate: cfg.WebhookAllowPrivate})
	// CSV imports keep their uploads in the data directory until their job has run.
	s.Contacts = contact.NewService(d, now, contact.WithImports(filepath.Join(cfg.DataDir, "imports"), inserts))
	s.Sim = sim.NewEngine(cfg.SimTimeScale)
	s.Telephony = telephony.NewService(d, keys, now, telephony.Options{BaseURL: cfg.BaseURL, Adapters: adapters(s.Sim),
		APIBaseURLs: cfg.TelephonyAPIURLs, AllowHTTPRouting: cfg.WebhookAllowPrivate})
	s.Calls = call.NewService(d, s.Agents, s.Contacts, bill, s.Telephony, inserts, call.Options{BaseURL: cfg.BaseURL, Now: now,
		RoutingClient: webhook.NewClient(cfg.WebhookAllowPrivate), Secrets: keys})
	s.Campaigns = campaign.NewService(d, s.Agents, s.Contacts, s.Calls, s.Telephony, inserts, campaign.Options{Now: now})
	s.Sim.SetDeliver(s.deliverSim)
	s.Handler = s.routes()
	return s, nil
}

// Close releases the store.
func (s *Server) Close() error {
	if s.Sim != nil {
		s.Sim.Close()
	}
	return s.DB.Close()
}
