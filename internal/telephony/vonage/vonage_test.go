package vonage_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/telephony"
	"github.com/parleyhq/parley/internal/telephony/providertest"
	"github.com/parleyhq/parley/internal/telephony/vonage"
)

func TestSuite(t *testing.T) {
	providertest.Run(t, providertest.Harness{
		Name:     vonage.Name,
		New:      vonage.New,
		Required: vonage.RequiredFields,
		Start:    func(t *testing.T) providertest.Fake { return newFake(t) },
	})
}

func build(t *testing.T, cfg telephony.Config) telephony.Provider {
	t.Helper()
	return providertest.MustNew(t, vonage.New, cfg)
}

func TestNewChecksPrivateKey(t *testing.T) {
	f := newFake(t)
	cfg := f.Config()
	cfg.Fields["privateKey"] = "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----"
	if _, err := vonage.New(cfg); err == nil || !strings.Contains(err.Error(), "privateKey") {
		t.Errorf("bad key: err = %v", err)
	}
	// A key pasted on one line with literal \n works.
	cfg = f.Config()
	cfg.Fields["privateKey"] = strings.ReplaceAll(strings.TrimSpace(cfg.Fields["privateKey"]), "\n", `\n`)
	if err := build(t, cfg).Verify(context.Background()); err != nil {
		t.Errorf("one-line key: %v", err)
	}
}

