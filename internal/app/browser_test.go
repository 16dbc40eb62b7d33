package app

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/parleyhq/parley/internal/identity"
	"github.com/parleyhq/parley/internal/platform/authz"
)

// chromiumPath is Debian's Chromium (apt-get install -y chromium).
const chromiumPath = "/usr/bin/chromium"

// screenshotsEnv names a directory where the browser tests also keep their screenshots (for a
// person to look at); by default they go to the test's temporary directory only.
const screenshotsEnv = "PARLEY_BROWSER_SCREENSHOTS"

// startChromium starts headless Chromium for the test. Without Chromium the test is skipped, except
// in CI (CI=true), where it fails.
func startChromium(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Chromium is required in CI: %v", err)
		}
		t.Skipf("no Chromium at %s (apt-get install -y chromium)", chromiumPath)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(cancel)
	// The first action starts the browser, which lives as long as ctx: no timeout on it.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// newBrowserTestServer serves a whole Parley server (fresh SQLite data directory) on a local port, with
// the base URL set to that port.
func newBrowserTestServer(t *testing.T, tweaks ...func(*Config)) (*Server, string) {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	base := "http://" + ts.Listener.Addr().String()
	cfg := Config{
		Addr: ts.Listener.Addr().String(), DataDir: t.TempDir(), BaseURL: base,
		LogFormat: "text", LogLevel: "warn", Signup: "open", SQLiteSynchronous: "normal",
		SessionIdle: time.Hour, SessionMaxAge: 12 * time.Hour,
		JobWorkers: 2, JobFetchCooldown: 100 * time.Millisecond, ShutdownTimeout: 5 * time.Second,
	}
	for _, tw := range tweaks {
		tw(&cfg)
	}
	logger := slog.New(slog.NewTextHandler(browserLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, err := NewServer(context.Background(), cfg, logger, Overrides{Hash: identity.HashParams{Memory: 64, Time: 1, Threads: 1}})
	if err != nil {
		ts.Close()
		t.Fatalf("new server: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	ts.Config.Handler = s.Handler
	ts.Start()
	t.Cleanup(ts.Close)
	return s, base
}

// browserLogWriter sends the server's log lines to the test log.
type browserLogWriter struct{ t *testing.T }

func (w browserLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// saveBrowserScreenshot checks that png is a non-empty PNG and writes it to the test's temporary
// directory (and to $PARLEY_BROWSER_SCREENSHOTS when set).
func saveBrowserScreenshot(t *testing.T, name string, png []byte) {
	t.Helper()
	if len(png) == 0 || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("screenshot %s: not a PNG (%d bytes)", name, len(png))
	}
	dirs := []string{t.TempDir()}
	if d := os.Getenv(screenshotsEnv); d != "" {
		dirs = append(dirs, d)
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatalf("save screenshot: %v", err)
		}
		if fi, err := os.Stat(p); err != nil || fi.Size() == 0 {
			t.Fatalf("screenshot %s is empty: %v", p, err)
		}
	}
}

// TestBrowserSignupToOverview drives the dashboard in headless Chromium: sign up, create a
// workspace, land on its Overview and read the Workspace ID, which must be the workspace the
// API and the services know.
// tab drives one browser tab in a test; a failing step reports what it was doing, where the
// page was and what it said.
type tab struct {
	t   *testing.T
	ctx context.Context
}

func (b tab) step(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	sctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(sctx, steps...); err != nil {
		loc, _ := chromedp.Run(b.ctx, chromedp.Location())
		page, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
		b.t.Fatalf("%s: %v\nat %s:\n%s", what, err, loc, page)
	}
}

func (b tab) get(what string, a chromedp.Action[string]) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, a)
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	return strings.TrimSpace(v)
}

func (b tab) js(what, expr string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	return strings.Join(strings.Fields(v), " ")
}

// signUpWithWorkspace signs Ada up from the sign-up page, creates "Acme Support" and returns its
// ID as the Overview shows it.
func (b tab) signUpWithWorkspace(base string) string {
	b.t.Helper()
	b.step("sign up and create a workspace",
		chromedp.Navigate(base+"/signup"),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/signup"]`)),
		chromedp.SendKeys(chromedp.ID("name"), "Ada Lovelace"),
		chromedp.SendKeys(chromedp.ID("email"), "ada@example.com"),
		chromedp.SendKeys(chromedp.ID("password"), "correct horse battery staple"),
		chromedp.Click(chromedp.CSS(`form[action="/signup"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("timezone")),
		chromedp.SendKeys(chromedp.ID("name"), "Acme Support"),
		chromedp.SetValue(chromedp.ID("timezone"), "UTC"),
		chromedp.Click(chromedp.CSS(`form[action="/workspaces"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("workspace-id")),
	)
	return b.get("workspace ID", chromedp.Text(chromedp.ID("workspace-id")))
}

func TestBrowserSignupToOverview(t *testing.T) {
	s, base := newBrowserTestServer(t)
	bctx := startChromium(t)
	ctx, cancel := context.WithTimeout(bctx, 60*time.Second)
	defer cancel()
	p := tab{t, ctx}

	// Not signed in: the dashboard sends us to log in; from there, to sign up.
	p.step("open the dashboard", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.ID("email")))
	if loc := p.get("location", chromedp.Location()); loc != base+"/login" {
		t.Fatalf("/ went to %s, want the log-in page", loc)
	}
	p.step("sign up",
		chromedp.Click(chromedp.CSS(`a[href="/signup"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/signup"]`)),
		chromedp.SendKeys(chromedp.ID("name"), "Ada Lovelace"),
		chromedp.SendKeys(chromedp.ID("email"), "ada@example.com"),
		chromedp.SendKeys(chromedp.ID("password"), "correct horse battery staple"),
		chromedp.Click(chromedp.CSS(`form[action="/signup"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("timezone")),
	)
	if email := p.get("header email", chromedp.Text(chromedp.CSS(".account .email"))); email != "ada@example.com" {
		t.Errorf("header shows %q, want the user's email", email)
	}
	if tz := p.get("time zone default", chromedp.Value(chromedp.ID("timezone"))); tz == "" {
		t.Error("the time zone field has no default")
	}

	// A time zone that does not exist: the form comes back with the error and what was typed.
	p.step("create a workspace with a bad time zone",
		chromedp.SendKeys(chromedp.ID("name"), "Acme Support"),
		chromedp.SetValue(chromedp.ID("timezone"), "Mars/Olympus_Mons"),
		chromedp.Click(chromedp.CSS(`form[action="/workspaces"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("timezone-error")),
	)
	if name := p.get("name kept", chromedp.Value(chromedp.ID("name"))); name != "Acme Support" {
		t.Errorf("the name typed came back as %q", name)
	}
	focused, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.activeElement === document.querySelector(".error-summary")`))
	if err != nil || !focused {
		t.Errorf("the error summary does not have the focus (%v)", err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	saveBrowserScreenshot(t, "workspaces-error.png", png)

	p.step("create a workspace",
		chromedp.SetValue(chromedp.ID("timezone"), "Europe/Berlin"),
		chromedp.Click(chromedp.CSS(`form[action="/workspaces"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("workspace-id")),
	)
	loc := p.get("location", chromedp.Location())
	wsID := strings.TrimSpace(p.get("workspace ID", chromedp.Text(chromedp.ID("workspace-id"))))
	if !regexp.MustCompile(`^ws_[0-9a-z]{26}$`).MatchString(wsID) {
		t.Fatalf("#workspace-id = %q, want a ws_ ID", wsID)
	}
	if loc != base+"/w/"+wsID {
		t.Errorf("landed on %s, want the overview of %s", loc, wsID)
	}
	if role := p.get("role", chromedp.Text(chromedp.ID("workspace-role"))); role != "Owner" {
		t.Errorf("role = %q, want Owner", role)
	}

	// The same session sees the same workspace through the API…
	apiIDs, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
		`fetch("/v1/workspaces", {credentials: "same-origin"}).then(r => r.json()).then(j => j.data.map(w => w.id))`,
		chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("GET /v1/workspaces: %v", err)
	}
	if len(apiIDs) != 1 || apiIDs[0] != wsID {
		t.Errorf("GET /v1/workspaces = %v, want [%s]", apiIDs, wsID)
	}
	// …and the services agree on its owner.
	d, err := s.Workspaces.Show(authz.WithPrincipal(context.Background(), authz.System()), wsID)
	if err != nil {
		t.Fatalf("show workspace: %v", err)
	}
	if d.Name != "Acme Support" || d.Timezone != "Europe/Berlin" || d.Owner.Email != "ada@example.com" {
		t.Errorf("workspace = %+v", d)
	}

	// The stylesheet and the script load under the page's Content-Security-Policy: the header is
	// styled and the script has revealed the Copy button, which announces the copy.
	styled, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`getComputedStyle(document.querySelector(".site-header")).borderBottomStyle === "solid"`))
	if err != nil || !styled {
		t.Errorf("the stylesheet did not apply (%v)", err)
	}
	p.step("copy the workspace ID",
		chromedp.WaitVisible(chromedp.CSS(`button[data-copy-target="workspace-id"]`)),
		chromedp.Click(chromedp.CSS(`button[data-copy-target="workspace-id"]`)),
	)
	status, err := chromedp.Run(ctx, chromedp.Poll[string](`document.getElementById("copy-status").textContent`,
		chromedp.WithPollingTimeout(5*time.Second)))
	if err != nil {
		t.Fatalf("no copy announcement: %v", err)
	}
	if status != "Copied" && !strings.HasPrefix(status, "Selected") {
		t.Errorf("copy announced %q", status)
	}
	t.Logf("copy announced %q", status)

	png, err = chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	saveBrowserScreenshot(t, "overview.png", png)

	// On a phone-sized screen.
	p.step("phone viewport", chromedp.EmulateViewport(390, 844), chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("workspace-id")))
	png, err = chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	saveBrowserScreenshot(t, "overview-phone.png", png)
	wide, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
	if err != nil || wide {
		t.Errorf("the overview scrolls sideways on a phone (%v)", err)
	}

	// Log out: back to the log-in page, and the dashboard is closed again.
	p.step("log out",
		chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/login"]`)),
		chromedp.Navigate(base+"/w/"+wsID),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/login"]`)),
	)
	if loc := p.get("location", chromedp.Location()); !strings.HasPrefix(loc, base+"/login?next=") {
		t.Errorf("after log-out the overview went to %s, want the log-in page", loc)
	}
}

