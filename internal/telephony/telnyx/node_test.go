package telnyx_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/telephony"
	"github.com/parleyhq/parley/internal/telephony/providertest"
	"github.com/parleyhq/parley/internal/telephony/telnyx"
)

// TestOfficialNodeSDK checks the fake's webhook signatures, which every other test relies on,
// with Telnyx's own verifier (TelnyxWebhook of the telnyx npm package, when node and npm are
// here): the SDK and the adapter accept the same genuine webhooks and refuse the same forgeries.
func TestOfficialNodeSDK(t *testing.T) {
	// PARLEY_NODE_DIR may name a directory whose node_modules holds telnyx.
	node, dir := providertest.NodeSDK(t, "PARLEY_NODE_DIR", "telnyx@7", "telnyx/lib/webhooks.js")

	f := newFake(t)
	p, err := telnyx.New(f.Config()) // the real clock, as the SDK uses
	if err != nil {
		t.Fatal(err)
	}
	payload := map[string]any{"call_control_id": "v3:node", "client_state": clientState("call_node"), "hangup_cause": "normal_clearing",
		"from": "+14155550100", "to": "+14155550199"}
	genuine := f.webhook(voiceURL, "call.hangup", payload, time.Now())
	tampered := f.webhook(voiceURL, "call.hangup", payload, time.Now())
	tampered.Body = []byte(strings.Replace(string(tampered.Body), "normal_clearing", "user_busy", 1))
	stale := f.webhook(voiceURL, "call.hangup", payload, time.Now().Add(-10*time.Minute))
	cases := []struct {
		name string
		req  telephony.Request
		ok   bool
	}{{"genuine", genuine, true}, {"tampered body", tampered, false}, {"stale", stale, false}}

	type input struct {
		Body, Sig, TS string
	}
	var in []input
	for _, c := range cases {
		in = append(in, input{string(c.req.Body), c.req.Header.Get(telnyx.HeaderSignature), c.req.Header.Get(telnyx.HeaderTimestamp)})
	}
	arg, _ := json.Marshal(in)
	script := `
const { TelnyxWebhook } = require('telnyx/lib/webhooks');
const [key, cases] = process.argv.slice(1);
(async () => {
  const out = [];
  for (const c of JSON.parse(cases)) {
    try {
      await new TelnyxWebhook(key).verify(c.Body, { 'telnyx-signature-ed25519': c.Sig, 'telnyx-timestamp': c.TS });
      out.push(true);
    } catch (e) { out.push(false); }
  }
  process.stdout.write(JSON.stringify(out));
})();
`
	out := providertest.RunNode(t, node, dir, script, f.Config().Fields["publicKey"], string(arg))
	var sdk []bool
	if err := json.Unmarshal(out, &sdk); err != nil || len(sdk) != len(cases) {
		t.Fatalf("node output %q: %v", out, err)
	}
	for i, c := range cases {
		_, err := p.Parse(c.req)
		if sdk[i] != c.ok || (err == nil) != c.ok {
			t.Errorf("%s: Telnyx SDK accepted=%v, adapter err=%v; want accepted=%v", c.name, sdk[i], err, c.ok)
		}
	}
}
