package exotel

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/telephony"
)

// Name is the provider's name.
const Name = telephony.Exotel

// RequiredFields are the credential fields New requires (the ones the user pastes).
var RequiredFields = []string{"accountSid", "apiKey", "apiToken", "subdomain", "appId"}

// SecretFields are the credential fields stored encrypted and never shown back.
var SecretFields = []string{"apiToken", CallbackTokenField}

// CallbackTokenField is the field holding the random per-credential token Parley generates: the
// URLs Parley gives Exotel carry it as ?token=…, and Parse accepts only requests that do (Exotel
// does not sign its requests).
const CallbackTokenField = telephony.CallbackTokenField

// TokenParam is the query parameter carrying the callback token.
const TokenParam = "token"

// AppletParam=AppletVoicebot marks the Voicebot applet's URL (…/voice?token=…&applet=voicebot):
// its request asks for the media WebSocket URL rather than the greeting.
const (
	AppletParam    = "applet"
	AppletVoicebot = "voicebot"
)

// ReasonVoicebot is the Reason of an event parsed from the Voicebot applet's request: Answer then
// answers with the media WebSocket URL.
const ReasonVoicebot = "exotel:voicebot"

// RejectText is what a refused caller hears: Parley's internal reason is never spoken.
const RejectText = "Sorry, this number cannot take your call right now. Goodbye."

var hostRE = regexp.MustCompile(`^([a-z0-9-]+\.)*exotel\.com$`)

type provider struct {
	sid, apiKey, apiToken, appID string
	callbackToken                string
	api                          telephony.API
}

// New builds the adapter from a credential. It returns an error naming a missing or invalid field.
// subdomain must be an Exotel API host (api.exotel.com, api.in.exotel.com): credentials are sent
// there, so it cannot point anywhere else.
func New(cfg telephony.Config) (telephony.Provider, error) {
	if err := telephony.RequireFields(Name, cfg.Fields, RequiredFields); err != nil {
		return nil, err
	}
	host := strings.ToLower(strings.TrimSpace(cfg.Fields["subdomain"]))
	host = strings.TrimPrefix(strings.TrimPrefix(host, "https://"), "http://")
	host = strings.TrimSuffix(host, "/")
	if !hostRE.MatchString(host) {
		return nil, fmt.Errorf("exotel: subdomain %q is not an Exotel API host such as api.exotel.com or api.in.exotel.com", host)
	}
	p := &provider{
		sid:           strings.TrimSpace(cfg.Fields["accountSid"]),
		apiKey:        strings.TrimSpace(cfg.Fields["apiKey"]),
		apiToken:      strings.TrimSpace(cfg.Fields["apiToken"]),
		appID:         strings.TrimSpace(cfg.Fields["appId"]),
		callbackToken: cfg.Fields[CallbackTokenField],
	}
	p.api = telephony.NewAPI(Name, cfg, "https://"+host,
		func(r *http.Request) error { r.SetBasicAuth(p.apiKey, p.apiToken); return nil },
		decodeError)
	return p, nil
}

func (p *provider) Name() string { return Name }

func (p *provider) accountPath() string { return "/v1/Accounts/" + url.PathEscape(p.sid) }

// Verify lists one call (GET /v1/Accounts/{sid}/Calls.json?PageSize=1).
func (p *provider) Verify(ctx context.Context) error {
	_, err := p.api.Do(ctx, http.MethodGet, p.accountPath()+"/Calls.json?PageSize=1", nil)
	return err
}

// FlowURL is the Url of Exotel's connect-to-flow API for the credential's app (call flow).
func FlowURL(accountSid, appID string) string {
	return "http://my.exotel.com/" + url.PathEscape(accountSid) + "/exoml/start_voice/" + url.PathEscape(appID)
}

