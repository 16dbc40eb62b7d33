package app

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

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

const testOperatorToken = "op-token-0123456789abcdef0123456789abcdef"

// The usage and price-override routes take the operator token only: sessions and workspace API
// keys are refused, the token authenticates nothing else, and replays debit once.
func TestOperatorTokenUsageAndPrices(t *testing.T) {
	dbtest.EachConfig(t, func(t *testing.T, dbc db.Config) {
		cfg := testConfig(dbc)
		cfg.WelcomeCredits = 1_000_000
		cfg.OperatorToken = testOperatorToken
		e := newEnv(t, cfg)
		owner := e.signup("owner")
		ws := owner.workspace("Acme")
		member := e.signup("member")
		e.addMember(ws, member, "member")
		op := e.keyClient(testOperatorToken)
		usage := "/v1/workspaces/" + ws + "/usage"
		at := "2026-11-27T08:00:00Z"
		body := map[string]any{"records": []map[string]any{
			{"id": "u1", "callId": "call_1", "agentId": "agent_1", "kind": "call_seconds", "quantity": 61, "provider": "platform", "occurredAt": at},
			{"id": "u2", "callId": "call_1", "kind": "llm_output_tokens", "quantity": 1234, "provider": "openai", "model": "gpt-4o-mini", "occurredAt": at},
			{"id": "u3", "kind": "stt_seconds", "quantity": 10, "provider": "sim", "model": "x", "occurredAt": at},
		}}

		// Workspace credentials are refused on the operator route; anonymous is 401.
		allScopes := owner.must(201, "POST", "/v1/workspaces/"+ws+"/api-keys", map[string]any{"name": "k", "mode": "live",
			"scopes": []string{"agents:read", "agents:write", "contacts:read", "contacts:write", "usage:read", "webhooks:read", "webhooks:write"}})
		key := e.keyClient(allScopes["secret"].(string))
		for name, c := range map[string]*client{"owner session": owner, "api key": key} {
			if r := c.do("POST", usage, body); r.Status != 403 || r.Code(t) != "operator_token_required" {
				t.Fatalf("%s on usage: %d %s", name, r.Status, r.Body)
			}
		}
		if r := e.client().do("POST", usage, body); r.Status != 401 {
			t.Fatalf("anonymous on usage: %d %s", r.Status, r.Body)
		}
		if r := e.keyClient("not-the-token").do("POST", usage, body); r.Status != 401 {
			t.Fatalf("wrong token on usage: %d %s", r.Status, r.Body)
		}
		// The operator token is no workspace credential.
		if r := op.do("GET", "/v1/workspaces/"+ws+"/billing/balance", nil); r.Status != 401 {
			t.Fatalf("operator token on a workspace route: %d %s", r.Status, r.Body)
		}

		// Operator: rated, debited, once per id.
		res := op.must(200, "POST", usage, body)
		recs := res["records"].([]any)
		r0, r1, r2 := recs[0].(map[string]any), recs[1].(map[string]any), recs[2].(map[string]any)
		// 61 s at 0.015/min = 15,250; 1,234 tokens at 0.6/1M = 740.4 → 741; sim STT is free.
		if r0["status"] != "debited" || r0["costMicros"] != float64(15_250) || r0["cost"] != "0.01525" || r0["transferId"] == nil ||
			r1["costMicros"] != float64(741) || r2["status"] != "free" || r2["costMicros"] != float64(0) {
			t.Fatalf("usage result %v", res)
		}
		again := op.must(200, "POST", usage, body)
		for i, r := range again["records"].([]any) {
			m := r.(map[string]any)
			if m["status"] != "replayed" || m["costMicros"] != recs[i].(map[string]any)["costMicros"] || m["transferId"] != recs[i].(map[string]any)["transferId"] {
				t.Fatalf("replay %d: %v", i, m)
			}
		}
		if b := member.must(200, "GET", "/v1/workspaces/"+ws+"/billing/balance", nil); b["availableMicros"] != float64(1_000_000-15_250-741) {
			t.Fatalf("balance after usage and replay %v", b)
		}
		// Too little credit: refused with insufficient_credits, nothing written.
		big := map[string]any{"records": []map[string]any{{"id": "u4", "kind": "call_seconds", "quantity": 36000, "provider": "byop", "occurredAt": at}}}
		r := op.must(200, "POST", usage, big)["records"].([]any)[0].(map[string]any)
		if r["status"] != "refused" || r["code"] != "insufficient_credits" || r["transferId"] != nil {
			t.Fatalf("overdraft %v", r)
		}
		// Bad input is 422; an unknown workspace is 404.
		bad := map[string]any{"records": []map[string]any{{"id": "x", "kind": "call_seconds", "quantity": 1, "provider": "twilio", "occurredAt": at}}}
		if r := op.do("POST", usage, bad); r.Status != 422 {
			t.Fatalf("bad provider %d %s", r.Status, r.Body)
		}
		if r := op.do("POST", usage, map[string]any{"records": []any{}}); r.Status != 422 {
			t.Fatalf("empty batch %d %s", r.Status, r.Body)
		}
		if r := op.do("POST", "/v1/workspaces/ws_nope/usage", body); r.Status != 404 {
			t.Fatalf("unknown ws %d %s", r.Status, r.Body)
		}

		// Price overrides: operator only; every role reads the effective book.
		prices := "/v1/operator/workspaces/" + ws + "/prices"
		set := map[string]any{"prices": []map[string]any{{"kind": "call_seconds", "key": "byop", "price": "0"}, {"kind": "stt_seconds", "key": "*", "price": "0.0001"}}}
		if r := owner.do("PUT", prices, set); r.Status != 403 || r.Code(t) != "operator_token_required" {
			t.Fatalf("owner sets prices: %d %s", r.Status, r.Body)
		}
		if r := key.do("PUT", prices, set); r.Status != 403 {
			t.Fatalf("key sets prices: %d %s", r.Status, r.Body)
		}
		op.must(200, "PUT", prices, set)
		if r := op.do("PUT", prices, map[string]any{"prices": []map[string]any{{"kind": "call_seconds", "key": "twilio", "price": "1"}}}); r.Status != 422 {
			t.Fatalf("bad override %d %s", r.Status, r.Body)
		}
		if r := op.do("PUT", "/v1/operator/workspaces/ws_nope/prices", set); r.Status != 404 {
			t.Fatalf("unknown ws prices %d %s", r.Status, r.Body)
		}
		got := member.must(200, "GET", "/v1/workspaces/"+ws+"/prices", nil)
		var byop map[string]any
		for _, p := range got["prices"].([]any) {
			if m := p.(map[string]any); m["kind"] == "call_seconds" && m["key"] == "byop" {
				byop = m
			}
		}
		if byop == nil || byop["source"] != "workspace" || byop["priceMicros"] != float64(0) || byop["unit"] != "per minute" {
			t.Fatalf("effective prices %v", got)
		}
		// byop minutes now cost nothing: the refused record goes through as free.
		if r := op.must(200, "POST", usage, big)["records"].([]any)[0].(map[string]any); r["status"] != "free" {
			t.Fatalf("byop after override %v", r)
		}
		if r := e.signup("stranger").do("GET", "/v1/workspaces/"+ws+"/prices", nil); r.Status != 404 {
			t.Fatalf("stranger reads prices %d", r.Status)
		}

		// The usage report: every role reads it; its total equals what was debited.
		rep0 := member.must(200, "GET", "/v1/workspaces/"+ws+"/billing/usage?groupBy=kind&from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z", nil)
		if rep0["totalMicros"] != float64(15_250+741) || len(rep0["rows"].([]any)) != 3 {
			t.Fatalf("usage report %v", rep0)
		}
		if r := member.do("GET", "/v1/workspaces/"+ws+"/billing/usage?groupBy=week", nil); r.Status != 422 {
			t.Fatalf("bad groupBy %d %s", r.Status, r.Body)
		}
		csvr := member.do("GET", "/v1/workspaces/"+ws+"/billing/usage.csv?groupBy=agent&from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z", nil)
		if csvr.Status != 200 || !strings.HasPrefix(csvr.Header.Get("Content-Type"), "text/csv") ||
			!strings.HasPrefix(string(csvr.Body), "group,kind,quantity,records,cost,cost_micros\n") ||
			!strings.Contains(string(csvr.Body), "agent_1,call_seconds,61,1,0.01525,15250\n") || !strings.HasSuffix(string(csvr.Body), "total,,,,0.015991,15991\n") {
			t.Fatalf("usage csv %d %q", csvr.Status, csvr.Body)
		}

		rep, err := e.srv.Billing.Verify(authz.WithPrincipal(context.Background(), authz.System()))
		if err != nil || len(rep.Differences) != 0 {
			t.Fatalf("verify %v %v", rep, err)
		}
	})
}

