package telnyx_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/telephony"
	"github.com/parleyhq/parley/internal/telephony/providertest"
	"github.com/parleyhq/parley/internal/telephony/telnyx"
)

// fakeTelnyx is a local Telnyx Call Control API: it checks each request as Telnyx documents it
// (path, Bearer API key, JSON body, required parameters), answers as Telnyx does (including its
// error envelope), records what it received, and signs webhooks with its own Ed25519 key.
type fakeTelnyx struct {
	providertest.Recorder // FailNext, Placed (HungUp is the fake's own)
	t                     testing.TB
	srv                   *httptest.Server
	apiKey                string
	connID                string
	pub                   ed25519.PublicKey
	priv                  ed25519.PrivateKey
	badPub                ed25519.PublicKey // BadConfig's key: the fake's webhooks do not verify with it

	mu       sync.Mutex
	dials    []map[string]any
	commands []fakeCommand
	seen     int             // commands already reported by Outcome
	ended    map[string]bool // call_control_ids whose call has ended
	n        int
}

type fakeCommand struct {
	CallControlID string
	Action        string
	Body          map[string]any
	Accepted      bool // answered 200 (not refused as invalid or sent to an ended call)
}

func newFake(t testing.TB) *fakeTelnyx {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	badPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeTelnyx{t: t, apiKey: "KEY0123456789ABCDEF_secret", connID: "1684641123236054244", pub: pub, priv: priv, badPub: badPub, ended: map[string]bool{}}
	f.srv = providertest.NewServer(t, f.serve)
	return f
}

func (f *fakeTelnyx) baseURL() string { return f.srv.URL + "/v2" }

// --- providertest.Fake ---

func (f *fakeTelnyx) Config() telephony.Config {
	return telephony.Config{
		Fields: map[string]string{
			"apiKey":       f.apiKey,
			"connectionId": f.connID,
			"publicKey":    base64.StdEncoding.EncodeToString(f.pub),
		},
		BaseURL:    f.baseURL(),
		HTTPClient: f.srv.Client(),
	}
}

func (f *fakeTelnyx) BadConfig() telephony.Config {
	c := f.Config()
	c.Fields = map[string]string{"apiKey": "KEY_wrong", "connectionId": f.connID, "publicKey": base64.StdEncoding.EncodeToString(f.badPub)}
	return c
}

// HungUp lists the call_control_ids of the hang-up commands the fake accepted.
func (f *fakeTelnyx) HungUp() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []string
	for _, c := range f.commands {
		if c.Action == "hangup" && c.Accepted {
			ids = append(ids, c.CallControlID)
		}
	}
	return ids
}

func (f *fakeTelnyx) EndCall(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ended[id] = true
}

// state is a client_state as the adapter writes it (base64 of "callID[;a=<unix ms>][;end]").
func state(callID string, answeredAt time.Time, end bool) string {
	v := callID
	if !answeredAt.IsZero() {
		v += ";a=" + strconv.FormatInt(answeredAt.UnixMilli(), 10)
	}
	if end {
		v += ";end"
	}
	return base64.StdEncoding.EncodeToString([]byte(v))
}

func callPayload(c providertest.Callback, direction, cs string) map[string]any {
	m := map[string]any{
		"call_control_id": c.ProviderCallID, "call_leg_id": "428c31b6-7af4-4bcb-b7f5-5013ef9657c1",
		"call_session_id": "428c31b6-abf3-3bc1-b7f4-5013ef9657c1", "connection_id": "1684641123236054244",
		"from": c.From, "to": c.To, "direction": direction,
	}
	if cs != "" {
		m["client_state"] = cs
	}
	return m
}