// Place connects the callee to the credential's call flow (POST
// /v1/Accounts/{sid}/Calls/connect.json): Exotel calls From (the callee) first and runs the flow,
// showing CallerId (the workspace's ExoPhone). Parley's call ID travels as CustomField, which Exotel
// passes to the flow's applets and status callback. Exotel's connect API has no machine
// detection: MachineDetection is ignored.
func (p *provider) Place(ctx context.Context, req telephony.PlaceRequest) (telephony.PlaceResult, error) {
	form := url.Values{
		"From":     {req.To},
		"CallerId": {req.From},
		"Url":      {FlowURL(p.sid, p.appID)},
		"CallType": {"trans"},
	}
	if req.CallID != "" {
		form.Set("CustomField", req.CallID)
	}
	if req.StatusURL != "" {
		form.Set("StatusCallback", URLWithToken(req.StatusURL, p.callbackToken))
		form.Set("StatusCallbackContentType", "application/json")
		form.Set("StatusCallbackEvents[0]", "terminal")
		form.Set("StatusCallbackEvents[1]", "answered")
	}
	if req.RingTimeout > 0 {
		form.Set("TimeOut", strconv.Itoa(max(1, int(req.RingTimeout/time.Second))))
	}
	if req.TimeLimit > 0 {
		form.Set("TimeLimit", strconv.Itoa(min(14400, max(1, int(req.TimeLimit/time.Second)))))
	}
	raw, err := p.api.Do(ctx, http.MethodPost, p.accountPath()+"/Calls/connect.json", form)
	if err != nil {
		return telephony.PlaceResult{}, err
	}
	var out struct {
		Call struct {
			Sid string `json:"Sid"`
		} `json:"Call"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || out.Call.Sid == "" {
		return telephony.PlaceResult{}, &telephony.ProviderError{Provider: Name, HTTPStatus: http.StatusOK,
			Message: "unexpected answer to connect: no Call.Sid"}
	}
	return telephony.PlaceResult{ProviderCallID: out.Call.Sid}, nil
}

// URLWithToken adds the callback token to a URL Parley gives Exotel (unless it is already there):
// the voice URL shown for the Greeting and Voicebot applets, and the StatusCallback URL.
func URLWithToken(raw, token string) string {
	u, err := url.Parse(raw)
	if err != nil || token == "" || u.Query().Get(TokenParam) == token {
		return raw
	}
	if u.RawQuery != "" {
		u.RawQuery += "&"
	}
	u.RawQuery += TokenParam + "=" + url.QueryEscape(token)
	return u.String()
}

// ErrNoHangup is the refusal Hangup returns: Exotel's API has no way to end a call in progress.
var ErrNoHangup = &telephony.ProviderError{Provider: Name, Code: "unsupported", Message: "exotel has no hang-up API: the call ends when its flow ends or its TimeLimit passes"}

// Hangup reports that Exotel cannot end a call through its API.
func (p *provider) Hangup(context.Context, string) error { return ErrNoHangup }

// Answer answers an applet's request. The Greeting applet ("Read text like a robot" set to the
// voice URL) gets the greeting as text/plain, which Exotel speaks with its own text-to-speech; the
// Voicebot applet (its URL set to the voice URL with &applet=voicebot) gets {"url": MediaURL}, the
// WebSocket Exotel streams the call's audio to.
func (p *provider) Answer(_ context.Context, ev telephony.Event, a telephony.Answer) (telephony.Response, error) {
	if ev.Reason == ReasonVoicebot {
		if a.MediaURL == "" {
			// Nothing to stream to: the applet fails and the flow moves on (to its Hangup).
			return telephony.Response{Status: http.StatusNotFound, ContentType: "application/json", Body: []byte(`{"error":"no media stream for this call"}`)}, nil
		}
		body, err := json.Marshal(map[string]string{"url": a.MediaURL})
		if err != nil {
			return telephony.Response{}, err
		}
		return telephony.Response{Status: http.StatusOK, ContentType: "application/json", Body: body}, nil
	}
	return text(a.Greeting), nil
}

// Reject answers the Greeting applet with a short refusal; a later Voicebot request of the same
// call gets no stream, so the flow ends.
func (p *provider) Reject(_ context.Context, ev telephony.Event, _ string) (telephony.Response, error) {
	if ev.Reason == ReasonVoicebot {
		return telephony.Response{Status: http.StatusNotFound, ContentType: "application/json", Body: []byte(`{"error":"call refused"}`)}, nil
	}
	return text(RejectText), nil
}

// text is a dynamic-greeting answer: Exotel requires the Content-Type to be exactly text/plain.
func text(s string) telephony.Response {
	return telephony.Response{Status: http.StatusOK, ContentType: "text/plain", Body: []byte(strings.TrimSpace(s))}
}

// Parse checks the callback token in the URL (constant time), then maps the request: the voice
// URL's requests come from the flow's applets (GET, parameters in the query), the status URL's
// from the StatusCallback (POST, JSON or form body).
func (p *provider) Parse(r telephony.Request) (telephony.Event, error) {
	u, err := url.Parse(r.URL)
	if err != nil {
		return telephony.Event{}, fmt.Errorf("%w: exotel: bad URL", telephony.ErrBadSignature)
	}
	q := u.Query()
	got := q.Get(TokenParam)
	if p.callbackToken == "" || len(q[TokenParam]) != 1 ||
		subtle.ConstantTimeCompare([]byte(got), []byte(p.callbackToken)) != 1 {
		return telephony.Event{}, fmt.Errorf("%w: exotel: missing or wrong callback token", telephony.ErrBadSignature)
	}
	params, legs, err := readParams(r, q)
	if err != nil {
		return telephony.Event{}, fmt.Errorf("%w: exotel: %v", telephony.ErrMalformed, err)
	}
	sid := params.Get("CallSid")
	if sid == "" {
		return telephony.Event{}, fmt.Errorf("%w: exotel: no CallSid", telephony.ErrMalformed)
	}
	ev := telephony.Event{
		ProviderCallID: sid,
		From:           first(params, "From", "CallFrom"),
		To:             first(params, "To", "CallTo"),
		CallID:         first(params, "CustomField"),
		Sequence:       -1,
	}
	if ev.CallID == "" {
		ev.CallID = q.Get("callId")
	}
	kind, ok := telephony.CallbackKind(u.Path, ev.CallID)
	if !ok {
		return telephony.Event{}, fmt.Errorf("%w: exotel: URL path is neither /voice nor /status", telephony.ErrMalformed)
	}
	ev.Kind = kind
	if kind != telephony.Status {
		if q.Get(AppletParam) == AppletVoicebot {
			ev.Reason = ReasonVoicebot
		}
		return ev, nil
	}
	status := params.Get("Status")
	event := params.Get("EventType")
	if status == "" && event == "" && params.Get("CurrentTime") != "" {
		// A Passthru applet at the end of the flow (inbound calls get no StatusCallback):
		// the flow is over, the call lasted from StartTime to CurrentTime (same zone).
		ev.Status = telephony.StatusCompleted
		ev.Reason = strings.TrimSpace("passthru " + params.Get("CallType"))
		ev.DurationSeconds = span(params.Get("StartTime"), params.Get("CurrentTime"))
		return ev, nil
	}
	ev.Reason = status
	if event != "" {
		ev.Reason = event + ": " + status
	}
	ev.Status = mapStatus(status)
	if strings.EqualFold(event, "answered") {
		ev.Status = telephony.StatusInProgress
	}
	machine := false
	longest := 0
	for _, l := range legs {
		if strings.EqualFold(l.AnsweredBy, "machine") {
			machine = true
		}
		longest = max(longest, l.OnCallDuration)
	}
	if ev.Status == telephony.StatusCompleted {
		if machine {
			ev.Status = telephony.StatusVoicemail
		}
		ev.DurationSeconds = atoi(params.Get("ConversationDuration"))
		if ev.DurationSeconds == 0 {
			ev.DurationSeconds = longest
		}
	}
	return ev, nil
}

func mapStatus(s string) telephony.CallStatus {
	switch strings.ToLower(s) {
	case "queued":
		return telephony.StatusInitiating
	case "ringing":
		return telephony.StatusRinging
	case "in-progress":
		return telephony.StatusInProgress
	case "completed":
		return telephony.StatusCompleted
	case "busy":
		return telephony.StatusBusy
	case "no-answer":
		return telephony.StatusNoAnswer
	case "failed":
		return telephony.StatusFailed
	case "canceled", "cancelled":
		return telephony.StatusCanceled
	}
	return ""
}

type leg struct {
	OnCallDuration int
	Status         string
	AnsweredBy     string
}

// readParams merges the query (less the token) and the body: JSON (StatusCallbackContentType
// application/json), form-urlencoded or multipart/form-data (Exotel's default).
func readParams(r telephony.Request, q url.Values) (url.Values, []leg, error) {
	params := url.Values{}
	for k, v := range q {
		if k != TokenParam && k != AppletParam {
			params[k] = v
		}
	}
	body := bytes.TrimSpace(r.Body)
	if len(body) == 0 {
		return params, nil, nil
	}
	ct, ctParams, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var legs []leg
	switch {
	case ct == "application/json" || (ct == "" && body[0] == '{'):
		var m map[string]json.RawMessage
		if err := json.Unmarshal(body, &m); err != nil {
			return nil, nil, fmt.Errorf("body is not JSON: %v", err)
		}
		for k, raw := range m {
			if k == "Legs" {
				var ls []struct {
					OnCallDuration json.RawMessage `json:"OnCallDuration"`
					Status         string          `json:"Status"`
					AnsweredBy     string          `json:"AnsweredBy"`
				}
				if json.Unmarshal(raw, &ls) == nil {
					for _, l := range ls {
						legs = append(legs, leg{OnCallDuration: atoi(scalar(l.OnCallDuration)), Status: l.Status, AnsweredBy: l.AnsweredBy})
					}
				}
				continue
			}
			params.Set(k, scalar(raw))
		}
		return params, legs, nil
	case ct == "multipart/form-data":
		mr := multipart.NewReader(bytes.NewReader(r.Body), ctParams["boundary"])
		form, err := mr.ReadForm(1 << 20)
		if err != nil {
			return nil, nil, fmt.Errorf("bad multipart body: %v", err)
		}
		for k, v := range form.Value {
			params[k] = v
		}
	default:
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, nil, fmt.Errorf("bad form body: %v", err)
		}
		for k, v := range vals {
			params[k] = v
		}
	}
	// Form bodies carry legs as Legs[0][OnCallDuration]=…
	for i := 0; ; i++ {
		pre := "Legs[" + strconv.Itoa(i) + "]"
		if _, ok := params[pre+"[Status]"]; !ok {
			if _, ok := params[pre+"[OnCallDuration]"]; !ok {
				break
			}
		}
		legs = append(legs, leg{OnCallDuration: atoi(params.Get(pre + "[OnCallDuration]")), Status: params.Get(pre + "[Status]"), AnsweredBy: params.Get(pre + "[AnsweredBy]")})
	}
	return params, legs, nil
}

// scalar is a JSON string or number as text ("" for null and objects).
func scalar(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// span is the whole seconds from a to b, both "YYYY-MM-DD HH:mm:ss" in Exotel's (unstated) zone.
func span(a, b string) int {
	const layout = "2006-01-02 15:04:05"
	ta, errA := time.Parse(layout, strings.TrimSpace(a))
	tb, errB := time.Parse(layout, strings.TrimSpace(b))
	if errA != nil || errB != nil || tb.Before(ta) {
		return 0
	}
	return int(tb.Sub(ta) / time.Second)
}

func first(v url.Values, keys ...string) string {
	for _, k := range keys {
		if s := v.Get(k); s != "" {
			return s
		}
	}
	return ""
}

func atoi(s string) int {
	s = strings.TrimSpace(s)
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return int(f)
	}
	return 0
}

// decodeError reads Exotel's {"RestException": {"Status", "Message", "Code"}}.
func decodeError(pe *telephony.ProviderError, raw []byte) {
	var body struct {
		RestException struct {
			Message string          `json:"Message"`
			Code    json.RawMessage `json:"Code"`
		} `json:"RestException"`
	}
	if json.Unmarshal(raw, &body) == nil {
		pe.Message = body.RestException.Message
		pe.Code = scalar(body.RestException.Code)
	}
}