// Without --operator-token the operator routes are off: 403 operator_api_disabled for everyone.
func TestOperatorRoutesOffWithoutToken(t *testing.T) {
	e := newEnv(t, testConfig(dbtestSQLite(t)))
	owner := e.signup("owner")
	ws := owner.workspace("Acme")
	for _, c := range []*client{owner, e.client(), e.keyClient(testOperatorToken)} {
		if r := c.do("POST", "/v1/workspaces/"+ws+"/usage", map[string]any{"records": []any{}}); r.Status != 403 || r.Code(t) != "operator_api_disabled" {
			t.Fatalf("usage without a token configured: %d %s", r.Status, r.Body)
		}
		if r := c.do("PUT", "/v1/operator/workspaces/"+ws+"/prices", map[string]any{"prices": []any{}}); r.Status != 403 || r.Code(t) != "operator_api_disabled" {
			t.Fatalf("prices without a token configured: %d %s", r.Status, r.Body)
		}
	}
	for v, ok := range map[string]bool{"short": false, testOperatorToken: true, "": true} {
		fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
		resolve := bindOptions(fs, func(k string) string {
			if k == "PARLEY_OPERATOR_TOKEN" {
				return v
			}
			return ""
		}, false)
		_ = fs.Parse(nil)
		cfg, err := resolve()
		if (err == nil) != ok || (ok && cfg.OperatorToken != v) {
			t.Errorf("PARLEY_OPERATOR_TOKEN=%q: %q %v", v, cfg.OperatorToken, err)
		}
	}
}

