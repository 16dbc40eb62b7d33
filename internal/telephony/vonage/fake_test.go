package vonage_test

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
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

	"github.com/golang-jwt/jwt/v5"

	"github.com/parleyhq/parley/internal/telephony"
	"github.com/parleyhq/parley/internal/telephony/providertest"
	"github.com/parleyhq/parley/internal/telephony/vonage"
)

const (
	fakeAppID        = "aaaaaaaa-bbbb-cccc-dddd-0123456789ab"
	fakeSecret       = "vonage-signature-secret-0123456789abcdef"
	fakeBadSecret    = "another-signature-secret-fedcba9876543210"
	fakeAPIKey       = "abcd1234"
	fakeConversation = "CON-f972836a-550f-45fa-956c-12a2ab5b7d22"
)

var (
	keysOnce       sync.Once
	goodKey, badKy *rsa.PrivateKey
)

// keys generates the application key pairs once per test binary (RSA generation is slow).
func keys(t testing.TB) (*rsa.PrivateKey, *rsa.PrivateKey) {
	keysOnce.Do(func() {
		var err error
		if goodKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			t.Fatal(err)
		}
		if badKy, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			t.Fatal(err)
		}
	})
	return goodKey, badKy
}

func pemOf(t testing.TB, k *rsa.PrivateKey) string {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// fakeVonage is a local Vonage Voice API: it checks each request as Vonage documents it (path,
// Bearer application JWT signed RS256 with the application's private key, JSON body, required
// fields and their formats), answers as Vonage does (201 {uuid…}, 204 on modify, RFC 7807 style
// errors), records what it accepted, and signs webhooks as Vonage's signed webhooks (HS256 JWT
// with payload_hash) with the account's signature secret.
type fakeVonage struct {
	providertest.Recorder
	t   testing.TB
	srv *httptest.Server
	key *rsa.PrivateKey
	bad *rsa.PrivateKey

	mu      sync.Mutex
	bodies  []map[string]any
	live    map[string]bool
	lastJWT jwt.MapClaims
	lastTok string
	n       int
}

func newFake(t testing.TB) *fakeVonage {
	t.Helper()
	good, bad := keys(t)
	f := &fakeVonage{t: t, key: good, bad: bad, live: map[string]bool{}}
	f.srv = providertest.NewServer(t, f.serve)
	return f
}

func vonageErr(w http.ResponseWriter, status int, typ, title, detail string, extra map[string]any) {
	body := map[string]any{"type": "https://developer.nexmo.com/api-errors" + typ, "title": title, "detail": detail, "instance": "bf0ca0bf927b3b52e3cb03217e1a1ddf"}
	for k, v := range extra {
		body[k] = v
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// checkJWT verifies the application JWT as Vonage does.
func (f *fakeVonage) checkJWT(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return &f.key.PublicKey, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuedAt(), jwt.WithExpirationRequired())
	if err != nil || claims["application_id"] != fakeAppID {
		return false
	}
	if jti, _ := claims["jti"].(string); jti == "" {
		return false
	}
	f.mu.Lock()
	f.lastJWT, f.lastTok = claims, tok
	f.mu.Unlock()
	return true
}

func (f *fakeVonage) serve(w http.ResponseWriter, r *http.Request) {
	if !f.checkJWT(r) {
		vonageErr(w, http.StatusUnauthorized, "#unauthorized", "Unauthorized", "You did not provide correct credentials.", nil)
		return
	}
	if fail := f.TakeFailure(w); fail != 0 {
		switch {
		case fail == http.StatusUnauthorized:
			vonageErr(w, fail, "#unauthorized", "Unauthorized", "You did not provide correct credentials.", nil)
		case fail == http.StatusTooManyRequests:
			vonageErr(w, fail, "#throttled", "Too Many Requests", "You have exceeded the rate limit for this API.", nil)
		case fail >= 500:
			vonageErr(w, fail, "#internal-error", "Internal Error", "An internal error occurred.", nil)
		default:
			vonageErr(w, fail, "/voice#validation", "Bad Request", "The request failed due to validation errors",
				map[string]any{"invalid_parameters": []map[string]string{{"name": "to", "reason": "is invalid"}}})
		}
		return
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/v1/calls":
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"count":0,"page_size":%s,"record_index":0,"_links":{"self":{"href":"/v1/calls?page_size=1"}},"_embedded":{"calls":[]}}`,
			strconv.Quote(r.URL.Query().Get("page_size")))
	case r.Method == http.MethodPost && r.URL.Path == "/v1/calls":
		f.create(w, r)
	case r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/v1/calls/"):
		uuid := strings.TrimPrefix(r.URL.Path, "/v1/calls/")
		body, ok := f.jsonBody(w, r)
		if !ok {
			return
		}
		if body["action"] != "hangup" {
			vonageErr(w, http.StatusBadRequest, "/voice#validation", "Bad Request", "action must be one of hangup, mute, unmute, earmuff, unearmuff, transfer", nil)
			return
		}
		f.mu.Lock()
		live := f.live[uuid]
		if live {
			f.live[uuid] = false
			f.AddHungUp(uuid)
		}
		f.mu.Unlock()
		if !live {
			vonageErr(w, http.StatusNotFound, "#not-found", "Not Found", "Call "+uuid+" was not found or is no longer active", nil)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		vonageErr(w, http.StatusNotFound, "#not-found", "Not Found", "The requested resource does not exist", nil)
	}
}

func (f *fakeVonage) jsonBody(w http.ResponseWriter, r *http.Request) (map[string]any, bool) {
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		vonageErr(w, http.StatusUnsupportedMediaType, "#unsupported-media-type", "Unsupported Media Type", "Content-Type must be application/json", nil)
		return nil, false
	}
	raw, _ := io.ReadAll(r.Body)
	body := map[string]any{}
	if err := json.Unmarshal(raw, &body); err != nil {
		vonageErr(w, http.StatusBadRequest, "/voice#validation", "Bad Request", "Malformed JSON", nil)
		return nil, false
	}
	return body, true
}

var phoneDigits = regexp.MustCompile(`^[1-9][0-9]{6,14}$`)

func (f *fakeVonage) create(w http.ResponseWriter, r *http.Request) {
	body, ok := f.jsonBody(w, r)
	if !ok {
		return
	}
	invalid := func(name, reason string) {
		vonageErr(w, http.StatusBadRequest, "/voice#validation", "Bad Request", "The request failed due to validation errors",
			map[string]any{"invalid_parameters": []map[string]string{{"name": name, "reason": reason}}})
	}
	to, _ := body["to"].([]any)
	if len(to) != 1 {
		invalid("to", "must be an array of one endpoint")
		return
	}
	toEp, _ := to[0].(map[string]any)
	fromEp, _ := body["from"].(map[string]any)
	for name, ep := range map[string]map[string]any{"to": toEp, "from": fromEp} {
		num, _ := ep["number"].(string)
		if ep["type"] != "phone" || !phoneDigits.MatchString(num) {
			invalid(name, "must be a phone endpoint with an E.164 number without +")
			return
		}
	}
	answer, _ := body["answer_url"].([]any)
	if len(answer) != 1 || !strings.HasPrefix(fmt.Sprint(answer[0]), "https://") {
		if body["ncco"] == nil {
			invalid("answer_url", "an https answer_url or an ncco is required")
			return
		}
	}
	for _, k := range []string{"answer_method", "event_method"} {
		if m, ok := body[k].(string); ok && m != "GET" && m != "POST" {
			invalid(k, "must be GET or POST")
			return
		}
	}
	if v, ok := body["ringing_timer"].(float64); ok && (v < 1 || v > 120) {
		invalid("ringing_timer", "must be between 1 and 120")
		return
	}
	if v, ok := body["length_timer"].(float64); ok && (v < 1 || v > 86400) {
		invalid("length_timer", "must be between 1 and 86400")
		return
	}
	md, hasMD := body["machine_detection"].(string)
	if hasMD && md != "continue" && md != "hangup" {
		invalid("machine_detection", "must be continue or hangup")
		return
	}
	f.mu.Lock()
	f.n++
	uuid := fmt.Sprintf("63f61863-4a51-4f6b-86e1-46edebc%05d", f.n)
	pc := providertest.PlacedCall{ProviderCallID: uuid, From: "+" + fromEp["number"].(string), To: "+" + toEp["number"].(string), MachineDetection: hasMD}
	if len(answer) == 1 {
		pc.AnswerURL = fmt.Sprint(answer[0])
		if u, err := url.Parse(pc.AnswerURL); err == nil {
			pc.CallID = u.Query().Get("callId")
		}
	}
	if ev, _ := body["event_url"].([]any); len(ev) == 1 {
		pc.StatusURL = fmt.Sprint(ev[0])
	}
	if v, ok := body["ringing_timer"].(float64); ok {
		pc.RingTimeout = time.Duration(v) * time.Second
	}
	if v, ok := body["length_timer"].(float64); ok {
		pc.TimeLimit = time.Duration(v) * time.Second
	}
	f.bodies = append(f.bodies, body)
	f.live[uuid] = true
	f.mu.Unlock()
	f.AddPlaced(pc)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	fmt.Fprintf(w, `{"uuid":%q,"status":"started","direction":"outbound","conversation_uuid":%q}`, uuid, fakeConversation)
}

// --- providertest.Fake ---

func (f *fakeVonage) Config() telephony.Config {
	return telephony.Config{
		Fields:     map[string]string{"applicationId": fakeAppID, "privateKey": pemOf(f.t, f.key), "signatureSecret": fakeSecret},
		BaseURL:    f.srv.URL,
		HTTPClient: f.srv.Client(),
	}
}

func (f *fakeVonage) BadConfig() telephony.Config {
	c := f.Config()
	c.Fields = map[string]string{"applicationId": fakeAppID, "privateKey": pemOf(f.t, f.bad), "signatureSecret": fakeBadSecret}
	return c
}

func (f *fakeVonage) EndCall(uuid string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.live[uuid] = false
}

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// signedJWT builds the HS256 token of a Vonage signed webhook, by hand (independently of the
// adapter's JWT library): header.claims signed with HMAC-SHA256 of the signature secret.
func signedJWT(secret string, claims map[string]any) string {
	h, _ := json.Marshal(map[string]string{"alg": "HS256", "typ": "JWT"})
	c, _ := json.Marshal(claims)
	unsigned := b64url(h) + "." + b64url(c)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(unsigned))
	return unsigned + "." + b64url(mac.Sum(nil))
}

func webhookClaims(body []byte, iat time.Time) map[string]any {
	sum := sha256.Sum256(body)
	return map[string]any{
		"iat": iat.Unix(), "exp": iat.Add(5 * time.Minute).Unix(), "jti": fmt.Sprintf("jti-%d", iat.UnixNano()),
		"application_id": fakeAppID, "api_key": fakeAPIKey, "payload_hash": hex.EncodeToString(sum[:]),
	}
}

// request is a webhook as Vonage sends it: POST, JSON body, signed JWT in Authorization.
func request(rawURL string, body []byte, token string) telephony.Request {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Authorization", "Bearer "+token)
	h.Set("User-Agent", "Vonage-Voice-Callbacks/1.0")
	return telephony.Request{URL: rawURL, Method: http.MethodPost, Header: h, Body: body}
}

func signed(rawURL string, body []byte, secret string, iat time.Time) telephony.Request {
	return request(rawURL, body, signedJWT(secret, webhookClaims(body, iat)))
}

var vonageStatus = map[telephony.CallStatus]string{
	telephony.StatusRinging: "ringing", telephony.StatusInProgress: "answered",
	telephony.StatusCompleted: "completed", telephony.StatusBusy: "busy",
	telephony.StatusNoAnswer: "unanswered", telephony.StatusVoicemail: "machine",
	telephony.StatusFailed: "failed", telephony.StatusCanceled: "cancelled",
}

func digitsOf(n string) string { return strings.TrimPrefix(n, "+") }

func (f *fakeVonage) statusBody(c providertest.Callback, at time.Time) ([]byte, bool) {
	st, ok := vonageStatus[c.Status]
	if !ok {
		return nil, false
	}
	ev := map[string]any{
		"from": digitsOf(c.From), "to": digitsOf(c.To), "uuid": c.ProviderCallID, "conversation_uuid": fakeConversation,
		"status": st, "direction": "outbound", "timestamp": at.UTC().Format("2006-01-02T15:04:05.000Z"),
	}
	if st == "completed" {
		ev["duration"] = strconv.Itoa(c.DurationSeconds)
		ev["start_time"] = at.Add(-time.Duration(c.DurationSeconds) * time.Second).UTC().Format(time.RFC3339)
		ev["end_time"] = at.UTC().Format(time.RFC3339)
		ev["rate"] = "0.00450000"
		ev["price"] = "0.00315000"
		ev["network"] = "310260"
	}
	if st == "failed" {
		ev["detail"] = "cannot_route"
	}
	if st == "machine" {
		ev["sub_state"] = "beep_start"
	}
	b, _ := json.Marshal(ev)
	return b, true
}

func (f *fakeVonage) StatusRequest(c providertest.Callback) (telephony.Request, bool) {
	body, ok := f.statusBody(c, time.Now())
	if !ok {
		return telephony.Request{}, false
	}
	_, status := providertest.URLs(vonage.Name, c.CallID)
	return signed(status, body, fakeSecret, time.Now()), true
}

func answerBody(c providertest.Callback) []byte {
	b, _ := json.Marshal(map[string]any{
		"to": digitsOf(c.To), "from": digitsOf(c.From), "uuid": c.ProviderCallID,
		"conversation_uuid": fakeConversation, "region_url": "https://api-us-3.vonage.com",
	})
	return b
}

func (f *fakeVonage) InboundRequest(c providertest.Callback) telephony.Request {
	voice, _ := providertest.URLs(vonage.Name, "")
	return signed(voice, answerBody(c), fakeSecret, time.Now())
}

func (f *fakeVonage) AnsweredRequest(c providertest.Callback) telephony.Request {
	voice, _ := providertest.URLs(vonage.Name, c.CallID)
	return signed(voice, answerBody(c), fakeSecret, time.Now())
}

func (f *fakeVonage) Forgeries(c providertest.Callback) []providertest.Forgery {
	body, _ := f.statusBody(c, time.Now())
	_, status := providertest.URLs(vonage.Name, c.CallID)
	nowT := time.Now()

	tamperedBody := signed(status, body, fakeSecret, nowT)
	tamperedBody.Body = []byte(strings.Replace(string(body), `"duration":"42"`, `"duration":"4200"`, 1))

	badSig := signed(status, body, fakeSecret, nowT)
	tok := strings.TrimPrefix(badSig.Header.Get("Authorization"), "Bearer ")
	parts := strings.Split(tok, ".")
	badSig.Header.Set("Authorization", "Bearer "+parts[0]+"."+parts[1]+"."+b64url(make([]byte, 32)))

	// The claims changed (another payload_hash) but the signature kept.
	claims := webhookClaims([]byte(`{"status":"busy"}`), nowT)
	cb, _ := json.Marshal(claims)
	swapped := signed(status, body, fakeSecret, nowT)
	swapped.Header.Set("Authorization", "Bearer "+parts[0]+"."+b64url(cb)+"."+parts[2])

	noneHeader, _ := json.Marshal(map[string]string{"alg": "none", "typ": "JWT"})
	goodClaims, _ := json.Marshal(webhookClaims(body, nowT))
	algNone := request(status, body, b64url(noneHeader)+"."+b64url(goodClaims)+".")

	noHash := webhookClaims(body, nowT)
	delete(noHash, "payload_hash")
	withoutHash := request(status, body, signedJWT(fakeSecret, noHash))

	otherApp := webhookClaims(body, nowT)
	otherApp["application_id"] = "ffffffff-0000-0000-0000-000000000000"

	noAuth := signed(status, body, fakeSecret, nowT)
	noAuth.Header.Del("Authorization")

	stale := request(status, body, signedJWT(fakeSecret, webhookClaims(body, nowT.Add(-10*time.Minute))))

	return []providertest.Forgery{
		{Name: "tampered body", Request: tamperedBody},
		{Name: "bad signature", Request: badSig},
		{Name: "claims swapped under the signature", Request: swapped},
		{Name: "alg none", Request: algNone},
		{Name: "no payload_hash", Request: withoutHash},
		{Name: "another application", Request: request(status, body, signedJWT(fakeSecret, otherApp))},
		{Name: "signed with another secret", Request: signed(status, body, fakeBadSecret, nowT)},
		{Name: "stale token", Request: stale},
		{Name: "no Authorization header", Request: noAuth},
	}
}

// Outcome reads the NCCO as Vonage would run it: talk actions speak, a connect to a websocket
// streams; the call ends when the NCCO runs out (no connect).
func (f *fakeVonage) Outcome(t *testing.T, resp telephony.Response) providertest.Outcome {
	t.Helper()
	if !strings.HasPrefix(resp.ContentType, "application/json") {
		t.Errorf("NCCO content type %q, want application/json", resp.ContentType)
	}
	var ncco []map[string]any
	if err := json.Unmarshal(resp.Body, &ncco); err != nil {
		t.Fatalf("NCCO is not a JSON array: %v\n%s", err, resp.Body)
	}
	var out providertest.Outcome
	connected := false
	for _, a := range ncco {
		switch a["action"] {
		case "talk":
			text, _ := a["text"].(string)
			if text == "" {
				t.Errorf("talk without text: %v", a)
			}
			out.Spoken = append(out.Spoken, text)
		case "connect":
			eps, _ := a["endpoint"].([]any)
			if len(eps) != 1 {
				t.Fatalf("connect endpoint %v", a["endpoint"])
			}
			ep, _ := eps[0].(map[string]any)
			if ep["type"] != "websocket" || !strings.HasPrefix(fmt.Sprint(ep["content-type"]), "audio/l16;rate=") {
				t.Errorf("connect endpoint %v, want a websocket with audio/l16", ep)
			}
			out.StreamURL, _ = ep["uri"].(string)
			connected = true
		default:
			t.Errorf("unexpected NCCO action %v", a["action"])
		}
	}
	out.Ends = !connected
	return out
}

var _ providertest.Fake = (*fakeVonage)(nil)
