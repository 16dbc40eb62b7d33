// Package providertest is the one suite every telephony adapter passes (DESIGN habit 9): the same
// cases run against each adapter and a local fake of its provider's cloud, so the platform can
// rely on every telephony.Provider behaving alike.
//
// # Using it
//
// An adapter's test file builds a fake of its provider (an httptest.Server that checks each
// request exactly as the provider documents it and answers as the provider does) and hands the
// suite a Harness:
//
//	func TestSuite(t *testing.T) {
//		providertest.Run(t, providertest.Harness{
//			Name:     twilio.Name,
//			New:      twilio.New,
//			Required: []string{"accountSid"},
//			Start:    func(t *testing.T) providertest.Fake { return newFake(t) },
//		})
//	}
//
// Start is called once per case, so each case gets a fresh fake (no state leaks between cases).
// The fake may call t.Errorf from its handlers when a request is not what the provider documents;
// the suite's cases finish only after their requests have been answered.
//
// # What the fake provides (the Fake interface)
//
//   - Config: a credential the fake accepts, BaseURL pointing at the fake. BadConfig: a credential
//     of the same shape the fake refuses (its API answers 401/403) and whose signing secret differs
//     (so requests signed with Config's secret do not verify under BadConfig).
//   - FailNext(status, retryAfter): the next API request (any endpoint) is answered with the
//     provider's own error shape for that HTTP status, with a Retry-After header (whole seconds)
//     when retryAfter > 0. Statuses used: 400, 401, 422, 429, 500, 503.
//   - Placed: the create-call requests the fake accepted, decoded back into Parley terms
//     (PlacedCall). Numbers are reported in E.164 with the leading "+" even when the provider's
//     wire format drops it. RingTimeout/TimeLimit are -1 when the provider has no such parameter;
//     AnswerURL/StatusURL are "" when the provider request carries no such URL (the suite checks a
//     non-empty one equals the URL Parley asked for).
//   - HungUp: the provider call IDs of the hang-up requests the fake accepted, in order. EndCall
//     marks a call ended at the provider (as if the far end hung up), so a later hang-up request
//     gets the provider's answer for an ended call — which the adapter must treat as success.
//   - StatusRequest, InboundRequest, AnsweredRequest: a request exactly as the provider would send
//     it to Parley (URL with the /status or /voice path and any query, headers, raw body), signed
//     with Config's secret. StatusRequest returns ok=false when the provider cannot report that
//     status (the case is then skipped).
//   - Forgeries: requests built like StatusRequest but that must NOT verify (bad signature,
//     tampered body, tampered URL, stale timestamp, missing signature header …), each named.
//   - Outcome: what a caller experiences from an Answer/Reject response: the texts spoken, the
//     WebSocket URL the audio is streamed to, whether the call then ends. Markup providers decode
//     their own markup from the Response; command-driven providers (Telnyx) report the commands
//     the fake received since the previous Outcome call.
//
// # Cases run
//
// name; New refuses an empty credential and each Harness.Required field missing; Verify ok;
// Verify with a bad credential → telephony.IsAuthError; Verify 5xx → retryable; Place sends the
// request the provider documents (the fake checks it) and returns the provider's call ID, echoing
// Parley's call ID, numbers, ring timeout (30 s), time limit (10 min) and machine detection;
// Place error mapping (429 + Retry-After → Retryable with RetryAfter; 500/503 → Retryable;
// 400/422 → not retryable; 401 → IsAuthError; unreachable → Retryable with HTTPStatus 0);
// Place with a cancelled context fails with errors.Is(err, context.Canceled); Hangup is
// recorded and a hang-up of an ended call is nil; Hangup 503 → Retryable; Parse of each status
// (terminal ones and ringing/in-progress) → Status event with the call IDs, and the duration for
// completed; Parse of inbound and answered voice requests; Parse of every forgery, of a request checked with BadConfig and of an empty request
// → errors.Is(err, telephony.ErrBadSignature) (and the genuine request still parses); a parsed
// Sequence is -1 or the one the fake sent; Answer with and without MediaURL speaks the
// greeting (with XML/JSON-special characters intact) and streams or ends; Reject ends the call
// without streaming.
//
// The Harness and Fake API is stable: adapters of several providers depend on it. Add cases
// rather than changing signatures.
//
// # Helpers for the adapters' own tests (helpers.go)
//
// Recorder (embedded in a fake: FailNext, Placed, HungUp and TakeFailure for its handler),
// NewServer, Verbs (the elements of a TwiML/Plivo XML answer), MustNew, ProviderError, and
// NodeSDK/RunNode for the tests that cross-check an adapter with its provider's official npm
// package.
package providertest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/telephony"
)

