package web

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/agent"
	"github.com/parleyhq/parley/internal/apikey"
	"github.com/parleyhq/parley/internal/contact"
	"github.com/parleyhq/parley/internal/identity"
	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/audit"
	"github.com/parleyhq/parley/internal/platform/authz"
	"github.com/parleyhq/parley/internal/platform/db"
	"github.com/parleyhq/parley/internal/platform/db/dbtest"
	"github.com/parleyhq/parley/internal/platform/secret"
	"github.com/parleyhq/parley/internal/workspace"
)

// testEnv is the dashboard over real services on a fresh SQLite database, behind a tiny
// middleware that does what the app's does: request ID and logger, client address for the audit
// log, session cookie → principal.
type testEnv struct {
	srv   *httptest.Server
	db    *db.DB
	ids   *identity.Service
	ws    *workspace.Service
	keys  *apikey.Service
	ags   *agent.Service
	cts   *contact.Service
	clock *testClock // the workspace service's clock (invitation expiry)
}

// testClock is the real time plus an offset that tests may advance.
type testClock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

// envConfig changes the services of a test environment.
type envConfig struct {
	signup identity.SignupMode
	wsOpts []workspace.Option
}

func newEnv(t *testing.T) *testEnv { return newEnvWith(t, envConfig{}) }

