package app

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/swaggest/swgui/v5emb"

	"github.com/parleyhq/parley/internal/identity"
	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/audit"
	"github.com/parleyhq/parley/internal/platform/idempotency"
	"github.com/parleyhq/parley/internal/workspace"
)

// maxBodyBytes is the default request body limit (413 beyond it).
const maxBodyBytes = 1 << 20

var (
	userAuth = []map[string][]string{{"session": {}}}
)

func (s *Server) cookie() identity.Cookie {
	u, err := url.Parse(s.Config.BaseURL)
	return identity.Cookie{Secure: err == nil && u.Scheme == "https"}
}

// newAPI makes the huma API on mux with Parley's conventions.
func newAPI(mux *http.ServeMux) huma.API {
	apierr.InstallHuma()
	cfg := huma.DefaultConfig("Parley API", Version)
	cfg.Info.Description = "Parley is a self-hostable workspace platform for voice-AI agents. " +
		"Workspace resources live under /v1/workspaces/{workspaceId}/…. Errors are RFC 9457 problem+json with a stable `code`."
	cfg.OpenAPIPath = "/v1/openapi"
	cfg.DocsPath = ""
	cfg.SchemasPath = "/v1/schemas"
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"session": {Type: "apiKey", In: "cookie", Name: "parley_session", Description: "The dashboard's session cookie (__Host-parley_session on https)."},
	}
	return humago.New(mux, cfg)
}

// routes wires every route of the server: this file is the one place that lists them.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	api := newAPI(mux)
	api.UseMiddleware(requireAuth(api))

	ih := &identity.HTTP{Svc: s.Identity, Cookie: s.cookie()}
	wh := &workspace.HTTP{Svc: s.Workspaces}

	// Accounts.
	huma.Register(api, huma.Operation{OperationID: "signup", Method: http.MethodPost, Path: "/v1/auth/signup", Tags: []string{"Accounts"},
		Summary: "Create an account", Description: "Creates an account and signs it in (sets the session cookie).", DefaultStatus: http.StatusCreated,
		Errors: []int{409, 422, 429}}, ih.Signup)
	huma.Register(api, huma.Operation{OperationID: "login", Method: http.MethodPost, Path: "/v1/auth/login", Tags: []string{"Accounts"},
		Summary: "Sign in", Errors: []int{401, 429}}, ih.Login)
	huma.Register(api, huma.Operation{OperationID: "logout", Method: http.MethodPost, Path: "/v1/auth/logout", Tags: []string{"Accounts"},
		Summary: "Sign out", Description: "Ends the current session.", DefaultStatus: http.StatusNoContent, Security: userAuth}, ih.Logout)
	huma.Register(api, huma.Operation{OperationID: "request-password-reset", Method: http.MethodPost, Path: "/v1/auth/password-reset", Tags: []string{"Accounts"},
		Summary: "Ask for a password-reset link", Description: "Mails a single-use link valid for one hour. Answers 202 whether or not the account exists.",
		DefaultStatus: http.StatusAccepted, Errors: []int{422, 429}}, ih.RequestReset)
	huma.Register(api, huma.Operation{OperationID: "confirm-password-reset", Method: http.MethodPost, Path: "/v1/auth/password-reset/confirm", Tags: []string{"Accounts"},
		Summary: "Set a new password with a reset token", Description: "Ends every session of the account.", DefaultStatus: http.StatusNoContent,
		Errors: []int{410, 422}}, ih.ConfirmReset)
	huma.Register(api, huma.Operation{OperationID: "get-me", Method: http.MethodGet, Path: "/v1/me", Tags: []string{"Accounts"},
		Summary: "The signed-in user", Security: userAuth}, ih.Me)
	huma.Register(api, huma.Operation{OperationID: "update-me", Method: http.MethodPatch, Path: "/v1/me", Tags: []string{"Accounts"},
		Summary: "Change your name", Security: userAuth, Errors: []int{422}}, ih.UpdateMe)
	huma.Register(api, huma.Operation{OperationID: "change-password", Method: http.MethodPost, Path: "/v1/me/password", Tags: []string{"Accounts"},
		Summary: "Change your password", Description: "Ends every session of the account and opens a new one for this browser.",
		Security: userAuth, Errors: []int{422}}, ih.ChangePassword)

	// Workspaces.
	huma.Register(api, huma.Operation{OperationID: "create-workspace", Method: http.MethodPost, Path: "/v1/workspaces", Tags: []string{"Workspaces"},
		Summary: "Create a workspace", Description: "You become its owner.", DefaultStatus: http.StatusCreated, Security: userAuth, Errors: []int{422}}, wh.Create)
	huma.Register(api, huma.Operation{OperationID: "list-workspaces", Method: http.MethodGet, Path: "/v1/workspaces", Tags: []string{"Workspaces"},
		Summary: "List your workspaces", Description: "Newest first, with your role in each.", Security: userAuth}, wh.List)
	huma.Register(api, huma.Operation{OperationID: "get-workspace", Method: http.MethodGet, Path: "/v1/workspaces/{workspaceId}", Tags: []string{"Workspaces"},
		Summary: "Get a workspace", Security: userAuth, Errors: []int{404}}, wh.Get)
	huma.Register(api, huma.Operation{OperationID: "update-workspace", Method: http.MethodPatch, Path: "/v1/workspaces/{workspaceId}", Tags: []string{"Workspaces"},
		Summary: "Rename a workspace or change its time zone", Description: "Owner and admins.", Security: userAuth, Errors: []int{403, 404, 422}}, wh.Update)
	huma.Register(api, huma.Operation{OperationID: "delete-workspace", Method: http.MethodDelete, Path: "/v1/workspaces/{workspaceId}", Tags: []string{"Workspaces"},
		Summary: "Delete a workspace and all of its data", Description: "Owner only. Send {\"confirm\": \"<workspace id>\"}.",
		DefaultStatus: http.StatusNoContent, Security: userAuth, Errors: []int{403, 404, 422}}, wh.Delete)

	// Team: members, invitations, ownership.

	// API keys.

	// Audit log.
	ah := &audit.HTTP{Reader: &audit.Reader{DB: s.DB}}
	huma.Register(api, huma.Operation{OperationID: "list-audit-log", Method: http.MethodGet, Path: "/v1/workspaces/{workspaceId}/audit-log", Tags: []string{"Audit"},
		Summary: "Read the audit log", Description: "Who did what to which resource, when and from where; newest first. Owner and admins.",
		Security: userAuth, Errors: []int{403, 404, 422}}, ah.List)

	// Operations.
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", s.ready)
	s.metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics, promhttp.HandlerOpts{Registry: s.metrics}))
	mux.Handle("GET /docs", v5emb.New("Parley API", "/v1/openapi.json", "/docs"))
	mux.Handle("GET /docs/", v5emb.New("Parley API", "/v1/openapi.json", "/docs"))

	// The dashboard.
	s.webRoutes(mux)

	// Requests that match no route answer in problem+json too.
	var h http.Handler = notFoundAsProblem(mux)
	h = idempotency.Middleware(s.DB, s.now, maxBodyBytes)(h)
	h = s.authenticate(h)
	h = s.crossOrigin(h)
	h = s.observe(h)
	return h
}

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.DB.Ping(ctx); err != nil {
		s.Logger.Warn("not ready", "err", err)
		apierr.Write(w, r, apierr.New(apierr.Unavailable, "database_unreachable", "the database does not answer"))
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ready\n"))
}

