package twilio_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/telephony"
	"github.com/parleyhq/parley/internal/telephony/providertest"
	"github.com/parleyhq/parley/internal/telephony/twilio"
)

func TestSuite(t *testing.T) {
	providertest.Run(t, providertest.Harness{
		Name:     twilio.Name,
		New:      twilio.New,
		Required: twilio.RequiredFields,
		Start:    func(t *testing.T) providertest.Fake { return newFake(t) },
	})
}

func newProvider(t *testing.T, cfg telephony.Config) telephony.Provider {
	t.Helper()
	return providertest.MustNew(t, twilio.New, cfg)
}

func TestNewCredentialShapes(t *testing.T) {
	cases := []struct {
		name   string
		fields map[string]string
		errHas string
	}{
		{"auth token", map[string]string{"accountSid": fakeAccount, "authToken": fakeToken}, ""},
		{"api key", map[string]string{"accountSid": fakeAccount, "apiKeySid": fakeKeySid, "apiKeySecret": fakeKeySecret}, ""},
		{"both", map[string]string{"accountSid": fakeAccount, "authToken": fakeToken, "apiKeySid": fakeKeySid, "apiKeySecret": fakeKeySecret}, ""},
		{"no secret", map[string]string{"accountSid": fakeAccount}, "authToken"},
		{"key without secret", map[string]string{"accountSid": fakeAccount, "apiKeySid": fakeKeySid}, "apiKeySecret"},
		{"secret without key", map[string]string{"accountSid": fakeAccount, "apiKeySecret": fakeKeySecret}, "apiKeySid"},
		{"no account", map[string]string{"authToken": fakeToken}, "accountSid"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := twilio.New(telephony.Config{Fields: c.fields})
			if c.errHas == "" && err != nil {
				t.Fatalf("New: %v", err)
			}
			if c.errHas != "" && (err == nil || !strings.Contains(err.Error(), c.errHas)) {
				t.Fatalf("New = %v, want an error naming %s", err, c.errHas)
			}
		})
	}
}

// With an API key the API is called as the key; signatures still need the Auth Token.
func TestAPIKeyCredential(t *testing.T) {
	f := newFake(t)
	cfg := telephony.Config{BaseURL: f.srv.URL, Fields: map[string]string{
		"accountSid": fakeAccount, "apiKeySid": fakeKeySid, "apiKeySecret": fakeKeySecret,
	}}
	p := newProvider(t, cfg)
	if err := p.Verify(t.Context()); err != nil {
		t.Fatalf("Verify with an API key: %v", err)
	}
	req, _ := f.StatusRequest(providertest.Callback{CallID: "call_1", ProviderCallID: "CA1", From: providertest.From, To: providertest.To, Status: telephony.StatusCompleted})
	if _, err := p.Parse(req); !errors.Is(err, telephony.ErrBadSignature) {
		t.Fatalf("Parse without an Auth Token = %v, want ErrBadSignature", err)
	}
	cfg.Fields["authToken"] = fakeToken
	if _, err := newProvider(t, cfg).Parse(req); err != nil {
		t.Fatalf("Parse with the Auth Token added: %v", err)
	}
	cfg.Fields["apiKeySecret"] = "wrong"
	if err := newProvider(t, cfg).Verify(t.Context()); !telephony.IsAuthError(err) {
		t.Fatalf("Verify with a wrong key secret = %v, want an auth error", err)
	}
}

// The create-call form carries exactly what Twilio documents.
func TestPlaceForm(t *testing.T) {
	f := newFake(t)
	p := newProvider(t, f.Config())
	voice, status := providertest.URLs(twilio.Name, "call_42")
	res, err := p.Place(t.Context(), telephony.PlaceRequest{
		CallID: "call_42", From: "+14155550100", To: "+442071838750", AnswerURL: voice, StatusURL: status,
		RingTimeout: 1500 * time.Millisecond, TimeLimit: 90 * time.Minute, MachineDetection: true,
	})
	if err != nil {
		t.Fatalf("Place: %v", err)
	}
	if !strings.HasPrefix(res.ProviderCallID, "CA") {
		t.Errorf("ProviderCallID %q", res.ProviderCallID)
	}
	form := f.forms[0]
	want := url.Values{
		"To": {"+442071838750"}, "From": {"+14155550100"}, "Url": {voice}, "Method": {"POST"},
		"StatusCallback": {status}, "StatusCallbackMethod": {"POST"},
		"StatusCallbackEvent": {"initiated", "ringing", "answered", "completed"},
		"Timeout":             {"2"}, "TimeLimit": {"5400"}, "MachineDetection": {"Enable"},
	}
	for k, v := range want {
		if !slices.Equal(form[k], v) {
			t.Errorf("%s = %q, want %q", k, form[k], v)
		}
	}
	if len(form) != len(want) {
		t.Errorf("form has %d parameters, want %d: %v", len(form), len(want), form)
	}
}