func newEnvWith(t *testing.T, cfg envConfig) *testEnv {
	t.Helper()
	d := dbtest.Open(t, db.SQLite)
	clock := &testClock{}
	ws := workspace.NewService(d, clock.Now, append([]workspace.Option{workspace.WithBaseURL("http://parley.test")}, cfg.wsOpts...)...)
	logger := slog.New(slog.DiscardHandler)
	ids := identity.NewService(d, logger, identity.Options{Hash: identity.HashParams{Memory: 64, Time: 1, Threads: 1}, Roles: ws.RoleOf,
		BaseURL: "http://parley.test", Invitations: ws, Signup: cfg.signup})
	keys := apikey.NewService(d, time.Now)
	sealer, err := secret.FromKeys([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	ags := agent.NewService(d, time.Now, agent.WithSecrets(sealer))
	cts := contact.NewService(d, time.Now)
	cookie := identity.Cookie{}
	mux := http.NewServeMux()
	New(Deps{Identity: ids, Workspaces: ws, APIKeys: keys, Agents: ags, Contacts: cts, Audit: &audit.Reader{DB: d}, Cookie: cookie, Logger: logger}).Register(mux)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := apierr.WithRequest(r.Context(), "req_test", logger)
		host, _, _ := strings.Cut(r.RemoteAddr, ":")
		ctx = audit.WithClient(ctx, host, r.UserAgent())
		if c, err := r.Cookie(cookie.Name()); err == nil && c.Value != "" {
			if p, err := ids.Authenticate(ctx, c.Value); err == nil {
				ctx = authz.WithPrincipal(ctx, p)
			}
		}
		mux.ServeHTTP(w, r.WithContext(ctx))
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &testEnv{srv: srv, db: d, ids: ids, ws: ws, keys: keys, ags: ags, cts: cts, clock: clock}
}

// browser is a client with a cookie jar that does not follow redirects, so tests see them.
type browser struct {
	t   *testing.T
	env *testEnv
	c   *http.Client
}

func (e *testEnv) browser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, env: e, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type response struct {
	*http.Response
	body string
}

func (b *browser) do(req *http.Request) response {
	b.t.Helper()
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	// html/template writes + as &#43;: undo it, so tests look for E.164 numbers as people read them.
	return response{res, strings.ReplaceAll(string(body), "&#43;", "+")}
}

func (b *browser) get(path string) response {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.env.srv.URL+path, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

func (b *browser) post(path string, form url.Values) response {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.env.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

func (b *browser) signup(email string) {
	b.t.Helper()
	res := b.post("/signup", url.Values{"email": {email}, "password": {"correct horse battery staple"}, "name": {"Ada"}})
	if res.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("sign up: %d\n%s", res.StatusCode, res.body)
	}
}

// createWorkspace creates a workspace through the form and returns its ID.
func (b *browser) createWorkspace(name, tz string) string {
	b.t.Helper()
	res := b.post("/workspaces", url.Values{"name": {name}, "timezone": {tz}})
	if res.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("create workspace: %d\n%s", res.StatusCode, res.body)
	}
	loc := res.Header.Get("Location")
	if !strings.HasPrefix(loc, "/w/ws_") {
		b.t.Fatalf("create workspace redirected to %q", loc)
	}
	return strings.TrimPrefix(loc, "/w/")
}

func expect(t *testing.T, res response, status int, contains ...string) {
	t.Helper()
	if res.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d\n%s", res.Request.Method, res.Request.URL.Path, res.StatusCode, status, res.body)
	}
	for _, s := range contains {
		if !strings.Contains(res.body, s) {
			t.Errorf("%s %s: body lacks %q\n%s", res.Request.Method, res.Request.URL.Path, s, res.body)
		}
	}
}

func expectRedirect(t *testing.T, res response, to string) {
	t.Helper()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != to {
		t.Fatalf("%s %s: %d to %q, want 303 to %q\n%s", res.Request.Method, res.Request.URL, res.StatusCode, res.Header.Get("Location"), to, res.body)
	}
}

func TestSignupCreatesAccountAndSetsCookie(t *testing.T) {
	env := newEnv(t)
	b := env.browser(t)

	res := b.get("/signup")
	expect(t, res, http.StatusOK, `<label for="email">Email</label>`, `name="password"`, `autocomplete="new-password"`)
	for k, want := range map[string]string{
		"Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "same-origin",
		"Content-Type":            "text/html; charset=utf-8",
	} {
		if got := res.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}

	res = b.post("/signup", url.Values{"email": {"ada@example.com"}, "password": {"correct horse battery staple"}, "name": {"Ada Lovelace"}})
	expectRedirect(t, res, "/workspaces")
	var session *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == "parley_session" {
			session = c
		}
	}
	if session == nil || session.Value == "" || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || session.Path != "/" {
		t.Fatalf("session cookie = %+v", session)
	}
	p, err := env.ids.Authenticate(context.Background(), session.Value)
	if err != nil {
		t.Fatalf("the cookie is not a session: %v", err)
	}
	u, err := env.ids.Me(authz.WithPrincipal(context.Background(), p))
	if err != nil || u.Email != "ada@example.com" || u.Name != "Ada Lovelace" {
		t.Fatalf("account = %+v, %v", u, err)
	}

	res = b.get("/workspaces")
	expect(t, res, http.StatusOK, "ada@example.com", "You are not in any workspace yet", `action="/logout"`, `value="UTC"`)
	// Signed in, the log-in and sign-up pages send you on.
	expectRedirect(t, b.get("/signup"), "/workspaces")
	expectRedirect(t, b.get("/login"), "/workspaces")
	expectRedirect(t, b.get("/"), "/workspaces")
}

