package telnyx_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/telephony"
	"github.com/parleyhq/parley/internal/telephony/providertest"
	"github.com/parleyhq/parley/internal/telephony/telnyx"
)

var now = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func newProvider(t *testing.T, f *fakeTelnyx) telephony.Provider {
	t.Helper()
	cfg := f.Config()
	cfg.Now = func() time.Time { return now }
	return providertest.MustNew(t, telnyx.New, cfg)
}

func TestSuite(t *testing.T) {
	providertest.Run(t, providertest.Harness{
		Name:     telnyx.Name,
		New:      telnyx.New,
		Required: telnyx.RequiredFields,
		Start:    func(t *testing.T) providertest.Fake { return newFake(t) },
	})
}

func TestNewRequiresFields(t *testing.T) {
	f := newFake(t)
	for _, field := range telnyx.RequiredFields {
		cfg := f.Config()
		delete(cfg.Fields, field)
		_, err := telnyx.New(cfg)
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("without %s: err = %v, want one naming the field", field, err)
		}
	}
	cfg := f.Config()
	cfg.Fields["publicKey"] = base64.StdEncoding.EncodeToString([]byte("too short"))
	if _, err := telnyx.New(cfg); err == nil || !strings.Contains(err.Error(), "publicKey") {
		t.Errorf("bad publicKey: err = %v", err)
	}
	if p, err := telnyx.New(f.Config()); err != nil || p.Name() != "telnyx" {
		t.Fatalf("New = %v, %v", p, err)
	}
}

func TestVerify(t *testing.T) {
	f := newFake(t)
	if err := newProvider(t, f).Verify(context.Background()); err != nil {
		t.Fatalf("Verify with good key: %v", err)
	}
	bad, _ := telnyx.New(f.BadConfig())
	err := bad.Verify(context.Background())
	if !telephony.IsAuthError(err) {
		t.Fatalf("Verify with bad key = %v, want an auth error", err)
	}
	if pe := providertest.ProviderError(t, err); pe.Code != "10009" || pe.Retryable {
		t.Errorf("bad key error = %+v", pe)
	}
	cfg := f.Config()
	cfg.Fields["connectionId"] = "999"
	wrongApp, _ := telnyx.New(cfg)
	err = wrongApp.Verify(context.Background())
	if pe := providertest.ProviderError(t, err); pe.HTTPStatus != 404 || telephony.IsAuthError(err) {
		t.Errorf("unknown connection: %+v", pe)
	}
}

