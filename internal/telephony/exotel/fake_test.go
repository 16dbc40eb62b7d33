package exotel_test

import (
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
	"github.com/parleyhq/parley/internal/telephony/exotel"
	"github.com/parleyhq/parley/internal/telephony/providertest"
)

const (
	fakeSid      = "parleytest1"
	fakeAPIKey   = "2f6c1a0b7e3d4c5b8a9f0e1d2c3b4a59"
	fakeAPIToken = "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d"
	fakeAppID    = "513340"
	fakeToken    = "cbt_7Q2m9X4kLpZr8Vt3Nw6Yh1Jd"
	fakeBadToken = "cbt_other_credential_token0"
	fakeExoPhone = "+914433112233"
)

// fakeExotel is a local Exotel Voice v1 API: it checks each request as Exotel documents it (path
// under /v1/Accounts/{sid}, HTTP Basic api_key:api_token, form-encoded body, required parameters
// and limits), answers as Exotel does ({"Call": {…}}, {"RestException": {…}} errors), records what
// it accepted, and builds the requests Exotel's applets and StatusCallback send (unsigned: only
// the callback token in the URL vouches for them).
type fakeExotel struct {
	providertest.Recorder // HungUp stays empty: Exotel has no hang-up API
	t                     testing.TB
	srv                   *httptest.Server

	mu    sync.Mutex
	forms []url.Values
	n     int
}

func newFake(t testing.TB) *fakeExotel {
	t.Helper()
	f := &fakeExotel{t: t}
	f.srv = providertest.NewServer(t, f.serve)
	return f
}

func restErr(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"RestException": map[string]any{"Status": status, "Message": msg, "Code": code}})
}

var flowURL = regexp.MustCompile(`^http://my\.exotel\.com/` + fakeSid + `/exoml/start_voice/[0-9]+$`)

