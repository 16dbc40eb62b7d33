package app

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
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
func newBrowserTestServer(t *testing.T) (*Server, string) {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	base := "http://" + ts.Listener.Addr().String()
	cfg := Config{
		Addr: ts.Listener.Addr().String(), DataDir: t.TempDir(), BaseURL: base,
		LogFormat: "text", LogLevel: "warn", Signup: "open", SQLiteSynchronous: "normal",
		SessionIdle: time.Hour, SessionMaxAge: 12 * time.Hour,
		JobWorkers: 2, JobFetchCooldown: 100 * time.Millisecond, ShutdownTimeout: 5 * time.Second,
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
func TestBrowserSignupToOverview(t *testing.T) {
	s, base := newBrowserTestServer(t)
	bctx := startChromium(t)
	ctx, cancel := context.WithTimeout(bctx, 60*time.Second)
	defer cancel()

	step := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	get := func(what string, a chromedp.Action[string]) string {
		t.Helper()
		v, err := chromedp.Run(ctx, a)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}

	// Not signed in: the dashboard sends us to log in; from there, to sign up.
	step("open the dashboard", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.ID("email")))
	if loc := get("location", chromedp.Location()); loc != base+"/login" {
		t.Fatalf("/ went to %s, want the log-in page", loc)
	}
	step("sign up",
		chromedp.Click(chromedp.CSS(`a[href="/signup"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/signup"]`)),
		chromedp.SendKeys(chromedp.ID("name"), "Ada Lovelace"),
		chromedp.SendKeys(chromedp.ID("email"), "ada@example.com"),
		chromedp.SendKeys(chromedp.ID("password"), "correct horse battery staple"),
		chromedp.Click(chromedp.CSS(`form[action="/signup"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("timezone")),
	)
	if email := get("header email", chromedp.Text(chromedp.CSS(".account .email"))); email != "ada@example.com" {
		t.Errorf("header shows %q, want the user's email", email)
	}
	if tz := get("time zone default", chromedp.Value(chromedp.ID("timezone"))); tz == "" {
		t.Error("the time zone field has no default")
	}

	// A time zone that does not exist: the form comes back with the error and what was typed.
	step("create a workspace with a bad time zone",
		chromedp.SendKeys(chromedp.ID("name"), "Acme Support"),
		chromedp.SetValue(chromedp.ID("timezone"), "Mars/Olympus_Mons"),
		chromedp.Click(chromedp.CSS(`form[action="/workspaces"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("timezone-error")),
	)
	if name := get("name kept", chromedp.Value(chromedp.ID("name"))); name != "Acme Support" {
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

	step("create a workspace",
		chromedp.SetValue(chromedp.ID("timezone"), "Europe/Berlin"),
		chromedp.Click(chromedp.CSS(`form[action="/workspaces"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("workspace-id")),
	)
	loc := get("location", chromedp.Location())
	wsID := strings.TrimSpace(get("workspace ID", chromedp.Text(chromedp.ID("workspace-id"))))
	if !regexp.MustCompile(`^ws_[0-9a-z]{26}$`).MatchString(wsID) {
		t.Fatalf("#workspace-id = %q, want a ws_ ID", wsID)
	}
	if loc != base+"/w/"+wsID {
		t.Errorf("landed on %s, want the overview of %s", loc, wsID)
	}
	if role := get("role", chromedp.Text(chromedp.ID("workspace-role"))); role != "Owner" {
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
	step("copy the workspace ID",
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
	step("phone viewport", chromedp.EmulateViewport(390, 844), chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("workspace-id")))
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
	step("log out",
		chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/login"]`)),
		chromedp.Navigate(base+"/w/"+wsID),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/login"]`)),
	)
	if loc := get("location", chromedp.Location()); !strings.HasPrefix(loc, base+"/login?next=") {
		t.Errorf("after log-out the overview went to %s, want the log-in page", loc)
	}
}
