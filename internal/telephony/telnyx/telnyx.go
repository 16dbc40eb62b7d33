package telnyx

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/telephony"
)

// Name is the provider's name.
const Name = telephony.Telnyx

// DefaultBaseURL is Telnyx's public API v2.
const DefaultBaseURL = "https://api.telnyx.com/v2"

// RequiredFields are the credential fields New requires.
var RequiredFields = []string{"apiKey", "connectionId", "publicKey"}

// SecretFields are the credential fields stored encrypted and never shown back.
var SecretFields = []string{"apiKey"}

// ReasonGreetingEnded is the Reason of the Answered event Parse returns for the end of a greeting
// that should end the call (an answer without a media URL): Answer then hangs up.
const ReasonGreetingEnded = "telnyx:greeting_ended"

// SignatureTolerance is how far telnyx-timestamp may be from now.
const SignatureTolerance = 5 * time.Minute

// Header names of Telnyx's webhook signature.
const (
	HeaderSignature = "Telnyx-Signature-Ed25519"
	HeaderTimestamp = "Telnyx-Timestamp"
)

type provider struct {
	apiKey       string
	connectionID string
	publicKey    ed25519.PublicKey
	now          func() time.Time
	api          telephony.API
}

// New builds the adapter from a credential. It returns an error naming a missing or invalid field.
func New(cfg telephony.Config) (telephony.Provider, error) {
	if err := telephony.RequireFields(Name, cfg.Fields, RequiredFields); err != nil {
		return nil, err
	}
	pub, err := decodePublicKey(cfg.Fields["publicKey"])
	if err != nil {
		return nil, err
	}
	p := &provider{
		apiKey:       strings.TrimSpace(cfg.Fields["apiKey"]),
		connectionID: strings.TrimSpace(cfg.Fields["connectionId"]),
		publicKey:    pub,
		now:          cfg.Now,
	}
	if p.now == nil {
		p.now = time.Now
	}
	p.api = telephony.NewAPI(Name, cfg, DefaultBaseURL,
		func(r *http.Request) error { r.Header.Set("Authorization", "Bearer "+p.apiKey); return nil },
		decodeError)
	return p, nil
}

func decodePublicKey(s string) (ed25519.PublicKey, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == ed25519.PublicKeySize {
			return ed25519.PublicKey(b), nil
		}
	}
	return nil, errors.New("telnyx: publicKey is not a base64 Ed25519 public key (32 bytes)")
}

func (p *provider) Name() string { return Name }

// Verify reads the Call Control Application, which checks the API key and the connection ID.
func (p *provider) Verify(ctx context.Context) error {
	_, err := p.api.Do(ctx, http.MethodGet, "/call_control_applications/"+url.PathEscape(p.connectionID), nil)
	return err
}

type dialRequest struct {
	ConnectionID     string `json:"connection_id"`
	To               string `json:"to"`
	From             string `json:"from"`
	WebhookURL       string `json:"webhook_url,omitempty"`
	WebhookURLMethod string `json:"webhook_url_method,omitempty"`
	ClientState      string `json:"client_state,omitempty"`
	CommandID        string `json:"command_id,omitempty"`
	TimeoutSecs      int    `json:"timeout_secs,omitempty"`
	TimeLimitSecs    int    `json:"time_limit_secs,omitempty"`
	AMD              string `json:"answering_machine_detection,omitempty"`
}

