package plivo_test

import (
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
	"github.com/parleyhq/parley/internal/telephony/plivo"
	"github.com/parleyhq/parley/internal/telephony/providertest"
)

func TestSuite(t *testing.T) {
	providertest.Run(t, providertest.Harness{
		Name:     plivo.Name,
		New:      plivo.New,
		Required: plivo.RequiredFields,
		Start:    func(t *testing.T) providertest.Fake { return newFake(t) },
	})
}

func newProvider(t *testing.T, cfg telephony.Config) telephony.Provider {
	t.Helper()
	return providertest.MustNew(t, plivo.New, cfg)
}

func goodFields() map[string]string {
	return map[string]string{"authId": fakeAuthID, "authToken": fakeToken}
}

// The make-call body carries exactly what Plivo documents.
func TestPlaceBody(t *testing.T) {
	f := newFake(t)
	voice, status := providertest.URLs(plivo.Name, "call_42")
	res, err := newProvider(t, f.Config()).Place(t.Context(), telephony.PlaceRequest{
		CallID: "call_42", From: "+14155550100", To: "+442071838750", AnswerURL: voice, StatusURL: status,
		RingTimeout: 25 * time.Second, TimeLimit: time.Hour, MachineDetection: true,
	})
	if err != nil {
		t.Fatalf("Place: %v", err)
	}
	want := map[string]any{
		"from": "14155550100", "to": "442071838750", "answer_url": voice, "answer_method": "POST",
		"ring_url": status, "ring_method": "POST", "hangup_url": status, "hangup_method": "POST",
		"ring_timeout": json.Number("25"), "time_limit": json.Number("3600"), "machine_detection": "true",
		"machine_detection_url": status, "machine_detection_method": "POST",
	}
	got := f.bodies[0]
	if len(got) != len(want) {
		t.Errorf("body has %d fields, want %d: %v", len(got), len(want), got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %#v, want %#v", k, got[k], v)
		}
	}
	if placed := f.Placed(); res.ProviderCallID != placed[0].ProviderCallID {
		t.Errorf("ProviderCallID %q, want the request_uuid %q", res.ProviderCallID, placed[0].ProviderCallID)
	}
}

// A live call is hung up with DELETE Call/{uuid}/ (no fallback to Request/).
func TestHangupLiveCall(t *testing.T) {
	f := newFake(t)
	p := newProvider(t, f.Config())
	voice, status := providertest.URLs(plivo.Name, "call_1")
	res, err := p.Place(t.Context(), telephony.PlaceRequest{CallID: "call_1", From: providertest.From, To: providertest.To, AnswerURL: voice, StatusURL: status})
	if err != nil {
		t.Fatal(err)
	}
	f.answer(res.ProviderCallID)
	if err := p.Hangup(t.Context(), res.ProviderCallID); err != nil {
		t.Fatalf("Hangup: %v", err)
	}
	if f.state[res.ProviderCallID] != "ended" || !slices.Equal(f.HungUp(), []string{res.ProviderCallID}) {
		t.Fatalf("state %q, hang-ups %v", f.state[res.ProviderCallID], f.HungUp())
	}
}

// Plivo may answer a refusal in plain text; the message is kept.
func TestPlainTextError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte("Could not verify your access level for that URL.\n"))
	}))
	defer srv.Close()
	err := newProvider(t, telephony.Config{BaseURL: srv.URL, Fields: goodFields()}).Verify(t.Context())
	var pe *telephony.ProviderError
	if !errors.As(err, &pe) || !telephony.IsAuthError(err) || pe.Message != "Could not verify your access level for that URL." {
		t.Fatalf("Verify = %#v", err)
	}
}