// statusWebhook is the webhook Telnyx sends for a status. Telnyx has no ringing webhook for a
// dialled call, and "in progress" is call.answered, which is the Answered request.
func (f *fakeTelnyx) statusWebhook(c providertest.Callback, at time.Time) (telephony.Request, bool) {
	voice, _ := providertest.URLs(telnyx.Name, c.CallID)
	answered := at.Add(-time.Duration(c.DurationSeconds) * time.Second)
	hangup := func(cause, sip string, cs string) (telephony.Request, bool) {
		p := callPayload(c, "outgoing", cs)
		p["state"] = "hangup"
		p["hangup_cause"] = cause
		p["hangup_source"] = "callee"
		p["sip_hangup_cause"] = sip
		p["start_time"] = answered.Add(-5 * time.Second).UTC().Format(time.RFC3339Nano)
		return f.webhook(voice, "call.hangup", p, at), true
	}
	plain := state(c.CallID, time.Time{}, false)
	switch c.Status {
	case telephony.StatusCompleted:
		// The client_state holds the answer time the adapter put in its speak command.
		return hangup("normal_clearing", "200", state(c.CallID, answered, true))
	case telephony.StatusBusy:
		return hangup("user_busy", "486", plain)
	case telephony.StatusNoAnswer:
		return hangup("timeout", "480", plain)
	case telephony.StatusFailed:
		return hangup("unspecified", "404", plain)
	case telephony.StatusCanceled:
		return hangup("originator_cancel", "487", plain)
	case telephony.StatusVoicemail:
		p := callPayload(c, "outgoing", plain)
		p["result"] = "machine"
		return f.webhook(voice, "call.machine.detection.ended", p, at), true
	}
	return telephony.Request{}, false
}

func (f *fakeTelnyx) StatusRequest(c providertest.Callback) (telephony.Request, bool) {
	return f.statusWebhook(c, time.Now())
}

// InboundRequest is call.initiated of an incoming call, sent to the connection's webhook URL.
func (f *fakeTelnyx) InboundRequest(c providertest.Callback) telephony.Request {
	voice, _ := providertest.URLs(telnyx.Name, "")
	p := callPayload(c, "incoming", "")
	p["state"] = "parked"
	return f.webhook(voice, "call.initiated", p, time.Now())
}

// AnsweredRequest is call.answered of a dialled call, echoing the dial's client_state.
func (f *fakeTelnyx) AnsweredRequest(c providertest.Callback) telephony.Request {
	voice, _ := providertest.URLs(telnyx.Name, c.CallID)
	p := callPayload(c, "outgoing", state(c.CallID, time.Time{}, false))
	p["state"] = "answered"
	return f.webhook(voice, "call.answered", p, time.Now())
}

// Forgeries are requests that must not verify. Telnyx signs "timestamp|body" only, not the URL.
func (f *fakeTelnyx) Forgeries(c providertest.Callback) []providertest.Forgery {
	genuine := func(at time.Time) telephony.Request {
		r, _ := f.statusWebhook(c, at)
		return r
	}
	nowT := time.Now()

	tamperedBody := genuine(nowT)
	tamperedBody.Body = []byte(strings.Replace(string(tamperedBody.Body), "normal_clearing", "user_busy", 1))

	tamperedTS := genuine(nowT)
	tamperedTS.Header.Set(telnyx.HeaderTimestamp, strconv.FormatInt(nowT.Unix()+1, 10))

	badSig := genuine(nowT)
	badSig.Header.Set(telnyx.HeaderSignature, base64.StdEncoding.EncodeToString(make([]byte, ed25519.SignatureSize)))

	notBase64 := genuine(nowT)
	notBase64.Header.Set(telnyx.HeaderSignature, "not a signature")

	_, otherPriv, _ := ed25519.GenerateKey(rand.Reader)
	otherKey := genuine(nowT)
	otherKey.Header.Set(telnyx.HeaderSignature, base64.StdEncoding.EncodeToString(
		ed25519.Sign(otherPriv, []byte(otherKey.Header.Get(telnyx.HeaderTimestamp)+"|"+string(otherKey.Body)))))

	noSig := genuine(nowT)
	noSig.Header.Del(telnyx.HeaderSignature)
	noTS := genuine(nowT)
	noTS.Header.Del(telnyx.HeaderTimestamp)

	return []providertest.Forgery{
		{Name: "tampered body", Request: tamperedBody},
		{Name: "tampered timestamp", Request: tamperedTS},
		{Name: "bad signature", Request: badSig},
		{Name: "signature not base64", Request: notBase64},
		{Name: "signed with another key", Request: otherKey},
		{Name: "stale timestamp", Request: genuine(nowT.Add(-6 * time.Minute))},
		{Name: "future timestamp", Request: genuine(nowT.Add(6 * time.Minute))},
		{Name: "no signature header", Request: noSig},
		{Name: "no timestamp header", Request: noTS},
	}
}