func TestSignupErrorsRerenderTheForm(t *testing.T) {
	env := newEnv(t)
	env.browser(t).signup("taken@example.com")

	for _, tc := range []struct {
		name     string
		form     url.Values
		status   int
		contains []string
	}{
		{"bad email", url.Values{"email": {"not-an-email"}, "password": {"correct horse battery staple"}, "name": {"Ada <b>"}},
			http.StatusUnprocessableEntity, []string{"Not a valid email address.", `value="not-an-email"`, `value="Ada &lt;b&gt;"`, `aria-invalid="true" aria-describedby="email-error"`, `href="#email"`}},
		{"short password", url.Values{"email": {"ada@example.com"}, "password": {"short-pw"}},
			http.StatusUnprocessableEntity, []string{"Password must be at least 12 characters.", `value="ada@example.com"`, `password-error`}},
		{"email taken", url.Values{"email": {"taken@example.com"}, "password": {"correct horse battery staple"}},
			http.StatusConflict, []string{"An account with this email already exists.", `value="taken@example.com"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := env.browser(t)
			res := b.post("/signup", tc.form)
			expect(t, res, tc.status, append(tc.contains, "There is a problem", `role="alert"`)...)
			if pw := tc.form.Get("password"); strings.Contains(res.body, pw) {
				t.Errorf("the password was sent back")
			}
			if len(res.Cookies()) != 0 {
				t.Errorf("a failed sign-up set cookies: %v", res.Cookies())
			}
		})
	}
}

func TestLogin(t *testing.T) {
	env := newEnv(t)
	env.browser(t).signup("ada@example.com")
	b := env.browser(t)

	res := b.post("/login", url.Values{"email": {"ada@example.com"}, "password": {"wrong password, clearly"}})
	expect(t, res, http.StatusUnauthorized, "Email or password is incorrect.", `value="ada@example.com"`)
	if strings.Contains(res.body, "wrong password, clearly") {
		t.Errorf("the password was sent back")
	}

	// next is followed when it is a local path, and ignored otherwise.
	res = b.post("/login", url.Values{"email": {"ada@example.com"}, "password": {"correct horse battery staple"}, "next": {"https://evil.example/"}})
	expectRedirect(t, res, "/workspaces")
	res = b.post("/login", url.Values{"email": {"ada@example.com"}, "password": {"correct horse battery staple"}, "next": {"/w/ws_123?tab=x"}})
	expectRedirect(t, res, "/w/ws_123?tab=x")
}

func TestLogout(t *testing.T) {
	env := newEnv(t)
	b := env.browser(t)
	b.signup("ada@example.com")
	u, _ := url.Parse(env.srv.URL)
	old := b.c.Jar.Cookies(u)

	res := b.post("/logout", nil)
	expectRedirect(t, res, "/login")
	if c := res.Cookies(); len(c) != 1 || c[0].Name != "parley_session" || c[0].MaxAge >= 0 {
		t.Fatalf("log-out cookies = %v", c)
	}
	expectRedirect(t, b.get("/workspaces"), "/login")

	// The old cookie is dead: a browser that kept it is told its session ended.
	stale := env.browser(t)
	stale.c.Jar.SetCookies(u, old)
	expectRedirect(t, stale.get("/workspaces"), "/login")
	res = stale.get("/login")
	expect(t, res, http.StatusOK, "Your session has ended")
	if c := res.Cookies(); len(c) != 1 || c[0].MaxAge >= 0 {
		t.Errorf("the stale cookie was not cleared: %v", c)
	}
}

func TestWorkspaceCreateAndOverview(t *testing.T) {
	env := newEnv(t)
	b := env.browser(t)
	b.signup("ada@example.com")

	id := b.createWorkspace("Acme <Support>", "Europe/Berlin")
	res := b.get("/w/" + id)
	expect(t, res, http.StatusOK,
		`<code id="workspace-id" class="copy-value" aria-describedby="id-hint">`+id+`</code>`,
		`data-copy-target="workspace-id"`, `id="copy-status" class="copy-status" role="status" aria-live="polite"`,
		"<h1>Acme &lt;Support&gt;</h1>", "Europe/Berlin", `<dd id="workspace-role">Owner</dd>`,
		`<a href="/w/`+id+`" aria-current="page">Overview</a>`,             // the workspace nav
		`<a href="/w/`+id+`" aria-current="true">Acme &lt;Support&gt;</a>`, // the switcher
		"ada@example.com")
	if strings.Contains(res.body, "<Support>") {
		t.Error("the workspace name was not escaped")
	}
	if got := res.Header.Get("Content-Security-Policy"); got != contentSecurityPolicy {
		t.Errorf("CSP = %q", got)
	}

	// The services agree.
	if !regexp.MustCompile(`^ws_[0-9a-z]+$`).MatchString(id) {
		t.Errorf("workspace ID %q", id)
	}
	res = b.get("/workspaces")
	expect(t, res, http.StatusOK, `<a href="/w/`+id+`">Acme &lt;Support&gt;</a>`, "<code>"+id+"</code>", "<td>Owner</td>")

	// Bad input re-renders the form with the values typed.
	res = b.post("/workspaces", url.Values{"name": {"Second"}, "timezone": {"Mars/Olympus_Mons"}})
	expect(t, res, http.StatusUnprocessableEntity, "Not an IANA time zone name", `value="Second"`, `value="Mars/Olympus_Mons"`, `href="#timezone"`,
		`<a href="/w/`+id+`">Acme &lt;Support&gt;</a>`) // and the list is still there
	if strings.Contains(res.body, "data-detect-timezone") {
		t.Error("a re-rendered form must keep the time zone typed")
	}
	res = b.post("/workspaces", url.Values{"name": {"  "}, "timezone": {"UTC"}})
	expect(t, res, http.StatusUnprocessableEntity, "Name must be 1 to 100 characters.")
}

func TestOtherUsersWorkspaceIsNotFound(t *testing.T) {
	env := newEnv(t)
	ada := env.browser(t)
	ada.signup("ada@example.com")
	id := ada.createWorkspace("Ada's", "UTC")

	bob := env.browser(t)
	bob.signup("bob@example.com")
	mine := bob.createWorkspace("Bob's", "UTC")
	res := bob.get("/w/" + id)
	expect(t, res, http.StatusNotFound, "Page not found", "bob@example.com")
	if strings.Contains(res.body, "Ada&#39;s") || strings.Contains(res.body, "Ada's") {
		t.Error("the 404 page shows the other workspace's name")
	}
	if res.Header.Get("Content-Security-Policy") == "" {
		t.Error("the 404 page lacks the CSP")
	}
	missing := bob.get("/w/ws_01jzzzzzzzzzzzzzzzzzzzzzzz")
	expect(t, missing, http.StatusNotFound, "Page not found")
	expect(t, bob.get("/w/"+mine), http.StatusOK, "Bob&#39;s")
}

func TestNotSignedInRedirectsToLogin(t *testing.T) {
	env := newEnv(t)
	b := env.browser(t)
	expectRedirect(t, b.get("/"), "/login")
	expectRedirect(t, b.get("/workspaces"), "/login")
	expectRedirect(t, b.get("/w/ws_abc?x=1"), "/login?next="+url.QueryEscape("/w/ws_abc?x=1"))
	expectRedirect(t, b.post("/workspaces", url.Values{"name": {"x"}}), "/login")

	res := b.get("/login?next=" + url.QueryEscape("/w/ws_abc"))
	expect(t, res, http.StatusOK, `<input type="hidden" name="next" value="/w/ws_abc">`, `href="/signup?next=%2fw%2fws_abc"`)
	res = b.get("/login?next=" + url.QueryEscape("//evil.example"))
	expect(t, res, http.StatusOK)
	if strings.Contains(res.body, "evil.example") {
		t.Error("an outside next was kept")
	}

	// Signing up from there comes back.
	res = b.post("/signup", url.Values{"email": {"ada@example.com"}, "password": {"correct horse battery staple"}, "next": {"/w/ws_abc"}})
	expectRedirect(t, res, "/w/ws_abc")
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"/workspaces":           "/workspaces",
		"/w/ws_1?tab=a#b":       "/w/ws_1?tab=a#b",
		"":                      "",
		"workspaces":            "",
		"//evil.example":        "",
		"/\\evil.example":       "",
		"/\t/evil.example":      "",
		"https://evil.example/": "",
		"javascript:alert(1)":   "",
		"/%2F/evil.example":     "/%2F/evil.example", // a path on this server
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestStatic(t *testing.T) {
	env := newEnv(t)
	b := env.browser(t)
	for _, name := range []string{"app.css", "app.js"} {
		res := b.get(assetURL(name))
		expect(t, res, http.StatusOK)
		if cc := res.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
			t.Errorf("%s Cache-Control = %q", name, cc)
		}
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, map[string]string{"app.css": "text/css", "app.js": "text/javascript"}[name]) {
			t.Errorf("%s Content-Type = %q", name, ct)
		}
		req, _ := http.NewRequest(http.MethodGet, env.srv.URL+"/static/"+name, nil)
		req.Header.Set("If-None-Match", res.Header.Get("ETag"))
		if res := b.do(req); res.StatusCode != http.StatusNotModified || !strings.Contains(res.Header.Get("Cache-Control"), "must-revalidate") {
			t.Errorf("%s revalidation: %d %q", name, res.StatusCode, res.Header.Get("Cache-Control"))
		}
	}
	expect(t, b.get("/static/nope.css"), http.StatusNotFound)

	// Pages link the fingerprinted files and nothing inline.
	res := b.get("/login")
	expect(t, res, http.StatusOK, assetURL("app.css"), assetURL("app.js"))
	if regexp.MustCompile(`<script>|<style|style="|onclick=`).MatchString(res.body) {
		t.Error("inline script or style on the page")
	}
}

func TestUnknownErrorIsAGeneric500(t *testing.T) {
	var logged strings.Builder
	logger := slog.New(slog.NewTextHandler(&logged, nil))
	h := New(Deps{Logger: slog.New(slog.DiscardHandler)})
	r := httptest.NewRequest(http.MethodGet, "/w/ws_1", nil)
	r = r.WithContext(apierr.WithRequest(r.Context(), "req_abc", logger))
	w := httptest.NewRecorder()
	h.fail(w, r, nil, errors.New("disk on fire: /var/secret/path"))

	if w.Code != http.StatusInternalServerError {
		t.Fatalf("status %d", w.Code)
	}
	body := w.Body.String()
	for _, s := range []string{"Something went wrong", "<code>req_abc</code>"} {
		if !strings.Contains(body, s) {
			t.Errorf("body lacks %q\n%s", s, body)
		}
	}
	if strings.Contains(body, "disk on fire") {
		t.Error("the internal error reached the page")
	}
	if !strings.Contains(logged.String(), "disk on fire") || !strings.Contains(logged.String(), "req_abc") {
		t.Errorf("the error was not logged with the request ID: %s", logged.String())
	}
}

func TestRateLimitedLoginSaysWhenToRetry(t *testing.T) {
	env := newEnv(t)
	e := apierr.New(apierr.RateLimited, "too_many_attempts", "too many attempts; try again later")
	e.RetryAfter = 1500 * time.Millisecond
	h := New(Deps{Identity: env.ids, Workspaces: env.ws})
	r := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader("email=a%40b.example"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	_ = r.ParseForm()
	w := httptest.NewRecorder()
	h.formError(w, r, "login", h.authView(r, newForm(r, loginFields...)), e)
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "2" {
		t.Errorf("status %d, Retry-After %q", w.Code, w.Header().Get("Retry-After"))
	}
	if body := w.Body.String(); !strings.Contains(body, "Too many attempts; try again later.") || !strings.Contains(body, `value="a@b.example"`) {
		t.Errorf("body:\n%s", body)
	}
}

func TestWorkspacesArePaged(t *testing.T) {
	env := newEnv(t)
	b := env.browser(t)
	b.signup("ada@example.com")
	u, _ := url.Parse(env.srv.URL)
	p, err := env.ids.Authenticate(context.Background(), b.c.Jar.Cookies(u)[0].Value)
	if err != nil {
		t.Fatal(err)
	}
	ctx := authz.WithPrincipal(context.Background(), p)
	var first string
	for i := range workspacesPerPage + 1 {
		m, err := env.ws.Create(ctx, workspace.CreateInput{Name: "Team " + strconv.Itoa(i)})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = m.ID
		}
	}

	res := b.get("/workspaces")
	expect(t, res, http.StatusOK, "Team 50", "More workspaces…", "Older workspaces")
	if strings.Contains(res.body, first) {
		t.Error("the oldest workspace is on the first page")
	}
	next := regexp.MustCompile(`href="(/workspaces\?cursor=[^"]+)"`).FindStringSubmatch(res.body)
	if next == nil {
		t.Fatal("no link to the next page")
	}
	res = b.get(strings.ReplaceAll(next[1], "&amp;", "&"))
	expect(t, res, http.StatusOK, `<a href="/w/`+first+`">Team 0</a>`, `<a href="/workspaces">Newest</a>`)
	if strings.Contains(res.body, "Older workspaces") {
		t.Error("the last page offers more")
	}
	// A mangled cursor starts over.
	expectRedirect(t, b.get("/workspaces?cursor=%21%21"), "/workspaces")
}
