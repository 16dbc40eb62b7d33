package web

import (
	"context"
	"database/sql"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/parleyhq/parley/internal/identity"
	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/audit"
	"github.com/parleyhq/parley/internal/platform/authz"
	"github.com/parleyhq/parley/internal/platform/db"
	"github.com/parleyhq/parley/internal/platform/db/dbtest"
	"github.com/parleyhq/parley/internal/platform/secret"
	"github.com/parleyhq/parley/internal/webhook"
	"github.com/parleyhq/parley/internal/workspace"
)

// noQueue accepts delivery jobs and drops them (these tests look at pages, not deliveries).
type noQueue struct{}

func (noQueue) InsertTx(context.Context, *sql.Tx, river.JobArgs, *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	return &rivertype.JobInsertResult{}, nil
}

// newWebhooksEnv is a dashboard with the Webhooks pages, on SQLite, https-only endpoints.
func newWebhooksEnv(t *testing.T) *testEnv {
	t.Helper()
	d := dbtest.Open(t, db.SQLite)
	clock := &testClock{}
	ws := workspace.NewService(d, clock.Now, workspace.WithBaseURL("http://parley.test"))
	logger := slog.New(slog.DiscardHandler)
	ids := identity.NewService(d, logger, identity.Options{Hash: identity.HashParams{Memory: 64, Time: 1, Threads: 1}, Roles: ws.RoleOf,
		BaseURL: "http://parley.test", Invitations: ws})
	sealer, err := secret.FromKeys([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	hooks := webhook.NewService(d, sealer, noQueue{}, webhook.Options{})
	mux := http.NewServeMux()
	cookie := identity.Cookie{}
	New(Deps{Identity: ids, Workspaces: ws, Webhooks: hooks, Audit: &audit.Reader{DB: d}, Cookie: cookie, Logger: logger}).Register(mux)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := apierr.WithRequest(r.Context(), "req_test", logger)
		if c, err := r.Cookie(cookie.Name()); err == nil && c.Value != "" {
			if p, err := ids.Authenticate(ctx, c.Value); err == nil {
				ctx = authz.WithPrincipal(ctx, p)
			}
		}
		mux.ServeHTTP(w, r.WithContext(ctx))
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &testEnv{srv: srv, db: d, ids: ids, ws: ws, clock: clock}
}

var secretPattern = regexp.MustCompile(`whsec_[A-Za-z0-9+/=]+`)

// The Webhooks pages: an owner adds an endpoint (a bad URL comes back beside its field) and sees
// the secret once; a member has no Webhooks link and gets 403, never a secret; another workspace's
// endpoint is 404.
func TestWebhooksPagesByRole(t *testing.T) {
	env := newWebhooksEnv(t)
	owner := env.browser(t)
	owner.signup("owner@example.com")
	ws := owner.createWorkspace("Hooks", "UTC")

	res := owner.get("/w/" + ws + "/webhooks")
	expect(t, res, 200, "No webhook endpoints yet", `href="/w/`+ws+`/webhooks" aria-current="page"`, `value="call.completed"`)

	res = owner.post("/w/"+ws+"/webhooks", url.Values{"url": {"http://hooks.example.com/x"}, "description": {"CRM"}, "events": {"agent.created"}})
	expect(t, res, 422, `id="url-error"`, "must use https", `value="CRM"`)
	if !strings.Contains(res.body, `value="agent.created" checked`) {
		t.Error("the ticked event type was lost")
	}
	res = owner.post("/w/"+ws+"/webhooks", url.Values{"url": {"https://hooks.example.com/x"}, "events": {"*", "agent.created"}})
	expect(t, res, 200, `id="webhook-secret"`, "all events")
	secret := secretPattern.FindString(res.body)
	if secret == "" || res.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("no secret shown, or the page may be cached (%q)", res.Header.Get("Cache-Control"))
	}
	epID := regexp.MustCompile(`/webhooks/(whep_[a-z0-9]+)/test`).FindStringSubmatch(res.body)[1]
	if page := owner.get("/w/" + ws + "/webhooks/" + epID); strings.Contains(page.body, secret) {
		t.Error("the endpoint's page shows the secret without asking")
	}
	expect(t, owner.post("/w/"+ws+"/webhooks/"+epID+"/reveal-secret", nil), 200, secret)
	expectRedirect(t, owner.post("/w/"+ws+"/webhooks/"+epID+"/test", nil), "/w/"+ws+"/webhooks/"+epID+"?notice=webhook-test")
	expect(t, owner.get("/w/"+ws+"/webhooks/"+epID+"?notice=webhook-test"), 200, "Test event queued", "ping", "Not attempted yet")
	expect(t, owner.post("/w/"+ws+"/webhooks/"+epID+"/replay", url.Values{"since": {"yesterday"}}), 422, "Not a date and time")
	since := time.Now().UTC().Add(-time.Hour).Format("2006-01-02T15:04")
	expectRedirect(t, owner.post("/w/"+ws+"/webhooks/"+epID+"/replay", url.Values{"since": {since}}), "/w/"+ws+"/webhooks/"+epID+"?notice=webhook-nothing")
	expectRedirect(t, owner.post("/w/"+ws+"/webhooks/"+epID+"/disable", nil), "/w/"+ws+"/webhooks/"+epID+"?notice=webhook-disabled")
	expect(t, owner.post("/w/"+ws+"/webhooks/"+epID+"/replay", url.Values{"since": {since}}), 409, "enable it first")

	// A member of the workspace.
	member := env.browser(t)
	member.signup("member@example.com")
	var uid string
	if err := env.db.Read.QueryRow(`SELECT id FROM users WHERE email = 'member@example.com'`).Scan(&uid); err != nil {
		t.Fatal(err)
	}
	if _, err := env.db.Write.Exec(`INSERT INTO workspace_members (workspace_id, user_id, role, created_at) VALUES ($1, $2, 'member', $3)`, ws, uid, db.Time(time.Now())); err != nil {
		t.Fatal(err)
	}
	if res := member.get("/w/" + ws); strings.Contains(res.body, "/webhooks") {
		t.Error("a member sees the Webhooks link")
	}
	expect(t, member.get("/w/"+ws+"/webhooks"), 403)
	for _, p := range []string{"/reveal-secret", "/rotate-secret"} {
		if res := member.post("/w/"+ws+"/webhooks/"+epID+p, nil); res.StatusCode != 403 || strings.Contains(res.body, "whsec_") {
			t.Errorf("member %s: %d", p, res.StatusCode)
		}
	}

	// Someone else's workspace.
	outsider := env.browser(t)
	outsider.signup("outsider@example.com")
	other := outsider.createWorkspace("Elsewhere", "UTC")
	expect(t, outsider.get("/w/"+other+"/webhooks/"+epID), 404)
	expect(t, outsider.post("/w/"+other+"/webhooks/"+epID+"/reveal-secret", nil), 404)

	expectRedirect(t, owner.post("/w/"+ws+"/webhooks/"+epID+"/delete", nil), "/w/"+ws+"/webhooks?notice=webhook-deleted")
	expect(t, owner.get("/w/"+ws+"/webhooks/"+epID), 404)
}
