package app

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/parleyhq/parley/internal/billing"
	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/authz"
	"github.com/parleyhq/parley/internal/platform/db"
	"github.com/parleyhq/parley/internal/platform/db/dbtest"
)

func TestBillingEndToEnd(t *testing.T) {
	dbtest.EachConfig(t, func(t *testing.T, dbc db.Config) {
		cfg := testConfig(dbc)
		cfg.WelcomeCredits = 10_000_000
		e := newEnv(t, cfg)
		owner := e.signup("owner")
		ws := owner.workspace("Acme")
		base := "/v1/workspaces/" + ws + "/billing"
		member := e.signup("member")
		e.addMember(ws, member, "member")

		// Welcome credits arrive through the ledger with the workspace.
		b := member.must(200, "GET", base+"/balance", nil)
		if b["available"] != "10" || b["availableMicros"] != float64(10_000_000) || b["held"] != "0" || b["heldMicros"] != float64(0) || b["workspaceId"] != ws {
			t.Fatalf("balance %v", b)
		}
		l := member.must(200, "GET", base+"/ledger", nil)
		first := l["data"].([]any)[0].(map[string]any)
		if len(l["data"].([]any)) != 1 || first["kind"] != "welcome" || first["from"] != "grants" || first["to"] != "available" || first["amount"] != "10" ||
			!strings.HasPrefix(first["id"].(string), "xfer_") {
			t.Fatalf("ledger %v", l)
		}
		if n := e.countEvents(t, ws, "credits.added"); n != 1 {
			t.Fatalf("credits.added events: %d", n)
		}
		// Welcome credits are idempotent by workspace ID.
		if err := e.srv.DB.Tx(context.Background(), func(tx *sql.Tx) error {
			return e.srv.Billing.GrantWelcomeTx(context.Background(), tx, ws, 10_000_000, e.clock.Now())
		}); err != nil {
			t.Fatal(err)
		}

		// Holds and debits by the trusted runtime; the API shows them.
		sys := authz.WithPrincipal(context.Background(), authz.System())
		if _, err := e.srv.Billing.Reserve(sys, billing.ReserveInput{WorkspaceID: ws, Reference: "call_1", Amount: 3_000_000}); err != nil {
			t.Fatal(err)
		}
		if b := owner.must(200, "GET", base+"/balance", nil); b["available"] != "7" || b["held"] != "3" {
			t.Fatalf("after reserve %v", b)
		}
		if _, err := e.srv.Billing.Settle(sys, ws, "call_1", 1_250_000); err != nil {
			t.Fatal(err)
		}
		_, err := e.srv.Billing.Debit(sys, billing.DebitInput{WorkspaceID: ws, Amount: 9_000_000, Key: "usage_1"})
		if !errors.Is(err, billing.ErrInsufficientCredits) || apierr.Status(err) != 402 {
			t.Fatalf("overdraft: %v (%d)", err, apierr.Status(err))
		}
		if b := owner.must(200, "GET", base+"/balance", nil); b["available"] != "8.75" || b["availableMicros"] != float64(8_750_000) || b["held"] != "0" {
			t.Fatalf("after settle %v", b)
		}
		p := owner.must(200, "GET", base+"/ledger?limit=2", nil)
		if len(p["data"].([]any)) != 2 || p["nextCursor"] == nil {
			t.Fatalf("page 1 %v", p)
		}
		p = owner.must(200, "GET", base+"/ledger?limit=2&cursor="+p["nextCursor"].(string), nil)
		if len(p["data"].([]any)) != 2 || p["nextCursor"] != nil {
			t.Fatalf("page 2 %v", p)
		}

		// API keys read with usage:read only; other workspaces see nothing.
		key := owner.must(201, "POST", "/v1/workspaces/"+ws+"/api-keys", map[string]any{"name": "k", "scopes": []string{"usage:read"}, "mode": "live"})
		e.keyClient(key["secret"].(string)).must(200, "GET", base+"/balance", nil)
		other := owner.must(201, "POST", "/v1/workspaces/"+ws+"/api-keys", map[string]any{"name": "k2", "scopes": []string{"agents:read"}, "mode": "live"})
		if r := e.keyClient(other["secret"].(string)).do("GET", base+"/ledger", nil); r.Status != 403 || r.Code(t) != "insufficient_scope" {
			t.Fatalf("key without usage:read: %d %s", r.Status, r.Body)
		}
		stranger := e.signup("stranger")
		if r := stranger.do("GET", base+"/balance", nil); r.Status != 404 {
			t.Fatalf("stranger: %d %s", r.Status, r.Body)
		}

		// The operator's CLI grants and verifies on the same store.
		dataFlags := []string{"--data-dir", dbc.DataDir, "--log-format", "text"}
		if dbc.URL != "" {
			dataFlags = append(dataFlags, "--database-url", dbc.URL)
		}
		var out bytes.Buffer
		args := append([]string{"credits", "grant", "--workspace", ws, "--amount", "2.5", "--reason", "pilot", "--key", "g1"}, dataFlags...)
		if err := Run(context.Background(), args, func(string) string { return "" }, strings.NewReader(""), &out, &out); err != nil {
			t.Fatalf("grant: %v\n%s", err, out.String())
		}
		if !strings.Contains(out.String(), "granted 2.5 credits to "+ws) || !strings.Contains(out.String(), "available now 11.25") {
			t.Fatalf("grant output %q", out.String())
		}
		out.Reset()
		if err := Run(context.Background(), args, func(string) string { return "" }, strings.NewReader(""), &out, &out); err != nil || !strings.Contains(out.String(), "already granted") {
			t.Fatalf("grant again: %v %q", err, out.String())
		}
		out.Reset()
		bad := append([]string{"credits", "grant", "--workspace", ws, "--amount", "1e3"}, dataFlags...)
		if err := Run(context.Background(), bad, func(string) string { return "" }, strings.NewReader(""), &out, &out); err == nil {
			t.Fatal("an exponent was accepted")
		}
		out.Reset()
		if err := Run(context.Background(), append([]string{"credits", "verify"}, dataFlags...), func(string) string { return "" }, strings.NewReader(""), &out, &out); err != nil ||
			!strings.Contains(out.String(), "ledger verified") {
			t.Fatalf("verify: %v %q", err, out.String())
		}
		if b := member.must(200, "GET", base+"/balance", nil); b["available"] != "11.25" {
			t.Fatalf("after CLI grant %v", b)
		}
	})
}

