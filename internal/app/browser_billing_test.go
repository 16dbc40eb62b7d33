package app

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/parleyhq/parley/internal/billing"
	"github.com/parleyhq/parley/internal/platform/authz"
)

// TestBrowserBilling drives the Billing page: a new workspace shows its welcome credits and the
// ledger row that brought them, usage shows in the chart, and the owner sets the low-balance
// threshold (a malformed value is refused beside the field).
func TestBrowserBilling(t *testing.T) {
	s, base := newBrowserTestServer(t, func(c *Config) { c.WelcomeCredits = 10_000_000 })
	bctx := startChromium(t)
	ctx, cancel := context.WithTimeout(bctx, 90*time.Second)
	defer cancel()
	p := tab{t, ctx}

	wsID := p.signUpWithWorkspace(base)
	p.step("open Billing from the workspace nav",
		chromedp.Click(chromedp.CSS(`nav.section-nav a[href="/w/`+wsID+`/billing"]`)),
		chromedp.WaitVisible(chromedp.ID("ledger")),
	)
	if got := p.get("available", chromedp.Text(chromedp.ID("available"))); got != "10 credits" {
		t.Fatalf("available shows %q", got)
	}
	if got := p.get("held", chromedp.Text(chromedp.ID("held"))); got != "0 credits" {
		t.Fatalf("held shows %q", got)
	}
	if got := p.js("ledger", `[...document.querySelectorAll("#ledger tbody tr")].map(r => r.querySelector(".kind").textContent + " " + r.querySelector(".amount").textContent).join("|")`); got != "welcome 10" {
		t.Fatalf("ledger rows %q", got)
	}
	if got := p.get("threshold", chromedp.Text(chromedp.ID("threshold"))); got != "off" {
		t.Fatalf("threshold shows %q", got)
	}
	if got := p.js("prices", `document.querySelectorAll("#prices tbody tr").length + ""`); got == "0" {
		t.Fatal("no prices shown")
	}
	if got := p.js("chart", `document.querySelectorAll("#usage-chart rect").length + ""`); got != "0" {
		t.Fatalf("bars before any usage: %s", got)
	}

	// Usage from the runtime shows in the chart and the ledger.
	sys := authz.WithPrincipal(context.Background(), authz.System())
	if _, err := s.Billing.RecordUsage(sys, wsID, []billing.Usage{
		{ID: "u1", Kind: billing.UsageCallSeconds, Quantity: 600, Provider: "platform", OccurredAt: time.Now()},
		{ID: "u2", Kind: billing.UsageLLMOutputTokens, Quantity: 500_000, Provider: "openai", Model: "gpt-4o-mini", OccurredAt: time.Now()},
	}); err != nil {
		t.Fatal(err)
	}
	p.step("reload", chromedp.Navigate(base+"/w/"+wsID+"/billing"), chromedp.WaitVisible(chromedp.ID("usage-chart")))
	if got := p.js("chart", `document.querySelectorAll("#usage-chart rect").length + ""`); got != "2" {
		t.Fatalf("bars after usage: %s", got)
	}
	if got := p.js("legend", `document.getElementById("usage-legend").textContent`); !strings.Contains(got, "call_seconds") || !strings.Contains(got, "llm_output_tokens") {
		t.Fatalf("legend %q", got)
	}
	if got := p.js("ledger", `document.querySelectorAll("#ledger tbody tr").length + ""`); got != "3" {
		t.Fatalf("ledger rows after usage: %s", got)
	}

	p.step("a malformed threshold is refused beside the field",
		chromedp.SetValue(chromedp.ID("lowBalanceThreshold"), "five"),
		chromedp.Click(chromedp.ID("save-threshold")),
		chromedp.WaitVisible(chromedp.ID("lowBalanceThreshold-error")),
	)
	p.step("set the threshold",
		chromedp.SetValue(chromedp.ID("lowBalanceThreshold"), "9.6"),
		chromedp.Click(chromedp.ID("save-threshold")),
		chromedp.WaitVisible(chromedp.CSS(`.notice`)),
	)
	if got := p.get("threshold", chromedp.Text(chromedp.ID("threshold"))); got != "below 9.6 credits" {
		t.Fatalf("threshold shows %q", got)
	}
	// The usage took available below 9.6 (9.55 left) before the threshold was set: the page says it is low.
	if got := p.js("low", `document.getElementById("low-balance") ? "low" : "not low"`); got != "low" {
		t.Fatalf("balance %s", got)
	}
	b, err := s.Billing.Balance(sys, wsID)
	if err != nil || b.LowBalanceThreshold != "9.6" {
		t.Fatalf("the service has %+v %v", b, err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	saveBrowserScreenshot(t, "billing.png", png)
}