// crossOrigin refuses cross-origin browser writes (CSRF), answering in problem+json.
func (s *Server) crossOrigin(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	if u, err := url.Parse(s.Config.BaseURL); err == nil && u.Host != "" {
		_ = cop.AddTrustedOrigin(u.Scheme + "://" + u.Host)
	}
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		apierr.Write(w, r, apierr.New(apierr.Forbidden, "cross_origin_request", "cross-origin request refused"))
	}))
	return cop.Handler(next)
}

// notFoundAsProblem answers the mux's own 404 and 405 (no route, wrong method) in problem+json.
func notFoundAsProblem(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(&problemWriter{ResponseWriter: w, r: r}, r)
	})
}

// problemWriter replaces the mux's plain-text error with a problem.
type problemWriter struct {
	http.ResponseWriter
	r       *http.Request
	written bool
}

func (p *problemWriter) WriteHeader(code int) {
	if p.written {
		return
	}
	p.written = true
	if code == http.StatusNotFound || code == http.StatusMethodNotAllowed {
		p.ResponseWriter.Header().Del("X-Content-Type-Options")
		apierr.WriteStatus(p.ResponseWriter, p.r, code, "no such route: "+p.r.Method+" "+p.r.URL.Path, nil)
		p.ResponseWriter = discard{p.ResponseWriter}
		return
	}
	p.ResponseWriter.WriteHeader(code)
}

func (p *problemWriter) Write(b []byte) (int, error) {
	if !p.written {
		p.WriteHeader(http.StatusOK)
	}
	return p.ResponseWriter.Write(b)
}

type discard struct{ http.ResponseWriter }

func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}