// The V3 algorithm agrees with the fake's independent signer (itself checked against the
// official SDK in TestOfficialNodeSDK) for POSTs with a query, without one, with a port; and a
// GET merges the query and parameters, sorted, as k=v&….
func TestSignatureV3Shapes(t *testing.T) {
	const nonce = "12345678901234567"
	p := newProvider(t, telephony.Config{Fields: goodFields()})
	form := url.Values{"CallUUID": {"abc"}, "CallStatus": {"completed"}, "From": {"14155550100"}}
	params := map[string]string{"CallUUID": "abc", "CallStatus": "completed", "From": "14155550100"}
	for _, u := range []string{
		"https://parley.example.com/telephony/ws_1/plivo/status?callId=call_1&b=2",
		"https://parley.example.com/telephony/ws_1/plivo/status",
		"https://parley.example.com:8443/telephony/ws_1/plivo/voice?callId=call_1",
	} {
		req := signNonce(fakeToken, u, form, nonce)
		got, err := plivo.SignatureV3(fakeToken, u, "POST", nonce, params)
		if err != nil {
			t.Fatal(err)
		}
		if want := req.Header.Get("X-Plivo-Signature-V3"); got != want {
			t.Errorf("%s: adapter %s, independent signer %s", u, got, want)
		}
		if _, err := p.Parse(req); err != nil {
			t.Errorf("%s: Parse = %v", u, err)
		}
	}
	get, _ := plivo.SignatureV3(fakeToken, "https://h.example.com/p?z=1&a=2", "GET", nonce, map[string]string{"m": "3"})
	if want := hmacB64(fakeToken, "https://h.example.com/p?a=2&m=3&z=1."+nonce); get != want {
		t.Errorf("GET signature %s, want %s", get, want)
	}
}

// Plivo may send several comma-separated signatures (one per token of the account); any match
// verifies. The main account's header is checked too.
func TestSignatureLists(t *testing.T) {
	f := newFake(t)
	p := newProvider(t, f.Config())
	req, _ := f.StatusRequest(providertest.Callback{CallID: "call_1", ProviderCallID: "u1", From: "+1415", To: "+1416", Status: telephony.StatusBusy})
	good := req.Header.Get("X-Plivo-Signature-V3")
	req.Header.Set("X-Plivo-Signature-V3", "c29tZXRoaW5nIGVsc2U=, "+good)
	if _, err := p.Parse(req); err != nil {
		t.Fatalf("list with the signature second: %v", err)
	}
	req.Header.Del("X-Plivo-Signature-V3")
	req.Header.Set("X-Plivo-Signature-Ma-V3", good)
	if _, err := p.Parse(req); err != nil {
		t.Fatalf("signature in the main-account header: %v", err)
	}
}

func TestParseFields(t *testing.T) {
	p := newProvider(t, telephony.Config{Fields: goodFields()})
	_, status := providertest.URLs(plivo.Name, "call_7")
	form := url.Values{
		"CallUUID": {"u7"}, "CallStatus": {"completed"}, "Event": {"Hangup"}, "Duration": {"61"}, "BillDuration": {"120"},
		"From": {"14155550100"}, "To": {"sip:agent@phone.plivo.com"}, "EndTime": {"2026-11-27 11:30:05"},
		"HangupCauseName": {"Normal Hangup"}, "HangupCauseCode": {"4000"}, "HangupSource": {"Caller"},
	}
	ev, err := p.Parse(sign(fakeToken, status, form))
	if err != nil {
		t.Fatal(err)
	}
	want := telephony.Event{Kind: telephony.Status, CallID: "call_7", ProviderCallID: "u7", From: "+14155550100",
		To: "sip:agent@phone.plivo.com", Status: telephony.StatusCompleted, DurationSeconds: 61,
		Reason: "completed Normal Hangup code=4000 source=Caller", Sequence: -1,
		OccurredAt: time.Date(2026, 11, 27, 11, 30, 5, 0, time.UTC)}
	if ev != want {
		t.Fatalf("event\n got %+v\nwant %+v", ev, want)
	}
	for raw, st := range map[string]telephony.CallStatus{"timeout": telephony.StatusFailed, "cancel": telephony.StatusCanceled, "no-answer": telephony.StatusNoAnswer} {
		ev, err := p.Parse(sign(fakeToken, status, url.Values{"CallUUID": {"u"}, "CallStatus": {raw}}))
		if err != nil || ev.Status != st {
			t.Errorf("%s → %+v, %v; want %s", raw, ev, err, st)
		}
	}
	human := url.Values{"CallUUID": {"u"}, "CallStatus": {"in-progress"}, "Event": {"MachineDetection"}, "Machine": {"false"}}
	if ev, err := p.Parse(sign(fakeToken, status, human)); err != nil || ev.Status != telephony.StatusInProgress {
		t.Errorf("machine detection (human) = %+v, %v", ev, err)
	}
}