func TestPlaceRequest(t *testing.T) {
	f := newFake(t)
	p := build(t, f.Config())
	voice, status := providertest.URLs(vonage.Name, "call_1")
	res, err := p.Place(context.Background(), telephony.PlaceRequest{
		CallID: "call_1", From: "+14155550100", To: "+447700900000", AnswerURL: voice, StatusURL: status,
		RingTimeout: 500 * time.Second, TimeLimit: time.Hour, MachineDetection: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	body, claims := f.bodies[0], f.lastJWT
	f.mu.Unlock()
	got, _ := json.Marshal(body)
	want := `{"answer_method":"POST","answer_url":["` + voice + `"],"event_method":"POST","event_url":["` + status + `"],` +
		`"from":{"number":"14155550100","type":"phone"},"length_timer":3600,"machine_detection":"continue",` +
		`"ringing_timer":120,"to":[{"number":"447700900000","type":"phone"}]}`
	if string(got) != want {
		t.Errorf("create call body\n got %s\nwant %s", got, want)
	}
	if res.ProviderCallID == "" {
		t.Error("no uuid")
	}
	iat, _ := claims["iat"].(float64)
	exp, _ := claims["exp"].(float64)
	if exp-iat != 900 || claims["application_id"] != fakeAppID {
		t.Errorf("application JWT claims = %v", claims)
	}
}

func TestValidationErrorMessage(t *testing.T) {
	f := newFake(t)
	p := build(t, f.Config())
	_, err := p.Place(context.Background(), telephony.PlaceRequest{CallID: "c", From: "+14155550100", To: "+12", AnswerURL: "https://x.example/voice?callId=c"})
	var pe *telephony.ProviderError
	if !errors.As(err, &pe) || pe.HTTPStatus != 400 || pe.Code != "validation" || pe.Retryable || !strings.Contains(pe.Message, "(to: ") {
		t.Fatalf("err = %#v", err)
	}
}

func TestHangupNotFoundIsEnded(t *testing.T) {
	f := newFake(t)
	p := build(t, f.Config())
	if err := p.Hangup(context.Background(), "00000000-0000-0000-0000-000000000000"); err != nil {
		t.Fatalf("hang-up of an unknown/ended call: %v", err)
	}
	f.FailNext(http.StatusUnauthorized, 0)
	if err := p.Hangup(context.Background(), "x"); !telephony.IsAuthError(err) {
		t.Fatalf("401 on hang-up = %v", err)
	}
}

func TestParseStatusMapping(t *testing.T) {
	f := newFake(t)
	p := build(t, f.Config())
	_, statusURL := providertest.URLs(vonage.Name, "call_3")
	for vs, want := range map[string]telephony.CallStatus{
		"started": telephony.StatusInitiating, "ringing": telephony.StatusRinging, "answered": telephony.StatusInProgress,
		"completed": telephony.StatusCompleted, "machine": telephony.StatusVoicemail, "human": "",
		"busy": telephony.StatusBusy, "cancelled": telephony.StatusCanceled, "unanswered": telephony.StatusNoAnswer,
		"timeout": telephony.StatusNoAnswer, "rejected": telephony.StatusFailed, "failed": telephony.StatusFailed,
		"disconnected": "", "input": "",
	} {
		body := []byte(`{"uuid":"u1","status":"` + vs + `","from":"14155550100","to":"447700900000","timestamp":"2026-11-27T12:00:00.123Z","duration":"61"}`)
		ev, err := p.Parse(signed(statusURL, body, fakeSecret, time.Now()))
		if err != nil {
			t.Fatalf("%s: %v", vs, err)
		}
		if ev.Kind != telephony.Status || ev.Status != want || ev.CallID != "call_3" || ev.Reason != vs {
			t.Errorf("%s: event %+v, want status %q", vs, ev, want)
		}
		if ev.From != "+14155550100" || ev.To != "+447700900000" || !ev.OccurredAt.Equal(time.Date(2026, 11, 27, 12, 0, 0, 123e6, time.UTC)) {
			t.Errorf("%s: event %+v", vs, ev)
		}
		if (want == telephony.StatusCompleted) != (ev.DurationSeconds == 61) {
			t.Errorf("%s: duration %d", vs, ev.DurationSeconds)
		}
	}
}

func TestParseRejectsOldTokenWithLongExpiry(t *testing.T) {
	f := newFake(t)
	p := build(t, f.Config())
	_, statusURL := providertest.URLs(vonage.Name, "call_3")
	body := []byte(`{"uuid":"u1","status":"completed"}`)
	claims := webhookClaims(body, time.Now().Add(-10*time.Minute))
	claims["exp"] = time.Now().Add(time.Hour).Unix()
	if _, err := p.Parse(request(statusURL, body, signedJWT(fakeSecret, claims))); !errors.Is(err, telephony.ErrBadSignature) {
		t.Errorf("iat 10 min old: err = %v", err)
	}
	// Whitespace-free JSON of the same content hashes the same (Vonage hashes its compact JSON).
	pretty := []byte("{\n  \"uuid\": \"u1\",\n  \"status\": \"completed\"\n}")
	req := request(statusURL, pretty, signedJWT(fakeSecret, webhookClaims(body, time.Now())))
	if _, err := p.Parse(req); err != nil {
		t.Errorf("pretty-printed body with the compact hash: %v", err)
	}
}

// TestParseGETAnswer covers an answer_url configured as GET on the application: the parameters
// are in the query and payload_hash covers them as a JSON object in their order.
func TestParseGETAnswer(t *testing.T) {
	f := newFake(t)
	p := build(t, f.Config())
	voice, _ := providertest.URLs(vonage.Name, "")
	q := "to=447700900000&from=14155550100&uuid=u-get&conversation_uuid=CON-1"
	sum := sha256.Sum256([]byte(`{"to":"447700900000","from":"14155550100","uuid":"u-get","conversation_uuid":"CON-1"}`))
	claims := webhookClaims(nil, time.Now())
	claims["payload_hash"] = hex.EncodeToString(sum[:])
	req := request(voice+"?"+q, nil, signedJWT(fakeSecret, claims))
	req.Method = http.MethodGet
	ev, err := p.Parse(req)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Kind != telephony.Inbound || ev.ProviderCallID != "u-get" || ev.From != "+14155550100" || ev.To != "+447700900000" {
		t.Errorf("event %+v", ev)
	}
	req.URL = voice + "?" + strings.Replace(q, "14155550100", "19995550100", 1)
	if _, err := p.Parse(req); !errors.Is(err, telephony.ErrBadSignature) {
		t.Errorf("tampered query: err = %v", err)
	}
}

func TestParseOtherPathIsMalformed(t *testing.T) {
	f := newFake(t)
	p := build(t, f.Config())
	body := []byte(`{"uuid":"u1","status":"completed"}`)
	if _, err := p.Parse(signed("https://parley.example.com/telephony/ws_1/vonage/other", body, fakeSecret, time.Now())); !errors.Is(err, telephony.ErrMalformed) {
		t.Errorf("err = %v", err)
	}
	_, statusURL := providertest.URLs(vonage.Name, "c")
	if _, err := p.Parse(signed(statusURL, []byte(`{"status":"completed"}`), fakeSecret, time.Now())); !errors.Is(err, telephony.ErrMalformed) {
		t.Errorf("no uuid: err = %v", err)
	}
}

func TestAnswerNCCO(t *testing.T) {
	f := newFake(t)
	p := build(t, f.Config())
	_, status := providertest.URLs(vonage.Name, "call_5")
	resp, err := p.Answer(context.Background(), telephony.Event{Kind: telephony.Answered, CallID: "call_5"}, telephony.Answer{
		CallID: "call_5", Greeting: "Hi <you> & co", Language: "fr-FR", MediaURL: "wss://parley.example.com/v1/media/call_5", StatusURL: status,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"action":"talk","language":"fr-FR","text":"Hi <you> & co"},{"action":"connect","endpoint":[{"content-type":"audio/l16;rate=16000","headers":{"callId":"call_5"},"type":"websocket","uri":"wss://parley.example.com/v1/media/call_5"}],"eventMethod":"POST","eventUrl":["` + status + `"]}]`
	if string(resp.Body) != want || resp.ContentType != "application/json" {
		t.Errorf("NCCO\n got %s\nwant %s", resp.Body, want)
	}
	resp, err = p.Reject(context.Background(), telephony.Event{Kind: telephony.Inbound}, "paused_agent")
	if err != nil || strings.Contains(string(resp.Body), "paused") || !strings.Contains(string(resp.Body), `"talk"`) {
		t.Errorf("reject NCCO %s (%v): must speak a refusal without the internal reason", resp.Body, err)
	}
	if _, err := url.Parse(status); err != nil {
		t.Fatal(err)
	}
}
