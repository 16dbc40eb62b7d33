package app

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/billing"
	"github.com/parleyhq/parley/internal/platform/authz"
	"github.com/parleyhq/parley/internal/platform/db"
	"github.com/parleyhq/parley/internal/platform/db/dbtest"
)

// campaignWorld is a workspace with an agent and a contact list of the given numbers.
type campaignWorld struct {
	owner   *client
	ws      string
	base    string
	agentID string
	listID  string
}

func (e *env) campaignWorld(t *testing.T, phones []string, wsLimit int) campaignWorld {
	t.Helper()
	owner := e.signup("owner")
	ws := owner.workspace("Dialer")
	base := "/v1/workspaces/" + ws
	owner.must(200, "PATCH", base+"/settings", map[string]any{"calls": map[string]any{"maxConcurrentCalls": wsLimit}})
	ag := owner.must(201, "POST", base+"/agents", map[string]any{"name": "Renewals", "greetingMessage": "Hello {{first}}.",
		"variables": []map[string]any{{"name": "first", "default": "there"}, {"name": "offer"}}})
	list := owner.must(201, "POST", base+"/contact-lists", map[string]any{"name": "Audience"})
	var ids []string
	for i, p := range phones {
		ct := owner.must(201, "POST", base+"/contacts", map[string]any{"phone": p, "name": fmt.Sprintf("Contact %d", i), "attributes": map[string]any{"first": fmt.Sprintf("N%d", i)}})
		ids = append(ids, ct["id"].(string))
	}
	for len(ids) > 0 {
		n := min(len(ids), 100)
		owner.must(200, "POST", base+"/contact-lists/"+list["id"].(string)+"/members", map[string]any{"contactIds": ids[:n]})
		ids = ids[n:]
	}
	return campaignWorld{owner: owner, ws: ws, base: base, agentID: ag["id"].(string), listID: list["id"].(string)}
}

// simPhones makes n distinct valid numbers whose last four digits are suffix (the simulator's
// outcome): +1 415 2xx <suffix>.
func simPhones(from, n int, suffix string) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("+1415%03d%s", 200+from+i, suffix))
	}
	return out
}

func (w campaignWorld) create(t *testing.T, extra map[string]any) string {
	t.Helper()
	body := map[string]any{"name": "November renewals", "agentId": w.agentID, "audience": map[string]any{"listId": w.listID},
		"callingWindow": map[string]any{"days": []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}, "start": "00:00", "end": "24:00"},
		"variables":     map[string]any{"first": "{{contact.first}}", "offer": "10% off"}, "callsPerMinute": 60000}
	for k, v := range extra {
		body[k] = v
	}
	return w.owner.must(201, "POST", w.base+"/campaigns", body)["id"].(string)
}

func (w campaignWorld) waitStatus(t *testing.T, campID string, d time.Duration, status ...string) map[string]any {
	t.Helper()
	var c map[string]any
	deadline := time.Now().Add(d - time.Second)
	waitFor(t, "campaign "+campID+" to be "+fmt.Sprint(status), d, func() bool {
		if time.Now().After(deadline) {
			t.Logf("campaign %v\nstats %s", c, w.owner.do("GET", w.base+"/campaigns/"+campID+"/stats", nil).Body)
			rows, err := w.owner.e.srv.DB.Read.QueryContext(context.Background(), `SELECT kind, state, attempt, CAST(errors AS TEXT) FROM river_job WHERE kind LIKE 'campaign%' AND errors IS NOT NULL`)
			if err == nil {
				for rows.Next() {
					var k, st, e string
					var a int
					_ = rows.Scan(&k, &st, &a, &e)
					t.Logf("job %s %s %d %s", k, st, a, e)
				}
				rows.Close()
			}
			deadline = deadline.Add(time.Hour)
		}
		c = w.owner.must(200, "GET", w.base+"/campaigns/"+campID, nil)
		for _, s := range status {
			if c["status"] == s {
				return true
			}
		}
		return false
	})
	return c
}