func TestRetryAfterHTTPDate(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", now.Add(90*time.Second).Format(http.TimeFormat))
		twilioError(w, http.StatusServiceUnavailable, 20503, "Service Unavailable")
	}))
	defer srv.Close()
	p := newProvider(t, telephony.Config{BaseURL: srv.URL, Now: func() time.Time { return now },
		Fields: map[string]string{"accountSid": fakeAccount, "authToken": fakeToken}})
	err := p.Verify(t.Context())
	var pe *telephony.ProviderError
	if !errors.As(err, &pe) || pe.RetryAfter != 90*time.Second || !pe.Retryable || pe.Code != "20503" {
		t.Fatalf("Verify = %#v, want Retryable 503 code 20503 with RetryAfter 90s", err)
	}
}

func TestHangupUnknownCallIsNil(t *testing.T) {
	f := newFake(t)
	if err := newProvider(t, f.Config()).Hangup(t.Context(), "CAdoesnotexist"); err != nil {
		t.Fatalf("Hangup of an unknown (long gone) call: %v", err)
	}
}

// The published test vector of Twilio's webhook security page: the adapter's Signature and its
// Parse agree with it.
func TestSignatureVector(t *testing.T) {
	const (
		token = "12345"
		u     = "https://mycompany.com/myapp.php?foo=1&bar=2"
		want  = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
	)
	params := url.Values{
		"CallSid": {"CA1234567890ABCDE"}, "Caller": {"+12349013030"}, "Digits": {"1234"},
		"From": {"+12349013030"}, "To": {"+18005551212"},
	}
	if got := twilio.Signature(token, u, params); got != want {
		t.Fatalf("Signature = %q, want %q", got, want)
	}
	p := newProvider(t, telephony.Config{Fields: map[string]string{"accountSid": fakeAccount, "authToken": token}})
	req := telephony.Request{URL: u, Method: http.MethodPost, Header: http.Header{"X-Twilio-Signature": {want}}, Body: []byte(params.Encode())}
	// The signature verifies; the path is not a Parley path, so the verified request is malformed.
	if _, err := p.Parse(req); !errors.Is(err, telephony.ErrMalformed) {
		t.Fatalf("Parse of the vector = %v, want ErrMalformed (signature accepted)", err)
	}
	// The independent signer of the fake agrees.
	if got := sign(token, u, params).Header.Get("X-Twilio-Signature"); got != want {
		t.Fatalf("fake signer = %q, want %q", got, want)
	}
}

// Twilio signs the URL sometimes with and sometimes without the default port.
func TestSignaturePortVariants(t *testing.T) {
	p := newProvider(t, telephony.Config{Fields: map[string]string{"accountSid": fakeAccount, "authToken": fakeToken}})
	form := url.Values{"CallSid": {"CA1"}, "CallStatus": {"busy"}, "From": {"+1"}, "To": {"+2"}}
	const bare = "https://parley.example.com/telephony/ws_1/twilio/status?callId=call_1"
	const ported = "https://parley.example.com:443/telephony/ws_1/twilio/status?callId=call_1"
	for _, c := range []struct{ signed, received string }{{bare, ported}, {ported, bare}, {bare, bare}} {
		req := sign(fakeToken, c.signed, form)
		req.URL = c.received
		ev, err := p.Parse(req)
		if err != nil || ev.Status != telephony.StatusBusy {
			t.Errorf("signed %s, received %s: %+v, %v", c.signed, c.received, ev, err)
		}
	}
	req := sign(fakeToken, "https://parley.example.com:8443/telephony/ws_1/twilio/status", form)
	req.URL = "https://parley.example.com:9443/telephony/ws_1/twilio/status"
	if _, err := p.Parse(req); !errors.Is(err, telephony.ErrBadSignature) {
		t.Errorf("another port = %v, want ErrBadSignature", err)
	}
}

