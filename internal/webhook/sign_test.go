package webhook

import (
	"os"
	"strings"
	"testing"
)

// The Standard Webhooks specification's published test vector.
func TestSignStandardWebhooksVector(t *testing.T) {
	const (
		secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		msgID  = "msg_p5jXN8AQM9LWM0D4loKWxJek"
		ts     = 1614265330
		body   = `{"test": 2432232314}`
		want   = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	)
	got, err := Sign(secret, msgID, ts, []byte(body))
	if err != nil || got != want {
		t.Fatalf("Sign = %q, %v; want %q", got, err, want)
	}
	if !Verify(secret, "v1,bogus "+want, msgID, ts, []byte(body)) {
		t.Error("Verify rejects the vector among several signatures")
	}
	for name, tc := range map[string]struct {
		id   string
		ts   int64
		body string
	}{"id": {"msg_other", ts, body}, "timestamp": {msgID, ts + 1, body}, "body": {msgID, ts, `{"test": 2432232315}`}} {
		if Verify(secret, want, tc.id, tc.ts, []byte(tc.body)) {
			t.Errorf("Verify accepts a changed %s", name)
		}
	}
}

func TestNewSecretAndRotationHeader(t *testing.T) {
	a, b := NewSecret(), NewSecret()
	if a == b || !strings.HasPrefix(a, "whsec_") {
		t.Fatalf("secrets %q %q", a, b)
	}
	if k, err := secretKey(a); err != nil || len(k) != 32 {
		t.Fatalf("key of %q: %d bytes, %v", a, len(k), err)
	}
	h, err := SignatureHeader([]string{a, b}, "msg_1", 1, []byte("{}"))
	if err != nil || len(strings.Fields(h)) != 2 {
		t.Fatalf("header %q, %v", h, err)
	}
	if !Verify(a, h, "msg_1", 1, []byte("{}")) || !Verify(b, h, "msg_1", 1, []byte("{}")) {
		t.Error("a rotation header must verify with either secret")
	}
	if _, err := Sign("whsec_!!!", "msg_1", 1, nil); err == nil {
		t.Error("a malformed secret signs")
	}
}

func TestURLPolicy(t *testing.T) {
	strict := urlPolicy{guard: newGuard()}
	for _, ok := range []string{"https://hooks.example.com/parley", "https://hooks.example.com:8443/x?y=1", "https://93.184.215.14/hook"} {
		if _, err := strict.check(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "http://hooks.example.com/", "ftp://example.com/", "https://user:pw@example.com/", "https://localhost/",
		"https://metadata.google.internal/", "https://127.0.0.1/", "https://169.254.169.254/latest", "https://10.1.2.3/", "https://[::1]/",
		"https://example.com:22/", "https://intranet/", "/relative", "https://printer.local/"} {
		if _, err := strict.check(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	dev := urlPolicy{allowPrivate: true, guard: newGuard()}
	if _, err := dev.check("http://127.0.0.1:8080/hook"); err != nil {
		t.Errorf("allow-private refuses a local http URL: %v", err)
	}
}

func TestValidation(t *testing.T) {
	if _, err := validEvents([]string{"*", "agent.created"}); err == nil {
		t.Error(`"*" with another type accepted`)
	}
	if _, err := validEvents([]string{"agent.exploded"}); err == nil {
		t.Error("unknown event type accepted")
	}
	if _, err := validEvents([]string{"ping"}); err == nil {
		t.Error("ping subscribable")
	}
	if got, err := validEvents([]string{"call.completed", "agent.created", "call.completed"}); err != nil || strings.Join(got, ",") != "agent.created,call.completed" {
		t.Errorf("events = %v, %v", got, err)
	}
	if _, err := validHeaders(map[string]string{"webhook-id": "x"}); err == nil {
		t.Error("reserved header accepted")
	}
	if _, err := validHeaders(map[string]string{"X-Token": "a\r\nb"}); err == nil {
		t.Error("header injection accepted")
	}
	if h, err := validHeaders(map[string]string{"x-token": "abc"}); err != nil || h["X-Token"] != "abc" {
		t.Errorf("headers = %v, %v", h, err)
	}
	if _, err := validAgents([]string{"contact_1"}); err == nil {
		t.Error("non-agent ID accepted")
	}
}

func TestCatalog(t *testing.T) {
	seen := map[string]bool{}
	for _, e := range Catalog() {
		if seen[e.Type] || e.Description == "" || e.Example == nil || e.Schema["type"] != "object" {
			t.Errorf("catalog entry %+v", e)
		}
		seen[e.Type] = true
	}
	for _, want := range []string{"workspace.updated", "member.invited", "member.joined", "member.removed", "member.role_changed", "api_key.created",
		"api_key.revoked", "agent.created", "agent.updated", "agent.deleted", "contact_import.completed", "campaign.started", "campaign.paused",
		"campaign.resumed", "campaign.completed", "call.queued", "call.ringing", "call.started", "call.completed", "call.failed", "credits.added",
		"credits.low", "credits.depleted", "webhook.endpoint_disabled", "ping"} {
		if !seen[want] {
			t.Errorf("catalog lacks %s", want)
		}
	}
}

func TestAgentOf(t *testing.T) {
	const a = "agent_01jdq6c2v1f6m8t7x0k9w3e4r8"
	for _, tc := range []struct{ typ, payload, want string }{
		{"call.completed", `{"agentId":"` + a + `"}`, a},
		{"agent.created", `{"id":"` + a + `"}`, a},
		{"agent.updated", `{"agent":{"id":"` + a + `"}}`, a},
		{"contact.created", `{"id":"contact_01jdq6c2v1f6m8t7x0k9w3e4r8"}`, ""},
	} {
		if got := agentOf(tc.typ, tc.payload); got != tc.want {
			t.Errorf("agentOf(%s) = %q, want %q", tc.typ, got, tc.want)
		}
	}
}

// docs/webhooks.md documents every event of the catalog with an example.
func TestDocsListEveryEvent(t *testing.T) {
	b, err := os.ReadFile("../../docs/webhooks.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range Catalog() {
		if !strings.Contains(string(b), "### `"+e.Type+"`") || !strings.Contains(string(b), `"type": "`+e.Type+`"`) {
			t.Errorf("docs/webhooks.md lacks %s with an example", e.Type)
		}
	}
}
