package twilio_test

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/telephony"
	"github.com/parleyhq/parley/internal/telephony/providertest"
	"github.com/parleyhq/parley/internal/telephony/twilio"
)

// The fake Twilio account.
const (
	fakeAccount   = "AC0123456789abcdef0123456789abcdef"
	fakeToken     = "0123456789abcdef0123456789abcdef"
	fakeBadToken  = "ffffffffffffffffffffffffffffffff"
	fakeKeySid    = "SK0123456789abcdef0123456789abcdef"
	fakeKeySecret = "keysecret0123456789abcdefghijklm"
)

// fakeTwilio is a local stand-in for api.twilio.com: it checks each request as Twilio's Calls
// API documents it and answers as Twilio does, including its JSON errors.
type fakeTwilio struct {
	providertest.Recorder
	t   *testing.T
	srv *httptest.Server

	mu    sync.Mutex
	forms []url.Values    // the create-call forms, as received
	live  map[string]bool // CallSid → still live
}

func newFake(t *testing.T) *fakeTwilio {
	f := &fakeTwilio{t: t, live: map[string]bool{}}
	f.srv = providertest.NewServer(t, f.serve)
	return f
}

func twilioError(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"code": code, "message": msg, "more_info": fmt.Sprintf("https://www.twilio.com/docs/errors/%d", code), "status": status,
	})
}

var (
	accountPath = regexp.MustCompile(`^/2010-04-01/Accounts/([^/]+)\.json$`)
	callsPath   = regexp.MustCompile(`^/2010-04-01/Accounts/([^/]+)/Calls\.json$`)
	callPath    = regexp.MustCompile(`^/2010-04-01/Accounts/([^/]+)/Calls/([^/]+)\.json$`)
	e164        = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
)

func (f *fakeTwilio) serve(w http.ResponseWriter, r *http.Request) {
	user, pass, ok := r.BasicAuth()
	if !ok || !((user == fakeAccount && pass == fakeToken) || (user == fakeKeySid && pass == fakeKeySecret)) {
		twilioError(w, http.StatusUnauthorized, 20003, "Authenticate")
		return
	}
	if fail := f.TakeFailure(w); fail != 0 {
		switch {
		case fail == http.StatusTooManyRequests:
			twilioError(w, fail, 20429, "Too Many Requests")
		case fail == http.StatusUnauthorized:
			twilioError(w, fail, 20003, "Authenticate")
		case fail >= 500:
			twilioError(w, fail, 20500, "An internal server error has occurred")
		default:
			twilioError(w, fail, 21205, "Url is not a valid URL")
		}
		return
	}
	if m := accountPath.FindStringSubmatch(r.URL.Path); m != nil && r.Method == http.MethodGet {
		if m[1] != fakeAccount {
			twilioError(w, http.StatusNotFound, 20404, "The requested resource was not found")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"sid": fakeAccount, "friendly_name": "Fake", "status": "active", "type": "Full"})
		return
	}
	if m := callsPath.FindStringSubmatch(r.URL.Path); m != nil && r.Method == http.MethodPost && m[1] == fakeAccount {
		f.create(w, r)
		return
	}
	if m := callPath.FindStringSubmatch(r.URL.Path); m != nil && r.Method == http.MethodPost && m[1] == fakeAccount {
		f.update(w, r, m[2])
		return
	}
	twilioError(w, http.StatusNotFound, 20404, "The requested resource "+r.URL.Path+" was not found")
}

func (f *fakeTwilio) form(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		f.t.Errorf("twilio fake: Content-Type %q, want application/x-www-form-urlencoded", ct)
		twilioError(w, http.StatusBadRequest, 20001, "Bad content type")
		return nil, false
	}
	body, _ := io.ReadAll(r.Body)
	form, err := url.ParseQuery(string(body))
	if err != nil {
		twilioError(w, http.StatusBadRequest, 20001, "Malformed body")
		return nil, false
	}
	return form, true
}

