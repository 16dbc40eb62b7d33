package app

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/parleyhq/parley/internal/identity"
	"github.com/parleyhq/parley/internal/webhook"
)

// newWebhookBrowserServer is newBrowserTestServer with --webhook-allow-private (the receiver is
// on 127.0.0.1) and the job workers running.
func newWebhookBrowserServer(t *testing.T) (*Server, string) {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	base := "http://" + ts.Listener.Addr().String()
	cfg := Config{
		Addr: ts.Listener.Addr().String(), DataDir: t.TempDir(), BaseURL: base,
		LogFormat: "text", LogLevel: "warn", Signup: "open", SQLiteSynchronous: "normal",
		SessionIdle: time.Hour, SessionMaxAge: 12 * time.Hour,
		JobWorkers: 2, JobFetchCooldown: 50 * time.Millisecond, ShutdownTimeout: 5 * time.Second,
		WebhookAllowPrivate: true,
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
	ctx, cancel := context.WithCancel(context.Background())
	if err := s.StartWorkers(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stop, done := context.WithTimeout(context.Background(), 10*time.Second)
		defer done()
		s.StopWorkers(stop)
		cancel()
	})
	return s, base
}

// TestBrowserWebhooks drives the Webhooks page: add an endpoint (after a refused URL), copy its
// secret, send a test event and see it delivered and signed, reveal and rotate the secret,
// disable and enable, send a message again, replay, and delete.
func TestBrowserWebhooks(t *testing.T) {
	_, base := newWebhookBrowserServer(t)
	rc := &hookReceiver{statuses: map[string][]int{}}
	hs := httptest.NewServer(rc)
	defer hs.Close()
	bctx := startChromium(t)
	ctx, cancel := context.WithTimeout(bctx, 120*time.Second)
	defer cancel()
	p := tab{t, ctx}
	ws := p.signUpWithWorkspace(base)

	p.step("open Webhooks from the nav",
		chromedp.Click(chromedp.CSS(`.section-nav a[href="/w/`+ws+`/webhooks"]`)),
		chromedp.WaitVisible(chromedp.ID("create-webhook-form")),
	)
	if txt := p.js("empty list", `document.querySelector("#endpoints-title").parentElement.innerText`); !strings.Contains(txt, "No webhook endpoints yet") {
		t.Errorf("empty list says %q", txt)
	}
	p.step("a URL that is not http(s) is refused, beside the field",
		chromedp.SendKeys(chromedp.ID("url"), "ftp://hooks.example.com/x"),
		chromedp.SendKeys(chromedp.ID("description"), "CRM sync"),
		chromedp.Click(chromedp.ID("event-workspace-updated")),
		chromedp.Click(chromedp.CSS(`#create-webhook-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("url-error")),
	)
	if checked := p.js("ticked kept", `String(document.getElementById("event-workspace-updated").checked)`); checked != "true" {
		t.Error("the ticked event type was lost")
	}
	if d := p.get("description kept", chromedp.Value(chromedp.ID("description"))); d != "CRM sync" {
		t.Errorf("description came back as %q", d)
	}
	p.step("add the endpoint",
		chromedp.SetValue(chromedp.ID("url"), hs.URL+"/hook"),
		chromedp.Click(chromedp.CSS(`#create-webhook-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("webhook-secret")),
	)
	secret := p.get("secret", chromedp.Text(chromedp.ID("webhook-secret")))
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("secret %q", secret)
	}
	loc := p.get("location", chromedp.Location())
	if strings.Contains(loc, "whsec_") {
		t.Fatalf("the secret is in the URL %s", loc)
	}
	epURL := base + "/w/" + ws + "/webhooks/"
	details := p.js("details", `document.getElementById("webhook-details").innerText`)
	if !strings.Contains(details, "Enabled") || !strings.Contains(details, "workspace.updated") || !strings.Contains(details, "CRM sync") {
		t.Errorf("details: %q", details)
	}
	epID := p.js("endpoint id", `document.querySelector('form[action$="/test"]').getAttribute("action").split("/")[4]`)
	epURL += epID

	// Send a test event: the receiver gets a ping signed with the secret, and the log shows it.
	p.step("send a test event", chromedp.Click(chromedp.ID("webhook-test")), chromedp.WaitVisible(chromedp.CSS(".notice")))
	if n := p.js("notice", `document.querySelector(".notice").innerText`); !strings.Contains(n, "Test event queued") {
		t.Errorf("notice %q", n)
	}
	waitFor(t, "the ping", 15*time.Second, func() bool { return len(rc.at("/hook")) == 1 })
	ping := rc.at("/hook")[0]
	ts, _ := strconv.ParseInt(ping.Headers["webhook-timestamp"], 10, 64)
	if !webhook.Verify(secret, ping.Headers["webhook-signature"], ping.Headers["webhook-id"], ts, []byte(ping.Body)) || ping.Headers["parley-event-type"] != "ping" {
		t.Fatalf("ping %+v does not verify with the secret shown", ping)
	}
	msgID := ping.Headers["webhook-id"]
	delivered := func() bool {
		p.step("reload", chromedp.Navigate(epURL), chromedp.WaitVisible(chromedp.ID("log-title")))
		return p.js("status", `(document.querySelector("#msg-`+msgID+` .message-status") || {}).innerText || ""`) == "Delivered"
	}
	waitFor(t, "the log to show the delivery", 10*time.Second, delivered)
	if a := p.js("attempt", `document.querySelector("#msg-`+msgID+` .attempt").innerText`); !strings.Contains(a, "200") || !strings.Contains(a, "manual") {
		t.Errorf("attempt shows %q", a)
	}

	// Reveal gives the same secret; rotate a new one, with the previous one still signing.
	p.step("reveal", chromedp.Click(chromedp.ID("webhook-reveal")), chromedp.WaitVisible(chromedp.ID("webhook-secret")))
	if s := p.get("revealed", chromedp.Text(chromedp.ID("webhook-secret"))); s != secret {
		t.Errorf("revealed %q, want %q", s, secret)
	}
	p.step("back to the page", chromedp.Navigate(epURL), chromedp.WaitVisible(chromedp.ID("webhook-rotate")))
	p.js("accept confirmations", `window.confirm = function () { return true; }; ""`)
	p.step("rotate", chromedp.Click(chromedp.ID("webhook-rotate")), chromedp.WaitVisible(chromedp.ID("webhook-secret")))
	rotated := p.get("rotated", chromedp.Text(chromedp.ID("webhook-secret")))
	if rotated == secret || !strings.HasPrefix(rotated, "whsec_") {
		t.Errorf("rotated secret %q", rotated)
	}
	if d := p.js("details", `document.getElementById("webhook-details").innerText`); !strings.Contains(d, "Previous secret") {
		t.Errorf("no previous-secret line after rotation: %q", d)
	}

	// Disable, enable.
	p.step("disable", chromedp.Click(chromedp.ID("webhook-disable")), chromedp.WaitVisible(chromedp.ID("webhook-enable")))
	if s := p.get("status", chromedp.Text(chromedp.ID("webhook-status"))); s != "Disabled" {
		t.Errorf("status %q after disable", s)
	}
	p.step("enable", chromedp.Click(chromedp.ID("webhook-enable")), chromedp.WaitVisible(chromedp.ID("webhook-disable")))

	// Send the message again: same webhook-id, now signed with both secrets.
	p.step("send the message again",
		chromedp.Click(chromedp.CSS(`#msg-`+msgID+` form[action$="/retry"] button`)),
		chromedp.WaitVisible(chromedp.CSS(".notice")),
	)
	waitFor(t, "the retry", 15*time.Second, func() bool { return len(rc.at("/hook")) == 2 })
	again := rc.at("/hook")[1]
	ts, _ = strconv.ParseInt(again.Headers["webhook-timestamp"], 10, 64)
	if again.Headers["webhook-id"] != msgID || !webhook.Verify(rotated, again.Headers["webhook-signature"], msgID, ts, []byte(again.Body)) ||
		!webhook.Verify(secret, again.Headers["webhook-signature"], msgID, ts, []byte(again.Body)) {
		t.Errorf("retry %+v: not the same webhook-id, or not signed with both secrets", again.Headers)
	}

	// Replay every message of the last day.
	p.step("replay",
		chromedp.Navigate(epURL), chromedp.WaitVisible(chromedp.ID("replay-form")),
		chromedp.Click(chromedp.ID("replay-all")),
		chromedp.Click(chromedp.CSS(`#replay-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(".notice")),
	)
	if n := p.js("notice", `document.querySelector(".notice").innerText`); !strings.Contains(n, "queued to be sent again") {
		t.Errorf("replay notice %q", n)
	}
	waitFor(t, "the replay", 15*time.Second, func() bool { return len(rc.at("/hook")) == 3 })
	waitFor(t, "three attempts in the log", 10*time.Second, func() bool {
		p.step("reload", chromedp.Navigate(epURL), chromedp.WaitVisible(chromedp.ID("log-title")))
		return p.js("attempts", `String(document.querySelectorAll("#msg-`+msgID+` .attempt").length)`) == "3"
	})
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	saveBrowserScreenshot(t, "webhook.png", png)

	// The list shows the endpoint; delete it from its page.
	p.step("list", chromedp.Navigate(base+"/w/"+ws+"/webhooks"), chromedp.WaitVisible(chromedp.ID("webhook-endpoints")))
	if row := p.js("row", `document.querySelector("#webhook-endpoints tbody").innerText`); !strings.Contains(row, hs.URL+"/hook") || !strings.Contains(row, "Enabled") {
		t.Errorf("list row %q", row)
	}
	p.step("delete",
		chromedp.Navigate(epURL), chromedp.WaitVisible(chromedp.ID("webhook-delete")),
	)
	p.js("accept confirmations", `window.confirm = function () { return true; }; ""`)
	p.step("delete", chromedp.Click(chromedp.ID("webhook-delete")), chromedp.WaitVisible(chromedp.ID("create-webhook-form")))
	if n := p.js("notice", `document.querySelector(".notice").innerText`); !strings.Contains(n, "Endpoint deleted") {
		t.Errorf("delete notice %q", n)
	}
	p.step("the endpoint's page is gone", chromedp.Navigate(epURL), chromedp.WaitVisible(chromedp.CSS("h1")))
	if h := p.get("heading", chromedp.Text(chromedp.CSS("h1"))); h != "Page not found" {
		t.Errorf("deleted endpoint's page: %q", h)
	}
}
