package vonage_test

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"strings"
	"testing"

	"github.com/parleyhq/parley/internal/telephony"
	"github.com/parleyhq/parley/internal/telephony/providertest"
)

// TestOfficialNodeSDK cross-checks both JWTs with Vonage's own @vonage/jwt package (when node and
// npm are here):
//   - the adapter's application token verifies with the application's public key, and a token
//     minted by the SDK's tokenGenerate is one the fake accepts (so the fake checks what Vonage
//     checks);
//   - the fake's signed-webhook tokens, which the adapter's tests rely on, verify with the
//     signature secret under the SDK (and not under another secret), and their payload_hash is
//     the SHA-256 of the body as node computes it.
func TestOfficialNodeSDK(t *testing.T) {
	// PARLEY_NODE_DIR may name a directory whose node_modules holds @vonage/jwt.
	node, dir := providertest.NodeSDK(t, "PARLEY_NODE_DIR", "@vonage/jwt@1", "@vonage/jwt")

	f := newFake(t)
	cfg := f.Config()
	p := build(t, cfg)
	if err := p.Verify(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	appToken := f.lastTok
	f.mu.Unlock()
	der, err := x509.MarshalPKIXPublicKey(&f.key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	publicPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))

	c := providertest.Callback{CallID: "call_node", ProviderCallID: "uuid-node", From: providertest.From, To: providertest.To,
		Status: telephony.StatusCompleted, DurationSeconds: 12}
	hook, _ := f.StatusRequest(c)
	hookToken := strings.TrimPrefix(hook.Header.Get("Authorization"), "Bearer ")

	script := `
const { tokenGenerate, verifySignature } = require('@vonage/jwt');
const jwt = require('jsonwebtoken');
const crypto = require('crypto');
const [appId, privateKey, publicKey, appToken, hookToken, secret, badSecret, body] = process.argv.slice(1);
const claims = jwt.decode(hookToken);
process.stdout.write(JSON.stringify({
  appTokenOK: verifySignature(appToken, publicKey),
  appClaims: jwt.decode(appToken),
  sdkToken: tokenGenerate(appId, privateKey),
  hookOK: verifySignature(hookToken, secret),
  hookBadSecret: verifySignature(hookToken, badSecret),
  hashOK: claims.payload_hash === crypto.createHash('sha256').update(body).digest('hex'),
}));
`
	out := providertest.RunNode(t, node, dir, script, fakeAppID, cfg.Fields["privateKey"], publicPEM, appToken, hookToken,
		fakeSecret, fakeBadSecret, string(hook.Body))
	var res struct {
		AppTokenOK    bool           `json:"appTokenOK"`
		AppClaims     map[string]any `json:"appClaims"`
		SDKToken      string         `json:"sdkToken"`
		HookOK        bool           `json:"hookOK"`
		HookBadSecret bool           `json:"hookBadSecret"`
		HashOK        bool           `json:"hashOK"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("node output %q: %v", out, err)
	}
	if !res.AppTokenOK || res.AppClaims["application_id"] != fakeAppID {
		t.Errorf("@vonage/jwt refused the adapter's application token: %+v", res)
	}
	if !res.HookOK || res.HookBadSecret || !res.HashOK {
		t.Errorf("fake webhook token under @vonage/jwt: ok=%v with another secret=%v hash ok=%v", res.HookOK, res.HookBadSecret, res.HashOK)
	}
	if _, err := p.Parse(hook); err != nil {
		t.Errorf("adapter refused the webhook the SDK verified: %v", err)
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, f.srv.URL+"/v1/calls?page_size=1", nil)
	req.Header.Set("Authorization", "Bearer "+res.SDKToken)
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("fake refused a token minted by @vonage/jwt tokenGenerate: HTTP %d", resp.StatusCode)
	}
}