func (f *fakeExotel) serve(w http.ResponseWriter, r *http.Request) {
	if user, pass, ok := r.BasicAuth(); !ok || user != fakeAPIKey || pass != fakeAPIToken {
		restErr(w, http.StatusUnauthorized, "UNAUTHORIZED", "Authentication failed. Invalid API Key or Token.")
		return
	}
	if fail := f.TakeFailure(w); fail != 0 {
		if w.Header().Get("Retry-After") != "" {
			w.Header().Set("X-RateLimit-Limit", "200")
			w.Header().Set("X-RateLimit-Remaining", "0")
		}
		switch {
		case fail == http.StatusUnauthorized:
			restErr(w, fail, "UNAUTHORIZED", "Authentication failed. Invalid API Key or Token.")
		case fail == http.StatusTooManyRequests:
			restErr(w, fail, "TOO_MANY_REQUESTS", "You are calling our APIs more frequently than we allow.")
		case fail >= 500:
			restErr(w, fail, "INTERNAL_ERROR", "Something went wrong on our end. Please try again.")
		default:
			restErr(w, fail, "BAD_REQUEST", "Missing or invalid parameters.")
		}
		return
	}
	prefix := "/v1/Accounts/" + fakeSid
	switch {
	case r.Method == http.MethodGet && r.URL.Path == prefix+"/Calls.json":
		if ps := r.URL.Query().Get("PageSize"); ps != "" {
			if n, err := strconv.Atoi(ps); err != nil || n < 1 || n > 100 {
				restErr(w, http.StatusBadRequest, "BAD_REQUEST", "PageSize must be between 1 and 100")
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"Metadata":{"Total":0,"PageSize":1,"FirstPageUri":null,"PrevPageUri":null,"NextPageUri":null},"Calls":[]}`)
	case r.Method == http.MethodPost && r.URL.Path == prefix+"/Calls/connect.json":
		f.connect(w, r)
	case strings.HasPrefix(r.URL.Path, "/v1/Accounts/") && !strings.HasPrefix(r.URL.Path, prefix+"/"):
		restErr(w, http.StatusForbidden, "FORBIDDEN", "Your credentials are valid, but you don't have access to the requested resource.")
	default:
		restErr(w, http.StatusNotFound, "NOT_FOUND", "The object you're requesting doesn't exist.")
	}
}

func (f *fakeExotel) connect(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") && !strings.HasPrefix(ct, "multipart/form-data") {
		restErr(w, http.StatusBadRequest, "BAD_REQUEST", "Content-Type must be form data")
		return
	}
	raw, _ := io.ReadAll(r.Body)
	form, err := url.ParseQuery(string(raw))
	if err != nil {
		restErr(w, http.StatusBadRequest, "BAD_REQUEST", "malformed form")
		return
	}
	bad := func(msg string) { restErr(w, http.StatusBadRequest, "BAD_REQUEST", msg) }
	for _, k := range []string{"From", "CallerId"} {
		if form.Get(k) == "" {
			bad(k + " is mandatory")
			return
		}
	}
	if form.Get("To") == "" && form.Get("Url") == "" {
		bad("either To or Url is mandatory")
		return
	}
	if u := form.Get("Url"); u != "" && !flowURL.MatchString(u) {
		bad("Url must be http://my.exotel.com/{sid}/exoml/start_voice/{app_id}")
		return
	}
	if v := form.Get("TimeLimit"); v != "" {
		if n, err := strconv.Atoi(v); err != nil || n < 1 || n > 14400 {
			bad("TimeLimit must be at most 14400")
			return
		}
	}
	if v := form.Get("TimeOut"); v != "" {
		if n, err := strconv.Atoi(v); err != nil || n < 1 {
			bad("TimeOut must be a positive integer")
			return
		}
	}
	if len(form.Get("CustomField")) > 128 {
		bad("CustomField is limited to 128 characters")
		return
	}
	if ct := form.Get("StatusCallbackContentType"); ct != "" && ct != "application/json" && ct != "multipart/form-data" {
		bad("StatusCallbackContentType must be multipart/form-data or application/json")
		return
	}
	for k, v := range form {
		if strings.HasPrefix(k, "StatusCallbackEvents") && v[0] != "terminal" && v[0] != "answered" {
			bad("StatusCallbackEvents supports terminal and answered")
			return
		}
	}
	pc := providertest.PlacedCall{
		From: form.Get("CallerId"), To: form.Get("From"), CallID: form.Get("CustomField"),
		RingTimeout: seconds(form.Get("TimeOut")), TimeLimit: seconds(form.Get("TimeLimit")),
	}
	if sc := form.Get("StatusCallback"); sc != "" {
		u, err := url.Parse(sc)
		if err != nil || u.Query().Get("token") != fakeToken {
			f.t.Errorf("StatusCallback %q does not carry the callback token", sc)
		} else {
			// Back into Parley terms: the status URL Parley asked for, without the adapter's token.
			q := u.Query()
			q.Del("token")
			u.RawQuery = q.Encode()
			pc.StatusURL = u.String()
		}
	}
	f.mu.Lock()
	f.n++
	sid := fmt.Sprintf("b6cfaf5f5cef3ca0fc937749ef96%04d", f.n)
	pc.ProviderCallID = sid
	f.forms = append(f.forms, form)
	f.mu.Unlock()
	f.AddPlaced(pc)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"Call": map[string]any{
		"Sid": sid, "ParentCallSid": nil, "DateCreated": "2026-11-27 17:30:00", "DateUpdated": "2026-11-27 17:30:00",
		"AccountSid": fakeSid, "To": form.Get("To"), "From": form.Get("From"), "PhoneNumberSid": form.Get("CallerId"),
		"Status": "in-progress", "StartTime": "2026-11-27 17:30:00", "EndTime": nil, "Duration": nil, "Price": nil,
		"Direction": "outbound-api", "AnsweredBy": nil, "ForwardedFrom": nil, "CallerName": nil,
		"Uri": "/v1/Accounts/" + fakeSid + "/Calls/" + sid + ".json", "RecordingUrl": nil,
	}})
}

func seconds(v string) time.Duration {
	if v == "" {
		return 0
	}
	n, _ := strconv.Atoi(v)
	return time.Duration(n) * time.Second
}

// --- providertest.Fake ---

func (f *fakeExotel) Config() telephony.Config {
	return telephony.Config{
		Fields: map[string]string{
			"accountSid": fakeSid, "apiKey": fakeAPIKey, "apiToken": fakeAPIToken,
			"subdomain": "api.in.exotel.com", "appId": fakeAppID, exotel.CallbackTokenField: fakeToken,
		},
		BaseURL:    f.srv.URL,
		HTTPClient: f.srv.Client(),
	}
}

func (f *fakeExotel) BadConfig() telephony.Config {
	c := f.Config()
	c.Fields = map[string]string{
		"accountSid": fakeSid, "apiKey": fakeAPIKey, "apiToken": "wrong-token",
		"subdomain": "api.in.exotel.com", "appId": fakeAppID, exotel.CallbackTokenField: fakeBadToken,
	}
	return c
}

func (f *fakeExotel) EndCall(string) {}

// statusBody is the StatusCallback body Exotel posts with StatusCallbackContentType
// application/json and StatusCallbackEvents terminal+answered.
func statusBody(c providertest.Callback) (map[string]any, bool) {
	event, status, answeredBy := "terminal", "", "Human"
	switch c.Status {
	case telephony.StatusInProgress:
		event, status = "answered", "in-progress"
	case telephony.StatusCompleted:
		status = "completed"
	case telephony.StatusVoicemail:
		status, answeredBy = "completed", "Machine"
	case telephony.StatusBusy:
		status, answeredBy = "busy", "NA"
	case telephony.StatusNoAnswer:
		status, answeredBy = "no-answer", "NA"
	case telephony.StatusFailed:
		status, answeredBy = "failed", "NA"
	default:
		// Exotel reports no ringing and no canceled status.
		return nil, false
	}
	return map[string]any{
		"CallSid": c.ProviderCallID, "EventType": event, "Status": status,
		"DateCreated": "2026-11-27 17:30:00", "DateUpdated": "2026-11-27 17:31:00",
		"To": c.To, "From": c.From, "PhoneNumberSid": fakeExoPhone,
		"StartTime": "2026-11-27 17:30:05", "EndTime": "2026-11-27 17:31:00",
		"ConversationDuration": c.DurationSeconds, "Direction": "outbound-api", "CustomField": c.CallID,
		"RecordingUrl": nil,
		"Legs":         []map[string]any{{"OnCallDuration": c.DurationSeconds + 6, "Status": status, "AnsweredBy": answeredBy}},
	}, true
}

func jsonRequest(rawURL string, body map[string]any) telephony.Request {
	b, _ := json.Marshal(body)
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	return telephony.Request{URL: rawURL, Method: http.MethodPost, Header: h, Body: b}
}

func (f *fakeExotel) StatusRequest(c providertest.Callback) (telephony.Request, bool) {
	body, ok := statusBody(c)
	if !ok {
		return telephony.Request{}, false
	}
	_, status := providertest.URLs(exotel.Name, c.CallID)
	return jsonRequest(exotel.URLWithToken(status, fakeToken), body), true
}

// appletRequest is the GET an applet (Greeting, Voicebot) makes to the voice URL configured in the
// flow: the call's details are appended to the URL's query.
func appletRequest(voiceURL string, c providertest.Callback, direction string) telephony.Request {
	q := url.Values{
		"CallSid": {c.ProviderCallID}, "From": {c.From}, "To": {c.To}, "CallFrom": {c.From}, "CallTo": {c.To},
		"Direction": {direction}, "DialWhomNumber": {""}, "Created": {"Fri, 27 Nov 2026 17:30:00"},
		"flow_id": {fakeAppID}, "tenant_id": {"12345"}, "CurrentTime": {"2026-11-27 17:30:02"},
	}
	if c.CallID != "" {
		q.Set("CustomField", c.CallID)
	}
	return telephony.Request{URL: voiceURL + "&" + q.Encode(), Method: http.MethodGet, Header: http.Header{"Exotel-Version": {"1.0"}}}
}

func staticVoiceURL(token string) string {
	voice, _ := providertest.URLs(exotel.Name, "")
	return exotel.URLWithToken(voice, token)
}

func (f *fakeExotel) InboundRequest(c providertest.Callback) telephony.Request {
	return appletRequest(staticVoiceURL(fakeToken), c, "incoming")
}

func (f *fakeExotel) AnsweredRequest(c providertest.Callback) telephony.Request {
	return appletRequest(staticVoiceURL(fakeToken), c, "outbound-api")
}

// Forgeries: Exotel signs nothing, so only the token can be wrong.
func (f *fakeExotel) Forgeries(c providertest.Callback) []providertest.Forgery {
	body, _ := statusBody(c)
	_, status := providertest.URLs(exotel.Name, c.CallID)
	with := func(u string) telephony.Request { return jsonRequest(u, body) }
	inBody := with(status)
	inBody.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	inBody.Body = []byte("CallSid=" + c.ProviderCallID + "&Status=completed&token=" + fakeToken)
	return []providertest.Forgery{
		{Name: "no token", Request: with(status)},
		{Name: "wrong token", Request: with(exotel.URLWithToken(status, "cbt_guess"))},
		{Name: "another credential's token", Request: with(exotel.URLWithToken(status, fakeBadToken))},
		{Name: "token prefix", Request: with(exotel.URLWithToken(status, fakeToken[:len(fakeToken)-1]))},
		{Name: "empty token", Request: with(status + "&token=")},
		{Name: "token twice", Request: with(exotel.URLWithToken(status, fakeToken) + "&token=cbt_guess")},
		{Name: "token in the body", Request: inBody},
	}
}

// Outcome reads an applet answer: text/plain is spoken by the Greeting applet (then the flow
// moves on: Hangup), {"url": …} is the Voicebot applet's stream.
func (f *fakeExotel) Outcome(t *testing.T, resp telephony.Response) providertest.Outcome {
	t.Helper()
	var out providertest.Outcome
	switch resp.ContentType {
	case "text/plain":
		out.Spoken = []string{string(resp.Body)}
		out.Ends = true
	case "application/json":
		var v struct {
			URL string `json:"url"`
		}
		if resp.Status == 0 || resp.Status == http.StatusOK {
			if err := json.Unmarshal(resp.Body, &v); err != nil || !strings.HasPrefix(v.URL, "ws") {
				t.Fatalf("Voicebot answer %s: want {\"url\": \"wss://…\"}", resp.Body)
			}
			out.StreamURL = v.URL
		} else {
			out.Ends = true
		}
	default:
		t.Fatalf("applet answer content type %q: Exotel takes text/plain (Greeting) or application/json (Voicebot)", resp.ContentType)
	}
	return out
}

var _ providertest.Fake = (*fakeExotel)(nil)