// create checks a create-call request as https://www.twilio.com/docs/voice/api/call-resource
// documents it.
func (f *fakeTwilio) create(w http.ResponseWriter, r *http.Request) {
	form, ok := f.form(w, r)
	if !ok {
		return
	}
	bad := func(code int, msg string) {
		f.t.Errorf("twilio fake: create call: %s (form %v)", msg, form)
		twilioError(w, http.StatusBadRequest, code, msg)
	}
	to, from := form.Get("To"), form.Get("From")
	if !e164.MatchString(to) {
		bad(21211, "Invalid 'To' Phone Number")
		return
	}
	if !e164.MatchString(from) {
		bad(21212, "Invalid 'From' Phone Number")
		return
	}
	n := 0
	for _, k := range []string{"Url", "Twiml", "ApplicationSid"} {
		if form.Has(k) {
			n++
		}
	}
	if n != 1 {
		bad(21205, "exactly one of Url, Twiml or ApplicationSid is required")
		return
	}
	answer, err := url.Parse(form.Get("Url"))
	if err != nil || (answer.Scheme != "https" && answer.Scheme != "http") || answer.Host == "" {
		bad(21205, "Url is not a valid URL")
		return
	}
	if m := form.Get("Method"); m != "" && m != "POST" && m != "GET" {
		bad(21207, "Method must be GET or POST")
		return
	}
	pc := providertest.PlacedCall{
		CallID: answer.Query().Get("callId"), From: from, To: to, AnswerURL: form.Get("Url"),
		StatusURL: form.Get("StatusCallback"), MachineDetection: form.Get("MachineDetection") != "",
	}
	if form.Has("StatusCallbackEvent") {
		if pc.StatusURL == "" {
			bad(21609, "StatusCallbackEvent without StatusCallback")
			return
		}
		for _, ev := range form["StatusCallbackEvent"] {
			if !strings.Contains(" initiated ringing answered completed ", " "+ev+" ") {
				bad(21626, "Invalid StatusCallbackEvent "+ev)
				return
			}
		}
	}
	if m := form.Get("StatusCallbackMethod"); m != "" && m != "POST" && m != "GET" {
		bad(21609, "StatusCallbackMethod must be GET or POST")
		return
	}
	if md := form.Get("MachineDetection"); md != "" && md != "Enable" && md != "DetectMessageEnd" {
		bad(21626, "MachineDetection must be Enable or DetectMessageEnd")
		return
	}
	for _, k := range []string{"Timeout", "TimeLimit"} {
		if !form.Has(k) {
			continue
		}
		v, err := strconv.Atoi(form.Get(k))
		if err != nil || v < 1 || (k == "Timeout" && v > 600) {
			bad(21201, "invalid "+k)
			return
		}
		if k == "Timeout" {
			pc.RingTimeout = time.Duration(v) * time.Second
		} else {
			pc.TimeLimit = time.Duration(v) * time.Second
		}
	}
	sid := "CA" + randomHex(16)
	pc.ProviderCallID = sid
	f.AddPlaced(pc)
	f.mu.Lock()
	f.forms = append(f.forms, form)
	f.live[sid] = true
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"sid": sid, "account_sid": fakeAccount, "to": to, "from": from, "status": "queued",
		"direction": "outbound-api", "api_version": "2010-04-01",
		"uri": "/2010-04-01/Accounts/" + fakeAccount + "/Calls/" + sid + ".json",
	})
}

// update handles POST Calls/{sid}.json with Status=completed|canceled.
func (f *fakeTwilio) update(w http.ResponseWriter, r *http.Request, sid string) {
	form, ok := f.form(w, r)
	if !ok {
		return
	}
	if st := form.Get("Status"); st != "completed" && st != "canceled" {
		f.t.Errorf("twilio fake: update call: Status %q, want completed or canceled", st)
		twilioError(w, http.StatusBadRequest, 21218, "Invalid Status")
		return
	}
	f.mu.Lock()
	live, known := f.live[sid]
	if known && live {
		f.live[sid] = false
		f.AddHungUp(sid)
	}
	f.mu.Unlock()
	switch {
	case !known:
		twilioError(w, http.StatusNotFound, 20404, "The requested resource was not found")
	case !live:
		twilioError(w, http.StatusBadRequest, 21220, "Call is not in-progress. Cannot redirect.")
	default:
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"sid": sid, "status": "completed"})
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// --- providertest.Fake ---

func (f *fakeTwilio) Config() telephony.Config {
	return telephony.Config{Fields: map[string]string{"accountSid": fakeAccount, "authToken": fakeToken}, BaseURL: f.srv.URL}
}

func (f *fakeTwilio) BadConfig() telephony.Config {
	return telephony.Config{Fields: map[string]string{"accountSid": fakeAccount, "authToken": fakeBadToken}, BaseURL: f.srv.URL}
}

func (f *fakeTwilio) EndCall(sid string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.live[sid] = false
}