// Place dials the call (POST /calls).
func (p *provider) Place(ctx context.Context, req telephony.PlaceRequest) (telephony.PlaceResult, error) {
	body := dialRequest{
		ConnectionID:     p.connectionID,
		To:               req.To,
		From:             req.From,
		WebhookURL:       req.AnswerURL,
		WebhookURLMethod: http.MethodPost,
	}
	if body.WebhookURL == "" {
		body.WebhookURL = req.StatusURL
	}
	if req.CallID != "" {
		body.ClientState = callState{CallID: req.CallID}.encode()
		body.CommandID = req.CallID + ":dial"
	}
	if req.RingTimeout > 0 {
		body.TimeoutSecs = clamp(int(req.RingTimeout/time.Second), 5, 600)
	}
	if req.TimeLimit > 0 {
		body.TimeLimitSecs = clamp(int(req.TimeLimit/time.Second), 30, 14400)
	}
	if req.MachineDetection {
		body.AMD = "detect"
	}
	raw, err := p.api.Do(ctx, http.MethodPost, "/calls", body)
	if err != nil {
		return telephony.PlaceResult{}, err
	}
	var out struct {
		Data struct {
			CallControlID string `json:"call_control_id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || out.Data.CallControlID == "" {
		return telephony.PlaceResult{}, &telephony.ProviderError{Provider: Name, HTTPStatus: http.StatusOK,
			Message: "unexpected answer to dial: no call_control_id"}
	}
	return telephony.PlaceResult{ProviderCallID: out.Data.CallControlID}, nil
}

// Hangup ends the call; a call that has already ended is not an error.
func (p *provider) Hangup(ctx context.Context, providerCallID string) error {
	return p.command(ctx, providerCallID, "hangup", map[string]any{})
}

// command sends a Call Control command; Telnyx's "call has already ended" is success for hangup.
func (p *provider) command(ctx context.Context, callControlID, action string, body map[string]any) error {
	if callControlID == "" {
		return &telephony.ProviderError{Provider: Name, Message: "no call_control_id to send " + action + " to"}
	}
	_, err := p.api.Do(ctx, http.MethodPost, "/calls/"+url.PathEscape(callControlID)+"/actions/"+action, body)
	var pe *telephony.ProviderError
	if action == "hangup" && errors.As(err, &pe) && pe.Code == codeCallEnded {
		return nil
	}
	return err
}

// codeCallEnded is Telnyx's error code for a command sent to a call that has already ended.
const codeCallEnded = "90018"

// Answer sends the Call Control commands of an answer and returns an empty 200.
func (p *provider) Answer(ctx context.Context, ev telephony.Event, a telephony.Answer) (telephony.Response, error) {
	id := ev.ProviderCallID
	st := callState{CallID: a.CallID}
	if st.CallID == "" {
		st.CallID = ev.CallID
	}
	if ev.Kind == telephony.Answered {
		st.AnsweredAt = ev.OccurredAt
	}
	hangup := func() error {
		return p.command(ctx, id, "hangup", map[string]any{"client_state": st.encode(), "command_id": st.CallID + ":hangup"})
	}
	switch {
	case ev.Reason == ReasonGreetingEnded:
		// No client_state: the call keeps the speak command's, which holds the answer time.
		if err := p.command(ctx, id, "hangup", map[string]any{"command_id": st.CallID + ":hangup"}); err != nil {
			return telephony.Response{}, err
		}
	case ev.Kind == telephony.Inbound:
		body := map[string]any{"client_state": st.encode(), "command_id": st.CallID + ":answer"}
		if u := callVoiceURL(a.StatusURL); u != "" {
			// The call's later webhooks go to its own voice URL (?callId=…), not the connection's.
			body["webhook_url"] = u
			body["webhook_url_method"] = http.MethodPost
		}
		if err := p.command(ctx, id, "answer", body); err != nil {
			return telephony.Response{}, err
		}
	case ev.Kind != telephony.Answered:
		// A status event that arrived at the voice URL (Telnyx sends every event there): there is
		// nothing to answer.
	default:
		greeting := strings.TrimSpace(a.Greeting)
		if greeting == "" && a.MediaURL == "" {
			if err := hangup(); err != nil {
				return telephony.Response{}, err
			}
			break
		}
		if greeting != "" {
			lang := a.Language
			if lang == "" {
				lang = "en-US"
			}
			speakState := st
			speakState.End = a.MediaURL == ""
			body := map[string]any{
				"payload":      a.Greeting,
				"payload_type": "text",
				"voice":        "female",
				"language":     lang,
				"client_state": speakState.encode(),
				"command_id":   st.CallID + ":speak",
			}
			if err := p.command(ctx, id, "speak", body); err != nil {
				return telephony.Response{}, err
			}
		}
		if a.MediaURL != "" {
			body := map[string]any{
				"stream_url":   a.MediaURL,
				"stream_track": "both_tracks",
				"client_state": st.encode(),
				"command_id":   st.CallID + ":stream",
			}
			if err := p.command(ctx, id, "streaming_start", body); err != nil {
				return telephony.Response{}, err
			}
		}
	}
	return telephony.Response{Status: http.StatusOK}, nil
}

// callVoiceURL is the voice URL of a call given its status URL
// ({baseUrl}/telephony/{workspaceId}/telnyx/status?callId=… → …/voice?callId=…), or "".
func callVoiceURL(statusURL string) string {
	u, err := url.Parse(statusURL)
	if err != nil || statusURL == "" || !strings.HasSuffix(u.Path, "/status") || u.Query().Get("callId") == "" {
		return ""
	}
	u.Path = strings.TrimSuffix(u.Path, "/status") + "/voice"
	u.RawPath = ""
	return u.String()
}

// Reject refuses an inbound call (actions/reject) or hangs up a call already answered; a status
// event needs nothing.
func (p *provider) Reject(ctx context.Context, ev telephony.Event, reason string) (telephony.Response, error) {
	var err error
	switch ev.Kind {
	case telephony.Inbound:
		err = p.command(ctx, ev.ProviderCallID, "reject", map[string]any{"cause": "CALL_REJECTED"})
	case telephony.Answered:
		err = p.command(ctx, ev.ProviderCallID, "hangup", map[string]any{})
	default:
		// A later status event of a refused call: nothing left to refuse.
	}
	if err != nil {
		return telephony.Response{}, err
	}
	return telephony.Response{Status: http.StatusOK}, nil
}

// callState is what Parley keeps in a call's client_state (Telnyx echoes the latest one on every
// webhook): Parley's call ID, when the call was answered (so call.hangup yields the duration) and
// whether the call ends after the greeting being spoken.
type callState struct {
	CallID     string
	AnsweredAt time.Time
	End        bool
}

// encode is base64 of "callID[;a=<answered unix ms>][;end]".
func (s callState) encode() string {
	v := s.CallID
	if !s.AnsweredAt.IsZero() {
		v += ";a=" + strconv.FormatInt(s.AnsweredAt.UnixMilli(), 10)
	}
	if s.End {
		v += ";end"
	}
	return base64.StdEncoding.EncodeToString([]byte(v))
}

// decodeState reads a client_state written by encode (zero when absent or not Parley's).
func decodeState(cs string) callState {
	b, err := base64.StdEncoding.DecodeString(cs)
	if cs == "" || err != nil {
		return callState{}
	}
	parts := strings.Split(string(b), ";")
	for _, r := range parts[0] {
		if !(r == '_' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return callState{}
		}
	}
	st := callState{CallID: parts[0]}
	for _, p := range parts[1:] {
		switch {
		case p == "end":
			st.End = true
		case strings.HasPrefix(p, "a="):
			if ms, err := strconv.ParseInt(p[2:], 10, 64); err == nil && ms > 0 {
				st.AnsweredAt = time.UnixMilli(ms).UTC()
			}
		}
	}
	return st
}

type webhook struct {
	Data struct {
		EventType  string    `json:"event_type"`
		ID         string    `json:"id"`
		OccurredAt time.Time `json:"occurred_at"`
		Payload    struct {
			CallControlID  string `json:"call_control_id"`
			ClientState    string `json:"client_state"`
			From           string `json:"from"`
			To             string `json:"to"`
			Direction      string `json:"direction"`
			HangupCause    string `json:"hangup_cause"`
			HangupSource   string `json:"hangup_source"`
			SIPHangupCause string `json:"sip_hangup_cause"`
			Result         string `json:"result"`
		} `json:"payload"`
	} `json:"data"`
}

// Parse verifies the Ed25519 signature and timestamp, then maps the event.
func (p *provider) Parse(r telephony.Request) (telephony.Event, error) {
	if err := p.verifySignature(r); err != nil {
		return telephony.Event{}, err
	}
	var w webhook
	if err := json.Unmarshal(r.Body, &w); err != nil {
		return telephony.Event{}, fmt.Errorf("%w: telnyx: body is not a webhook: %v", telephony.ErrMalformed, err)
	}
	d := w.Data
	if d.EventType == "" || d.Payload.CallControlID == "" {
		return telephony.Event{}, fmt.Errorf("%w: telnyx: webhook without event_type or call_control_id", telephony.ErrMalformed)
	}
	ev := telephony.Event{
		Kind:           telephony.Status,
		ProviderCallID: d.Payload.CallControlID,
		From:           d.Payload.From,
		To:             d.Payload.To,
		Sequence:       -1,
		OccurredAt:     d.OccurredAt.UTC(),
	}
	// The call ID comes only from the signed body: Telnyx does not sign the URL.
	st := decodeState(d.Payload.ClientState)
	ev.CallID = st.CallID
	switch d.EventType {
	case "call.initiated":
		if d.Payload.Direction == "incoming" {
			ev.Kind = telephony.Inbound
		} else {
			ev.Status = telephony.StatusInitiating
		}
	case "call.answered":
		ev.Kind = telephony.Answered
		ev.Status = telephony.StatusInProgress
	case "call.speak.ended":
		if st.End {
			ev.Kind = telephony.Answered
			ev.Reason = ReasonGreetingEnded
		}
	case "call.machine.detection.ended", "call.machine.premium.detection.ended":
		if strings.HasPrefix(d.Payload.Result, "machine") {
			ev.Status = telephony.StatusVoicemail
			ev.Reason = "machine detected"
		}
	case "call.hangup":
		ev.Status = hangupStatus(d.Payload.HangupCause)
		ev.Reason = d.Payload.HangupCause
		if d.Payload.SIPHangupCause != "" {
			ev.Reason += " (SIP " + d.Payload.SIPHangupCause + ")"
		}
		if ev.Status == telephony.StatusCompleted && !st.AnsweredAt.IsZero() && !ev.OccurredAt.IsZero() {
			ev.DurationSeconds = max(0, int(math.Round(ev.OccurredAt.Sub(st.AnsweredAt).Seconds())))
		}
	}
	return ev, nil
}

func hangupStatus(cause string) telephony.CallStatus {
	switch cause {
	case "normal_clearing", "time_limit":
		return telephony.StatusCompleted
	case "user_busy", "call_rejected":
		return telephony.StatusBusy
	case "timeout", "no_answer":
		return telephony.StatusNoAnswer
	case "originator_cancel":
		return telephony.StatusCanceled
	default:
		return telephony.StatusFailed
	}
}

func (p *provider) verifySignature(r telephony.Request) error {
	sigB64 := r.Header.Get(HeaderSignature)
	tsStr := r.Header.Get(HeaderTimestamp)
	if sigB64 == "" || tsStr == "" {
		return fmt.Errorf("%w: telnyx: missing %s or %s", telephony.ErrBadSignature, HeaderSignature, HeaderTimestamp)
	}
	ts, err := strconv.ParseInt(tsStr, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: telnyx: bad timestamp", telephony.ErrBadSignature)
	}
	if d := p.now().Sub(time.Unix(ts, 0)); d > SignatureTolerance || d < -SignatureTolerance {
		return fmt.Errorf("%w: telnyx: timestamp outside the %s tolerance", telephony.ErrBadSignature, SignatureTolerance)
	}
	sig, err := base64.StdEncoding.DecodeString(sigB64)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return fmt.Errorf("%w: telnyx: signature is not a base64 Ed25519 signature", telephony.ErrBadSignature)
	}
	msg := make([]byte, 0, len(tsStr)+1+len(r.Body))
	msg = append(append(append(msg, tsStr...), '|'), r.Body...)
	if !ed25519.Verify(p.publicKey, msg, sig) {
		return fmt.Errorf("%w: telnyx: signature does not verify", telephony.ErrBadSignature)
	}
	return nil
}

// decodeError reads Telnyx's error envelope ({"errors": [{"code", "title", "detail"}]}).
func decodeError(pe *telephony.ProviderError, raw []byte) {
	var body struct {
		Errors []struct {
			Code   json.RawMessage `json:"code"`
			Title  string          `json:"title"`
			Detail string          `json:"detail"`
		} `json:"errors"`
	}
	if json.Unmarshal(raw, &body) == nil && len(body.Errors) > 0 {
		e := body.Errors[0]
		pe.Code = strings.Trim(string(e.Code), `"`)
		pe.Message = e.Detail
		if pe.Message == "" {
			pe.Message = e.Title
		}
	}
}

func clamp(v, lo, hi int) int {
	return min(max(v, lo), hi)
}
