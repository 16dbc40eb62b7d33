package app

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/billing"
	"github.com/parleyhq/parley/internal/platform/authz"
	"github.com/parleyhq/parley/internal/platform/db"
	"github.com/parleyhq/parley/internal/platform/db/dbtest"
)

// callEnv is a server whose simulator runs 10,000 times faster than the clock.
func callEnv(t *testing.T, dbc db.Config, welcome int64) *env {
	cfg := testConfig(dbc)
	cfg.SimTimeScale = 10_000
	cfg.WelcomeCredits = welcome
	return newEnv(t, cfg)
}

func (e *env) waitCall(t *testing.T, c *client, ws, callID string, final ...string) map[string]any {
	t.Helper()
	var got map[string]any
	waitFor(t, "call "+callID+" to end", 20*time.Second, func() bool {
		got = c.must(200, "GET", "/v1/workspaces/"+ws+"/calls/"+callID, nil)
		for _, f := range final {
			if got["status"] == f {
				return true
			}
		}
		return false
	})
	return got
}

func callCost(t *testing.T, e *env, ws string, seconds int64) int64 {
	t.Helper()
	c, err := e.srv.Billing.Rate(authz.WithPrincipal(context.Background(), authz.System()), ws,
		billing.Usage{Kind: billing.UsageCallSeconds, Quantity: seconds, Provider: billing.TelephonyPlatform})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCallOnSimulatorEndToEnd(t *testing.T) {
	dbtest.EachConfig(t, func(t *testing.T, dbc db.Config) {
		e := callEnv(t, dbc, 10_000_000)
		owner := e.signup("owner")
		ws := owner.workspace("Acme")
		base := "/v1/workspaces/" + ws
		agent := owner.must(201, "POST", base+"/agents", map[string]any{"name": "Front desk", "greetingMessage": "Hello {{first}}, this is Acme.",
			"variables": []map[string]any{{"name": "first", "default": "there"}}})
		agentID := agent["id"].(string)

		// Refusals, before any worker runs.
		owner.must(201, "POST", base+"/dnc", map[string]any{"phone": "+14155559999"})
		if r := owner.do("POST", base+"/calls", map[string]any{"agentId": agentID, "to": "+14155559999"}); r.Status != 409 || r.Code(t) != "do_not_call" {
			t.Fatalf("dnc: %d %s", r.Status, r.Code(t))
		}
		if r := owner.do("POST", base+"/calls", map[string]any{"agentId": agentID, "to": "+14155550142", "variables": map[string]any{"nope": 1}}); r.Status != 422 {
			t.Fatalf("undeclared variable: %d", r.Status)
		}
		if r := owner.do("POST", base+"/calls", map[string]any{"agentId": agentID, "to": "+14155550142", "credentialId": "tcred_01jdq6c2v1f6m8t7x0k9w3e4ra"}); r.Status != 404 {
			t.Fatalf("unknown credential: %d", r.Status)
		}
		if r := owner.do("POST", base+"/calls", map[string]any{"agentId": agentID, "to": "12"}); r.Status != 422 {
			t.Fatalf("impossible number: %d", r.Status)
		}
		paused := owner.must(201, "POST", base+"/agents", map[string]any{"name": "Paused", "status": "paused"})
		if r := owner.do("POST", base+"/calls", map[string]any{"agentId": paused["id"], "to": "+14155550142"}); r.Status != 409 || r.Code(t) != "agent_not_active" {
			t.Fatalf("paused agent: %d %s", r.Status, r.Code(t))
		}
		owner.must(200, "PATCH", base+"/settings", map[string]any{"calls": map[string]any{"maxConcurrentCalls": 2}})

		// Two calls take the two lines; a third is refused.
		done := owner.must(201, "POST", base+"/calls", map[string]any{"agentId": agentID, "to": "+14155550142", "variables": map[string]any{"first": "Ada"},
			"metadata": map[string]any{"crm": "42"}})
		busy := owner.must(201, "POST", base+"/calls", map[string]any{"agentId": agentID, "to": "+1 415 555 0002"})
		if done["status"] != "queued" || done["provider"] != "sim" || busy["to"] != "+14155550002" {
			t.Fatalf("queued %v / %v", done, busy)
		}
		if r := owner.do("POST", base+"/calls", map[string]any{"agentId": agentID, "to": "+14155550143"}); r.Status != 429 || r.Code(t) != "concurrency_limit" {
			t.Fatalf("over the limit: %d %s", r.Status, r.Code(t))
		}
		b := owner.must(200, "GET", base+"/billing/balance", nil)
		if b["heldMicros"].(float64) <= 0 {
			t.Fatalf("nothing held for two queued calls: %v", b)
		}

		e.startWorkers(t)
		c := e.waitCall(t, owner, ws, done["id"].(string), "completed", "failed")
		want := callCost(t, e, ws, 72)
		if c["status"] != "completed" || c["durationSeconds"] != float64(72) || c["costMicros"] != float64(want) || c["providerCallId"] == "" ||
			c["inProgressAt"] == nil || c["ringingAt"] == nil || c["endedAt"] == nil || c["variables"].(map[string]any)["first"] != "Ada" {
			t.Fatalf("completed call %v (want cost %d)", c, want)
		}
		bc := e.waitCall(t, owner, ws, busy["id"].(string), "busy")
		if bc["costMicros"] != float64(0) || bc["durationSeconds"] != float64(0) || bc["inProgressAt"] != nil {
			t.Fatalf("busy call %v", bc)
		}
		waitFor(t, "balance to settle", 10*time.Second, func() bool {
			b = owner.must(200, "GET", base+"/billing/balance", nil)
			return b["heldMicros"] == float64(0)
		})
		if b["availableMicros"] != float64(10_000_000-want) {
			t.Fatalf("balance %v, want %d available", b, 10_000_000-want)
		}
		tl := owner.must(200, "GET", base+"/calls/"+done["id"].(string)+"/timeline", nil)["data"].([]any)
		var applied []string
		for _, x := range tl {
			if m := x.(map[string]any); m["applied"] == true {
				applied = append(applied, m["status"].(string))
			}
		}
		if got := strings.Join(applied, ","); got != "queued,initiating,ringing,in_progress,completed" {
			t.Fatalf("timeline %s", got)
		}
		for typ, n := range map[string]int{"call.queued": 2, "call.ringing": 2, "call.started": 1, "call.completed": 1, "call.failed": 1} {
			if got := e.countEvents(t, ws, typ); got != n {
				t.Errorf("%s events: %d, want %d", typ, got, n)
			}
		}
		// Lists filter; the ledger verifies.
		if l := owner.must(200, "GET", base+"/calls?status=busy", nil)["data"].([]any); len(l) != 1 {
			t.Fatalf("busy calls: %v", l)
		}
		rep, err := e.srv.Billing.Verify(authz.WithPrincipal(context.Background(), authz.System()))
		if err != nil || len(rep.Differences) != 0 {
			t.Fatalf("verify: %v %v", rep, err)
		}
	})
}

func TestCallRefusedWithoutCredits(t *testing.T) {
	dbtest.EachConfig(t, func(t *testing.T, dbc db.Config) {
		e := callEnv(t, dbc, 0)
		owner := e.signup("owner")
		ws := owner.workspace("Broke")
		agent := owner.must(201, "POST", "/v1/workspaces/"+ws+"/agents", map[string]any{"name": "A"})
		if r := owner.do("POST", "/v1/workspaces/"+ws+"/calls", map[string]any{"agentId": agent["id"], "to": "+14155550142"}); r.Status != 402 || r.Code(t) != "insufficient_credits" {
			t.Fatalf("no credits: %d %s", r.Status, r.Code(t))
		}
		if l := owner.must(200, "GET", "/v1/workspaces/"+ws+"/calls", nil)["data"].([]any); len(l) != 0 {
			t.Fatalf("a refused call left a record: %v", l)
		}
	})
}

// TestCallCallbacksInAnyOrder plays the simulator's callbacks by hand, shuffled, duplicated
// and late: the call never moves backwards, ends once, and is billed once.
func TestCallCallbacksInAnyOrder(t *testing.T) {
	orders := [][]string{
		{"ringing", "in-progress", "completed", "completed"},
		{"completed", "ringing", "in-progress", "completed"},
		{"in-progress", "ringing", "completed", "in-progress"},
		{"ringing", "completed", "in-progress", "ringing"},
	}
	dbtest.EachConfig(t, func(t *testing.T, dbc db.Config) {
		e := callEnv(t, dbc, 10_000_000)
		owner := e.signup("owner")
		ws := owner.workspace("Acme")
		base := "/v1/workspaces/" + ws
		owner.must(200, "PATCH", base+"/settings", map[string]any{"calls": map[string]any{"maxConcurrentCalls": 10}})
		agent := owner.must(201, "POST", base+"/agents", map[string]any{"name": "A"})
		for i, order := range orders {
			c := owner.must(201, "POST", base+"/calls", map[string]any{"agentId": agent["id"], "to": fmt.Sprintf("+1415555%04d", 100+i)})
			id := c["id"].(string)
			status := "http://localhost/telephony/" + ws + "/sim/status?callId=" + id
			for seq, st := range order {
				form := url.Values{"CallSid": {"simcall_" + id}, "CallStatus": {st}, "SequenceNumber": {fmt.Sprint(seq)}}
				if st == "completed" {
					form.Set("CallDuration", "61")
				}
				if _, err := e.srv.Calls.HandleProvider(context.Background(), ws, "sim", "status", e.srv.Sim.Request(status, form)); err != nil {
					t.Fatalf("order %v: %v", order, err)
				}
			}
			got := owner.must(200, "GET", base+"/calls/"+id, nil)
			if got["status"] != "completed" || got["durationSeconds"] != float64(61) || got["costMicros"] != float64(callCost(t, e, ws, 61)) {
				t.Fatalf("order %v: %v", order, got)
			}
		}
		if n := e.countEvents(t, ws, "call.completed"); n != len(orders) {
			t.Fatalf("call.completed events: %d, want %d", n, len(orders))
		}
		if b := owner.must(200, "GET", base+"/billing/balance", nil); b["heldMicros"] != float64(0) ||
			b["availableMicros"] != float64(10_000_000-int64(len(orders))*callCost(t, e, ws, 61)) {
			t.Fatalf("balance %v", b)
		}
		// A forged callback is refused and changes nothing.
		c := owner.must(201, "POST", base+"/calls", map[string]any{"agentId": agent["id"], "to": "+14155550199"})
		r := owner.do("POST", "/telephony/"+ws+"/sim/status?callId="+c["id"].(string), nil)
		if r.Status != 403 {
			t.Fatalf("forged callback: %d", r.Status)
		}
		if got := owner.must(200, "GET", base+"/calls/"+c["id"].(string), nil); got["status"] != "queued" {
			t.Fatalf("forged callback moved the call: %v", got)
		}
		// A call's overrides extend the inheritance chain by one level.
		for _, bad := range []map[string]any{{"colour": "blue"}, {"llm": map[string]any{"model": "no-such-model"}}, {"llm": map[string]any{"temperature": 9}}, {"name": "x"}} {
			if r := owner.do("POST", base+"/calls", map[string]any{"agentId": agent["id"], "to": "+14155550198", "overrides": bad}); r.Status != 422 ||
				!strings.Contains(string(r.Body), "overrides") {
				t.Fatalf("override %v: %d %s", bad, r.Status, r.Body)
			}
		}
		o := owner.must(201, "POST", base+"/calls", map[string]any{"agentId": agent["id"], "to": "+14155550198",
			"overrides": map[string]any{"greetingMessage": "Bonjour", "llm": map[string]any{"temperature": 0.2}}})
		eff := owner.must(200, "GET", base+"/calls/"+o["id"].(string)+"/effective", nil)["settings"].(map[string]any)
		if g := eff["greetingMessage"].(map[string]any); g["value"] != "Bonjour" || g["source"] != "call" {
			t.Fatalf("greeting %v", g)
		}
		if tmp := eff["llm.temperature"].(map[string]any); tmp["value"] != 0.2 || tmp["source"] != "call" {
			t.Fatalf("temperature %v", tmp)
		}
		if m := eff["llm.model"].(map[string]any); m["source"] == "call" {
			t.Fatalf("model %v", m)
		}
	})
}

// TestLongCallHoldIsExtendedThenEndedForCredits: an answered call about to outlive its
// reserved minutes gets its hold extended; when the workspace cannot pay for more, the call is
// hung up, and the ledger never goes negative.
func TestLongCallHoldIsExtendedThenEndedForCredits(t *testing.T) {
	dbtest.EachConfig(t, func(t *testing.T, dbc db.Config) {
		cfg := testConfig(dbc)
		cfg.WelcomeCredits = 10_000_000
		cfg.SimTimeScale = 1 // the call rings 5 s (wall) and talks 129 s: long enough to act on
		e := newEnv(t, cfg)
		owner := e.signup("owner")
		ws := owner.workspace("Acme")
		base := "/v1/workspaces/" + ws
		agent := owner.must(201, "POST", base+"/agents", map[string]any{"name": "A"})
		c := owner.must(201, "POST", base+"/calls", map[string]any{"agentId": agent["id"], "to": "+14155550199"})
		id := c["id"].(string)
		e.startWorkers(t)
		waitFor(t, "the call to be answered", 15*time.Second, func() bool {
			return owner.must(200, "GET", base+"/calls/"+id, nil)["status"] == "in_progress"
		})
		sys := authz.WithPrincipal(context.Background(), authz.System())
		held := func() float64 { return owner.must(200, "GET", base+"/billing/balance", nil)["heldMicros"].(float64) }
		before := held()
		e.clock.Advance(10 * time.Minute)
		if ext, hung, err := e.srv.Calls.ExtendHolds(context.Background()); err != nil || ext != 1 || hung != 0 {
			t.Fatalf("extend: %d %d %v", ext, hung, err)
		}
		if after := held(); after <= before {
			t.Fatalf("held %v → %v: not extended", before, after)
		}
		// Spend everything available: the next extension is refused and the call hung up.
		b := owner.must(200, "GET", base+"/billing/balance", nil)
		if _, err := e.srv.Billing.Debit(sys, billing.DebitInput{WorkspaceID: ws, Amount: int64(b["availableMicros"].(float64)), Key: "drain"}); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(10 * time.Minute)
		if ext, hung, err := e.srv.Calls.ExtendHolds(context.Background()); err != nil || ext != 0 || hung != 1 {
			t.Fatalf("extend without credits: %d %d %v", ext, hung, err)
		}
		got := e.waitCall(t, owner, ws, id, "completed")
		if got["costMicros"].(float64) <= 0 {
			t.Fatalf("ended call %v", got)
		}
		if b := owner.must(200, "GET", base+"/billing/balance", nil); b["heldMicros"] != float64(0) || b["availableMicros"].(float64) < 0 {
			t.Fatalf("balance %v", b)
		}
		rep, err := e.srv.Billing.Verify(sys)
		if err != nil || len(rep.Differences) != 0 {
			t.Fatalf("verify: %v %v", rep, err)
		}
	})
}