func TestParseMalformed(t *testing.T) {
	p := newProvider(t, telephony.Config{Fields: goodFields()})
	_, status := providertest.URLs(plivo.Name, "call_7")
	for name, req := range map[string]telephony.Request{
		"no CallUUID":        sign(fakeToken, status, url.Values{"CallStatus": {"completed"}}),
		"no CallStatus":      sign(fakeToken, status, url.Values{"CallUUID": {"u"}}),
		"unknown CallStatus": sign(fakeToken, status, url.Values{"CallUUID": {"u"}, "CallStatus": {"exploded"}}),
		"bad Duration":       sign(fakeToken, status, url.Values{"CallUUID": {"u"}, "CallStatus": {"completed"}, "Duration": {"x"}}),
		"not a Parley path":  sign(fakeToken, "https://parley.example.com/other", url.Values{"CallUUID": {"u"}}),
	} {
		if _, err := p.Parse(req); !errors.Is(err, telephony.ErrMalformed) {
			t.Errorf("%s: Parse = %v, want ErrMalformed", name, err)
		}
	}
}

func TestAnswerXML(t *testing.T) {
	p := newProvider(t, telephony.Config{Fields: goodFields()})
	resp, err := p.Answer(t.Context(), telephony.Event{}, telephony.Answer{
		CallID: "call_1", Greeting: `Hi <b> & "you"`, Language: "en-GB", MediaURL: "wss://m.example.com/v1/media/call_1?a=1&b=2",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<Response><Speak language="en-GB">Hi &lt;b&gt; &amp; &#34;you&#34;</Speak>` +
		`<Stream bidirectional="true" keepCallAlive="true" contentType="audio/x-mulaw;rate=8000">wss://m.example.com/v1/media/call_1?a=1&amp;b=2</Stream></Response>`
	if string(resp.Body) != want {
		t.Fatalf("XML\n got %s\nwant %s", resp.Body, want)
	}
	for reason, el := range map[string]string{"unknown_number": `<Hangup reason="rejected"/>`, "agent_paused": `<Hangup reason="busy"/>`} {
		resp, err := p.Reject(t.Context(), telephony.Event{}, reason)
		if err != nil || !strings.Contains(string(resp.Body), el) {
			t.Errorf("Reject(%s) = %s, %v; want %s", reason, resp.Body, err, el)
		}
	}
}

// The official plivo npm package (when node and npm are here) accepts the adapter's V3
// signatures, and its validator agrees on a forged one.
func TestOfficialNodeSDK(t *testing.T) {
	// PARLEY_PLIVO_NODE_DIR may name a directory whose node_modules holds plivo.
	node, dir := providertest.NodeSDK(t, "PARLEY_PLIVO_NODE_DIR", "plivo@4", "plivo")
	const nonce = "05429567804466091622"
	params := map[string]string{"CallUUID": "97ceeb52-58b6-11e1-86da-77300b68f8bb", "CallStatus": "completed", "Duration": "9", "From": "14155550100"}
	cases := []struct{ method, url string }{
		{"POST", "https://parley.example.com/telephony/ws_1/plivo/status?callId=call_node"},
		{"POST", "https://parley.example.com/telephony/ws_1/plivo/voice"},
		{"GET", "https://parley.example.com/telephony/ws_1/plivo/status?callId=call_node&z=1"},
	}
	for _, c := range cases {
		sig, err := plivo.SignatureV3(fakeToken, c.url, c.method, nonce, params)
		if err != nil {
			t.Fatal(err)
		}
		paramsJSON, _ := json.Marshal(params)
		script := `
const plivo = require('plivo');
const [method, uri, nonce, token, sig, params] = process.argv.slice(1);
const p = JSON.parse(params);
const ok = plivo.validateV3Signature(method, uri, nonce, token, sig, p);
const forged = plivo.validateV3Signature(method, uri, nonce, token, sig.slice(1) + 'A', p);
process.stdout.write(JSON.stringify({ok, forged}));
`
		out := providertest.RunNode(t, node, dir, script, c.method, c.url, nonce, fakeToken, sig, string(paramsJSON))
		var res struct{ OK, Forged bool }
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatalf("node output %q: %v", out, err)
		}
		if !res.OK || res.Forged {
			t.Errorf("%s %s: plivo.validateV3Signature = %v (forged %v), want true (false)", c.method, c.url, res.OK, res.Forged)
		}
	}
}