func TestWelcomeCreditsOff(t *testing.T) {
	e := newEnv(t, testConfig(dbtestSQLite(t)))
	owner := e.signup("owner")
	ws := owner.workspace("Acme")
	if b := owner.must(200, "GET", "/v1/workspaces/"+ws+"/billing/balance", nil); b["available"] != "0" {
		t.Fatalf("balance %v", b)
	}
	if l := owner.must(200, "GET", "/v1/workspaces/"+ws+"/billing/ledger", nil); len(l["data"].([]any)) != 0 {
		t.Fatalf("ledger %v", l)
	}
}

func TestWelcomeCreditsOption(t *testing.T) {
	for v, want := range map[string]int64{"": 10_000_000, "0": 0, "2.5": 2_500_000} {
		cfg, err := resolveForTest(v)
		if err != nil || cfg.WelcomeCredits != want {
			t.Errorf("PARLEY_WELCOME_CREDITS=%q: %d %v", v, cfg.WelcomeCredits, err)
		}
	}
	if _, err := resolveForTest("-1"); err == nil {
		t.Error("negative welcome credits accepted")
	}
}

// resolveForTest resolves the options with PARLEY_WELCOME_CREDITS set to v (unset when empty).
func resolveForTest(v string) (Config, error) {
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	resolve := bindOptions(fs, func(k string) string {
		if k == "PARLEY_WELCOME_CREDITS" {
			return v
		}
		return ""
	}, false)
	if err := fs.Parse(nil); err != nil {
		return Config{}, err
	}
	return resolve()
}
