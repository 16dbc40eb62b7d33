package app

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/billing"
	"github.com/parleyhq/parley/internal/platform/authz"
	"github.com/parleyhq/parley/internal/platform/db"
	"github.com/parleyhq/parley/internal/platform/db/dbtest"
	"github.com/parleyhq/parley/internal/telephony/twilio"
)

// TestCallThroughTwilio places a call through the real Twilio adapter against a fake of
// Twilio's cloud that speaks its documented protocol: the Calls API request, then signed status
// callbacks and the answer-URL fetch, as Twilio sends them. The call completes, is billed as a
// bring-your-own-provider minute, and a forged callback changes nothing.
func TestCallThroughTwilio(t *testing.T) {
	dbtest.EachConfig(t, func(t *testing.T, dbc db.Config) {
		const sid, token = "AC0123456789abcdef0123456789abcdef", "twilio-auth-token-0123456789abcd"
		var parley atomic.Value // the test server's URL, where the fake delivers what Twilio would
		var twiml atomic.Value
		deliver := func(target string, form url.Values) int {
			// Twilio signs the URL it was given (Parley's public URL); the bytes go to the test server.
			u, _ := url.Parse(target)
			req, _ := http.NewRequest(http.MethodPost, parley.Load().(string)+u.RequestURI(), strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set(twilio.SignatureHeader, twilio.Signature(token, target, form))
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Errorf("deliver: %v", err)
				return 0
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			if strings.Contains(u.Path, "/voice") {
				twiml.Store(string(b))
			}
			return res.StatusCode
		}
		fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			user, pass, _ := r.BasicAuth()
			if r.Method != http.MethodPost || r.URL.Path != "/2010-04-01/Accounts/"+sid+"/Calls.json" || user != sid || pass != token {
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = io.WriteString(w, `{"code":20003,"message":"Authenticate","status":401}`)
				return
			}
			_ = r.ParseForm()
			f := r.PostForm
			if f.Get("To") != "+14155550142" || f.Get("From") != "+14155550100" || f.Get("Url") == "" || f.Get("StatusCallback") == "" {
				w.WriteHeader(http.StatusBadRequest)
				_, _ = io.WriteString(w, `{"code":21201,"message":"missing parameters","status":400}`)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, `{"sid":"CA42","status":"queued","direction":"outbound-api"}`)
			status, answer := f.Get("StatusCallback"), f.Get("Url")
			go func() {
				time.Sleep(50 * time.Millisecond)
				base := url.Values{"CallSid": {"CA42"}, "AccountSid": {sid}, "From": {"+14155550100"}, "To": {"+14155550142"}, "Direction": {"outbound-api"}}
				with := func(kv ...string) url.Values {
					v := url.Values{}
					for k, vs := range base {
						v[k] = vs
					}
					for i := 0; i+1 < len(kv); i += 2 {
						v.Set(kv[i], kv[i+1])
					}
					return v
				}
				deliver(status, with("CallStatus", "ringing", "SequenceNumber", "1"))
				deliver(answer, with("CallStatus", "in-progress"))
				deliver(status, with("CallStatus", "completed", "CallDuration", "42", "SequenceNumber", "3"))
				deliver(status, with("CallStatus", "in-progress", "SequenceNumber", "2")) // late: ignored
			}()
		}))
		defer fake.Close()

		cfg := testConfig(dbc)
		cfg.WelcomeCredits = 10_000_000
		cfg.TelephonyAPIURLs = map[string]string{"twilio": fake.URL}
		e := newEnv(t, cfg)
		parley.Store(e.http.URL)
		owner := e.signup("owner")
		ws := owner.workspace("Acme")
		base := "/v1/workspaces/" + ws
		agent := owner.must(201, "POST", base+"/agents", map[string]any{"name": "Front desk", "greetingMessage": "Hello from Acme."})
		cred := owner.must(201, "POST", base+"/telephony/credentials", map[string]any{"provider": "twilio", "fields": map[string]any{"accountSid": sid, "authToken": token}})
		e.startWorkers(t)
		c := owner.must(201, "POST", base+"/calls", map[string]any{"agentId": agent["id"], "to": "+14155550142", "from": "+14155550100", "credentialId": cred["id"]})
		got := e.waitCall(t, owner, ws, c["id"].(string), "completed", "failed")
		want, err := e.srv.Billing.Rate(authz.WithPrincipal(context.Background(), authz.System()), ws, billing.Usage{Kind: billing.UsageCallSeconds, Quantity: 42, Provider: billing.TelephonyBYOP})
		if err != nil {
			t.Fatal(err)
		}
		if got["status"] != "completed" || got["provider"] != "twilio" || got["providerCallId"] != "CA42" || got["durationSeconds"] != float64(42) ||
			got["costMicros"] != float64(want) {
			t.Fatalf("call %v (want cost %d)", got, want)
		}
		waitFor(t, "the answer TwiML", 5*time.Second, func() bool { s, _ := twiml.Load().(string); return s != "" })
		if s := twiml.Load().(string); !strings.Contains(s, "<Say") || !strings.Contains(s, "Hello from Acme.") {
			t.Fatalf("TwiML %s", s)
		}
		// A callback not signed with the account's token is refused.
		forged := url.Values{"CallSid": {"CA42"}, "CallStatus": {"busy"}}
		req, _ := http.NewRequest(http.MethodPost, e.http.URL+"/telephony/"+ws+"/twilio/status?callId="+c["id"].(string), strings.NewReader(forged.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set(twilio.SignatureHeader, twilio.Signature("not-the-token", "http://localhost/telephony/"+ws+"/twilio/status?callId="+c["id"].(string), forged))
		res, err := http.DefaultClient.Do(req)
		if err != nil || res.StatusCode != 403 {
			t.Fatalf("forged callback: %v %v", res, err)
		}
		res.Body.Close()
	})
}