func TestPricesCommands(t *testing.T) {
	dbc := dbtestSQLite(t)
	e := newEnv(t, testConfig(dbc))
	ws := e.signup("owner").workspace("Acme")
	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := Run(context.Background(), append(args, "--data-dir", dbc.DataDir, "--log-format", "text"), func(string) string { return "" }, strings.NewReader(""), &out, &out)
		return out.String(), err
	}
	out, err := run("prices", "show")
	if err != nil || !strings.Contains(out, "platform price book") || !strings.Contains(out, "deepgram/nova-3") {
		t.Fatalf("show: %v %s", err, out)
	}
	out, err = run("prices", "set", "--workspace", ws, "--price", "call_seconds:byop=0.004", "--price", "stt_seconds:deepgram/*=0.00007")
	if err != nil || !strings.Contains(out, "2 price override(s)") {
		t.Fatalf("set: %v %s", err, out)
	}
	out, err = run("prices", "show", "--workspace", ws)
	if err != nil || !regexpMatch(`call_seconds\s+byop\s+0\.004\s+per minute\s+workspace`, out) || !regexpMatch(`stt_seconds\s+deepgram/\*\s+0\.00007\s+per second\s+workspace`, out) {
		t.Fatalf("show ws: %v %s", err, out)
	}
	if c, err := e.srv.Billing.Rate(authz.WithPrincipal(context.Background(), authz.System()), ws, billing.Usage{Kind: billing.UsageCallSeconds, Quantity: 60, Provider: "byop"}); err != nil || c != 4_000 {
		t.Fatalf("rate after CLI set: %d %v", c, err)
	}
	for _, bad := range [][]string{{"prices", "set", "--workspace", ws}, {"prices", "set", "--workspace", ws, "--price", "nonsense"},
		{"prices", "set", "--workspace", ws, "--price", "call_seconds:twilio=1"}, {"prices", "set", "--workspace", "ws_nope", "--clear"}} {
		if _, err := run(bad...); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	if out, err := run("prices", "set", "--workspace", ws, "--clear"); err != nil || !strings.Contains(out, "0 price override(s)") {
		t.Fatalf("clear: %v %s", err, out)
	}
}

func regexpMatch(pattern, s string) bool { return regexp.MustCompile(pattern).MatchString(s) }