// Harness is one adapter and its fake, for Run.
type Harness struct {
	// Name is the provider's name; Provider.Name() must return it.
	Name string
	// New builds the adapter (the package's New).
	New func(cfg telephony.Config) (telephony.Provider, error)
	// Required are credential fields New must refuse to go without (each is removed in turn from
	// the fake's good Config).
	Required []string
	// NoMachineDetection is set for providers whose create-call API has no answering-machine
	// detection (the suite then does not expect PlacedCall.MachineDetection).
	NoMachineDetection bool
	// Start starts a fresh fake for one case; it should stop it with t.Cleanup.
	Start func(t *testing.T) Fake
}

// Fake is a local stand-in for the provider's cloud. See the package doc for each method's
// contract.
type Fake interface {
	Config() telephony.Config
	BadConfig() telephony.Config
	FailNext(status int, retryAfter time.Duration)
	Placed() []PlacedCall
	HungUp() []string
	EndCall(providerCallID string)
	StatusRequest(c Callback) (req telephony.Request, ok bool)
	InboundRequest(c Callback) telephony.Request
	AnsweredRequest(c Callback) telephony.Request
	Forgeries(c Callback) []Forgery
	Outcome(t *testing.T, resp telephony.Response) Outcome
}

// PlacedCall is a create-call request as the fake understood it.
type PlacedCall struct {
	// ProviderCallID is the ID the fake answered with.
	ProviderCallID string
	// CallID is Parley's call ID, found where the provider echoes it.
	CallID    string
	From, To  string
	AnswerURL string
	StatusURL string
	// RingTimeout and TimeLimit are -1 when the provider has no such parameter, 0 when absent.
	RingTimeout, TimeLimit time.Duration
	MachineDetection       bool
}

// Callback describes a provider request for the fake to build.
type Callback struct {
	// CallID is Parley's call ID ("" for an inbound call).
	CallID string
	// ProviderCallID is the provider's ID of the call.
	ProviderCallID string
	From, To       string
	// Status is the status to report (StatusRequest only).
	Status telephony.CallStatus
	// DurationSeconds is reported with StatusCompleted.
	DurationSeconds int
	// Sequence is the provider's sequence number, where it numbers callbacks.
	Sequence int
}

// Forgery is a request that must not verify.
type Forgery struct {
	Name    string
	Request telephony.Request
}

// Outcome is what the caller experiences from a markup response (or the commands it caused).
type Outcome struct {
	// Spoken are the texts spoken with the provider's text-to-speech, in order.
	Spoken []string
	// StreamURL is the WebSocket URL the call's audio is connected to ("" when none).
	StreamURL string
	// Ends is true when the call ends after what is spoken (hang-up, reject, or nothing more).
	Ends bool
}

// Test values the suite uses.
const (
	CallID         = "call_01suitetest0000000000000"
	From           = "+14155550100"
	To             = "+14155550199"
	Greeting       = `Hello <Ada> & "friends" — it's Parley`
	MediaURL       = "wss://parley.example.com/v1/media/call_01suitetest0000000000000"
	ProviderCallID = "provider-call-0001"
)

// URLs builds the voice and status URLs Parley gives a provider for a call ("" callID: the
// number's static URLs).
func URLs(provider, callID string) (voice, status string) {
	base := "https://parley.example.com/telephony/ws_01suitetest/" + provider
	voice, status = base+"/voice", base+"/status"
	if callID != "" {
		voice += "?callId=" + callID
		status += "?callId=" + callID
	}
	return voice, status
}