func TestPlaceSendsDial(t *testing.T) {
	f := newFake(t)
	p := newProvider(t, f)
	res, err := p.Place(context.Background(), telephony.PlaceRequest{
		CallID: "call_01jabc", From: "+14155550100", To: "+14155550199",
		AnswerURL:   "https://parley.example/telephony/ws_1/telnyx/voice?callId=call_01jabc",
		StatusURL:   "https://parley.example/telephony/ws_1/telnyx/status?callId=call_01jabc",
		RingTimeout: 30 * time.Second, TimeLimit: 10 * time.Minute, MachineDetection: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.ProviderCallID != "v3:fake-call-control-1" {
		t.Errorf("ProviderCallID = %q", res.ProviderCallID)
	}
	dials := f.dialsSeen()
	if len(dials) != 1 {
		t.Fatalf("fake saw %d dials", len(dials))
	}
	d := dials[0]
	want := map[string]any{
		"connection_id":               f.connID,
		"from":                        "+14155550100",
		"to":                          "+14155550199",
		"webhook_url":                 "https://parley.example/telephony/ws_1/telnyx/voice?callId=call_01jabc",
		"webhook_url_method":          "POST",
		"client_state":                clientState("call_01jabc"),
		"timeout_secs":                float64(30),
		"time_limit_secs":             float64(600),
		"answering_machine_detection": "detect",
		"command_id":                  "call_01jabc:dial",
	}
	for k, v := range want {
		if d[k] != v {
			t.Errorf("dial %s = %v, want %v", k, d[k], v)
		}
	}
}

func TestPlaceErrors(t *testing.T) {
	f := newFake(t)
	p := newProvider(t, f)
	req := telephony.PlaceRequest{CallID: "call_1", From: "+14155550100", To: "+14155550199", AnswerURL: "https://x/voice"}

	f.FailNext(http.StatusTooManyRequests, 7*time.Second)
	_, err := p.Place(context.Background(), req)
	pe := providertest.ProviderError(t, err)
	if !pe.Retryable || pe.RetryAfter != 7*time.Second || pe.HTTPStatus != 429 || pe.Code != "10011" {
		t.Errorf("429: %+v", pe)
	}

	f.FailNext(http.StatusServiceUnavailable, 0)
	_, err = p.Place(context.Background(), req)
	if pe := providertest.ProviderError(t, err); !pe.Retryable || pe.HTTPStatus != 503 {
		t.Errorf("503: %+v", pe)
	}

	bad := req
	bad.To = "14155550199" // not +E.164: Telnyx answers 422
	_, err = p.Place(context.Background(), bad)
	if pe := providertest.ProviderError(t, err); pe.Retryable || pe.HTTPStatus != 422 || pe.Code != "10016" || !strings.Contains(pe.Message, "E.164") {
		t.Errorf("422: %+v", pe)
	}

	f.srv.Close()
	_, err = p.Place(context.Background(), req)
	if pe := providertest.ProviderError(t, err); !pe.Retryable || pe.HTTPStatus != 0 {
		t.Errorf("network failure: %+v", pe)
	}
}

func TestHangup(t *testing.T) {
	f := newFake(t)
	p := newProvider(t, f)
	if err := p.Hangup(context.Background(), "v3:abc"); err != nil {
		t.Fatal(err)
	}
	cmds := f.commandsSeen()
	if len(cmds) != 1 || cmds[0].CallControlID != "v3:abc" || cmds[0].Action != "hangup" {
		t.Fatalf("commands = %+v", cmds)
	}
	// Hanging up again: Telnyx answers 90018 "call has already ended", which is not an error.
	if err := p.Hangup(context.Background(), "v3:abc"); err != nil {
		t.Fatalf("second hangup: %v", err)
	}
	f.FailNext(http.StatusInternalServerError, 0)
	if pe := providertest.ProviderError(t, p.Hangup(context.Background(), "v3:other")); !pe.Retryable {
		t.Errorf("500 on hangup: %+v", pe)
	}
}

const voiceURL = "https://parley.example/telephony/ws_1/telnyx/voice"

func TestParseSignature(t *testing.T) {
	f := newFake(t)
	p := newProvider(t, f)
	payload := map[string]any{"call_control_id": "v3:abc", "client_state": clientState("call_1"), "from": "+1", "to": "+2", "hangup_cause": "normal_clearing"}

	good := f.webhook(voiceURL, "call.hangup", payload, now)
	if _, err := p.Parse(good); err != nil {
		t.Fatalf("valid webhook: %v", err)
	}

	tampered := f.webhook(voiceURL, "call.hangup", payload, now)
	tampered.Body = []byte(strings.Replace(string(tampered.Body), "normal_clearing", "user_busy", 1))

	_, otherPriv, _ := ed25519.GenerateKey(rand.Reader)
	otherKey := f.webhook(voiceURL, "call.hangup", payload, now)
	otherKey.Header.Set("Telnyx-Signature-Ed25519", base64.StdEncoding.EncodeToString(
		ed25519.Sign(otherPriv, []byte(otherKey.Header.Get("Telnyx-Timestamp")+"|"+string(otherKey.Body)))))

	stale := f.webhook(voiceURL, "call.hangup", payload, now.Add(-6*time.Minute))
	future := f.webhook(voiceURL, "call.hangup", payload, now.Add(6*time.Minute))

	shiftedTS := f.webhook(voiceURL, "call.hangup", payload, now)
	shiftedTS.Header.Set("Telnyx-Timestamp", strconv.FormatInt(now.Unix()+1, 10))

	noSig := f.webhook(voiceURL, "call.hangup", payload, now)
	noSig.Header.Del("Telnyx-Signature-Ed25519")

	garbage := f.webhook(voiceURL, "call.hangup", payload, now)
	garbage.Header.Set("Telnyx-Signature-Ed25519", "not base64!")

	for name, r := range map[string]telephony.Request{
		"tampered body": tampered, "other key": otherKey, "stale timestamp": stale, "future timestamp": future,
		"timestamp changed": shiftedTS, "no signature": noSig, "garbage signature": garbage,
	} {
		if _, err := p.Parse(r); !errors.Is(err, telephony.ErrBadSignature) {
			t.Errorf("%s: err = %v, want ErrBadSignature", name, err)
		}
	}

	notJSON := f.webhook(voiceURL, "call.hangup", payload, now)
	notJSON.Body = []byte("not json")
	sig := ed25519.Sign(f.priv, []byte(notJSON.Header.Get("Telnyx-Timestamp")+"|not json"))
	notJSON.Header.Set("Telnyx-Signature-Ed25519", base64.StdEncoding.EncodeToString(sig))
	if _, err := p.Parse(notJSON); !errors.Is(err, telephony.ErrMalformed) {
		t.Errorf("signed garbage: err = %v, want ErrMalformed", err)
	}
}

func TestParseEvents(t *testing.T) {
	f := newFake(t)
	p := newProvider(t, f)
	base := func(extra map[string]any) map[string]any {
		m := map[string]any{"call_control_id": "v3:abc", "call_leg_id": "leg", "call_session_id": "sess",
			"connection_id": f.connID, "from": "+14155550100", "to": "+14155550199"}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	cs := clientState("call_9")
	cases := []struct {
		name      string
		eventType string
		payload   map[string]any
		url       string
		kind      telephony.EventKind
		status    telephony.CallStatus
		callID    string
		reason    string
	}{
		{"inbound", "call.initiated", base(map[string]any{"direction": "incoming", "state": "parked"}), voiceURL, telephony.Inbound, "", "", ""},
		{"outbound initiated", "call.initiated", base(map[string]any{"direction": "outgoing", "client_state": cs}), voiceURL + "?callId=call_9", telephony.Status, telephony.StatusInitiating, "call_9", ""},
		{"answered", "call.answered", base(map[string]any{"client_state": cs}), voiceURL, telephony.Answered, telephony.StatusInProgress, "call_9", ""},
		// Telnyx does not sign the URL: a callId there is not trusted.
		{"call id only in url", "call.answered", base(nil), voiceURL + "?callId=call_7", telephony.Answered, telephony.StatusInProgress, "", ""},
		{"machine", "call.machine.detection.ended", base(map[string]any{"client_state": cs, "result": "machine"}), voiceURL, telephony.Status, telephony.StatusVoicemail, "call_9", "machine detected"},
		{"human", "call.machine.detection.ended", base(map[string]any{"client_state": cs, "result": "human"}), voiceURL, telephony.Status, "", "call_9", ""},
		{"greeting ended", "call.speak.ended", base(map[string]any{"client_state": clientState("call_9;a=1764244800000;end"), "status": "completed"}), voiceURL, telephony.Answered, "", "call_9", telnyx.ReasonGreetingEnded},
		{"speak ended, streaming", "call.speak.ended", base(map[string]any{"client_state": cs}), voiceURL, telephony.Status, "", "call_9", ""},
		{"completed", "call.hangup", base(map[string]any{"client_state": cs, "hangup_cause": "normal_clearing", "sip_hangup_cause": "200"}), voiceURL, telephony.Status, telephony.StatusCompleted, "call_9", "normal_clearing (SIP 200)"},
		{"busy", "call.hangup", base(map[string]any{"client_state": cs, "hangup_cause": "user_busy", "sip_hangup_cause": "486"}), voiceURL, telephony.Status, telephony.StatusBusy, "call_9", "user_busy (SIP 486)"},
		{"no answer", "call.hangup", base(map[string]any{"client_state": cs, "hangup_cause": "timeout"}), voiceURL, telephony.Status, telephony.StatusNoAnswer, "call_9", "timeout"},
		{"canceled", "call.hangup", base(map[string]any{"client_state": cs, "hangup_cause": "originator_cancel"}), voiceURL, telephony.Status, telephony.StatusCanceled, "call_9", "originator_cancel"},
		{"failed", "call.hangup", base(map[string]any{"client_state": cs, "hangup_cause": "unspecified"}), voiceURL, telephony.Status, telephony.StatusFailed, "call_9", "unspecified"},
		{"bridged", "call.bridged", base(map[string]any{"client_state": cs}), voiceURL, telephony.Status, "", "call_9", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ev, err := p.Parse(f.webhook(c.url, c.eventType, c.payload, now.Add(-time.Second)))
			if err != nil {
				t.Fatal(err)
			}
			if ev.Kind != c.kind || ev.Status != c.status || ev.CallID != c.callID || ev.Reason != c.reason {
				t.Errorf("event = %+v, want kind %s status %q call %q reason %q", ev, c.kind, c.status, c.callID, c.reason)
			}
			if ev.ProviderCallID != "v3:abc" || ev.From != "+14155550100" || ev.To != "+14155550199" || ev.Sequence != -1 {
				t.Errorf("event = %+v", ev)
			}
			if !ev.OccurredAt.Equal(now.Add(-time.Second)) {
				t.Errorf("OccurredAt = %v", ev.OccurredAt)
			}
		})
	}
}

// TestInboundAnswerFlow walks an inbound call through Telnyx's command flow: answer, speak the
// greeting, hang up when the greeting ends.
func TestInboundAnswerFlow(t *testing.T) {
	f := newFake(t)
	p := newProvider(t, f)
	ctx := context.Background()
	payload := map[string]any{"call_control_id": "v3:in", "from": "+14155550100", "to": "+14155550199", "direction": "incoming"}
	ev, err := p.Parse(f.webhook(voiceURL, "call.initiated", payload, now))
	if err != nil || ev.Kind != telephony.Inbound {
		t.Fatalf("inbound: %+v %v", ev, err)
	}
	_, statusURL := providertest.URLs(telnyx.Name, "call_in")
	a := telephony.Answer{CallID: "call_in", Greeting: "Hello <there> & welcome", Language: "en-GB", StatusURL: statusURL}
	resp, err := p.Answer(ctx, ev, a)
	if err != nil || resp.Status != 200 || len(resp.Body) != 0 {
		t.Fatalf("answer inbound: %+v %v", resp, err)
	}
	cmds := f.commandsSeen()
	wantHook, _ := providertest.URLs(telnyx.Name, "call_in")
	if len(cmds) != 1 || cmds[0].Action != "answer" || cmds[0].Body["client_state"] != clientState("call_in") || cmds[0].Body["command_id"] != "call_in:answer" ||
		cmds[0].Body["webhook_url"] != wantHook {
		t.Fatalf("after inbound: %+v", cmds)
	}

	payload["client_state"] = clientState("call_in")
	ev, err = p.Parse(f.webhook(voiceURL, "call.answered", payload, now))
	if err != nil || ev.Kind != telephony.Answered || ev.CallID != "call_in" {
		t.Fatalf("answered: %+v %v", ev, err)
	}
	if _, err := p.Answer(ctx, ev, a); err != nil {
		t.Fatal(err)
	}
	cmds = f.commandsSeen()
	speak := cmds[len(cmds)-1]
	if speak.Action != "speak" || speak.Body["payload"] != a.Greeting || speak.Body["language"] != "en-GB" || speak.Body["voice"] == "" {
		t.Fatalf("speak = %+v", speak)
	}
	state, _ := speak.Body["client_state"].(string)
	payload["client_state"] = state
	ev, err = p.Parse(f.webhook(voiceURL, "call.speak.ended", payload, now))
	if err != nil || ev.Kind != telephony.Answered || ev.Reason != telnyx.ReasonGreetingEnded || ev.CallID != "call_in" {
		t.Fatalf("speak ended: %+v %v", ev, err)
	}
	if _, err := p.Answer(ctx, ev, a); err != nil {
		t.Fatal(err)
	}
	cmds = f.commandsSeen()
	if last := cmds[len(cmds)-1]; last.Action != "hangup" || last.CallControlID != "v3:in" {
		t.Fatalf("after greeting: %+v", last)
	}
}

// TestAnswerIgnoresStatusEvents: Telnyx sends every event to the voice URL, and the platform may
// call Answer for each; only Inbound and Answered events cause commands.
func TestAnswerIgnoresStatusEvents(t *testing.T) {
	f := newFake(t)
	p := newProvider(t, f)
	payload := map[string]any{"call_control_id": "v3:abc", "client_state": clientState("call_9"), "hangup_cause": "normal_clearing"}
	for _, et := range []string{"call.initiated", "call.hangup", "call.speak.started", "streaming.started"} {
		ev, err := p.Parse(f.webhook(voiceURL, et, payload, now))
		if err != nil || ev.Kind != telephony.Status {
			t.Fatalf("%s: %+v %v", et, ev, err)
		}
		if resp, err := p.Answer(context.Background(), ev, telephony.Answer{CallID: "call_9", Greeting: "Hi"}); err != nil || resp.Status != 200 {
			t.Fatalf("%s: Answer %+v %v", et, resp, err)
		}
	}
	if cmds := f.commandsSeen(); len(cmds) != 0 {
		t.Errorf("status events caused commands: %+v", cmds)
	}
}

func TestAnswerWithMediaStreams(t *testing.T) {
	f := newFake(t)
	p := newProvider(t, f)
	ev := telephony.Event{Kind: telephony.Answered, CallID: "call_o", ProviderCallID: "v3:out"}
	_, err := p.Answer(context.Background(), ev, telephony.Answer{CallID: "call_o", Greeting: "Hi", MediaURL: "wss://parley.example/v1/media/call_o"})
	if err != nil {
		t.Fatal(err)
	}
	cmds := f.commandsSeen()
	if len(cmds) != 2 || cmds[0].Action != "speak" || cmds[1].Action != "streaming_start" {
		t.Fatalf("commands = %+v", cmds)
	}
	if cmds[0].Body["client_state"] != clientState("call_o") {
		t.Errorf("speak before a stream must not end the call: %+v", cmds[0].Body)
	}
	if cmds[1].Body["stream_url"] != "wss://parley.example/v1/media/call_o" {
		t.Errorf("stream = %+v", cmds[1].Body)
	}
}

func TestReject(t *testing.T) {
	f := newFake(t)
	p := newProvider(t, f)
	resp, err := p.Reject(context.Background(), telephony.Event{Kind: telephony.Inbound, ProviderCallID: "v3:in"}, "unknown number")
	if err != nil || resp.Status != 200 {
		t.Fatalf("reject: %+v %v", resp, err)
	}
	if _, err := p.Reject(context.Background(), telephony.Event{Kind: telephony.Answered, ProviderCallID: "v3:out"}, "no credits"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Reject(context.Background(), telephony.Event{Kind: telephony.Status, ProviderCallID: "v3:in"}, "unknown number"); err != nil {
		t.Fatal(err)
	}
	cmds := f.commandsSeen()
	if len(cmds) != 2 || cmds[0].Action != "reject" || cmds[0].Body["cause"] != "CALL_REJECTED" || cmds[1].Action != "hangup" {
		t.Fatalf("commands = %+v", cmds)
	}
}
