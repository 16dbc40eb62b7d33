package app

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/parleyhq/parley/internal/platform/authz"
)

// TestBrowserTelephonyAndTestCall drives the Telephony and Calls pages: add a simulator
// credential and a number (with the URLs to paste), place a test call, and watch it complete
// with its cost and timeline.
func TestBrowserTelephonyAndTestCall(t *testing.T) {
	s, base := newBrowserTestServer(t, func(c *Config) {
		c.SimTimeScale = 1000
		c.WelcomeCredits = 10_000_000
	})
	wctx, stop := context.WithCancel(context.Background())
	if err := s.StartWorkers(wctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, done := context.WithTimeout(context.Background(), 10*time.Second)
		defer done()
		s.StopWorkers(sctx)
		stop()
	})
	bctx := startChromium(t)
	ctx, cancel := context.WithTimeout(bctx, 90*time.Second)
	defer cancel()
	p := tab{t, ctx}
	wsID := p.signUpWithWorkspace(base)
	if _, err := s.Agents.CreateAgent(authz.WithPrincipal(context.Background(), authz.System()), wsID,
		map[string]any{"name": "Front desk", "greetingMessage": "Hello from Acme."}); err != nil {
		t.Fatal(err)
	}

	p.step("add a simulator credential",
		chromedp.Click(chromedp.CSS(`nav.section-nav a[href="/w/`+wsID+`/telephony"]`)),
		chromedp.WaitVisible(chromedp.ID("no-credentials")),
		chromedp.Click(chromedp.ID("add-sim")),
		chromedp.WaitVisible(chromedp.ID("add-credential")),
		chromedp.SendKeys(chromedp.ID("name"), "Demo line"),
		chromedp.Click(chromedp.CSS(`#add-credential button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("credentials")),
	)
	if got := p.js("voice URL", `document.querySelector("#credentials code.copy-value").textContent`); got != base+"/telephony/"+wsID+"/sim/voice" {
		t.Fatalf("voice URL shown: %q", got)
	}
	p.step("add a number answered by the agent",
		chromedp.SendKeys(chromedp.ID("e164"), "+1 415 555 0100"),
		chromedp.SetValue(chromedp.ID("inboundAgentId"), p.js("agent option", `document.querySelector("#inboundAgentId option:nth-child(2)").value`)),
		chromedp.Click(chromedp.CSS(`#add-number button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("numbers")),
	)
	if row := p.js("number row", `document.querySelector("#numbers tbody tr").innerText`); !strings.Contains(row, "+14155550100") || !strings.Contains(row, "/telephony/"+wsID+"/sim/status") {
		t.Fatalf("number row: %q", row)
	}

	p.step("place a test call",
		chromedp.Click(chromedp.CSS(`nav.section-nav a[href="/w/`+wsID+`/calls"]`)),
		chromedp.WaitVisible(chromedp.ID("test-call")),
		chromedp.SendKeys(chromedp.ID("to"), "+14155550142"),
		chromedp.Click(chromedp.CSS(`#test-call button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("call-facts")),
	)
	deadline := time.Now().Add(20 * time.Second)
	for p.get("status", chromedp.Text(chromedp.ID("call-status"))) != "completed" {
		if time.Now().After(deadline) {
			t.Fatalf("the call did not complete: %s", p.js("page", `document.body.innerText`))
		}
		time.Sleep(300 * time.Millisecond)
	}
	if d := p.get("duration", chromedp.Text(chromedp.ID("call-duration"))); d != "72 s" {
		t.Errorf("duration %q, want 72 s", d)
	}
	if c := p.get("cost", chromedp.Text(chromedp.ID("call-cost"))); c == "0 credits" || c == "" {
		t.Errorf("cost %q", c)
	}
	if tl := p.js("timeline", `document.querySelector("#call-timeline").innerText`); !strings.Contains(tl, "ringing") || !strings.Contains(tl, "completed") {
		t.Errorf("timeline %q", tl)
	}
	p.step("the list shows it",
		chromedp.Click(chromedp.CSS(`nav.section-nav a[href="/w/`+wsID+`/calls"]`)),
		chromedp.WaitVisible(chromedp.ID("calls")),
	)
	if row := p.js("call row", `document.querySelector("#calls tbody tr").innerText`); !strings.Contains(row, "completed") || !strings.Contains(row, "+14155550142") {
		t.Fatalf("calls list row: %q", row)
	}
}