// Outcome reports what the commands received since the previous call make the caller experience.
// Telnyx answers with commands, not markup: the response must be an empty 2xx. A greeting spoken
// with an end marker ends the call only if the adapter hangs up when Telnyx reports
// call.speak.ended, so Outcome plays that webhook back to a fresh adapter and watches for the
// hang-up command.
func (f *fakeTelnyx) Outcome(t *testing.T, resp telephony.Response) providertest.Outcome {
	t.Helper()
	if len(resp.Body) != 0 {
		t.Errorf("Telnyx is driven by commands: response body %q, want none", resp.Body)
	}
	var out providertest.Outcome
	cmds := f.newCommands()
	var endingSpeak *fakeCommand
	for i, c := range cmds {
		if !c.Accepted {
			t.Errorf("fake refused command %s: %v", c.Action, c.Body)
			continue
		}
		switch c.Action {
		case "speak":
			out.Spoken = append(out.Spoken, c.Body["payload"].(string))
			if cs, _ := c.Body["client_state"].(string); cs != "" {
				raw, _ := base64.StdEncoding.DecodeString(cs)
				if strings.HasSuffix(string(raw), ";end") {
					endingSpeak = &cmds[i]
				}
			}
		case "streaming_start":
			out.StreamURL, _ = c.Body["stream_url"].(string)
		case "answer":
			if u, _ := c.Body["stream_url"].(string); u != "" {
				out.StreamURL = u
			}
		case "hangup", "reject":
			out.Ends = true
		}
	}
	if endingSpeak != nil && !out.Ends {
		p, err := telnyx.New(f.Config())
		if err != nil {
			t.Fatal(err)
		}
		cb := providertest.Callback{ProviderCallID: endingSpeak.CallControlID, From: providertest.From, To: providertest.To}
		payload := callPayload(cb, "outgoing", endingSpeak.Body["client_state"].(string))
		payload["status"] = "completed"
		voice, _ := providertest.URLs(telnyx.Name, "")
		ev, err := p.Parse(f.webhook(voice, "call.speak.ended", payload, time.Now()))
		if err != nil {
			t.Fatalf("Parse call.speak.ended: %v", err)
		}
		if ev.Kind == telephony.Answered {
			if _, err := p.Answer(t.Context(), ev, telephony.Answer{CallID: ev.CallID}); err != nil {
				t.Fatalf("Answer call.speak.ended: %v", err)
			}
		}
		for _, c := range f.newCommands() {
			if c.Accepted && (c.Action == "hangup" || c.Action == "reject") && c.CallControlID == endingSpeak.CallControlID {
				out.Ends = true
			}
		}
	}
	return out
}

func (f *fakeTelnyx) newCommands() []fakeCommand {
	f.mu.Lock()
	defer f.mu.Unlock()
	cmds := append([]fakeCommand(nil), f.commands[f.seen:]...)
	f.seen = len(f.commands)
	return cmds
}

func (f *fakeTelnyx) dialsSeen() []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]map[string]any(nil), f.dials...)
}