// JSON bodies are signed by their SHA-256 in the URL's bodySHA256.
func TestSignatureBodySHA256(t *testing.T) {
	p := newProvider(t, telephony.Config{Fields: map[string]string{"accountSid": fakeAccount, "authToken": fakeToken}})
	body := []byte(`{"CallSid":"CA9"}`)
	sum := sha256.Sum256(body)
	u := "https://parley.example.com/telephony/ws_1/twilio/status?CallSid=CA9&CallStatus=completed&bodySHA256=" + hex.EncodeToString(sum[:])
	req := sign(fakeToken, u, nil)
	req.Body = body
	req.Header.Set("Content-Type", "application/json")
	ev, err := p.Parse(req)
	if err != nil || ev.ProviderCallID != "CA9" || ev.Status != telephony.StatusCompleted {
		t.Fatalf("Parse = %+v, %v", ev, err)
	}
	req.Body = []byte(`{"CallSid":"CA8"}`)
	if _, err := p.Parse(req); !errors.Is(err, telephony.ErrBadSignature) {
		t.Fatalf("tampered JSON body = %v, want ErrBadSignature", err)
	}
}

func TestSignatureSettingsOtherAlgorithm(t *testing.T) {
	f := newFake(t)
	req, _ := f.StatusRequest(providertest.Callback{CallID: "call_1", ProviderCallID: "CA1", Status: telephony.StatusBusy})
	req.Header.Set("X-Twilio-Webhooks-Signature-Settings", "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256")
	if _, err := newProvider(t, f.Config()).Parse(req); !errors.Is(err, telephony.ErrBadSignature) {
		t.Fatalf("Parse = %v, want ErrBadSignature", err)
	}
}

func TestParseFields(t *testing.T) {
	f := newFake(t)
	p := newProvider(t, f.Config())
	_, status := providertest.URLs(twilio.Name, "call_7")
	ts := time.Date(2026, 11, 27, 11, 30, 5, 0, time.UTC)
	form := url.Values{
		"CallSid": {"CA7"}, "CallStatus": {"completed"}, "CallDuration": {"61"}, "SequenceNumber": {"3"},
		"Timestamp": {ts.Format(time.RFC1123Z)}, "From": {"+14155550100"}, "To": {"+14155550199"},
		"AnsweredBy": {"machine_start"},
	}
	ev, err := p.Parse(sign(fakeToken, status, form))
	if err != nil {
		t.Fatal(err)
	}
	want := telephony.Event{Kind: telephony.Status, CallID: "call_7", ProviderCallID: "CA7", From: "+14155550100",
		To: "+14155550199", Status: telephony.StatusVoicemail, DurationSeconds: 61, Reason: "completed answeredBy=machine_start",
		Sequence: 3, OccurredAt: ts}
	if ev != want {
		t.Fatalf("event\n got %+v\nwant %+v", ev, want)
	}

	// Inbound status callbacks (the number's static status URL) carry no call ID.
	_, static := providertest.URLs(twilio.Name, "")
	ev, err = p.Parse(sign(fakeToken, static, url.Values{"CallSid": {"CA8"}, "CallStatus": {"no-answer"}}))
	if err != nil || ev.CallID != "" || ev.Status != telephony.StatusNoAnswer || ev.Sequence != -1 || ev.Reason != "no-answer" {
		t.Fatalf("inbound status = %+v, %v", ev, err)
	}
	// A machine answering an outbound call is voicemail already on the voice request.
	voice, _ := providertest.URLs(twilio.Name, "call_7")
	ev, err = p.Parse(sign(fakeToken, voice, url.Values{"CallSid": {"CA7"}, "CallStatus": {"in-progress"}, "AnsweredBy": {"machine_end_beep"}}))
	if err != nil || ev.Kind != telephony.Answered || ev.Status != telephony.StatusVoicemail {
		t.Fatalf("machine answer = %+v, %v", ev, err)
	}
}