// The owner sets a low-balance threshold; the balance shows it; crossing it publishes
// credits.low once and mails the owner; reaching zero publishes credits.depleted.
func TestLowBalanceThresholdAPI(t *testing.T) {
	dbtest.EachConfig(t, func(t *testing.T, dbc db.Config) {
		cfg := testConfig(dbc)
		cfg.WelcomeCredits = 10_000_000
		e := newEnv(t, cfg)
		owner := e.signup("owner")
		ws := owner.workspace("Acme")
		admin := e.signup("admin")
		e.addMember(ws, admin, "admin")
		settings := "/v1/workspaces/" + ws + "/billing/settings"
		if r := admin.do("PATCH", settings, map[string]any{"lowBalanceThreshold": "5"}); r.Status != 403 {
			t.Fatalf("admin sets threshold: %d %s", r.Status, r.Body)
		}
		if r := owner.do("PATCH", settings, map[string]any{"lowBalanceThreshold": "5.1234567"}); r.Status != 422 {
			t.Fatalf("7 decimals: %d %s", r.Status, r.Body)
		}
		if r := owner.do("PATCH", settings, map[string]any{"lowBalanceThreshold": "-1"}); r.Status != 422 {
			t.Fatalf("negative: %d %s", r.Status, r.Body)
		}
		if r := e.signup("stranger").do("PATCH", settings, map[string]any{"lowBalanceThreshold": "5"}); r.Status != 404 {
			t.Fatalf("stranger: %d %s", r.Status, r.Body)
		}
		st := owner.must(200, "PATCH", settings, map[string]any{"lowBalanceThreshold": "5"})
		if st["lowBalanceThreshold"] != "5" || st["lowBalanceThresholdMicros"] != float64(5_000_000) {
			t.Fatalf("settings %v", st)
		}
		if b := admin.must(200, "GET", "/v1/workspaces/"+ws+"/billing/balance", nil); b["lowBalanceThreshold"] != "5" || b["low"] != false {
			t.Fatalf("balance %v", b)
		}
		if s := admin.must(200, "GET", settings, nil); s["lowBalanceThreshold"] != "5" {
			t.Fatalf("get settings %v", s)
		}
		sys := authz.WithPrincipal(context.Background(), authz.System())
		for i, amount := range []int64{4_000_000, 2_000_000, 1_000_000} { // 6, 4 (crosses), 3
			if _, err := e.srv.Billing.Debit(sys, billing.DebitInput{WorkspaceID: ws, Amount: amount, Key: "d" + string(rune('0'+i))}); err != nil {
				t.Fatal(err)
			}
		}
		if n := e.countEvents(t, ws, "credits.low"); n != 1 {
			t.Fatalf("credits.low events: %d", n)
		}
		if b := owner.must(200, "GET", "/v1/workspaces/"+ws+"/billing/balance", nil); b["low"] != true {
			t.Fatalf("balance %v", b)
		}
		var mails int
		if err := e.srv.DB.Read.QueryRow(`SELECT COUNT(*) FROM mail_outbox WHERE to_addr = $1 AND subject LIKE '%credits low%'`, owner.email()).Scan(&mails); err != nil || mails != 1 {
			t.Fatalf("mails to the owner: %d %v", mails, err)
		}
		if _, err := e.srv.Billing.Debit(sys, billing.DebitInput{WorkspaceID: ws, Amount: 3_000_000, Key: "d9"}); err != nil {
			t.Fatal(err)
		}
		if n := e.countEvents(t, ws, "credits.depleted"); n != 1 {
			t.Fatalf("credits.depleted events: %d", n)
		}
	})
}