// Run runs the shared cases against h.
func Run(t *testing.T, h Harness) {
	t.Helper()
	build := func(t *testing.T, cfg telephony.Config) telephony.Provider {
		t.Helper()
		p, err := h.New(cfg)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		return p
	}
	placeReq := func() telephony.PlaceRequest {
		voice, status := URLs(h.Name, CallID)
		return telephony.PlaceRequest{
			CallID: CallID, From: From, To: To, AnswerURL: voice, StatusURL: status,
			RingTimeout: 30 * time.Second, TimeLimit: 10 * time.Minute, MachineDetection: true,
		}
	}

	// startPlaced starts a fake and places a call through it.
	startPlaced := func(t *testing.T) (Fake, telephony.Provider, telephony.PlaceResult) {
		t.Helper()
		f := h.Start(t)
		p := build(t, f.Config())
		res, err := p.Place(t.Context(), placeReq())
		if err != nil {
			t.Fatalf("Place: %v", err)
		}
		return f, p, res
	}

	t.Run("Name", func(t *testing.T) {
		f := h.Start(t)
		if got := build(t, f.Config()).Name(); got != h.Name {
			t.Fatalf("Name() = %q, want %q", got, h.Name)
		}
	})

	t.Run("NewRefusesMissingFields", func(t *testing.T) {
		f := h.Start(t)
		if _, err := h.New(telephony.Config{Fields: map[string]string{}}); err == nil {
			t.Errorf("New with no fields: want an error")
		}
		for _, field := range h.Required {
			cfg := f.Config()
			fields := map[string]string{}
			for k, v := range cfg.Fields {
				if k != field {
					fields[k] = v
				}
			}
			cfg.Fields = fields
			if _, err := h.New(cfg); err == nil {
				t.Errorf("New without %q: want an error", field)
			} else if !strings.Contains(err.Error(), field) {
				t.Errorf("New without %q: error %q does not name the field", field, err)
			}
		}
	})

	t.Run("VerifyOK", func(t *testing.T) {
		f := h.Start(t)
		if err := build(t, f.Config()).Verify(t.Context()); err != nil {
			t.Fatalf("Verify: %v", err)
		}
	})

	t.Run("VerifyBadCredential", func(t *testing.T) {
		f := h.Start(t)
		err := build(t, f.BadConfig()).Verify(t.Context())
		if !telephony.IsAuthError(err) {
			t.Fatalf("Verify with a bad credential = %v, want an auth error", err)
		}
		pe := providerError(t, err, h.Name)
		if pe.Retryable {
			t.Errorf("auth error is Retryable")
		}
		if pe.Message == "" {
			t.Errorf("auth error has no message")
		}
	})

	t.Run("VerifyServerError", func(t *testing.T) {
		f := h.Start(t)
		f.FailNext(http.StatusInternalServerError, 0)
		err := build(t, f.Config()).Verify(t.Context())
		pe := providerError(t, err, h.Name)
		if !pe.Retryable || pe.HTTPStatus != http.StatusInternalServerError {
			t.Errorf("Verify on 500 = %+v, want Retryable with HTTPStatus 500", pe)
		}
	})

	t.Run("Place", func(t *testing.T) {
		f := h.Start(t)
		req := placeReq()
		res, err := build(t, f.Config()).Place(t.Context(), req)
		if err != nil {
			t.Fatalf("Place: %v", err)
		}
		placed := f.Placed()
		if len(placed) != 1 {
			t.Fatalf("fake received %d create-call requests, want 1", len(placed))
		}
		got := placed[0]
		if res.ProviderCallID == "" || res.ProviderCallID != got.ProviderCallID {
			t.Errorf("ProviderCallID = %q, fake answered %q", res.ProviderCallID, got.ProviderCallID)
		}
		if got.CallID != req.CallID {
			t.Errorf("provider was given call ID %q, want %q", got.CallID, req.CallID)
		}
		if got.From != req.From || got.To != req.To {
			t.Errorf("provider was given from %q to %q, want from %q to %q", got.From, got.To, req.From, req.To)
		}
		if got.AnswerURL != "" && got.AnswerURL != req.AnswerURL {
			t.Errorf("answer URL = %q, want %q", got.AnswerURL, req.AnswerURL)
		}
		if got.StatusURL != "" && got.StatusURL != req.StatusURL {
			t.Errorf("status URL = %q, want %q", got.StatusURL, req.StatusURL)
		}
		if got.RingTimeout != -1 && got.RingTimeout != req.RingTimeout {
			t.Errorf("ring timeout = %v, want %v", got.RingTimeout, req.RingTimeout)
		}
		if got.TimeLimit != -1 && got.TimeLimit != req.TimeLimit {
			t.Errorf("time limit = %v, want %v", got.TimeLimit, req.TimeLimit)
		}
		if !h.NoMachineDetection && !got.MachineDetection {
			t.Errorf("machine detection was not requested")
		}
	})

	t.Run("PlaceMinimal", func(t *testing.T) {
		f := h.Start(t)
		req := placeReq()
		req.RingTimeout, req.TimeLimit, req.MachineDetection = 0, 0, false
		if _, err := build(t, f.Config()).Place(t.Context(), req); err != nil {
			t.Fatalf("Place: %v", err)
		}
		placed := f.Placed()
		if len(placed) != 1 {
			t.Fatalf("fake received %d create-call requests, want 1", len(placed))
		}
		if placed[0].MachineDetection {
			t.Errorf("machine detection requested although PlaceRequest did not ask for it")
		}
	})

	errorCases := []struct {
		status     int
		retryAfter time.Duration
		retryable  bool
	}{
		{http.StatusTooManyRequests, 7 * time.Second, true},
		{http.StatusInternalServerError, 0, true},
		{http.StatusServiceUnavailable, 0, true},
		{http.StatusBadRequest, 0, false},
		{http.StatusUnprocessableEntity, 0, false},
		{http.StatusUnauthorized, 0, false},
	}
	for _, c := range errorCases {
		t.Run(fmt.Sprintf("PlaceError%d", c.status), func(t *testing.T) {
			f := h.Start(t)
			f.FailNext(c.status, c.retryAfter)
			_, err := build(t, f.Config()).Place(t.Context(), placeReq())
			pe := providerError(t, err, h.Name)
			if pe.HTTPStatus != c.status {
				t.Errorf("HTTPStatus = %d, want %d", pe.HTTPStatus, c.status)
			}
			if pe.Retryable != c.retryable {
				t.Errorf("Retryable = %v, want %v (%v)", pe.Retryable, c.retryable, pe)
			}
			if pe.RetryAfter != c.retryAfter {
				t.Errorf("RetryAfter = %v, want %v", pe.RetryAfter, c.retryAfter)
			}
			if pe.Message == "" {
				t.Errorf("no message in %#v", pe)
			}
			if c.status == http.StatusUnauthorized && !telephony.IsAuthError(err) {
				t.Errorf("401 is not an auth error")
			}
			if len(f.Placed()) != 0 {
				t.Errorf("fake recorded a placed call although it refused it")
			}
		})
	}

	t.Run("PlaceUnreachable", func(t *testing.T) {
		f := h.Start(t)
		dead := httptest.NewServer(http.NotFoundHandler())
		dead.Close()
		cfg := f.Config()
		cfg.BaseURL = dead.URL
		_, err := build(t, cfg).Place(t.Context(), placeReq())
		pe := providerError(t, err, h.Name)
		if pe.HTTPStatus != 0 || !pe.Retryable {
			t.Errorf("unreachable provider = %+v, want HTTPStatus 0 and Retryable", pe)
		}
	})

	t.Run("PlaceCancelledContext", func(t *testing.T) {
		f := h.Start(t)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := build(t, f.Config()).Place(ctx, placeReq()); !errors.Is(err, context.Canceled) {
			t.Fatalf("Place with a cancelled context = %v, want context.Canceled", err)
		}
	})

	t.Run("Hangup", func(t *testing.T) {
		f, p, res := startPlaced(t)
		if err := p.Hangup(t.Context(), res.ProviderCallID); err != nil {
			t.Fatalf("Hangup: %v", err)
		}
		if got := f.HungUp(); !slices.Equal(got, []string{res.ProviderCallID}) {
			t.Errorf("fake received hang-ups %q, want [%q]", got, res.ProviderCallID)
		}
		f.EndCall(res.ProviderCallID)
		if err := p.Hangup(t.Context(), res.ProviderCallID); err != nil {
			t.Errorf("Hangup of an ended call: %v, want nil", err)
		}
	})

	t.Run("HangupServerError", func(t *testing.T) {
		f, p, res := startPlaced(t)
		f.FailNext(http.StatusServiceUnavailable, 0)
		pe := providerError(t, p.Hangup(t.Context(), res.ProviderCallID), h.Name)
		if !pe.Retryable {
			t.Errorf("Hangup on 503 not retryable: %v", pe)
		}
	})

	statuses := []telephony.CallStatus{
		telephony.StatusRinging, telephony.StatusInProgress, telephony.StatusCompleted,
		telephony.StatusBusy, telephony.StatusNoAnswer, telephony.StatusVoicemail,
		telephony.StatusFailed, telephony.StatusCanceled,
	}
	for i, st := range statuses {
		t.Run("ParseStatus_"+string(st), func(t *testing.T) {
			f := h.Start(t)
			cb := Callback{CallID: CallID, ProviderCallID: ProviderCallID, From: From, To: To, Status: st, Sequence: i}
			if st == telephony.StatusCompleted || st == telephony.StatusVoicemail {
				cb.DurationSeconds = 42
			}
			req, ok := f.StatusRequest(cb)
			if !ok {
				t.Skipf("%s cannot report %s", h.Name, st)
			}
			ev, err := build(t, f.Config()).Parse(req)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if ev.Kind != telephony.Status {
				t.Errorf("Kind = %q, want %q", ev.Kind, telephony.Status)
			}
			if ev.Status != st {
				t.Errorf("Status = %q, want %q", ev.Status, st)
			}
			if ev.CallID != CallID || ev.ProviderCallID != ProviderCallID {
				t.Errorf("IDs = %q/%q, want %q/%q", ev.CallID, ev.ProviderCallID, CallID, ProviderCallID)
			}
			if ev.Sequence != -1 && ev.Sequence != cb.Sequence {
				t.Errorf("Sequence = %d, want %d (or -1 when the provider does not number callbacks)", ev.Sequence, cb.Sequence)
			}
			if st == telephony.StatusCompleted && ev.DurationSeconds != 42 {
				t.Errorf("DurationSeconds = %d, want 42", ev.DurationSeconds)
			}
		})
	}

	t.Run("ParseInbound", func(t *testing.T) {
		f := h.Start(t)
		req := f.InboundRequest(Callback{ProviderCallID: ProviderCallID, From: From, To: To})
		ev, err := build(t, f.Config()).Parse(req)
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		if ev.Kind != telephony.Inbound || ev.CallID != "" || ev.ProviderCallID != ProviderCallID {
			t.Errorf("event = %+v, want Inbound without CallID, ProviderCallID %q", ev, ProviderCallID)
		}
		if ev.From != From || ev.To != To {
			t.Errorf("from/to = %q/%q, want %q/%q", ev.From, ev.To, From, To)
		}
	})

	t.Run("ParseAnswered", func(t *testing.T) {
		f := h.Start(t)
		req := f.AnsweredRequest(Callback{CallID: CallID, ProviderCallID: ProviderCallID, From: From, To: To})
		ev, err := build(t, f.Config()).Parse(req)
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		if ev.Kind != telephony.Answered || ev.CallID != CallID || ev.ProviderCallID != ProviderCallID {
			t.Errorf("event = %+v, want Answered with %q/%q", ev, CallID, ProviderCallID)
		}
	})

	t.Run("ParseRejectsForgeries", func(t *testing.T) {
		f := h.Start(t)
		p := build(t, f.Config())
		cb := Callback{CallID: CallID, ProviderCallID: ProviderCallID, From: From, To: To, Status: telephony.StatusCompleted, DurationSeconds: 42}
		forgeries := f.Forgeries(cb)
		if len(forgeries) == 0 {
			t.Errorf("the fake offers no forgeries")
		}
		forgeries = append(forgeries, Forgery{Name: "empty request", Request: telephony.Request{
			URL: statusURLOf(URLs(h.Name, CallID)), Method: http.MethodPost, Header: http.Header{},
		}})
		for _, fg := range forgeries {
			if _, err := p.Parse(fg.Request); !errors.Is(err, telephony.ErrBadSignature) {
				t.Errorf("%s: Parse = %v, want ErrBadSignature", fg.Name, err)
			}
		}
		// A genuine request checked with another credential's secret.
		req, ok := f.StatusRequest(cb)
		if !ok {
			t.Fatalf("the fake cannot build a completed status request")
		}
		if _, err := build(t, f.BadConfig()).Parse(req); !errors.Is(err, telephony.ErrBadSignature) {
			t.Errorf("other credential: Parse = %v, want ErrBadSignature", err)
		}
		// The same genuine request passes with the right one (the forgeries failed for their flaw).
		if _, err := p.Parse(req); err != nil {
			t.Errorf("genuine request: Parse = %v", err)
		}
	})

	answered := func(t *testing.T, f Fake, p telephony.Provider) telephony.Event {
		t.Helper()
		ev, err := p.Parse(f.AnsweredRequest(Callback{CallID: CallID, ProviderCallID: ProviderCallID, From: From, To: To}))
		if err != nil {
			t.Fatalf("Parse answered request: %v", err)
		}
		return ev
	}
	_, statusURL := URLs(h.Name, CallID)

	// answer answers an answered call with the greeting (and mediaURL) and returns the outcome,
	// which speaks the greeting.
	answer := func(t *testing.T, mediaURL string) Outcome {
		t.Helper()
		f := h.Start(t)
		p := build(t, f.Config())
		ev := answered(t, f, p)
		resp, err := p.Answer(t.Context(), ev, telephony.Answer{
			CallID: CallID, Greeting: Greeting, Language: "en-US", MediaURL: mediaURL, StatusURL: statusURL,
		})
		if err != nil {
			t.Fatalf("Answer: %v", err)
		}
		checkStatus(t, resp)
		out := f.Outcome(t, resp)
		if !slices.Contains(out.Spoken, Greeting) {
			t.Errorf("spoken %q, want the greeting %q", out.Spoken, Greeting)
		}
		return out
	}

	t.Run("AnswerStreams", func(t *testing.T) {
		if out := answer(t, MediaURL); out.StreamURL != MediaURL {
			t.Errorf("stream URL = %q, want %q", out.StreamURL, MediaURL)
		}
	})

	t.Run("AnswerGreetingOnly", func(t *testing.T) {
		if out := answer(t, ""); out.StreamURL != "" || !out.Ends {
			t.Errorf("outcome %+v: want no stream and the call to end", out)
		}
	})

	t.Run("Reject", func(t *testing.T) {
		f := h.Start(t)
		p := build(t, f.Config())
		ev, err := p.Parse(f.InboundRequest(Callback{ProviderCallID: ProviderCallID, From: From, To: To}))
		if err != nil {
			t.Fatalf("Parse inbound: %v", err)
		}
		resp, err := p.Reject(t.Context(), ev, "unknown_number")
		if err != nil {
			t.Fatalf("Reject: %v", err)
		}
		checkStatus(t, resp)
		out := f.Outcome(t, resp)
		if out.StreamURL != "" || !out.Ends {
			t.Errorf("outcome %+v: want no stream and the call to end", out)
		}
	})
}

func checkStatus(t *testing.T, resp telephony.Response) {
	t.Helper()
	if resp.Status != 0 && (resp.Status < 200 || resp.Status > 299) {
		t.Errorf("response status %d, want 2xx", resp.Status)
	}
}

func providerError(t *testing.T, err error, name string) *telephony.ProviderError {
	t.Helper()
	var pe *telephony.ProviderError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T) is not a *telephony.ProviderError", err, err)
	}
	if pe.Provider != name {
		t.Errorf("ProviderError.Provider = %q, want %q", pe.Provider, name)
	}
	return pe
}

func statusURLOf(_, status string) string { return status }