func (f *fakeTelnyx) commandsSeen() []fakeCommand {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeCommand(nil), f.commands...)
}

// placedCall decodes a dial request back into Parley terms.
func placedCall(id string, body map[string]any) providertest.PlacedCall {
	pc := providertest.PlacedCall{ProviderCallID: id}
	pc.From, _ = body["from"].(string)
	pc.To, _ = body["to"].(string)
	pc.AnswerURL, _ = body["webhook_url"].(string)
	if cs, ok := body["client_state"].(string); ok {
		raw, _ := base64.StdEncoding.DecodeString(cs)
		pc.CallID, _, _ = strings.Cut(string(raw), ";")
	}
	if v, ok := body["timeout_secs"].(float64); ok {
		pc.RingTimeout = time.Duration(v) * time.Second
	}
	if v, ok := body["time_limit_secs"].(float64); ok {
		pc.TimeLimit = time.Duration(v) * time.Second
	}
	amd, _ := body["answering_machine_detection"].(string)
	pc.MachineDetection = amd != "" && amd != "disabled"
	return pc
}

func writeErr(w http.ResponseWriter, status int, code, title, detail string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]any{{"code": code, "title": title, "detail": detail}}})
}

func (f *fakeTelnyx) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+f.apiKey {
		writeErr(w, http.StatusUnauthorized, "10009", "Authentication failed", "The required authentication headers were either invalid or not included in the request.")
		return
	}
	if fail := f.TakeFailure(w); fail != 0 {
		switch {
		case fail == http.StatusUnauthorized:
			writeErr(w, fail, "10009", "Authentication failed", "The required authentication headers were either invalid or not included in the request.")
		case fail == http.StatusTooManyRequests:
			writeErr(w, fail, "10011", "Too many requests", "You have exceeded the maximum number of allowed requests.")
		case fail >= 500:
			writeErr(w, fail, "10007", "Unexpected error", "An unexpected error occured.")
		default:
			writeErr(w, fail, "10015", "Bad Request", "The request failed because it was not well-formed.")
		}
		return
	}
	path := strings.TrimPrefix(r.URL.Path, "/v2")
	switch {
	case r.Method == http.MethodGet && strings.HasPrefix(path, "/call_control_applications/"):
		if strings.TrimPrefix(path, "/call_control_applications/") != f.connID {
			writeErr(w, http.StatusNotFound, "10005", "Resource not found", "The requested resource or URL could not be found.")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"data":{"id":%q,"record_type":"call_control_application","application_name":"parley","active":true}}`, f.connID)
	case r.Method == http.MethodPost && path == "/calls":
		body, ok := f.jsonBody(w, r)
		if !ok {
			return
		}
		for _, k := range []string{"connection_id", "to", "from"} {
			if s, _ := body[k].(string); s == "" {
				writeErr(w, http.StatusUnprocessableEntity, "10004", "Missing required parameter", "The '"+k+"' parameter is required.")
				return
			}
		}
		for _, k := range []string{"to", "from"} {
			if !strings.HasPrefix(body[k].(string), "+") {
				writeErr(w, http.StatusUnprocessableEntity, "10016", "Phone number must be in +E.164 format", "The '"+k+"' parameter must be in +E.164 format.")
				return
			}
		}
		if body["connection_id"] != f.connID {
			writeErr(w, http.StatusUnprocessableEntity, "10017", "Associated resource does not exist", "connection_id does not exist")
			return
		}
		if cs, ok := body["client_state"].(string); ok {
			if _, err := base64.StdEncoding.DecodeString(cs); err != nil {
				writeErr(w, http.StatusUnprocessableEntity, "90053", "Invalid client_state", "client_state must be base64")
				return
			}
		}
		f.mu.Lock()
		f.n++
		id := fmt.Sprintf("v3:fake-call-control-%d", f.n)
		f.dials = append(f.dials, body)
		f.mu.Unlock()
		f.AddPlaced(placedCall(id, body))
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"data":{"call_control_id":%q,"call_leg_id":"leg-%d","call_session_id":"session-%d","is_alive":false,"record_type":"call"}}`, id, f.n, f.n)
	case r.Method == http.MethodPost && strings.HasPrefix(path, "/calls/") && strings.Contains(path, "/actions/"):
		rest := strings.TrimPrefix(path, "/calls/")
		id, action, _ := strings.Cut(rest, "/actions/")
		body, ok := f.jsonBody(w, r)
		if !ok {
			return
		}
		f.mu.Lock()
		ended := f.ended[id]
		f.commands = append(f.commands, fakeCommand{CallControlID: id, Action: action, Body: body})
		idx := len(f.commands) - 1
		f.mu.Unlock()
		if ended {
			writeErr(w, http.StatusUnprocessableEntity, "90018", "Call has already ended", "This call is no longer active and can't receive commands.")
			return
		}
		switch action {
		case "speak":
			if s, _ := body["payload"].(string); s == "" {
				writeErr(w, http.StatusUnprocessableEntity, "10004", "Missing required parameter", "The 'payload' parameter is required.")
				return
			}
			if s, _ := body["voice"].(string); s == "" {
				writeErr(w, http.StatusUnprocessableEntity, "10004", "Missing required parameter", "The 'voice' parameter is required.")
				return
			}
		case "reject":
			if s, _ := body["cause"].(string); s != "CALL_REJECTED" && s != "USER_BUSY" {
				writeErr(w, http.StatusUnprocessableEntity, "10015", "Bad Request", "cause must be CALL_REJECTED or USER_BUSY")
				return
			}
		case "answer", "hangup", "streaming_start":
		default:
			writeErr(w, http.StatusNotFound, "10005", "Resource not found", "unknown action")
			return
		}
		f.mu.Lock()
		f.commands[idx].Accepted = true
		if action == "hangup" || action == "reject" {
			f.ended[id] = true
		}
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"data":{"result":"ok"}}`)
	default:
		writeErr(w, http.StatusNotFound, "10005", "Resource not found", "The requested resource or URL could not be found.")
	}
}

func (f *fakeTelnyx) jsonBody(w http.ResponseWriter, r *http.Request) (map[string]any, bool) {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		writeErr(w, http.StatusUnsupportedMediaType, "10014", "Unsupported Media Type", "Content-Type must be application/json")
		return nil, false
	}
	raw, _ := io.ReadAll(r.Body)
	body := map[string]any{}
	if err := json.Unmarshal(raw, &body); err != nil {
		writeErr(w, http.StatusBadRequest, "10023", "Invalid JSON", "The supplied JSON is invalid.")
		return nil, false
	}
	return body, true
}

// webhook builds a webhook as Telnyx sends it to url, signed with the fake's key at time at.
func (f *fakeTelnyx) webhook(url, eventType string, payload map[string]any, at time.Time) telephony.Request {
	body, err := json.Marshal(map[string]any{"data": map[string]any{
		"record_type": "event",
		"event_type":  eventType,
		"id":          fmt.Sprintf("evt-%d", at.UnixNano()),
		"occurred_at": at.UTC().Format(time.RFC3339Nano),
		"payload":     payload,
	}, "meta": map[string]any{"attempt": 1, "delivered_to": url}})
	if err != nil {
		f.t.Fatal(err)
	}
	ts := strconv.FormatInt(at.Unix(), 10)
	sig := ed25519.Sign(f.priv, []byte(ts+"|"+string(body)))
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Telnyx-Signature-Ed25519", base64.StdEncoding.EncodeToString(sig))
	h.Set("Telnyx-Timestamp", ts)
	return telephony.Request{URL: url, Method: http.MethodPost, Header: h, Body: body}
}

func clientState(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

var _ providertest.Fake = (*fakeTelnyx)(nil)
