package app

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/platform/db"
	"github.com/parleyhq/parley/internal/platform/db/dbtest"
	"github.com/parleyhq/parley/internal/webhook"
)

// fakeTwilio answers Twilio's account lookup (what verify calls): 200 for the good token, 401
// as Twilio does otherwise.
func fakeTwilio(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		user, pass, _ := r.BasicAuth()
		w.Header().Set("Content-Type", "application/json")
		if r.Method != http.MethodGet || r.URL.Path != "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef.json" {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"code":20404,"message":"The requested resource was not found","status":404}`))
			return
		}
		if user != "AC0123456789abcdef0123456789abcdef" || pass != "good-auth-token-0000000000000000" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"code":20003,"message":"Authenticate","more_info":"https://www.twilio.com/docs/errors/20003","status":401}`))
			return
		}
		_, _ = w.Write([]byte(`{"sid":"AC0123456789abcdef0123456789abcdef","status":"active"}`))
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func TestTelephonyCredentialsAndNumbers(t *testing.T) {
	dbtest.EachConfig(t, func(t *testing.T, dbc db.Config) {
		fake, hits := fakeTwilio(t)
		cfg := testConfig(dbc)
		cfg.TelephonyAPIURLs = map[string]string{"twilio": fake.URL}
		e := newEnv(t, cfg)
		owner := e.signup("owner")
		ws := owner.workspace("Acme")
		member := e.signup("member")
		e.addMember(ws, member, "member")
		base := "/v1/workspaces/" + ws + "/telephony"

		// Validation names what is missing or unknown.
		if r := owner.do("POST", base+"/credentials", map[string]any{"provider": "twilio", "fields": map[string]any{"accountSid": "AC0123456789abcdef0123456789abcdef"}}); r.Status != 422 ||
			!strings.Contains(string(r.Body), "authToken") {
			t.Fatalf("no token: %d %s", r.Status, r.Body)
		}
		if r := owner.do("POST", base+"/credentials", map[string]any{"provider": "plivo", "fields": map[string]any{"authId": "MA1", "authToken": "t", "colour": "blue"}}); r.Status != 422 ||
			!strings.Contains(string(r.Body), "colour") {
			t.Fatalf("unknown field: %d %s", r.Status, r.Body)
		}
		if r := member.do("POST", base+"/credentials", map[string]any{"provider": "sim"}); r.Status != 403 {
			t.Fatalf("member creates a credential: %d", r.Status)
		}

		cred := owner.must(201, "POST", base+"/credentials", map[string]any{"provider": "twilio", "name": "Twilio prod",
			"fields": map[string]any{"accountSid": "AC0123456789abcdef0123456789abcdef", "authToken": "bad-auth-token-00000000000000000"}})
		credID := cred["id"].(string)
		if cred["fields"].(map[string]any)["accountSid"] != "AC0123456789abcdef0123456789abcdef" || cred["secrets"].(map[string]any)["authToken"] != "…0000" ||
			strings.Contains(string(toJSON(t, cred)), "bad-auth-token") || cred["verification"].(map[string]any)["status"] != "unverified" ||
			cred["voiceUrl"] != "http://localhost/telephony/"+ws+"/twilio/voice" || cred["statusUrl"] != "http://localhost/telephony/"+ws+"/twilio/status" {
			t.Fatalf("credential %v", cred)
		}
		var sealed string
		if err := e.srv.DB.Read.QueryRow(`SELECT secrets FROM telephony_credentials WHERE id = $1`, credID).Scan(&sealed); err != nil || strings.Contains(sealed, "bad-auth-token") {
			t.Fatalf("secrets at rest: %q %v", sealed, err)
		}
		// Members see credentials (never secrets) and numbers.
		if l := member.must(200, "GET", base+"/credentials", nil)["data"].([]any); len(l) != 1 {
			t.Fatalf("member list %v", l)
		}

		// Verify asks the provider; its refusal is recorded with its reason.
		v := owner.must(200, "POST", base+"/credentials/"+credID+"/verify", nil)
		if st := v["verification"].(map[string]any); st["status"] != "failed" || !strings.Contains(st["error"].(string), "20003") || hits.Load() != 1 {
			t.Fatalf("verify with a bad token: %v (hits %d)", st, hits.Load())
		}
		up := owner.must(200, "PATCH", base+"/credentials/"+credID, map[string]any{"fields": map[string]any{"authToken": "good-auth-token-0000000000000000"}})
		if up["verification"].(map[string]any)["status"] != "unverified" || up["name"] != "Twilio prod" {
			t.Fatalf("update %v", up)
		}
		if v := owner.must(200, "POST", base+"/credentials/"+credID+"/verify", nil); v["verification"].(map[string]any)["status"] != "ok" {
			t.Fatalf("verify with the good token: %v", v)
		}

		// Numbers carry the URLs to paste into the provider's console.
		agent := owner.must(201, "POST", "/v1/workspaces/"+ws+"/agents", map[string]any{"name": "Front desk"})
		num := owner.must(201, "POST", base+"/numbers", map[string]any{"e164": "+1 415 555 0100", "credentialId": credID, "inboundAgentId": agent["id"], "label": "Main line"})
		if num["e164"] != "+14155550100" || num["provider"] != "twilio" || num["voiceUrl"] != "http://localhost/telephony/"+ws+"/twilio/voice" || num["inboundAgentId"] != agent["id"] {
			t.Fatalf("number %v", num)
		}
		if r := owner.do("POST", base+"/numbers", map[string]any{"e164": "+14155550100", "credentialId": credID}); r.Status != 409 || r.Code(t) != "number_exists" {
			t.Fatalf("duplicate number: %d %s", r.Status, r.Code(t))
		}
		if r := owner.do("POST", base+"/numbers", map[string]any{"e164": "+14155550111", "credentialId": credID, "inboundAgentId": "agent_01jdq6c2v1f6m8t7x0k9w3e4r8"}); r.Status != 404 {
			t.Fatalf("unknown agent: %d", r.Status)
		}
		if r := owner.do("POST", base+"/numbers", map[string]any{"e164": "+14155550111", "credentialId": "tcred_01jdq6c2v1f6m8t7x0k9w3e4r8"}); r.Status != 404 {
			t.Fatalf("unknown credential: %d", r.Status)
		}
		if r := owner.do("POST", base+"/numbers", map[string]any{"e164": "+14155550111", "credentialId": credID, "routingUrl": "ftp://x"}); r.Status != 422 {
			t.Fatalf("bad routing URL: %d", r.Status)
		}
		if l := member.must(200, "GET", base+"/numbers", nil)["data"].([]any); len(l) != 1 {
			t.Fatalf("numbers %v", l)
		}
		upd := owner.must(200, "PATCH", base+"/numbers/"+num["id"].(string), map[string]any{"inboundAgentId": "", "label": "Support"})
		if upd["inboundAgentId"] != nil || upd["label"] != "Support" {
			t.Fatalf("number update %v", upd)
		}
		// Deleting the credential removes its numbers.
		owner.must(204, "DELETE", base+"/credentials/"+credID, nil)
		if r := owner.do("GET", base+"/numbers/"+num["id"].(string), nil); r.Status != 404 {
			t.Fatalf("number after its credential's deletion: %d", r.Status)
		}
	})
}