func TestParseMalformed(t *testing.T) {
	f := newFake(t)
	p := newProvider(t, f.Config())
	_, status := providertest.URLs(twilio.Name, "call_7")
	cases := map[string]telephony.Request{
		"no CallSid":          sign(fakeToken, status, url.Values{"CallStatus": {"completed"}}),
		"no CallStatus":       sign(fakeToken, status, url.Values{"CallSid": {"CA1"}}),
		"unknown CallStatus":  sign(fakeToken, status, url.Values{"CallSid": {"CA1"}, "CallStatus": {"exploded"}}),
		"bad CallDuration":    sign(fakeToken, status, url.Values{"CallSid": {"CA1"}, "CallStatus": {"completed"}, "CallDuration": {"-5"}}),
		"not a Parley path":   sign(fakeToken, "https://parley.example.com/elsewhere", url.Values{"CallSid": {"CA1"}}),
		"unparseable URL":     sign(fakeToken, "::not a url", url.Values{"CallSid": {"CA1"}}),
		"form body garbage %": {URL: status, Method: "POST", Header: http.Header{"X-Twilio-Signature": {"x"}}, Body: []byte("a=%zz")},
	}
	for name, req := range cases {
		_, err := p.Parse(req)
		if err == nil {
			t.Errorf("%s: Parse succeeded", name)
			continue
		}
		if !errors.Is(err, telephony.ErrMalformed) && !errors.Is(err, telephony.ErrBadSignature) {
			t.Errorf("%s: Parse = %v, want ErrMalformed or ErrBadSignature", name, err)
		}
		if strings.HasPrefix(name, "no ") || strings.HasPrefix(name, "unknown") || strings.HasPrefix(name, "bad") || name == "not a Parley path" {
			if !errors.Is(err, telephony.ErrMalformed) {
				t.Errorf("%s: Parse = %v, want ErrMalformed (it is signed)", name, err)
			}
		}
	}
}

func TestAnswerTwiML(t *testing.T) {
	p := newProvider(t, telephony.Config{Fields: map[string]string{"accountSid": fakeAccount, "authToken": fakeToken}})
	resp, err := p.Answer(t.Context(), telephony.Event{}, telephony.Answer{
		CallID: "call_1", Greeting: `Hi <b> & "you"`, Language: "en-GB", MediaURL: "wss://m.example.com/v1/media/call_1?a=1&b=2",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<Response><Say language="en-GB">Hi &lt;b&gt; &amp; &#34;you&#34;</Say><Connect><Stream url="wss://m.example.com/v1/media/call_1?a=1&amp;b=2">` +
		`<Parameter name="callId" value="call_1"/></Stream></Connect></Response>`
	if string(resp.Body) != want {
		t.Fatalf("TwiML\n got %s\nwant %s", resp.Body, want)
	}
	for reason, verb := range map[string]string{"unknown_number": `<Reject reason="rejected"/>`, "no_credits": `<Reject reason="busy"/>`} {
		resp, err := p.Reject(t.Context(), telephony.Event{}, reason)
		if err != nil || !strings.Contains(string(resp.Body), verb) {
			t.Errorf("Reject(%s) = %s, %v; want %s", reason, resp.Body, err, verb)
		}
	}
}

// The official twilio npm package (when node and npm are here) accepts the adapter's signatures,
// and the adapter accepts the package's.
func TestOfficialNodeSDK(t *testing.T) {
	// PARLEY_TWILIO_NODE_DIR may name a directory whose node_modules holds twilio.
	node, dir := providertest.NodeSDK(t, "PARLEY_TWILIO_NODE_DIR", "twilio@6", "twilio")
	_, status := providertest.URLs(twilio.Name, "call_node")
	form := url.Values{"CallSid": {"CAnode"}, "CallStatus": {"completed"}, "CallDuration": {"9"}, "From": {"+14155550100"},
		"To": {"+14155550199"}, "Caller": {"+14155550100"}, "Note": {"a b&c=d 'é'"}}
	goSig := twilio.Signature(fakeToken, status, form)
	script := `
const twilio = require('twilio');
const [token, url, body, goSig] = process.argv.slice(1);
const params = Object.fromEntries(new URLSearchParams(body));
const ok = twilio.validateRequest(token, goSig, url, params);
const sig = twilio.getExpectedTwilioSignature(token, url, params);
process.stdout.write(JSON.stringify({ok, sig}));
`
	out := providertest.RunNode(t, node, dir, script, fakeToken, status, form.Encode(), goSig)
	var res struct {
		OK  bool   `json:"ok"`
		Sig string `json:"sig"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("node output %q: %v", out, err)
	}
	if !res.OK {
		t.Errorf("twilio.validateRequest refused the adapter's signature %s", goSig)
	}
	req := telephony.Request{URL: status, Method: http.MethodPost, Header: http.Header{"X-Twilio-Signature": {res.Sig}}, Body: []byte(form.Encode())}
	ev, err := newProvider(t, telephony.Config{Fields: map[string]string{"accountSid": fakeAccount, "authToken": fakeToken}}).Parse(req)
	if err != nil || ev.ProviderCallID != "CAnode" || ev.DurationSeconds != 9 {
		t.Errorf("Parse of the SDK-signed request = %+v, %v", ev, err)
	}
}
