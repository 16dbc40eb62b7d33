package app

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserContactImport uploads a real file through the contacts page's Import CSV form and
// follows the import's page (which refreshes itself) until it is done.
func TestBrowserContactImport(t *testing.T) {
	s, base := newBrowserTestServer(t)
	wctx, stopWorkers := context.WithCancel(context.Background())
	if err := s.StartWorkers(wctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stop, done := context.WithTimeout(context.Background(), 10*time.Second)
		defer done()
		s.StopWorkers(stop)
		stopWorkers()
	})
	bctx := startChromium(t)
	ctx, cancel := context.WithTimeout(bctx, 90*time.Second)
	defer cancel()
	p := tab{t, ctx}

	file := filepath.Join(t.TempDir(), "leads.csv")
	csvText := "\xEF\xBB\xBFPhone Number;Full Name;Plan\r\n+14155550101;\"Lovelace; Ada\";gold\r\n12;Too Short;silver\r\n(415) 555-0102;Grace Hopper;\r\n"
	if err := os.WriteFile(file, []byte(csvText), 0o600); err != nil {
		t.Fatal(err)
	}

	wsID := p.signUpWithWorkspace(base)
	p.step("upload the file from the contacts page",
		chromedp.Navigate(base+"/w/"+wsID+"/contacts"),
		chromedp.WaitVisible(chromedp.ID("no-contacts")),
		chromedp.Click(chromedp.CSS(`#import summary`)),
		chromedp.WaitVisible(chromedp.ID("import-file")),
		chromedp.SetUploadFiles(chromedp.ID("import-file"), []string{file}),
		chromedp.SendKeys(chromedp.ID("import-tags"), "spring"),
		chromedp.Click(chromedp.ID("import-button")),
		chromedp.WaitVisible(chromedp.ID("import-status")),
	)
	// The page reloads itself every 2 seconds while the import runs: read it between reloads.
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.getElementById("import-status") || {}).textContent || ""`))
		if err == nil && strings.Contains(status, "Done") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the import page never said Done: %q %v", status, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if got := p.js("counts", `["total","created","failed"].map(k => document.getElementById("count-"+k).textContent).join(" ")`); got != "3 2 1" {
		t.Errorf("counts %q, want 3 2 1", got)
	}
	if title := p.get("title", chromedp.Text(chromedp.CSS("h1"))); title != "Import of leads.csv" {
		t.Errorf("title %q", title)
	}
	href := p.get("errors link", chromedp.Evaluate[string](`document.getElementById("import-errors").getAttribute("href")`))
	if !strings.HasSuffix(href, "/errors.csv") {
		t.Fatalf("errors link %q", href)
	}
	report := p.get("errors.csv", chromedp.Evaluate[string](`fetch(`+"`"+href+"`"+`).then(r => r.text())`, chromedp.EvalAwaitPromise))
	if !strings.Contains(report, "3,Phone Number,12,") {
		t.Errorf("errors.csv:\n%s", report)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err == nil {
		saveBrowserScreenshot(t, "contact-import.png", png)
	}

	p.step("the imported contacts are listed",
		chromedp.Navigate(base+"/w/"+wsID+"/contacts?tag=spring"),
		chromedp.WaitVisible(chromedp.ID("contacts")),
	)
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#contacts tbody tr th")].map(e => e.textContent.trim())`))
	if err != nil || strings.Join(rows, "|") != "Grace Hopper|Lovelace; Ada" && strings.Join(rows, "|") != "Lovelace; Ada|Grace Hopper" {
		t.Errorf("contacts tagged spring: %v %v", rows, err)
	}
}