// An owner of two workspaces moves credits between them: one ledger transfer, audited in both,
// 404 for a workspace one does not own, 402 beyond the balance, Idempotency-Key honoured.
func TestCreditTransfersAPI(t *testing.T) {
	dbtest.EachConfig(t, func(t *testing.T, dbc db.Config) {
		cfg := testConfig(dbc)
		cfg.WelcomeCredits = 10_000_000
		e := newEnv(t, cfg)
		owner := e.signup("owner")
		agency, client := owner.workspace("Agency"), owner.workspace("Client")
		other := e.signup("other")
		foreign := other.workspace("Foreign")
		e.addMember(foreign, owner, "admin") // a member, not the owner
		path := "/v1/workspaces/" + agency + "/billing/transfers"
		if r := owner.do("POST", path, map[string]any{"toWorkspaceId": foreign, "amount": "1"}); r.Status != 404 {
			t.Fatalf("to a workspace not owned: %d %s", r.Status, r.Body)
		}
		if r := owner.do("POST", path, map[string]any{"toWorkspaceId": "ws_nope", "amount": "1"}); r.Status != 404 {
			t.Fatalf("to nowhere: %d %s", r.Status, r.Body)
		}
		if r := other.do("POST", "/v1/workspaces/"+foreign+"/billing/transfers", map[string]any{"toWorkspaceId": agency, "amount": "1"}); r.Status != 404 {
			t.Fatalf("other to agency: %d %s", r.Status, r.Body)
		}
		if r := owner.do("POST", path, map[string]any{"toWorkspaceId": client, "amount": "10.000001"}); r.Status != 402 || r.Code(t) != "insufficient_credits" {
			t.Fatalf("overdraft: %d %s", r.Status, r.Body)
		}
		if r := owner.do("POST", path, map[string]any{"toWorkspaceId": client, "amount": "1e3"}); r.Status != 422 {
			t.Fatalf("bad amount: %d %s", r.Status, r.Body)
		}
		body := map[string]any{"toWorkspaceId": client, "amount": "2.5", "reason": "November budget"}
		a := owner.do("POST", path, body, "Idempotency-Key", "t1")
		b := owner.do("POST", path, body, "Idempotency-Key", "t1")
		if a.Status != 201 || b.Status != 201 || string(a.Body) != string(b.Body) {
			t.Fatalf("transfer: %d %s / %d %s", a.Status, a.Body, b.Status, b.Body)
		}
		if bal := owner.must(200, "GET", "/v1/workspaces/"+agency+"/billing/balance", nil); bal["available"] != "7.5" {
			t.Fatalf("agency %v", bal)
		}
		if bal := owner.must(200, "GET", "/v1/workspaces/"+client+"/billing/balance", nil); bal["available"] != "12.5" {
			t.Fatalf("client %v", bal)
		}
		l := owner.must(200, "GET", "/v1/workspaces/"+client+"/billing/ledger?limit=1", nil)["data"].([]any)[0].(map[string]any)
		if l["kind"] != "transfer_in" || l["reference"] != agency || l["amount"] != "2.5" || l["reason"] != "November budget" {
			t.Fatalf("client ledger %v", l)
		}
		for ws, action := range map[string]string{agency: "credits.transferred_out", client: "credits.transferred_in"} {
			var n int
			if err := e.srv.DB.Read.QueryRow(`SELECT COUNT(*) FROM audit_log WHERE workspace_id = $1 AND action = $2`, ws, action).Scan(&n); err != nil || n != 1 {
				t.Fatalf("%s audit %s: %d %v", ws, action, n, err)
			}
		}
		// Admins of the source do not move credits; API keys never do.
		e.addMember(agency, other, "admin")
		if r := other.do("POST", path, body); r.Status != 403 {
			t.Fatalf("admin transfers: %d %s", r.Status, r.Body)
		}
		rep, err := e.srv.Billing.Verify(authz.WithPrincipal(context.Background(), authz.System()))
		if err != nil || len(rep.Differences) != 0 {
			t.Fatalf("verify %v %v", rep, err)
		}
	})
}