// TestBrowserTeamInvitation drives the team pages in two browsers with their own cookies: the
// owner invites a member from the Team page; the member opens the mailed link in the other
// browser, creates an account from it (which accepts), accepts a second invitation with the
// Accept button, and sees the workspace but none of the Team controls. The owner then creates an
// API key, whose secret the result page shows once with a Copy button.
func TestBrowserTeamInvitation(t *testing.T) {
	s, base := newBrowserTestServer(t)
	bctx := startChromium(t)
	ownerCtx, cancel := context.WithTimeout(bctx, 90*time.Second)
	defer cancel()
	// The member's browser: a new browser context of the same Chromium, with its own cookies.
	memberTab, cancelMember := chromedp.NewContext(bctx, chromedp.WithNewBrowserContext())
	defer cancelMember()
	memberCtx, cancel2 := context.WithTimeout(memberTab, 90*time.Second)
	defer cancel2()

	step := func(ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	eval := func(ctx context.Context, what, js string) bool {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
	text := func(ctx context.Context, what string, sel chromedp.CSS) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(sel))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return strings.TrimSpace(v)
	}
	screenshot := func(ctx context.Context, name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		saveBrowserScreenshot(t, name, png)
	}
	invitationLink := func(email string) string {
		t.Helper()
		var body string
		if err := s.DB.Read.QueryRowContext(ownerCtx, `SELECT body FROM mail_outbox WHERE to_addr = $1 ORDER BY id DESC LIMIT 1`, email).Scan(&body); err != nil {
			t.Fatalf("no invitation mail to %s: %v", email, err)
		}
		link := regexp.MustCompile(regexp.QuoteMeta(base) + `/invitations/[A-Za-z0-9_-]+`).FindString(body)
		if link == "" {
			t.Fatalf("no invitation link in the mail: %q", body)
		}
		return link
	}
	createWorkspace := func(name string) string {
		t.Helper()
		step(ownerCtx, "create "+name,
			chromedp.Navigate(base+"/workspaces"),
			chromedp.WaitVisible(chromedp.ID("name")),
			chromedp.SendKeys(chromedp.ID("name"), name),
			chromedp.SetValue(chromedp.ID("timezone"), "UTC"),
			chromedp.Click(chromedp.CSS(`form[action="/workspaces"] button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.ID("workspace-id")),
		)
		return text(ownerCtx, "workspace ID", chromedp.CSS("#workspace-id"))
	}
	invite := func(wsID, email string) {
		t.Helper()
		step(ownerCtx, "invite "+email,
			chromedp.Navigate(base+"/w/"+wsID),
			chromedp.WaitVisible(chromedp.ID("workspace-id")),
			chromedp.Click(chromedp.CSS(`nav.section-nav a[href="/w/`+wsID+`/team"]`)),
			chromedp.WaitVisible(chromedp.ID("invite-form")),
			chromedp.SendKeys(chromedp.CSS(`#invite-form #email`), email),
			chromedp.SetValue(chromedp.CSS(`#invite-form #role`), "member"),
			chromedp.Click(chromedp.CSS(`#invite-form button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS(`.flash`)),
		)
		if got := text(ownerCtx, "pending invitation", chromedp.CSS(`#invitations tbody th`)); got != email {
			t.Fatalf("pending invitations list %q, want %s", got, email)
		}
	}

	// The owner signs up and creates a workspace.
	step(ownerCtx, "owner signs up",
		chromedp.Navigate(base+"/signup"),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/signup"]`)),
		chromedp.SendKeys(chromedp.ID("name"), "Ada Lovelace"),
		chromedp.SendKeys(chromedp.ID("email"), "ada@example.com"),
		chromedp.SendKeys(chromedp.ID("password"), "correct horse battery staple"),
		chromedp.Click(chromedp.CSS(`form[action="/signup"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("timezone")),
	)
	wsID := createWorkspace("Acme Support")
	invite(wsID, "bob@example.com")

	// The member opens the link in the other browser and creates an account from it.
	step(memberCtx, "open the invitation",
		chromedp.Navigate(invitationLink("bob@example.com")),
		chromedp.WaitVisible(chromedp.ID("invitation-signup")),
	)
	if email := text(memberCtx, "invited email", chromedp.CSS("#invitation-email")); email != "bob@example.com" {
		t.Errorf("the invitation shows %q", email)
	}
	screenshot(memberCtx, "invitation.png")
	step(memberCtx, "sign up from the invitation",
		chromedp.SendKeys(chromedp.CSS("#invitation-signup #name"), "Bob Babbage"),
		chromedp.SendKeys(chromedp.CSS("#invitation-signup #password"), "another horse battery staple"),
		chromedp.Click(chromedp.CSS(`#invitation-signup button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("workspace-id")),
	)
	if got := text(memberCtx, "workspace ID", chromedp.CSS("#workspace-id")); got != wsID {
		t.Fatalf("the member landed on %s, want %s", got, wsID)
	}
	if role := text(memberCtx, "role", chromedp.CSS("#workspace-role")); role != "Member" {
		t.Errorf("the member's role is %q", role)
	}

	// A second invitation, answered with the Accept button while signed in.
	second := createWorkspace("Acme Sales")
	invite(second, "bob@example.com")
	step(memberCtx, "accept the second invitation",
		chromedp.Navigate(invitationLink("bob@example.com")),
		chromedp.WaitVisible(chromedp.ID("accept")),
		chromedp.Click(chromedp.ID("accept")),
		chromedp.WaitVisible(chromedp.ID("workspace-id")),
	)
	if got := text(memberCtx, "workspace ID", chromedp.CSS("#workspace-id")); got != second {
		t.Fatalf("accepting landed on %s, want %s", got, second)
	}
	if !strings.Contains(text(memberCtx, "welcome", chromedp.CSS(".flash")), "joined") {
		t.Error("no welcome notice after accepting")
	}

	// The member sees the workspace and its team, but no Team controls and no owner/admin pages.
	step(memberCtx, "member opens the Team page",
		chromedp.Navigate(base+"/w/"+wsID),
		chromedp.WaitVisible(chromedp.ID("workspace-id")),
		chromedp.Click(chromedp.CSS(`nav.section-nav a[href="/w/`+wsID+`/team"]`)),
		chromedp.WaitVisible(chromedp.ID("members")),
	)
	if !eval(memberCtx, "members listed", `document.querySelectorAll("#members tbody tr").length === 2`) {
		t.Error("the member does not see both members")
	}
	if eval(memberCtx, "team controls", `!!document.querySelector('#invite-form, #invitations, form[action$="/remove"], form[action$="/role"], select, a[href*="/team/transfer"]')`) {
		t.Error("the member sees Team controls")
	}
	if eval(memberCtx, "admin nav", `!!document.querySelector('nav.section-nav a[href$="/api-keys"], nav.section-nav a[href$="/audit"]')`) {
		t.Error("the member's nav offers API keys or the audit log")
	}
	if !eval(memberCtx, "leave", `!!document.querySelector('form[action$="/team/leave"] button')`) {
		t.Error("the member cannot leave")
	}
	screenshot(memberCtx, "team-member.png")

	// The owner sees the member, with the controls.
	step(ownerCtx, "owner opens the Team page",
		chromedp.Navigate(base+"/w/"+wsID+"/team"),
		chromedp.WaitVisible(chromedp.ID("members")),
	)
	if !eval(ownerCtx, "member controls", `document.querySelectorAll('#members form[action$="/remove"]').length === 1 && !!document.querySelector('#members select') && !!document.querySelector('#members a[href*="/team/transfer"]')`) {
		t.Error("the owner does not see the member's controls")
	}
	screenshot(ownerCtx, "team.png")

	// The owner creates an API key: the secret is shown once, with a Copy button.
	step(ownerCtx, "create an API key",
		chromedp.Click(chromedp.CSS(`nav.section-nav a[href="/w/`+wsID+`/api-keys"]`)),
		chromedp.WaitVisible(chromedp.ID("create-key-form")),
		chromedp.SendKeys(chromedp.CSS("#create-key-form #name"), "CRM sync"),
		chromedp.Click(chromedp.ID("scope-agents-read")),
		chromedp.Click(chromedp.ID("scope-calls-write")),
		chromedp.Click(chromedp.ID("mode-test")),
		chromedp.Click(chromedp.CSS(`#create-key-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("api-key-secret")),
		chromedp.WaitVisible(chromedp.CSS(`button[data-copy-target="api-key-secret"]`)),
		chromedp.Click(chromedp.CSS(`button[data-copy-target="api-key-secret"]`)),
	)
	secret := text(ownerCtx, "secret", chromedp.CSS("#api-key-secret"))
	if !regexp.MustCompile(`^parley_test_[0-9A-Za-z]{38}$`).MatchString(secret) {
		t.Fatalf("the page shows %q, want a test key", secret)
	}
	if _, err := chromedp.Run(ownerCtx, chromedp.Poll[string](`document.getElementById("copy-status").textContent`, chromedp.WithPollingTimeout(5*time.Second))); err != nil {
		t.Errorf("no copy announcement: %v", err)
	}
	screenshot(ownerCtx, "apikey.png")
	step(ownerCtx, "back to the list",
		chromedp.Click(chromedp.CSS(`a[href="/w/`+wsID+`/api-keys"]:not(nav a)`)),
		chromedp.WaitVisible(chromedp.ID("api-keys")),
	)
	if eval(ownerCtx, "secret in list", `document.documentElement.outerHTML.includes(`+strconv.Quote(secret)+`)`) {
		t.Error("the list shows the secret")
	}
	if got := text(ownerCtx, "key in list", chromedp.CSS("#api-keys tbody code")); got != secret[:16]+"…"+secret[len(secret)-4:] {
		t.Errorf("the list shows the key as %q", got)
	}
	screenshot(ownerCtx, "api-keys.png")

	// The audit log has it all.
	step(ownerCtx, "open the audit log",
		chromedp.Click(chromedp.CSS(`nav.section-nav a[href="/w/`+wsID+`/audit"]`)),
		chromedp.WaitVisible(chromedp.ID("audit-entries")),
	)
	for _, action := range []string{"workspace.created", "invitation.created", "invitation.accepted", "api_key.created"} {
		if !eval(ownerCtx, action, `[...document.querySelectorAll("#audit-entries tbody th code")].some(c => c.textContent === `+strconv.Quote(action)+`)`) {
			t.Errorf("the audit log lacks %s", action)
		}
	}
	screenshot(ownerCtx, "audit.png")
}

// TestBrowserAgentsInheritWorkspaceDefaults drives the agent pages: the owner creates two agents,
// A inheriting the workspace's LLM model and B overriding it, then changes the workspace's
// default model on the Settings page; A's effective model follows in the list and the editor,
// B's does not.
func TestBrowserAgentsInheritWorkspaceDefaults(t *testing.T) {
	_, base := newBrowserTestServer(t)
	bctx := startChromium(t)
	ctx, cancel := context.WithTimeout(bctx, 90*time.Second)
	defer cancel()
	p := tab{t, ctx}

	wsID := p.signUpWithWorkspace(base)

	// newAgent creates an agent from the editor; override, if not "", is the LLM model it sets.
	newAgent := func(name, override string) string {
		t.Helper()
		p.step("open the new-agent form for "+name,
			chromedp.Click(chromedp.CSS(`nav.section-nav a[href="/w/`+wsID+`/agents"]`)),
			chromedp.WaitVisible(chromedp.ID("new-agent")),
			chromedp.Click(chromedp.ID("new-agent")),
			chromedp.WaitVisible(chromedp.ID("agent-form")),
			chromedp.SendKeys(chromedp.ID("name"), name),
		)
		if override != "" {
			p.step("override the model of "+name,
				chromedp.Click(chromedp.ID("llm-model-override")),
				chromedp.SetValue(chromedp.ID("llm-model"), override),
			)
		}
		p.step("create "+name,
			chromedp.Click(chromedp.ID("save-agent")),
			chromedp.WaitVisible(chromedp.ID("versions-link")),
		)
		if got := p.get("title", chromedp.Text(chromedp.ID("agent-title"))); got != name {
			t.Fatalf("the editor shows %q, want %q", got, name)
		}
		loc := p.get("location", chromedp.Location())
		m := regexp.MustCompile(`/agents/(agent_[0-9a-z]+)\?notice=agent-created$`).FindStringSubmatch(loc)
		if m == nil {
			t.Fatalf("after create: %s", loc)
		}
		return m[1]
	}
	a := newAgent("Agent A", "")
	b := newAgent("Agent B", "gpt-4.1")

	llm := func(id string) string {
		t.Helper()
		return p.js("LLM of "+id, `document.querySelector("#agent-`+id+` td.llm code").textContent`)
	}
	p.step("open the agents list", chromedp.Click(chromedp.CSS(`nav.section-nav a[href="/w/`+wsID+`/agents"]`)), chromedp.WaitVisible(chromedp.ID("agents")))
	if got, got2 := llm(a), llm(b); got != "openai / gpt-4o-mini" || got2 != "openai / gpt-4.1" {
		t.Fatalf("before: A uses %q, B %q", got, got2)
	}

	// Change the workspace's default model on the Settings page.
	p.step("change the default model",
		chromedp.Click(chromedp.CSS(`nav.section-nav a[href="/w/`+wsID+`/settings"]`)),
		chromedp.WaitVisible(chromedp.ID("settings-form")),
		chromedp.SetValue(chromedp.ID("llm-model"), "gpt-4o"),
		chromedp.Click(chromedp.ID("save-settings")),
		chromedp.WaitVisible(chromedp.CSS(".flash")),
		chromedp.WaitVisible(chromedp.ID("llm-model-reset")),
	)
	if src := p.js("settings source", `document.getElementById("llm-model-source").textContent`); !strings.Contains(src, "Set for this workspace") {
		t.Errorf("the setting says %q", src)
	}

	// A follows, B does not.
	p.step("back to the agents list", chromedp.Click(chromedp.CSS(`nav.section-nav a[href="/w/`+wsID+`/agents"]`)), chromedp.WaitVisible(chromedp.ID("agents")))
	if got, got2 := llm(a), llm(b); got != "openai / gpt-4o" || got2 != "openai / gpt-4.1" {
		t.Errorf("after: A uses %q (want gpt-4o), B %q (want gpt-4.1)", got, got2)
	}
	p.step("open B", chromedp.Click(chromedp.CSS(`#agent-`+b+` th a`)), chromedp.WaitVisible(chromedp.ID("agent-form")))
	if v := p.get("B's model", chromedp.Value(chromedp.ID("llm-model"))); v != "gpt-4.1" {
		t.Errorf("B's editor shows model %q", v)
	}
	if src := p.js("B's source", `document.getElementById("llm-model-source").textContent`); !strings.Contains(src, "Overridden") || !strings.Contains(src, "gpt-4o") {
		t.Errorf("B's model says %q", src)
	}
	if png, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.ID("agent-llm"))); err != nil {
		t.Errorf("screenshot: %v", err)
	} else {
		saveBrowserScreenshot(t, "agent-editor-override.png", png)
	}
	p.step("open A", chromedp.Navigate(base+"/w/"+wsID+"/agents/"+a), chromedp.WaitVisible(chromedp.ID("agent-form")))
	if v := p.get("A's model", chromedp.Value(chromedp.ID("llm-model"))); v != "gpt-4o" {
		t.Errorf("A's editor shows model %q", v)
	}
	if src := p.js("A's source", `document.getElementById("llm-model-source").textContent`); src != "Inherited from workspace: gpt-4o" {
		t.Errorf("A's model says %q", src)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	saveBrowserScreenshot(t, "agent-editor.png", png)
	if err := os.WriteFile("/tmp/agent-editor.png", png, 0o644); err != nil {
		t.Errorf("save /tmp/agent-editor.png: %v", err)
	}
}

// TestBrowserContacts drives the Contacts pages in headless Chromium: the owner adds a contact
// through the form with a national number (read in the workspace's default region, US), finds
// it by name, marks it do-not-call and sees the badge in the table; the Export CSV link
// downloads it with the session cookie.
func TestBrowserContacts(t *testing.T) {
	_, base := newBrowserTestServer(t)
	bctx := startChromium(t)
	ctx, cancel := context.WithTimeout(bctx, 90*time.Second)
	defer cancel()
	p := tab{t, ctx}

	wsID := p.signUpWithWorkspace(base)

	p.step("add a contact through the form",
		chromedp.Click(chromedp.CSS(`nav.section-nav a[href="/w/`+wsID+`/contacts"]`)),
		chromedp.WaitVisible(chromedp.ID("no-contacts")),
		chromedp.Click(chromedp.ID("new-contact")),
		chromedp.WaitVisible(chromedp.ID("contact-form")),
		chromedp.SendKeys(chromedp.ID("phone"), "(415) 555-0123"),
		chromedp.SendKeys(chromedp.ID("name"), "Grace Hopper"),
		chromedp.SendKeys(chromedp.ID("tags"), "vip, renewal"),
		chromedp.SendKeys(chromedp.ID("attributes"), "plan=gold"),
		chromedp.Click(chromedp.ID("save-contact")),
		chromedp.WaitVisible(chromedp.ID("delete-contact")),
	)
	if got := p.get("title", chromedp.Text(chromedp.ID("contact-title"))); got != "Grace Hopper" {
		t.Fatalf("the contact page shows %q", got)
	}
	if phone := p.get("phone", chromedp.Value(chromedp.ID("phone"))); phone != "+14155550123" {
		t.Errorf("the national number was stored as %q, want +14155550123", phone)
	}
	if tz := p.get("time zone", chromedp.Value(chromedp.ID("timezone"))); tz != "America/Los_Angeles" {
		t.Errorf("time zone = %q, want the number's", tz)
	}
	contactURL := p.get("location", chromedp.Location())
	contactURL, _, _ = strings.Cut(contactURL, "?")

	p.step("another contact, so the search has something to leave out",
		chromedp.Navigate(base+"/w/"+wsID+"/contacts/new"),
		chromedp.WaitVisible(chromedp.ID("contact-form")),
		chromedp.SendKeys(chromedp.ID("phone"), "+44 20 7946 0958"),
		chromedp.SendKeys(chromedp.ID("name"), "Alan Turing"),
		chromedp.Click(chromedp.ID("save-contact")),
		chromedp.WaitVisible(chromedp.ID("delete-contact")),
	)

	p.step("search by name",
		chromedp.Navigate(base+"/w/"+wsID+"/contacts"),
		chromedp.WaitVisible(chromedp.ID("contacts")),
		chromedp.SendKeys(chromedp.ID("name"), "grace"),
		chromedp.Click(chromedp.ID("search-button")),
		chromedp.WaitVisible(chromedp.ID("clear-search")),
	)
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#contacts tbody tr th")].map(e => e.textContent.trim())`))
	if err != nil || len(rows) != 1 || rows[0] != "Grace Hopper" {
		t.Fatalf("the search found %v (%v), want Grace Hopper only", rows, err)
	}
	if dnc := p.get("DNC cell", chromedp.Evaluate[string](`document.querySelectorAll("#contacts .badge-dnc").length + ""`)); dnc != "0" {
		t.Fatalf("a new contact shows as do-not-call")
	}

	p.step("mark it do-not-call",
		chromedp.Click(chromedp.CSS(`#contacts tbody a`)),
		chromedp.WaitVisible(chromedp.ID("contact-form")),
		chromedp.Click(chromedp.ID("doNotCall")),
		chromedp.Click(chromedp.ID("save-contact")),
		chromedp.WaitVisible(chromedp.ID("dnc-badge")),
	)
	if loc := p.get("location", chromedp.Location()); loc != contactURL+"?notice=contact-saved" {
		t.Errorf("after saving: %s", loc)
	}

	p.step("see the badge in the search",
		chromedp.Navigate(base+"/w/"+wsID+"/contacts?name=grace"),
		chromedp.WaitVisible(chromedp.CSS(`#contacts .badge-dnc`)),
	)
	if badge := p.get("badge", chromedp.Text(chromedp.CSS(`#contacts .badge-dnc`))); badge != "Do not call" {
		t.Errorf("badge = %q", badge)
	}
	styled, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`getComputedStyle(document.querySelector("#contacts .badge-dnc")).borderTopStyle !== "none"`))
	if err != nil || !styled {
		t.Errorf("the badge is not styled (%v)", err)
	}

	// The Export CSV link keeps the search and works with the session cookie.
	csv, err := chromedp.Run(ctx, chromedp.Evaluate[string](
		`fetch(document.getElementById("export-csv").href, {credentials: "same-origin"}).then(async r => r.status + " " + r.headers.get("Content-Type") + "\n" + await r.text())`,
		chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	if !strings.HasPrefix(csv, "200 text/csv") || !strings.Contains(csv, "+14155550123") || !strings.Contains(csv, "Grace Hopper") || strings.Contains(csv, "Alan") {
		t.Errorf("the export of the search:\n%s", csv)
	}

	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	saveBrowserScreenshot(t, "contacts.png", png)
	if err := os.WriteFile("/tmp/contacts.png", png, 0o644); err != nil {
		t.Errorf("save /tmp/contacts.png: %v", err)
	}

	// The do-not-call page lists the number.
	p.step("open the do-not-call page",
		chromedp.Click(chromedp.CSS(`nav.sub-nav a[href="/w/`+wsID+`/dnc"]`)),
		chromedp.WaitVisible(chromedp.ID("dnc-entries")),
	)
	if n := p.get("DNC entries", chromedp.Text(chromedp.CSS(`#dnc-entries tbody th`))); n != "+14155550123" {
		t.Errorf("the do-not-call list shows %q", n)
	}
}
