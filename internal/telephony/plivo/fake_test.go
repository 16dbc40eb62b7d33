package plivo_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/telephony"
	"github.com/parleyhq/parley/internal/telephony/plivo"
	"github.com/parleyhq/parley/internal/telephony/providertest"
)

// The fake Plivo account.
const (
	fakeAuthID   = "MAXXXXXXXXXXXXXXXXXX"
	fakeToken    = "ZmFrZS1wbGl2by1hdXRoLXRva2VuLTAxMjM0NQ"
	fakeBadToken = "YW5vdGhlci1hY2NvdW50cy10b2tlbi05OTk5OQ"
)

// fakePlivo is a local stand-in for api.plivo.com's Voice API: it checks each request as Plivo
// documents it (https://www.plivo.com/docs/voice/api/call/) and answers as Plivo does.
type fakePlivo struct {
	providertest.Recorder
	t   *testing.T
	srv *httptest.Server

	mu     sync.Mutex
	bodies []map[string]any  // create-call bodies as received
	state  map[string]string // request_uuid → queued | live | ended
}

func newFake(t *testing.T) *fakePlivo {
	f := &fakePlivo{t: t, state: map[string]string{}}
	f.srv = providertest.NewServer(t, f.serve)
	return f
}

func plivoError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"api_id": newUUID(), "error": msg})
}

var (
	accountPath = regexp.MustCompile(`^/v1/Account/([^/]+)/$`)
	callsPath   = regexp.MustCompile(`^/v1/Account/([^/]+)/Call/$`)
	callPath    = regexp.MustCompile(`^/v1/Account/([^/]+)/(Call|Request)/([^/]+)/$`)
	digitsOnly  = regexp.MustCompile(`^[1-9][0-9]{6,14}$`)
)

func (f *fakePlivo) serve(w http.ResponseWriter, r *http.Request) {
	id, token, ok := r.BasicAuth()
	if !ok || id != fakeAuthID || token != fakeToken {
		plivoError(w, http.StatusUnauthorized, "Authentication credentials invalid")
		return
	}
	if fail := f.TakeFailure(w); fail != 0 {
		switch {
		case fail == http.StatusTooManyRequests:
			plivoError(w, fail, "Too many requests")
		case fail == http.StatusUnauthorized:
			plivoError(w, fail, "Authentication credentials invalid")
		case fail >= 500:
			plivoError(w, fail, "Internal server error")
		default:
			plivoError(w, fail, "invalid to number format")
		}
		return
	}
	switch m := callPath.FindStringSubmatch(r.URL.Path); {
	case accountPath.MatchString(r.URL.Path) && r.Method == http.MethodGet:
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"account_type": "standard", "auth_id": fakeAuthID, "cash_credits": "12.34", "name": "Fake"})
	case callsPath.MatchString(r.URL.Path) && r.Method == http.MethodPost:
		f.create(w, r)
	case m != nil && r.Method == http.MethodDelete:
		f.delete(w, m[2], m[3])
	default:
		plivoError(w, http.StatusNotFound, "not found")
	}
}

// The create-call parameters Plivo documents.
var knownParams = map[string]string{
	"from": "s", "to": "s", "answer_url": "u", "answer_method": "m", "ring_url": "u", "ring_method": "m",
	"hangup_url": "u", "hangup_method": "m", "fallback_url": "u", "fallback_method": "m", "caller_name": "s",
	"send_digits": "s", "send_on_preanswer": "b", "time_limit": "n", "hangup_on_ring": "n",
	"machine_detection": "s", "machine_detection_time": "n", "machine_detection_url": "u",
	"machine_detection_method": "m", "sip_headers": "s", "ring_timeout": "n",
}

func (f *fakePlivo) create(w http.ResponseWriter, r *http.Request) {
	bad := func(msg string, body any) {
		f.t.Errorf("plivo fake: make call: %s (%v)", msg, body)
		plivoError(w, http.StatusBadRequest, msg)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		bad("Content-Type "+ct+", want application/json", nil)
		return
	}
	raw, _ := io.ReadAll(r.Body)
	var body map[string]any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&body); err != nil {
		bad("body is not a JSON object", string(raw))
		return
	}
	for k, v := range body {
		kind, ok := knownParams[k]
		if !ok {
			bad("unknown parameter "+k, body)
			return
		}
		switch kind {
		case "s", "u", "m":
			s, ok := v.(string)
			if !ok {
				bad(k+" must be a string", body)
				return
			}
			if kind == "m" && s != "GET" && s != "POST" {
				bad(k+" must be GET or POST", body)
				return
			}
			if u, err := url.Parse(s); kind == "u" && (err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http")) {
				bad(k+" is not a valid URL", body)
				return
			}
		case "n":
			n, ok := v.(json.Number)
			if i, err := n.Int64(); !ok || err != nil || i <= 0 {
				bad(k+" must be a positive integer", body)
				return
			}
		}
	}
	str := func(k string) string { s, _ := body[k].(string); return s }
	num := func(k string) time.Duration {
		n, _ := body[k].(json.Number)
		i, _ := n.Int64()
		return time.Duration(i) * time.Second
	}
	if !digitsOnly.MatchString(str("from")) || !digitsOnly.MatchString(str("to")) {
		bad("from and to must be the country code followed by the number", body)
		return
	}
	if str("answer_url") == "" {
		bad("answer_url is required", body)
		return
	}
	if md := str("machine_detection"); md != "" && md != "true" && md != "hangup" {
		bad("machine_detection must be true or hangup", body)
		return
	}
	answer, _ := url.Parse(str("answer_url"))
	pc := providertest.PlacedCall{
		CallID: answer.Query().Get("callId"), From: "+" + str("from"), To: "+" + str("to"),
		AnswerURL: str("answer_url"), StatusURL: str("hangup_url"),
		RingTimeout: num("ring_timeout"), TimeLimit: num("time_limit"), MachineDetection: str("machine_detection") != "",
	}
	id := newUUID()
	pc.ProviderCallID = id
	f.AddPlaced(pc)
	f.mu.Lock()
	f.bodies = append(f.bodies, body)
	f.state[id] = "queued"
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(map[string]any{"api_id": newUUID(), "message": "call fired", "request_uuid": id})
}