// campaignCalls reads every call of a campaign.
func (w campaignWorld) campaignCalls(t *testing.T, campID string) []map[string]any {
	t.Helper()
	var out []map[string]any
	cursor := ""
	for {
		p := w.owner.must(200, "GET", w.base+"/calls?limit=100&campaignId="+campID+"&cursor="+cursor, nil)
		for _, c := range p["data"].([]any) {
			out = append(out, c.(map[string]any))
		}
		next, _ := p["nextCursor"].(string)
		if next == "" {
			return out
		}
		cursor = next
	}
}

func TestCampaignEndToEndOnSimulator(t *testing.T) {
	dbtest.EachConfig(t, func(t *testing.T, dbc db.Config) {
		e := callEnv(t, dbc, 500_000_000)
		var phones []string
		phones = append(phones, simPhones(0, 10, "0002")...)  // busy: retried
		phones = append(phones, simPhones(10, 8, "0003")...)  // no_answer
		phones = append(phones, simPhones(20, 7, "0004")...)  // voicemail
		phones = append(phones, simPhones(30, 5, "0005")...)  // failed at the carrier
		phones = append(phones, simPhones(40, 18, "0110")...) // completed, 40 s
		phones = append(phones, simPhones(60, 2, "0120")...)  // on the do-not-call list
		w := e.campaignWorld(t, phones, 20)
		for _, p := range phones[48:] {
			w.owner.must(201, "POST", w.base+"/dnc", map[string]any{"phone": p})
		}

		// Validation: field errors, unknown references.
		r := w.owner.do("POST", w.base+"/campaigns", map[string]any{"name": "x", "agentId": w.agentID, "audience": map[string]any{"listId": "list_nope"},
			"callingWindow": map[string]any{"days": []string{"mon"}, "start": "18:00", "end": "09:00"}, "maxConcurrentCalls": 0,
			"retry": map[string]any{"on": []string{"completed"}, "maxAttempts": 2, "delaysMinutes": []float64{1}}, "variables": map[string]any{"nope": "1"}})
		if r.Status != 422 {
			t.Fatalf("invalid campaign: %d %s", r.Status, r.Body)
		}
		for _, f := range []string{"body.callingWindow.end", "body.maxConcurrentCalls", "body.retry.on[0]"} {
			if !hasFieldError(r, f) {
				t.Errorf("no field error %s in %s", f, r.Body)
			}
		}
		r = w.owner.do("POST", w.base+"/campaigns", map[string]any{"name": "x", "agentId": "agent_nope", "audience": map[string]any{"listId": "list_nope"}, "variables": map[string]any{"nope": "1"}})
		if r.Status != 422 || !hasFieldError(r, "body.agentId") || !hasFieldError(r, "body.audience.listId") {
			t.Fatalf("unknown references: %d %s", r.Status, r.Body)
		}

		// Defaults.
		def := w.owner.must(201, "POST", w.base+"/campaigns", map[string]any{"name": "Defaults", "agentId": w.agentID, "audience": map[string]any{"listId": w.listID}})
		if def["status"] != "draft" || def["maxConcurrentCalls"] != float64(5) || def["callsPerMinute"] != float64(60) ||
			def["retry"].(map[string]any)["maxAttempts"] != float64(3) || def["callingWindow"].(map[string]any)["start"] != "09:00" {
			t.Fatalf("defaults: %v", def)
		}
		w.owner.must(204, "DELETE", w.base+"/campaigns/"+def["id"].(string), nil)

		// A test API key's campaigns run on the simulator.
		testKey := w.owner.must(201, "POST", w.base+"/api-keys", map[string]any{"name": "t", "scopes": []string{"campaigns:write"}, "mode": "test"})["secret"].(string)
		tc := e.keyClient(testKey).must(201, "POST", w.base+"/campaigns", map[string]any{"name": "Test", "agentId": w.agentID, "audience": map[string]any{"listId": w.listID}})
		if tc["credentialId"] != "sim" {
			t.Fatalf("a test key's campaign: %v", tc["credentialId"])
		}
		w.owner.must(204, "DELETE", w.base+"/campaigns/"+tc["id"].(string), nil)

		id := w.create(t, map[string]any{"maxConcurrentCalls": 3, "retry": map[string]any{"on": []string{"busy"}, "maxAttempts": 3, "delaysMinutes": []float64{0}}})
		path := w.base + "/campaigns/" + id
		w.owner.must(200, "PATCH", path, map[string]any{"maxConcurrentCalls": 5})
		if r := w.owner.do("POST", path+"/pause", nil); r.Status != 409 || r.Code(t) != "campaign_state" {
			t.Fatalf("pause a draft: %d %s", r.Status, r.Body)
		}
		// Started, paused and resumed before any worker runs: nothing is dialled yet.
		if c := w.owner.must(200, "POST", path+"/start", nil); c["status"] != "running" || c["startedAt"] == nil {
			t.Fatalf("start: %v", c)
		}
		if r := w.owner.do("DELETE", path, nil); r.Status != 409 {
			t.Fatalf("delete a running campaign: %d", r.Status)
		}
		w.owner.must(200, "POST", path+"/pause", nil)
		if r := w.owner.do("PATCH", path, map[string]any{"audience": map[string]any{"listId": "list_other"}}); r.Status != 409 || r.Code(t) != "audience_locked" {
			t.Fatalf("audience of a paused campaign: %d %s", r.Status, r.Body)
		}
		if s := w.owner.must(200, "GET", path+"/stats", nil); s["contacts"] != float64(50) || s["pending"] != float64(50) {
			t.Fatalf("stats before dialing: %v", s)
		}
		w.owner.must(200, "POST", path+"/resume", nil)

		// Track the campaign's live calls from the outside while it runs.
		var maxLive atomic.Int64
		stop := make(chan struct{})
		var sampler sync.WaitGroup
		sampler.Add(1)
		go func() {
			defer sampler.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				var n int64
				if err := e.srv.DB.Read.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM calls WHERE workspace_id = $1 AND campaign_id = $2
AND status IN ('queued', 'initiating', 'ringing', 'in_progress')`, w.ws, id).Scan(&n); err == nil && n > maxLive.Load() {
					maxLive.Store(n)
				}
				time.Sleep(time.Millisecond)
			}
		}()
		e.startWorkers(t)
		c := w.waitStatus(t, id, 120*time.Second, "completed", "paused")
		close(stop)
		sampler.Wait()
		if c["status"] != "completed" || c["endedAt"] == nil {
			t.Fatalf("campaign ended %v", c)
		}
		if m := maxLive.Load(); m > 5 || m < 2 {
			t.Errorf("max live calls %d, want at most 5 (and some concurrency)", m)
		}

		st := w.owner.must(200, "GET", path+"/stats", nil)
		outcomes := st["outcomes"].(map[string]any)
		want := map[string]float64{"completed": 18, "busy": 10, "no_answer": 8, "voicemail": 7, "failed": 5, "do_not_call": 2}
		for k, v := range want {
			if outcomes[k] != v {
				t.Errorf("outcome %s: %v, want %v (stats %v)", k, outcomes[k], v, st)
			}
		}
		if st["contacts"] != float64(50) || st["done"] != float64(50) || st["pending"] != float64(0) || st["inProgress"] != float64(0) || st["liveCalls"] != float64(0) ||
			st["attempts"] != float64(18+30+8+7+5+2) {
			t.Errorf("stats %v", st)
		}

		// The calls: one per attempt that dialled, never two for one contact's attempt; busy
		// contacts three times; the spend is the calls' cost.
		calls := w.campaignCalls(t, id)
		if len(calls) != 68 {
			t.Fatalf("%d calls, want 68", len(calls))
		}
		perContact := map[string]int{}
		var cost int64
		for _, cl := range calls {
			perContact[cl["contactId"].(string)]++
			cost += int64(cl["costMicros"].(float64))
			if cl["status"] == "completed" && cl["durationSeconds"] != float64(40) {
				t.Errorf("completed call of %v s, want 40", cl["durationSeconds"])
			}
			if cl["status"] == "completed" && cl["variables"].(map[string]any)["offer"] != "10% off" {
				t.Errorf("variables %v", cl["variables"])
			}
		}
		for ct, n := range perContact {
			if n != 1 && n != 3 {
				t.Errorf("contact %s called %d times", ct, n)
			}
		}
		if st["spentMicros"] != float64(cost) || cost < 18*callCost(t, e, w.ws, 40) {
			t.Errorf("spent %v, calls cost %d", st["spentMicros"], cost)
		}
		atts := w.owner.must(200, "GET", path+"/attempts?limit=100", nil)["data"].([]any)
		if len(atts) != 70 {
			t.Errorf("%d attempts listed", len(atts))
		}
		for typ, n := range map[string]int{"campaign.started": 1, "campaign.paused": 1, "campaign.resumed": 1, "campaign.completed": 1} {
			if got := e.countEvents(t, w.ws, typ); got != n {
				t.Errorf("%s events: %d, want %d", typ, got, n)
			}
		}
		waitFor(t, "holds to settle", 10*time.Second, func() bool {
			return w.owner.must(200, "GET", w.base+"/billing/balance", nil)["heldMicros"] == float64(0)
		})
		rep, err := e.srv.Billing.Verify(authz.WithPrincipal(context.Background(), authz.System()))
		if err != nil || len(rep.Differences) != 0 {
			t.Fatalf("verify: %v %v", rep, err)
		}
		res := w.owner.do("GET", path+"/results.csv", nil)
		lines := strings.Split(strings.TrimSpace(string(res.Body)), "\n")
		if res.Status != 200 || len(lines) != 51 || lines[0] != "contact_id,status,attempts,last_outcome,last_call_id,duration_seconds,cost" {
			t.Fatalf("results.csv: %d, %d lines: %.200s", res.Status, len(lines), res.Body)
		}
		thrice := 0
		for _, l := range lines[1:] {
			if strings.Contains(l, ",done,3,busy,") {
				thrice++
			}
		}
		if thrice != 10 {
			t.Errorf("%d busy contacts with 3 attempts in results.csv", thrice)
		}
		w.owner.must(204, "DELETE", path, nil)
	})
}

func hasFieldError(r response, loc string) bool {
	var body struct {
		Errors []struct {
			Location string `json:"location"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil {
		return false
	}
	for _, f := range body.Errors {
		if f.Location == loc {
			return true
		}
	}
	return false
}

func TestCampaignPausesWithoutCredits(t *testing.T) {
	dbtest.EachConfig(t, func(t *testing.T, dbc db.Config) {
		e := callEnv(t, dbc, 0)
		w := e.campaignWorld(t, simPhones(0, 10, "0150"), 20)
		reserve := callCost(t, e, w.ws, 300)
		if _, err := e.srv.Billing.Grant(authz.WithPrincipal(context.Background(), authz.System()), billing.GrantInput{WorkspaceID: w.ws, Amount: reserve * 5 / 2, Key: "few"}); err != nil {
			t.Fatal(err)
		}
		id := w.create(t, map[string]any{"maxConcurrentCalls": 5})
		w.owner.must(200, "POST", w.base+"/campaigns/"+id+"/start", nil)
		e.startWorkers(t)
		c := w.waitStatus(t, id, 30*time.Second, "paused", "completed")
		if c["status"] != "paused" || c["pauseReason"] != "insufficient_credits" {
			t.Fatalf("campaign %v", c)
		}
		if n := e.countEvents(t, w.ws, "campaign.paused"); n != 1 {
			t.Fatalf("%d campaign.paused events", n)
		}
		if s := w.owner.must(200, "GET", w.base+"/campaigns/"+id+"/stats", nil); s["pending"].(float64) < 5 {
			t.Fatalf("stats %v", s)
		}
	})
}

func TestCampaignCircuitBreaker(t *testing.T) {
	dbtest.EachConfig(t, func(t *testing.T, dbc db.Config) {
		e := callEnv(t, dbc, 500_000_000)
		w := e.campaignWorld(t, simPhones(0, 30, "0005"), 20)
		id := w.create(t, map[string]any{"maxConcurrentCalls": 1})
		w.owner.must(200, "POST", w.base+"/campaigns/"+id+"/start", nil)
		e.startWorkers(t)
		c := w.waitStatus(t, id, 30*time.Second, "paused", "completed")
		if c["status"] != "paused" || c["pauseReason"] != "carrier_failures" {
			t.Fatalf("campaign %v", c)
		}
		s := w.owner.must(200, "GET", w.base+"/campaigns/"+id+"/stats", nil)
		if s["attempts"] != float64(20) || s["pending"] != float64(10) {
			t.Fatalf("stats %v: want 20 attempts before the breaker", s)
		}
	})
}

// TestCampaignExactlyOnce runs several dialer rounds of one campaign at once (as replicas on one
// PostgreSQL would) and checks that no contact's attempt is dialled twice and the campaign's
// concurrency limit holds.
func TestCampaignExactlyOnce(t *testing.T) {
	dbtest.EachConfig(t, func(t *testing.T, dbc db.Config) {
		e := callEnv(t, dbc, 500_000_000)
		w := e.campaignWorld(t, simPhones(0, 40, "0160"), 100)
		id := w.create(t, map[string]any{"maxConcurrentCalls": 25})
		w.owner.must(200, "POST", w.base+"/campaigns/"+id+"/start", nil)
		ctx := authz.WithPrincipal(context.Background(), authz.System())
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 10 {
					if _, err := e.srv.Campaigns.Round(ctx, w.ws, id); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		// No worker runs: every call placed is still live, one per claimed contact.
		calls := w.campaignCalls(t, id)
		if len(calls) != 25 {
			t.Fatalf("%d calls, want exactly the limit 25", len(calls))
		}
		seen := map[string]bool{}
		for _, c := range calls {
			if seen[c["contactId"].(string)] {
				t.Fatalf("contact %s dialled twice", c["contactId"])
			}
			seen[c["contactId"].(string)] = true
		}
		var attempts, dup int
		if err := e.srv.DB.Read.QueryRow(`SELECT COUNT(*) FROM campaign_attempts WHERE campaign_id = $1`, id).Scan(&attempts); err != nil {
			t.Fatal(err)
		}
		if err := e.srv.DB.Read.QueryRow(`SELECT COUNT(*) FROM (SELECT contact_id FROM campaign_attempts WHERE campaign_id = $1 GROUP BY contact_id HAVING COUNT(*) > 1) d`, id).Scan(&dup); err != nil {
			t.Fatal(err)
		}
		if attempts != 25 || dup != 0 {
			t.Fatalf("%d attempts, %d contacts with more than one", attempts, dup)
		}
		// The live calls end (hung up before any dial: canceled, not retried), which frees the
		// campaign's places; racing rounds then dial the other 15 contacts, once each.
		for _, c := range calls {
			w.owner.must(200, "POST", w.base+"/calls/"+c["id"].(string)+"/hangup", nil)
		}
		var wg2 sync.WaitGroup
		for range 4 {
			wg2.Add(1)
			go func() {
				defer wg2.Done()
				for range 5 {
					if _, err := e.srv.Campaigns.Round(ctx, w.ws, id); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg2.Wait()
		calls = w.campaignCalls(t, id)
		per := map[string]int{}
		for _, c := range calls {
			per[c["contactId"].(string)]++
		}
		if len(calls) != 40 || len(per) != 40 {
			t.Fatalf("%d calls to %d contacts, want 40 to 40", len(calls), len(per))
		}
		st := w.owner.must(200, "GET", w.base+"/campaigns/"+id+"/stats", nil)
		if st["attempts"] != float64(40) || st["inProgress"] != float64(15) || st["outcomes"].(map[string]any)["canceled"] != float64(25) {
			t.Fatalf("stats %v", st)
		}
	})
}

// TestCampaignDialRate measures the dialer's own overhead: how many calls per second dialer
// rounds start (Place with its hold, slot, attempt and dial job, in one transaction each), with
// no worker running so nothing else competes. Run with PARLEY_BENCH_CAMPAIGN=1; figures are
// recorded in bench/RESULTS.md.
func TestCampaignDialRate(t *testing.T) {
	if os.Getenv("PARLEY_BENCH_CAMPAIGN") == "" {
		t.Skip("set PARLEY_BENCH_CAMPAIGN=1 to measure")
	}
	dbtest.EachConfig(t, func(t *testing.T, dbc db.Config) {
		e := callEnv(t, dbc, 1_000_000_000_000)
		w := e.campaignWorld(t, nil, 1000)
		const n = 1000
		now := db.Time(e.clock.Now())
		for i := range n {
			cid := fmt.Sprintf("contact_bench%05d", i)
			if _, err := e.srv.DB.Write.Exec(`INSERT INTO contacts (id, workspace_id, phone, name, name_lower, email, timezone, attributes, tags, created_at, updated_at)
VALUES ($1, $2, $3, '', '', '', '', '{}', '[]', $4, $4)`, cid, w.ws, fmt.Sprintf("+1415%03d%04d", 200+i/100, 100+i%100), now); err != nil {
				t.Fatal(err)
			}
			if _, err := e.srv.DB.Write.Exec(`INSERT INTO contact_list_members (workspace_id, list_id, contact_id, added_at) VALUES ($1, $2, $3, $4)`, w.ws, w.listID, cid, now); err != nil {
				t.Fatal(err)
			}
		}
		for _, replicas := range []int{1, 2} {
			id := w.create(t, map[string]any{"maxConcurrentCalls": n, "variables": map[string]any{"offer": "x"}})
			w.owner.must(200, "POST", w.base+"/campaigns/"+id+"/start", nil)
			ctx := authz.WithPrincipal(context.Background(), authz.System())
			start := time.Now()
			var wg sync.WaitGroup
			for range replicas {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for time.Since(start) < time.Minute {
						if _, err := e.srv.Campaigns.Round(ctx, w.ws, id); err != nil {
							t.Error(err)
							return
						}
						var live int
						_ = e.srv.DB.Read.QueryRow(`SELECT COUNT(*) FROM campaign_attempts WHERE campaign_id = $1`, id).Scan(&live)
						if live >= n {
							return
						}
					}
				}()
			}
			wg.Wait()
			el := time.Since(start)
			var calls int
			_ = e.srv.DB.Read.QueryRow(`SELECT COUNT(*) FROM calls WHERE campaign_id = $1`, id).Scan(&calls)
			t.Logf("%s, %d dialer(s): %d calls started in %v = %.0f calls/s", e.srv.DB.Dialect, replicas, calls, el.Round(time.Millisecond), float64(calls)/el.Seconds())
			if calls != n {
				t.Errorf("%d calls, want %d", calls, n)
			}
			w.owner.must(200, "POST", w.base+"/campaigns/"+id+"/cancel", nil)
			if _, err := e.srv.DB.Write.Exec(`UPDATE call_slots SET active = 0 WHERE workspace_id = $1`, w.ws); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestCampaignScheduledStartsByItself(t *testing.T) {
	dbtest.EachConfig(t, func(t *testing.T, dbc db.Config) {
		e := callEnv(t, dbc, 500_000_000)
		w := e.campaignWorld(t, simPhones(0, 3, "0170"), 20)
		id := w.create(t, nil)
		path := w.base + "/campaigns/" + id
		if r := w.owner.do("POST", path+"/schedule", map[string]any{"startAt": e.clock.Now().Add(-time.Minute)}); r.Status != 422 {
			t.Fatalf("schedule in the past: %d", r.Status)
		}
		c := w.owner.must(200, "POST", path+"/schedule", map[string]any{"startAt": e.clock.Now().Add(time.Second)})
		if c["status"] != "scheduled" || c["startAt"] == nil {
			t.Fatalf("scheduled: %v", c)
		}
		if r := w.owner.do("PATCH", path, map[string]any{"name": "x"}); r.Status != 409 {
			t.Fatalf("edit a scheduled campaign: %d", r.Status)
		}
		e.clock.Advance(time.Minute)
		e.startWorkers(t)
		w.waitStatus(t, id, 30*time.Second, "completed")
		if n := e.countEvents(t, w.ws, "campaign.started"); n != 1 {
			t.Fatalf("%d campaign.started", n)
		}
		// A second one is canceled while scheduled: it never starts.
		id2 := w.create(t, nil)
		w.owner.must(200, "POST", w.base+"/campaigns/"+id2+"/schedule", map[string]any{"startAt": e.clock.Now().Add(time.Second)})
		if c := w.owner.must(200, "POST", w.base+"/campaigns/"+id2+"/cancel", nil); c["status"] != "canceled" || c["endedAt"] == nil {
			t.Fatalf("canceled: %v", c)
		}
		if r := w.owner.do("POST", w.base+"/campaigns/"+id2+"/start", nil); r.Status != 409 {
			t.Fatalf("start a canceled campaign: %d", r.Status)
		}
	})
}

// TestCampaignWatchdogRestartsALostChain: a campaign whose dialer job died with its process
// (here: its job deleted, its chain two minutes old) is picked up again by the watchdog.
func TestCampaignWatchdogRestartsALostChain(t *testing.T) {
	dbtest.EachConfig(t, func(t *testing.T, dbc db.Config) {
		e := callEnv(t, dbc, 500_000_000)
		w := e.campaignWorld(t, simPhones(0, 4, "0180"), 20)
		id := w.create(t, nil)
		w.owner.must(200, "POST", w.base+"/campaigns/"+id+"/start", nil)
		if _, err := e.srv.DB.Write.Exec(`DELETE FROM river_job WHERE kind = 'campaign.tick'`); err != nil {
			t.Fatal(err)
		}
		ctx := authz.WithPrincipal(context.Background(), authz.System())
		if n, err := e.srv.Campaigns.Watchdog(ctx); err != nil || n != 0 {
			t.Fatalf("watchdog on a fresh chain: %d %v", n, err)
		}
		e.clock.Advance(3 * time.Minute)
		if n, err := e.srv.Campaigns.Watchdog(ctx); err != nil || n != 1 {
			t.Fatalf("watchdog: %d %v, want 1 restarted", n, err)
		}
		if n, err := e.srv.Campaigns.Watchdog(ctx); err != nil || n != 0 {
			t.Fatalf("watchdog again: %d %v, want 0", n, err)
		}
		e.startWorkers(t)
		w.waitStatus(t, id, 60*time.Second, "completed")
		if calls := w.campaignCalls(t, id); len(calls) != 4 {
			t.Fatalf("%d calls", len(calls))
		}
	})
}

func TestCampaignProgressStream(t *testing.T) {
	e := callEnv(t, dbtestSQLite(t), 500_000_000)
	w := e.campaignWorld(t, simPhones(0, 3, "0190"), 20)
	id := w.create(t, nil)
	w.owner.must(200, "POST", w.base+"/campaigns/"+id+"/start", nil)
	resp, err := w.owner.c.Get(e.http.URL + w.base + "/campaigns/" + id + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(resp.Body)
	var events []map[string]any
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "data: ") {
			continue
		}
		var ev map[string]any
		if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev); err != nil {
			t.Fatal(err)
		}
		events = append(events, ev)
		if len(events) == 1 {
			if ev["status"] != "running" || ev["stats"].(map[string]any)["contacts"] != float64(3) {
				t.Fatalf("first event %v", ev)
			}
			w.owner.must(200, "POST", w.base+"/campaigns/"+id+"/cancel", nil)
		}
	}
	if len(events) < 2 || events[len(events)-1]["status"] != "canceled" {
		t.Fatalf("events %v: want the stream to end with the canceled campaign", events)
	}
	if r := e.client().do("GET", w.base+"/campaigns/"+id+"/events", nil); r.Status != 401 {
		t.Fatalf("anonymous: %d", r.Status)
	}
}

// TestCampaignTwoReplicas runs a campaign with two servers on one PostgreSQL database, both
// working jobs (dial jobs, call ends and the dialer chain land on either): every contact's
// attempt is dialled once, and the totals are the simulator's.
func TestCampaignTwoReplicas(t *testing.T) {
	dbc := dbtest.Config(t, db.Postgres) // skips without PARLEY_TEST_POSTGRES_URL
	cfg := testConfig(dbc)
	cfg.SimTimeScale = 10_000
	cfg.WelcomeCredits = 500_000_000
	a, b := newEnv(t, cfg), newEnv(t, cfg)
	var phones []string
	phones = append(phones, simPhones(0, 6, "0002")...)   // busy, retried once
	phones = append(phones, simPhones(10, 14, "0130")...) // completed
	w := a.campaignWorld(t, phones, 50)
	id := w.create(t, map[string]any{"maxConcurrentCalls": 8, "retry": map[string]any{"on": []string{"busy"}, "maxAttempts": 2, "delaysMinutes": []float64{0}}})
	w.owner.must(200, "POST", w.base+"/campaigns/"+id+"/start", nil)
	a.startWorkers(t)
	b.startWorkers(t)
	w.waitStatus(t, id, 120*time.Second, "completed")
	var calls, attempts, dup int
	q := a.srv.DB.Read
	if err := q.QueryRow(`SELECT COUNT(*) FROM calls WHERE campaign_id = $1`, id).Scan(&calls); err != nil {
		t.Fatal(err)
	}
	if err := q.QueryRow(`SELECT COUNT(*) FROM campaign_attempts WHERE campaign_id = $1`, id).Scan(&attempts); err != nil {
		t.Fatal(err)
	}
	if err := q.QueryRow(`SELECT COUNT(*) FROM (SELECT contact_id FROM calls WHERE campaign_id = $1 GROUP BY contact_id
HAVING COUNT(*) > (SELECT MAX(attempt) FROM campaign_attempts x WHERE x.campaign_id = $1 AND x.contact_id = calls.contact_id)) d`, id).Scan(&dup); err != nil {
		t.Fatal(err)
	}
	if calls != 6*2+14 || attempts != calls || dup != 0 {
		t.Fatalf("%d calls, %d attempts, %d contacts called more often than attempted; want 26, 26, 0", calls, attempts, dup)
	}
	st := w.owner.must(200, "GET", w.base+"/campaigns/"+id+"/stats", nil)
	if o := st["outcomes"].(map[string]any); o["busy"] != float64(6) || o["completed"] != float64(14) {
		t.Fatalf("stats %v", st)
	}
}

func TestCampaignDashboardPages(t *testing.T) {
	e := callEnv(t, dbtestSQLite(t), 500_000_000)
	w := e.campaignWorld(t, simPhones(0, 3, "0110"), 20)
	id := w.create(t, map[string]any{"name": "Spring renewals"})
	member := e.signup("member")
	e.addMember(w.ws, member, "member")
	list := "/w/" + w.ws + "/campaigns"
	for name, c := range map[string]*client{"owner": w.owner, "member": member} {
		r := c.do("GET", list, nil)
		if r.Status != 200 || !strings.Contains(string(r.Body), "Spring renewals") || !strings.Contains(string(r.Body), `id="campaign-`+id+`"`) {
			t.Fatalf("%s list: %d %s", name, r.Status, r.Body)
		}
		r = c.do("GET", list+"/"+id, nil)
		if got := strings.Contains(string(r.Body), `id="campaign-start"`); r.Status != 200 || got != (name == "owner") {
			t.Fatalf("%s campaign page: %d, start button %v", name, r.Status, got)
		}
	}
	if r := e.signup("stranger").do("GET", list+"/"+id, nil); r.Status != 404 {
		t.Fatalf("stranger: %d", r.Status)
	}
	form := "application/x-www-form-urlencoded"
	if r := member.do("POST", list+"/"+id+"/start", "", "Content-Type", form); r.Status != 403 {
		t.Fatalf("member starts: %d", r.Status)
	}
	if r := w.owner.do("POST", list+"/"+id+"/pause", "", "Content-Type", form); r.Status != 409 || !strings.Contains(string(r.Body), "draft") {
		t.Fatalf("pause a draft: %d", r.Status)
	}
	if r := w.owner.do("POST", list+"/"+id+"/start", "", "Content-Type", form); r.Status != 303 {
		t.Fatalf("start: %d %s", r.Status, r.Body)
	}
	e.startWorkers(t)
	w.waitStatus(t, id, 30*time.Second, "completed")
	r := w.owner.do("GET", list+"/"+id, nil)
	body := string(r.Body)
	if !strings.Contains(body, `id="campaign-status" class="status-completed"`) || !strings.Contains(body, "<strong>completed</strong>: 3") ||
		!strings.Contains(body, `value="3"`) || strings.Contains(body, `id="campaign-cancel"`) {
		t.Fatalf("completed campaign page: %s", body)
	}
}