// Operator grants (API and CLI) may carry an expiry; the expiry job moves what is left out
// through an expire transfer.
func TestExpiringGrants(t *testing.T) {
	dbtest.EachConfig(t, func(t *testing.T, dbc db.Config) {
		cfg := testConfig(dbc)
		cfg.WelcomeCredits = 0
		cfg.OperatorToken = testOperatorToken
		e := newEnv(t, cfg)
		owner := e.signup("owner")
		ws := owner.workspace("Acme")
		op := e.keyClient(testOperatorToken)
		grants := "/v1/operator/workspaces/" + ws + "/credits/grants"
		if r := owner.do("POST", grants, map[string]any{"amount": "1", "key": "g"}); r.Status != 403 {
			t.Fatalf("owner grants: %d %s", r.Status, r.Body)
		}
		exp := e.clock.Now().Add(30 * time.Minute).UTC().Format(time.RFC3339)
		g := op.must(201, "POST", grants, map[string]any{"amount": "3", "key": "g1", "reason": "trial", "expiresAt": exp})
		if g["transfer"].(map[string]any)["kind"] != "grant" || g["replayed"] != false {
			t.Fatalf("grant %v", g)
		}
		if g := op.must(201, "POST", grants, map[string]any{"amount": "3", "key": "g1", "reason": "trial", "expiresAt": exp}); g["replayed"] != true {
			t.Fatalf("replay %v", g)
		}
		if r := op.do("POST", grants, map[string]any{"amount": "4", "key": "g1"}); r.Status != 409 {
			t.Fatalf("conflict %d %s", r.Status, r.Body)
		}
		if r := op.do("POST", grants, map[string]any{"amount": "1", "key": "g2", "expiresAt": "2001-01-01T00:00:00Z"}); r.Status != 422 {
			t.Fatalf("past expiry %d %s", r.Status, r.Body)
		}
		if r := op.do("POST", "/v1/operator/workspaces/ws_nope/credits/grants", map[string]any{"amount": "1", "key": "g3"}); r.Status != 404 {
			t.Fatalf("unknown ws %d %s", r.Status, r.Body)
		}
		// The CLI: --expires takes a date.
		dataFlags := []string{"--data-dir", dbc.DataDir, "--log-format", "text"}
		if dbc.URL != "" {
			dataFlags = append(dataFlags, "--database-url", dbc.URL)
		}
		var out bytes.Buffer
		args := append([]string{"credits", "grant", "--workspace", ws, "--amount", "2", "--expires", "2099-01-01", "--key", "cli1"}, dataFlags...)
		if err := Run(context.Background(), args, func(string) string { return "" }, strings.NewReader(""), &out, &out); err != nil ||
			!strings.Contains(out.String(), "expire at 2099-01-01T00:00:00Z") {
			t.Fatalf("cli grant: %v %q", err, out.String())
		}
		bad := append([]string{"credits", "grant", "--workspace", ws, "--amount", "2", "--expires", "soon"}, dataFlags...)
		if err := Run(context.Background(), bad, func(string) string { return "" }, strings.NewReader(""), &out, &out); err == nil {
			t.Fatal("--expires soon accepted")
		}
		if b := owner.must(200, "GET", "/v1/workspaces/"+ws+"/billing/balance", nil); b["available"] != "5" || b["expiring"] != "5" {
			t.Fatalf("balance %v", b)
		}
		sys := authz.WithPrincipal(context.Background(), authz.System())
		if _, err := e.srv.Billing.Debit(sys, billing.DebitInput{WorkspaceID: ws, Amount: 1_000_000, Key: "d1"}); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(31 * time.Minute)
		if n, err := e.srv.Billing.ExpireCredits(sys, 100); err != nil || n != 1 {
			t.Fatalf("expire: %d %v", n, err)
		}
		if b := owner.must(200, "GET", "/v1/workspaces/"+ws+"/billing/balance", nil); b["available"] != "2" || b["expiring"] != "2" {
			t.Fatalf("balance after expiry %v", b)
		}
		l := owner.must(200, "GET", "/v1/workspaces/"+ws+"/billing/ledger?limit=1", nil)["data"].([]any)[0].(map[string]any)
		if l["kind"] != "expire" || l["from"] != "available" || l["to"] != "grants" || l["amount"] != "2" {
			t.Fatalf("ledger %v", l)
		}
		rep, err := e.srv.Billing.Verify(sys)
		if err != nil || len(rep.Differences) != 0 {
			t.Fatalf("verify %v %v", rep, err)
		}
	})
}