func TestInboundCallsOnSimulator(t *testing.T) {
	dbtest.EachConfig(t, func(t *testing.T, dbc db.Config) {
		e := callEnv(t, dbc, 10_000_000)
		owner := e.signup("owner")
		ws := owner.workspace("Acme")
		base := "/v1/workspaces/" + ws
		agent := owner.must(201, "POST", base+"/agents", map[string]any{"name": "Front desk", "greetingMessage": "Thanks for calling Acme & co."})
		paused := owner.must(201, "POST", base+"/agents", map[string]any{"name": "Off", "status": "paused"})
		cred := owner.must(201, "POST", base+"/telephony/credentials", map[string]any{"provider": "sim"})
		owner.must(201, "POST", base+"/telephony/numbers", map[string]any{"e164": "+14155550100", "credentialId": cred["id"], "inboundAgentId": agent["id"]})
		owner.must(201, "POST", base+"/telephony/numbers", map[string]any{"e164": "+14155550101", "credentialId": cred["id"], "inboundAgentId": paused["id"]})
		e.startWorkers(t)
		voice, status := "http://localhost/telephony/"+ws+"/sim/voice", "http://localhost/telephony/"+ws+"/sim/status"
		ctx := context.Background()

		resp, err := e.srv.Sim.Ring(ctx, voice, status, "+14155557777", "+14155550100", 90*time.Second)
		if err != nil || !strings.Contains(string(resp.Body), "<Say") || !strings.Contains(string(resp.Body), "Thanks for calling Acme &amp; co.") {
			t.Fatalf("answer: %s %v", resp.Body, err)
		}
		var in map[string]any
		waitFor(t, "the inbound call to end", 10*time.Second, func() bool {
			l := owner.must(200, "GET", base+"/calls?direction=inbound&status=completed", nil)["data"].([]any)
			if len(l) == 1 {
				in = l[0].(map[string]any)
			}
			return in != nil
		})
		if in["agentId"] != agent["id"] || in["from"] != "+14155557777" || in["to"] != "+14155550100" || in["durationSeconds"] != float64(90) ||
			in["costMicros"] != float64(callCost(t, e, ws, 90)) {
			t.Fatalf("inbound call %v", in)
		}
		for _, tc := range []struct{ to, why string }{{"+14155550199", "unknown number"}, {"+14155550101", "paused"}} {
			resp, err := e.srv.Sim.Ring(ctx, voice, status, "+14155557777", tc.to, time.Minute)
			if err != nil || !strings.Contains(string(resp.Body), "<Reject") {
				t.Fatalf("%s: %s %v", tc.to, resp.Body, err)
			}
		}
		failed := owner.must(200, "GET", base+"/calls?direction=inbound&status=failed", nil)["data"].([]any)
		if len(failed) != 2 || !strings.Contains(toJSON(t, failed), "unknown number") || !strings.Contains(toJSON(t, failed), "paused") {
			t.Fatalf("refused calls %v", failed)
		}
		// A request not signed by the simulator is refused.
		if r := owner.do("POST", "/telephony/"+ws+"/sim/voice", nil); r.Status != 403 {
			t.Fatalf("unsigned inbound request: %d", r.Status)
		}
		if b := owner.must(200, "GET", base+"/billing/balance", nil); b["heldMicros"] != float64(0) {
			t.Fatalf("balance %v", b)
		}
	})
}