// delete is DELETE Call/{uuid}/ (a live call) or Request/{uuid}/ (a queued outbound request).
func (f *fakePlivo) delete(w http.ResponseWriter, kind, id string) {
	f.mu.Lock()
	st := f.state[id]
	ok := (kind == "Call" && st == "live") || (kind == "Request" && st == "queued")
	if ok {
		f.state[id] = "ended"
		f.AddHungUp(id)
	}
	f.mu.Unlock()
	if !ok {
		plivoError(w, http.StatusNotFound, "not found")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (f *fakePlivo) answer(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.state[id] = "live"
}

func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// --- providertest.Fake ---

func (f *fakePlivo) Config() telephony.Config {
	return telephony.Config{Fields: map[string]string{"authId": fakeAuthID, "authToken": fakeToken}, BaseURL: f.srv.URL}
}

func (f *fakePlivo) BadConfig() telephony.Config {
	return telephony.Config{Fields: map[string]string{"authId": fakeAuthID, "authToken": fakeBadToken}, BaseURL: f.srv.URL}
}

func (f *fakePlivo) EndCall(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.state[id] = "ended"
}

// sign builds a POST as Plivo sends it, signed with a fresh nonce.
func sign(token, rawURL string, form url.Values) telephony.Request {
	return signNonce(token, rawURL, form, strconv.FormatInt(time.Now().UnixNano(), 10)[:16])
}

// signNonce computes the V3 signature here, independently of the adapter: URL without query +
// "?" + sorted query k=v joined by & + "." + sorted params as name+value (the "." and query
// omitted when absent) + "." + nonce, HMAC-SHA256, base64.
func signNonce(token, rawURL string, form url.Values, nonce string) telephony.Request {
	u, _ := url.Parse(rawURL)
	params := providertest.SortedParams(form)
	base := u.Scheme + "://" + u.Host + u.Path
	switch {
	case u.RawQuery != "" && params != "":
		q := strings.Split(u.RawQuery, "&")
		sort.Strings(q)
		base += "?" + strings.Join(q, "&") + "." + params
	case u.RawQuery != "":
		q := strings.Split(u.RawQuery, "&")
		sort.Strings(q)
		base += "?" + strings.Join(q, "&")
	case params != "":
		base += "?" + params
	}
	h := http.Header{}
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	h.Set("X-Plivo-Signature-V3", hmacB64(token, base+"."+nonce))
	h.Set("X-Plivo-Signature-Ma-V3", "bWFpbi1hY2NvdW50LXNpZ25hdHVyZQ==") // the main account's, not ours
	h.Set("X-Plivo-Signature-V3-Nonce", nonce)
	return telephony.Request{URL: rawURL, Method: http.MethodPost, Header: h, Body: []byte(form.Encode())}
}

func hmacB64(key, msg string) string {
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(msg))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func callForm(c providertest.Callback, status, direction string) url.Values {
	return url.Values{
		"CallUUID": {c.ProviderCallID}, "CallStatus": {status}, "Direction": {direction},
		"From": {strings.TrimPrefix(c.From, "+")}, "To": {strings.TrimPrefix(c.To, "+")},
		"ALegUUID": {c.ProviderCallID}, "ALegRequestUUID": {c.ProviderCallID}, "RequestUUID": {c.ProviderCallID},
		"SessionStart": {time.Now().UTC().Format("2006-01-02 15:04:05.000000")},
	}
}

var plivoStatus = map[telephony.CallStatus]string{
	telephony.StatusRinging: "ringing", telephony.StatusInProgress: "in-progress",
	telephony.StatusCompleted: "completed", telephony.StatusBusy: "busy",
	telephony.StatusNoAnswer: "no-answer", telephony.StatusFailed: "failed",
	telephony.StatusCanceled: "cancel",
}

func (f *fakePlivo) statusForm(c providertest.Callback) (url.Values, bool) {
	if c.Status == telephony.StatusVoicemail {
		form := callForm(c, "in-progress", "outbound")
		form.Set("Event", "MachineDetection")
		form.Set("Machine", "true")
		form.Set("IfMachine", "continue")
		return form, true
	}
	st, ok := plivoStatus[c.Status]
	if !ok {
		return nil, false
	}
	form := callForm(c, st, "outbound")
	switch c.Status {
	case telephony.StatusRinging:
		form.Set("Event", "Ring")
	case telephony.StatusInProgress:
		form.Set("Event", "StartApp")
	default:
		now := time.Now().UTC()
		form.Set("Event", "Hangup")
		form.Set("Duration", strconv.Itoa(c.DurationSeconds))
		form.Set("BillDuration", strconv.Itoa((c.DurationSeconds+59)/60*60))
		form.Set("StartTime", now.Add(-time.Duration(c.DurationSeconds)*time.Second).Format("2006-01-02 15:04:05"))
		form.Set("EndTime", now.Format("2006-01-02 15:04:05"))
		form.Set("HangupSource", "Callee")
		form.Set("HangupCauseName", map[string]string{"completed": "Normal Hangup", "busy": "Busy Line",
			"no-answer": "No Answer", "failed": "Unallocated Number", "cancel": "Cancelled"}[st])
		form.Set("HangupCauseCode", "4000")
		form.Set("TotalCost", "0.00850")
	}
	return form, true
}

func (f *fakePlivo) StatusRequest(c providertest.Callback) (telephony.Request, bool) {
	form, ok := f.statusForm(c)
	if !ok {
		return telephony.Request{}, false
	}
	_, status := providertest.URLs(plivo.Name, c.CallID)
	return sign(fakeToken, status, form), true
}

func (f *fakePlivo) InboundRequest(c providertest.Callback) telephony.Request {
	voice, _ := providertest.URLs(plivo.Name, "")
	form := callForm(c, "ringing", "inbound")
	form.Del("ALegUUID")
	form.Del("ALegRequestUUID")
	form.Set("Event", "StartApp")
	return sign(fakeToken, voice, form)
}

func (f *fakePlivo) AnsweredRequest(c providertest.Callback) telephony.Request {
	voice, _ := providertest.URLs(plivo.Name, c.CallID)
	form := callForm(c, "in-progress", "outbound")
	form.Set("Event", "StartApp")
	return sign(fakeToken, voice, form)
}

func (f *fakePlivo) Forgeries(c providertest.Callback) []providertest.Forgery {
	form, _ := f.statusForm(c)
	_, status := providertest.URLs(plivo.Name, c.CallID)
	genuine := func() telephony.Request { return sign(fakeToken, status, form) }

	badSig := genuine()
	badSig.Header.Set("X-Plivo-Signature-V3", base64.StdEncoding.EncodeToString([]byte("definitely not a valid signature!")))

	tamperedBody := genuine()
	tamperedBody.Body = []byte(providertest.WithParam(form, "Duration", "4200").Encode())

	tamperedURL := genuine()
	tamperedURL.URL = strings.Replace(status, "callId=", "callId=call_other", 1)

	otherNonce := genuine()
	otherNonce.Header.Set("X-Plivo-Signature-V3-Nonce", "00000000000000000")

	noNonce := genuine()
	noNonce.Header.Del("X-Plivo-Signature-V3-Nonce")

	noSig := genuine()
	noSig.Header.Del("X-Plivo-Signature-V3")
	noSig.Header.Del("X-Plivo-Signature-Ma-V3")

	otherToken := sign(fakeBadToken, status, form)

	asGet := genuine()
	asGet.Method = http.MethodGet

	return []providertest.Forgery{
		{Name: "bad signature", Request: badSig},
		{Name: "tampered body", Request: tamperedBody},
		{Name: "tampered URL query", Request: tamperedURL},
		{Name: "other nonce", Request: otherNonce},
		{Name: "no nonce", Request: noNonce},
		{Name: "no signature headers", Request: noSig},
		{Name: "signed with another token", Request: otherToken},
		{Name: "replayed as a GET", Request: asGet},
	}
}

// Outcome reads the Plivo XML a caller would experience.
func (f *fakePlivo) Outcome(t *testing.T, resp telephony.Response) providertest.Outcome {
	t.Helper()
	if !strings.Contains(resp.ContentType, "xml") {
		t.Errorf("Plivo XML content type %q", resp.ContentType)
	}
	var out providertest.Outcome
	stream := false
	for _, v := range providertest.Verbs(t, resp.Body) {
		if !strings.Contains(" Speak Stream Hangup Wait Play ", " "+v.Name+" ") {
			t.Errorf("unexpected Plivo XML element <%s>", v.Name)
		}
		switch v.Name {
		case "Speak":
			out.Spoken = append(out.Spoken, v.Text)
		case "Hangup":
			out.Ends = true
		case "Stream":
			stream = true
			if v.Attrs["bidirectional"] != "true" || v.Attrs["keepCallAlive"] != "true" {
				t.Errorf("<Stream> attributes %v: want bidirectional and keepCallAlive", v.Attrs)
			}
			out.StreamURL += strings.TrimSpace(v.Text)
		}
	}
	if !stream {
		out.Ends = true
	}
	return out
}