// sign builds a request as Twilio sends it: form-encoded POST, X-Twilio-Signature computed here
// independently of the adapter (URL, then the sorted parameters as name+value).
func sign(token, rawURL string, form url.Values) telephony.Request {
	mac := hmac.New(sha1.New, []byte(token))
	mac.Write([]byte(rawURL + providertest.SortedParams(form)))
	h := http.Header{}
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	h.Set("X-Twilio-Signature", base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	h.Set("I-Twilio-Idempotency-Token", randomHex(8))
	return telephony.Request{URL: rawURL, Method: http.MethodPost, Header: h, Body: []byte(form.Encode())}
}

func callForm(c providertest.Callback, status, direction string) url.Values {
	return url.Values{
		"AccountSid": {fakeAccount}, "ApiVersion": {"2010-04-01"}, "CallSid": {c.ProviderCallID},
		"CallStatus": {status}, "Direction": {direction}, "From": {c.From}, "To": {c.To},
		"Caller": {c.From}, "Called": {c.To},
	}
}

var twilioStatus = map[telephony.CallStatus]string{
	telephony.StatusRinging: "ringing", telephony.StatusInProgress: "in-progress",
	telephony.StatusCompleted: "completed", telephony.StatusBusy: "busy",
	telephony.StatusNoAnswer: "no-answer", telephony.StatusFailed: "failed",
	telephony.StatusCanceled: "canceled", telephony.StatusVoicemail: "completed",
}

func (f *fakeTwilio) statusForm(c providertest.Callback) (url.Values, bool) {
	st, ok := twilioStatus[c.Status]
	if !ok {
		return nil, false
	}
	form := callForm(c, st, "outbound-api")
	form.Set("CallbackSource", "call-progress-events")
	form.Set("SequenceNumber", strconv.Itoa(c.Sequence))
	form.Set("Timestamp", time.Now().UTC().Format(time.RFC1123Z))
	if st == "completed" {
		form.Set("CallDuration", strconv.Itoa(c.DurationSeconds))
		form.Set("Duration", strconv.Itoa((c.DurationSeconds+59)/60))
	}
	if c.Status == telephony.StatusVoicemail {
		form.Set("AnsweredBy", "machine_end_beep")
	}
	if st == "failed" {
		form.Set("SipResponseCode", "404")
	}
	return form, true
}

func (f *fakeTwilio) StatusRequest(c providertest.Callback) (telephony.Request, bool) {
	form, ok := f.statusForm(c)
	if !ok {
		return telephony.Request{}, false
	}
	_, status := providertest.URLs(twilio.Name, c.CallID)
	return sign(fakeToken, status, form), true
}

func (f *fakeTwilio) InboundRequest(c providertest.Callback) telephony.Request {
	voice, _ := providertest.URLs(twilio.Name, "")
	form := callForm(c, "ringing", "inbound")
	form.Set("FromCountry", "US")
	return sign(fakeToken, voice, form)
}

func (f *fakeTwilio) AnsweredRequest(c providertest.Callback) telephony.Request {
	voice, _ := providertest.URLs(twilio.Name, c.CallID)
	form := callForm(c, "in-progress", "outbound-api")
	form.Set("AnsweredBy", "human")
	return sign(fakeToken, voice, form)
}

func (f *fakeTwilio) Forgeries(c providertest.Callback) []providertest.Forgery {
	form, _ := f.statusForm(c)
	_, status := providertest.URLs(twilio.Name, c.CallID)
	genuine := func() telephony.Request { return sign(fakeToken, status, form) }

	badSig := genuine()
	badSig.Header.Set("X-Twilio-Signature", base64.StdEncoding.EncodeToString([]byte("not the signature!!!")))

	tamperedBody := genuine()
	tamperedBody.Body = []byte(providertest.WithParam(form, "CallDuration", "4200").Encode())

	addedParam := genuine()
	addedParam.Body = append(addedParam.Body, []byte("&AnsweredBy=machine_start")...)

	tamperedURL := genuine()
	tamperedURL.URL = strings.Replace(status, "callId=", "callId=call_other", 1)

	otherHost := genuine()
	otherHost.URL = strings.Replace(status, "parley.example.com", "evil.example.com", 1)

	noHeader := genuine()
	noHeader.Header.Del("X-Twilio-Signature")

	otherToken := sign(fakeBadToken, status, form)

	urlOnly := genuine()
	urlOnly.Header.Set("X-Twilio-Signature", sign(fakeToken, status, nil).Header.Get("X-Twilio-Signature"))

	return []providertest.Forgery{
		{Name: "bad signature", Request: badSig},
		{Name: "tampered body", Request: tamperedBody},
		{Name: "added parameter", Request: addedParam},
		{Name: "tampered URL query", Request: tamperedURL},
		{Name: "other host", Request: otherHost},
		{Name: "no signature header", Request: noHeader},
		{Name: "signed with another token", Request: otherToken},
		{Name: "signature over the URL only", Request: urlOnly},
	}
}

// Outcome reads the TwiML a caller would experience.
func (f *fakeTwilio) Outcome(t *testing.T, resp telephony.Response) providertest.Outcome {
	t.Helper()
	if !strings.HasPrefix(resp.ContentType, "text/xml") && !strings.HasPrefix(resp.ContentType, "application/xml") {
		t.Errorf("TwiML content type %q", resp.ContentType)
	}
	var out providertest.Outcome
	connect := false
	for _, v := range providertest.Verbs(t, resp.Body) {
		if !strings.Contains(" Say Connect Hangup Reject Pause Play ", " "+v.Name+" ") {
			t.Errorf("unexpected TwiML verb <%s>", v.Name)
		}
		switch v.Name {
		case "Say":
			out.Spoken = append(out.Spoken, v.Text)
		case "Hangup", "Reject":
			out.Ends = true
		case "Connect":
			connect = true
			for _, c := range v.Children {
				if c.Name == "Stream" {
					out.StreamURL = c.Attrs["url"]
				}
			}
		}
	}
	if !connect {
		out.Ends = true // TwiML without <Connect> ends the call when the document is done
	}
	return out
}