func TestInboundRoutingWebhook(t *testing.T) {
	dbtest.EachConfig(t, func(t *testing.T, dbc db.Config) {
		e := callEnv(t, dbc, 10_000_000)
		owner := e.signup("owner")
		ws := owner.workspace("Acme")
		base := "/v1/workspaces/" + ws
		front := owner.must(201, "POST", base+"/agents", map[string]any{"name": "Front desk", "greetingMessage": "Front desk."})
		sales := owner.must(201, "POST", base+"/agents", map[string]any{"name": "Sales", "greetingMessage": "Sales, {{tier}} line.",
			"variables": []map[string]any{{"name": "tier", "default": "standard"}}})
		var secret atomic.Value
		var mode atomic.Value
		mode.Store("sales")
		hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			ts, _ := strconv.ParseInt(r.Header.Get("webhook-timestamp"), 10, 64)
			if !webhook.Verify(secret.Load().(string), r.Header.Get("webhook-signature"), r.Header.Get("webhook-id"), ts, body) ||
				r.Header.Get("Parley-Event-Type") != "call.routing" || !strings.Contains(string(body), `"from":"+14155557777"`) {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			switch mode.Load() {
			case "sales":
				_, _ = io.WriteString(w, `{"agentId":"`+sales["id"].(string)+`","variables":{"tier":"gold"}}`)
			case "reject":
				_, _ = io.WriteString(w, `{"reject":true,"reason":"blocked caller"}`)
			case "slow":
				time.Sleep(3500 * time.Millisecond)
				_, _ = io.WriteString(w, `{"agentId":"`+sales["id"].(string)+`"}`)
			}
		}))
		defer hook.Close()
		cred := owner.must(201, "POST", base+"/telephony/credentials", map[string]any{"provider": "sim"})
		num := owner.must(201, "POST", base+"/telephony/numbers", map[string]any{"e164": "+14155550100", "credentialId": cred["id"],
			"inboundAgentId": front["id"], "routingUrl": hook.URL})
		if !strings.HasPrefix(num["routingSecret"].(string), "whsec_") {
			t.Fatalf("routing secret %v", num["routingSecret"])
		}
		secret.Store(num["routingSecret"].(string))
		if got := owner.must(200, "GET", base+"/telephony/numbers/"+num["id"].(string), nil); got["routingSecret"] != nil {
			t.Fatalf("the routing secret is shown again: %v", got)
		}
		e.startWorkers(t)
		voice, status := "http://localhost/telephony/"+ws+"/sim/voice", "http://localhost/telephony/"+ws+"/sim/status"
		ring := func() string {
			resp, err := e.srv.Sim.Ring(context.Background(), voice, status, "+14155557777", "+14155550100", time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			return string(resp.Body)
		}
		if body := ring(); !strings.Contains(body, "Sales, gold line.") {
			t.Fatalf("routed answer: %s", body)
		}
		mode.Store("reject")
		if body := ring(); !strings.Contains(body, "<Reject") {
			t.Fatalf("rejected answer: %s", body)
		}
		mode.Store("slow")
		if body := ring(); !strings.Contains(body, "Front desk.") {
			t.Fatalf("fallback answer: %s", body)
		}
		calls := owner.must(200, "GET", base+"/calls?direction=inbound", nil)["data"].([]any)
		if len(calls) != 3 || !strings.Contains(toJSON(t, calls), "blocked caller") || !strings.Contains(toJSON(t, calls), "routing webhook failed") {
			t.Fatalf("inbound calls %s", toJSON(t, calls))
		}
	})
}