// The Billing page: every role sees the balance, the chart and the ledger; only the owner gets
// the threshold form, and only the owner's post changes it.
func TestBillingPageRoles(t *testing.T) {
	cfg := testConfig(dbtestSQLite(t))
	cfg.WelcomeCredits = 10_000_000
	e := newEnv(t, cfg)
	owner := e.signup("owner")
	ws := owner.workspace("Acme")
	admin, member := e.signup("admin"), e.signup("member")
	e.addMember(ws, admin, "admin")
	e.addMember(ws, member, "member")
	page := "/w/" + ws + "/billing"
	for name, c := range map[string]*client{"owner": owner, "admin": admin, "member": member} {
		r := c.do("GET", page, nil)
		body := string(r.Body)
		if r.Status != 200 || !strings.Contains(body, `id="usage-chart"`) || !strings.Contains(body, "welcome credits") || !strings.Contains(body, `id="prices"`) {
			t.Fatalf("%s: %d %s", name, r.Status, body)
		}
		if got := strings.Contains(body, `id="threshold-form"`); got != (name == "owner") {
			t.Fatalf("%s sees the threshold form: %v", name, got)
		}
		if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || strings.Contains(body, "style=") || strings.Contains(body, "<script>") {
			t.Fatalf("%s: inline style or script, or CSP %q", name, csp)
		}
	}
	if r := e.signup("stranger").do("GET", page, nil); r.Status != 404 {
		t.Fatalf("stranger: %d", r.Status)
	}
	form := "application/x-www-form-urlencoded"
	if r := admin.do("POST", page+"/settings", "lowBalanceThreshold=3", "Content-Type", form); r.Status != 403 {
		t.Fatalf("admin posts: %d", r.Status)
	}
	if r := owner.do("POST", page+"/settings", "lowBalanceThreshold=3.1234567", "Content-Type", form); r.Status != 422 || !strings.Contains(string(r.Body), "lowBalanceThreshold-error") {
		t.Fatalf("bad threshold: %d", r.Status)
	}
	r := owner.do("POST", page+"/settings", "lowBalanceThreshold=3", "Content-Type", form)
	if r.Status != 303 || r.Header.Get("Location") != page+"?notice=threshold-saved" {
		t.Fatalf("owner posts: %d %v", r.Status, r.Header)
	}
	if r := owner.do("GET", r.Header.Get("Location"), nil); !strings.Contains(string(r.Body), "below 3 credits") || !strings.Contains(string(r.Body), "Low-balance threshold saved.") {
		t.Fatalf("after the post: %d %s", r.Status, r.Body)
	}
	if b := member.must(200, "GET", "/v1/workspaces/"+ws+"/billing/balance", nil); b["lowBalanceThreshold"] != "3" {
		t.Fatalf("balance %v", b)
	}

	// The transfer form shows once the owner owns another workspace, and moves credits once per
	// form (its hidden key), refusing an overdraft on the form.
	if strings.Contains(string(owner.do("GET", page, nil).Body), `id="transfer-form"`) {
		t.Fatal("transfer form without another workspace")
	}
	other := owner.workspace("Client")
	body := string(owner.do("GET", page, nil).Body)
	if !strings.Contains(body, `id="transfer-form"`) || !strings.Contains(body, `value="`+other+`"`) {
		t.Fatalf("no transfer form: %s", body)
	}
	if strings.Contains(string(admin.do("GET", page, nil).Body), `id="transfer-form"`) {
		t.Fatal("the admin sees the transfer form")
	}
	if r := owner.do("POST", page+"/transfers", "toWorkspaceId="+other+"&amount=11&key=k1", "Content-Type", form); r.Status != 402 || !strings.Contains(string(r.Body), "too few credits") {
		t.Fatalf("overdraft: %d", r.Status)
	}
	for i := 0; i < 2; i++ {
		if r := owner.do("POST", page+"/transfers", "toWorkspaceId="+other+"&amount=2.5&reason=budget&key=k2", "Content-Type", form); r.Status != 303 ||
			r.Header.Get("Location") != page+"?notice=credits-transferred" {
			t.Fatalf("transfer %d: %d %s", i, r.Status, r.Body)
		}
	}
	if b := owner.must(200, "GET", "/v1/workspaces/"+other+"/billing/balance", nil); b["available"] != "12.5" {
		t.Fatalf("target %v", b)
	}
	if b := owner.must(200, "GET", "/v1/workspaces/"+ws+"/billing/balance", nil); b["available"] != "7.5" {
		t.Fatalf("source %v", b)
	}
	if r := admin.do("POST", page+"/transfers", "toWorkspaceId="+other+"&amount=1&key=k3", "Content-Type", form); r.Status != 403 {
		t.Fatalf("admin transfers: %d", r.Status)
	}
}