func TestCallTriggers(t *testing.T) {
	dbtest.EachConfig(t, func(t *testing.T, dbc db.Config) {
		e := callEnv(t, dbc, 10_000_000)
		owner := e.signup("owner")
		ws := owner.workspace("Acme")
		base := "/v1/workspaces/" + ws
		agent := owner.must(201, "POST", base+"/agents", map[string]any{"name": "Lead follow-up", "greetingMessage": "Hi {{first}}",
			"variables": []map[string]any{{"name": "first"}}})
		if r := owner.do("POST", base+"/call-triggers", map[string]any{"name": "x", "agentId": agent["id"], "mapping": map[string]any{"to": "phone", "variables": map[string]any{"nope": "a"}}}); r.Status != 422 {
			t.Fatalf("undeclared variable: %d", r.Status)
		}
		trig := owner.must(201, "POST", base+"/call-triggers", map[string]any{"name": "HubSpot", "agentId": agent["id"],
			"mapping": map[string]any{"to": "lead.phone", "variables": map[string]any{"first": "lead.names.0"}}})
		secret := trig["secret"].(string)
		hookURL := trig["url"].(string)
		if !strings.HasPrefix(secret, "whsec_") || hookURL != "http://localhost/hooks/"+ws+"/"+trig["id"].(string) {
			t.Fatalf("trigger %v", trig)
		}
		if l := owner.must(200, "GET", base+"/call-triggers", nil)["data"].([]any); len(l) != 1 || l[0].(map[string]any)["secret"] != nil {
			t.Fatalf("list %v", l)
		}
		path := strings.TrimPrefix(hookURL, "http://localhost")
		anon := e.client()
		body := map[string]any{"lead": map[string]any{"phone": "+14155550142", "names": []string{"Ada", "Lovelace"}}}
		if r := anon.do("POST", path, body, "Authorization", "Bearer whsec_wrong"); r.Status != 401 {
			t.Fatalf("wrong secret: %d %s", r.Status, r.Body)
		}
		c := anon.must(201, "POST", path, body, "Authorization", "Bearer "+secret)
		if c["to"] != "+14155550142" || c["variables"].(map[string]any)["first"] != "Ada" || c["metadata"].(map[string]any)["triggerId"] != trig["id"] {
			t.Fatalf("triggered call %v", c)
		}
		// Signed like a webhook instead of a bearer token.
		raw := []byte(`{"lead":{"phone":"+14155550143","names":["Grace"]}}`)
		ts := e.clock.Now().Unix()
		sig, err := webhook.Sign(secret, "msg_1", ts, raw)
		if err != nil {
			t.Fatal(err)
		}
		if r := anon.do("POST", path, json.RawMessage(raw), "webhook-id", "msg_1", "webhook-timestamp", strconv.FormatInt(ts, 10), "webhook-signature", sig); r.Status != 201 {
			t.Fatalf("signed trigger: %d %s", r.Status, r.Body)
		}
		if r := anon.do("POST", path, map[string]any{"lead": map[string]any{}}, "Authorization", "Bearer "+secret); r.Status != 422 {
			t.Fatalf("no number: %d %s", r.Status, r.Body)
		}
		owner.must(204, "DELETE", base+"/call-triggers/"+trig["id"].(string), nil)
		if r := anon.do("POST", path, body, "Authorization", "Bearer "+secret); r.Status != 401 {
			t.Fatalf("deleted trigger: %d", r.Status)
		}
	})
}
