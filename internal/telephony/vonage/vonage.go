package vonage

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/parleyhq/parley/internal/telephony"
)

// Name is the provider's name.
const Name = telephony.Vonage

// DefaultBaseURL is Vonage's public API.
const DefaultBaseURL = "https://api.nexmo.com"

// RequiredFields are the credential fields New requires.
var RequiredFields = []string{"applicationId", "privateKey", "signatureSecret"}

// SecretFields are the credential fields stored encrypted and never shown back.
var SecretFields = []string{"privateKey", "signatureSecret"}

// TokenTTL is the lifetime of the RS256 JWT minted for each API request.
const TokenTTL = 15 * time.Minute

// SignatureMaxAge is how old (by its iat) a signed webhook's JWT may be.
const SignatureMaxAge = 5 * time.Minute

// RejectText is what a refused caller hears: Parley's internal reason is never spoken.
const RejectText = "Sorry, this number cannot take your call right now. Goodbye."

type provider struct {
	appID  string
	key    *rsa.PrivateKey
	secret []byte
	now    func() time.Time
	api    telephony.API
}

// New builds the adapter from a credential. It returns an error naming a missing or invalid field.
func New(cfg telephony.Config) (telephony.Provider, error) {
	if err := telephony.RequireFields(Name, cfg.Fields, RequiredFields); err != nil {
		return nil, err
	}
	pemText := strings.TrimSpace(cfg.Fields["privateKey"])
	if !strings.Contains(pemText, "\n") {
		// A key pasted into a one-line field often arrives with literal "\n".
		pemText = strings.ReplaceAll(pemText, `\n`, "\n")
	}
	key, err := jwt.ParseRSAPrivateKeyFromPEM([]byte(pemText))
	if err != nil {
		return nil, fmt.Errorf("vonage: privateKey is not a PEM RSA private key: %w", err)
	}
	p := &provider{
		appID:  strings.TrimSpace(cfg.Fields["applicationId"]),
		key:    key,
		secret: []byte(cfg.Fields["signatureSecret"]),
		now:    cfg.Now,
	}
	if p.now == nil {
		p.now = time.Now
	}
	p.api = telephony.NewAPI(Name, cfg, DefaultBaseURL, p.auth, decodeError)
	return p, nil
}

func (p *provider) Name() string { return Name }

// token mints the application JWT (RS256) Vonage's Voice API takes as a Bearer token.
func (p *provider) token() (string, error) {
	now := p.now()
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", err
	}
	claims := jwt.MapClaims{
		"application_id": p.appID,
		"iat":            now.Unix(),
		"exp":            now.Add(TokenTTL).Unix(),
		"jti":            hex.EncodeToString(jti),
	}
	return jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(p.key)
}

// Verify lists one call (GET /v1/calls?page_size=1), the cheapest request the application JWT
// authorizes.
func (p *provider) Verify(ctx context.Context) error {
	_, err := p.api.Do(ctx, http.MethodGet, "/v1/calls?page_size=1", nil)
	return err
}

type endpoint struct {
	Type   string `json:"type"`
	Number string `json:"number"`
}

type createCall struct {
	To               []endpoint `json:"to"`
	From             endpoint   `json:"from"`
	AnswerURL        []string   `json:"answer_url"`
	AnswerMethod     string     `json:"answer_method"`
	EventURL         []string   `json:"event_url,omitempty"`
	EventMethod      string     `json:"event_method,omitempty"`
	RingingTimer     int        `json:"ringing_timer,omitempty"`
	LengthTimer      int        `json:"length_timer,omitempty"`
	MachineDetection string     `json:"machine_detection,omitempty"`
}

// Place creates the call (POST /v1/calls). Parley's call ID travels in the answer and event URLs'
// callId query, which Vonage calls back as given.
func (p *provider) Place(ctx context.Context, req telephony.PlaceRequest) (telephony.PlaceResult, error) {
	body := createCall{
		To:           []endpoint{{Type: "phone", Number: telephony.E164Digits(req.To)}},
		From:         endpoint{Type: "phone", Number: telephony.E164Digits(req.From)},
		AnswerURL:    []string{req.AnswerURL},
		AnswerMethod: http.MethodPost,
	}
	if req.StatusURL != "" {
		body.EventURL = []string{req.StatusURL}
		body.EventMethod = http.MethodPost
	}
	if req.RingTimeout > 0 {
		body.RingingTimer = clamp(int(req.RingTimeout/time.Second), 1, 120)
	}
	if req.TimeLimit > 0 {
		body.LengthTimer = clamp(int(req.TimeLimit/time.Second), 1, 86400)
	}
	if req.MachineDetection {
		// Keep the call going: the event webhook reports status "machine" (voicemail outcome).
		body.MachineDetection = "continue"
	}
	raw, err := p.api.Do(ctx, http.MethodPost, "/v1/calls", body)
	if err != nil {
		return telephony.PlaceResult{}, err
	}
	var out struct {
		UUID string `json:"uuid"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || out.UUID == "" {
		return telephony.PlaceResult{}, &telephony.ProviderError{Provider: Name, HTTPStatus: http.StatusCreated,
			Message: "unexpected answer to create call: no uuid"}
	}
	return telephony.PlaceResult{ProviderCallID: out.UUID}, nil
}

// Hangup ends the call (PUT /v1/calls/{uuid} {"action":"hangup"}). Vonage answers 404 for a call
// that is no longer live, which is not an error here.
func (p *provider) Hangup(ctx context.Context, providerCallID string) error {
	if providerCallID == "" {
		return &telephony.ProviderError{Provider: Name, Message: "no call uuid to hang up"}
	}
	_, err := p.api.Do(ctx, http.MethodPut, "/v1/calls/"+url.PathEscape(providerCallID), map[string]string{"action": "hangup"})
	var pe *telephony.ProviderError
	if errors.As(err, &pe) && pe.HTTPStatus == http.StatusNotFound {
		return nil
	}
	return err
}

// Answer renders the NCCO: talk the greeting, then connect the call's audio to the media
// WebSocket (or end, when there is none: a call ends when its NCCO is done).
func (p *provider) Answer(_ context.Context, ev telephony.Event, a telephony.Answer) (telephony.Response, error) {
	var ncco []map[string]any
	if strings.TrimSpace(a.Greeting) != "" {
		ncco = append(ncco, talk(a.Greeting, a.Language))
	}
	if a.MediaURL != "" {
		ws := map[string]any{
			"type":         "websocket",
			"uri":          a.MediaURL,
			"content-type": "audio/l16;rate=16000",
		}
		callID := a.CallID
		if callID == "" {
			callID = ev.CallID
		}
		if callID != "" {
			ws["headers"] = map[string]string{"callId": callID}
		}
		connect := map[string]any{"action": "connect", "endpoint": []any{ws}}
		if a.StatusURL != "" {
			connect["eventUrl"] = []string{a.StatusURL}
			connect["eventMethod"] = http.MethodPost
		}
		ncco = append(ncco, connect)
	}
	return nccoResponse(ncco)
}

// Reject renders an NCCO that speaks a short refusal; the call ends when it is done.
func (p *provider) Reject(_ context.Context, _ telephony.Event, _ string) (telephony.Response, error) {
	return nccoResponse([]map[string]any{talk(RejectText, "en-US")})
}

func talk(text, lang string) map[string]any {
	if lang == "" {
		lang = "en-US"
	}
	return map[string]any{"action": "talk", "text": text, "language": lang}
}

func nccoResponse(ncco []map[string]any) (telephony.Response, error) {
	if ncco == nil {
		ncco = []map[string]any{}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(ncco); err != nil {
		return telephony.Response{}, err
	}
	return telephony.Response{Status: http.StatusOK, ContentType: "application/json", Body: bytes.TrimSpace(buf.Bytes())}, nil
}

// callback is the answer request and event webhook body (fields Parley reads).
type callback struct {
	UUID      string          `json:"uuid"`
	From      string          `json:"from"`
	To        string          `json:"to"`
	Status    string          `json:"status"`
	Direction string          `json:"direction"`
	Timestamp string          `json:"timestamp"`
	Duration  json.RawMessage `json:"duration"`
	Detail    string          `json:"detail"`
	Reason    json.RawMessage `json:"reason"`
}

// Parse verifies the signed-webhook JWT (HS256 with the signature secret, fresh, for this
// application, payload_hash matching the body), then maps the request.
func (p *provider) Parse(r telephony.Request) (telephony.Event, error) {
	u, err := url.Parse(r.URL)
	if err != nil {
		return telephony.Event{}, fmt.Errorf("%w: vonage: bad URL", telephony.ErrBadSignature)
	}
	if err := p.verify(r, u); err != nil {
		return telephony.Event{}, err
	}
	var cb callback
	if r.Method == http.MethodGet || len(bytes.TrimSpace(r.Body)) == 0 {
		q := u.Query()
		cb = callback{UUID: q.Get("uuid"), From: q.Get("from"), To: q.Get("to"), Status: q.Get("status"), Timestamp: q.Get("timestamp")}
	} else if err := json.Unmarshal(r.Body, &cb); err != nil {
		return telephony.Event{}, fmt.Errorf("%w: vonage: body is not JSON: %v", telephony.ErrMalformed, err)
	}
	if cb.UUID == "" {
		return telephony.Event{}, fmt.Errorf("%w: vonage: no uuid", telephony.ErrMalformed)
	}
	ev := telephony.Event{
		CallID:         u.Query().Get("callId"),
		ProviderCallID: cb.UUID,
		From:           telephony.E164Plus(cb.From),
		To:             telephony.E164Plus(cb.To),
		Sequence:       -1,
	}
	if t, err := time.Parse(time.RFC3339Nano, cb.Timestamp); err == nil {
		ev.OccurredAt = t.UTC()
	}
	kind, ok := telephony.CallbackKind(u.Path, ev.CallID)
	if !ok {
		return telephony.Event{}, fmt.Errorf("%w: vonage: URL path is neither /voice nor /status", telephony.ErrMalformed)
	}
	ev.Kind = kind
	if kind == telephony.Status {
		ev.Status = mapStatus(cb.Status)
		ev.Reason = cb.Status
		if cb.Detail != "" {
			ev.Reason += ": " + cb.Detail
		}
		if ev.Status == telephony.StatusCompleted {
			ev.DurationSeconds = number(cb.Duration)
		}
	}
	return ev, nil
}

func mapStatus(s string) telephony.CallStatus {
	switch s {
	case "started":
		return telephony.StatusInitiating
	case "ringing":
		return telephony.StatusRinging
	case "answered":
		return telephony.StatusInProgress
	case "completed":
		return telephony.StatusCompleted
	case "machine":
		return telephony.StatusVoicemail
	case "busy":
		return telephony.StatusBusy
	case "cancelled":
		return telephony.StatusCanceled
	case "unanswered", "timeout":
		return telephony.StatusNoAnswer
	case "rejected", "failed":
		return telephony.StatusFailed
	}
	// human, disconnected, input, record, transfer…: nothing to change.
	return ""
}

func (p *provider) verify(r telephony.Request, u *url.URL) error {
	auth := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || tok == "" {
		return fmt.Errorf("%w: vonage: no Bearer token", telephony.ErrBadSignature)
	}
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(strings.TrimSpace(tok), claims, func(*jwt.Token) (any, error) { return p.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithTimeFunc(p.now),
		jwt.WithLeeway(30*time.Second),
		jwt.WithIssuedAt(),
	)
	if err != nil {
		return fmt.Errorf("%w: vonage: %v", telephony.ErrBadSignature, err)
	}
	iat, err := claims.GetIssuedAt()
	if err != nil || iat == nil || p.now().Sub(iat.Time) > SignatureMaxAge {
		return fmt.Errorf("%w: vonage: token is stale or has no iat", telephony.ErrBadSignature)
	}
	if app, _ := claims["application_id"].(string); app != "" && app != p.appID {
		return fmt.Errorf("%w: vonage: token is for another application", telephony.ErrBadSignature)
	}
	hash, _ := claims["payload_hash"].(string)
	body := bytes.TrimSpace(r.Body)
	if r.Method != http.MethodGet && len(body) > 0 {
		if hash == "" || !hashMatches(hash, r.Body) && !hashMatches(hash, compact(r.Body)) {
			return fmt.Errorf("%w: vonage: payload_hash does not match the body", telephony.ErrBadSignature)
		}
		return nil
	}
	if hash != "" && !hashMatches(hash, queryJSON(u, false)) && !hashMatches(hash, queryJSON(u, true)) {
		return fmt.Errorf("%w: vonage: payload_hash does not match the query", telephony.ErrBadSignature)
	}
	return nil
}

func hashMatches(hexHash string, payload []byte) bool {
	want, err := hex.DecodeString(strings.ToLower(hexHash))
	if err != nil {
		return false
	}
	sum := sha256.Sum256(payload)
	return hmac.Equal(want, sum[:])
}

func compact(b []byte) []byte {
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return nil
	}
	return buf.Bytes()
}

// queryJSON is the query of a GET webhook as the JSON object Vonage hashes (parameters in their
// order); ownOnly drops the parameters Parley put in the URL itself (callId).
func queryJSON(u *url.URL, dropOwn bool) []byte {
	var buf bytes.Buffer
	buf.WriteByte('{')
	first := true
	for _, kv := range strings.Split(u.RawQuery, "&") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		k, _ = url.QueryUnescape(k)
		v, _ = url.QueryUnescape(v)
		if dropOwn && k == "callId" {
			continue
		}
		if !first {
			buf.WriteByte(',')
		}
		first = false
		kb, _ := json.Marshal(k)
		vb, _ := json.Marshal(v)
		buf.Write(kb)
		buf.WriteByte(':')
		buf.Write(vb)
	}
	buf.WriteByte('}')
	return buf.Bytes()
}

// auth adds a freshly minted application JWT to an API request.
func (p *provider) auth(r *http.Request) error {
	tok, err := p.token()
	if err != nil {
		return &telephony.ProviderError{Provider: Name, Message: "signing the application JWT: " + err.Error()}
	}
	r.Header.Set("Authorization", "Bearer "+tok)
	return nil
}

// decodeError reads Vonage's error bodies: RFC 7807 style {type, title, detail, invalid_parameters}
// or the older {error_title, invalid_parameters}.
func decodeError(pe *telephony.ProviderError, raw []byte) {
	var body struct {
		Type       string `json:"type"`
		Title      string `json:"title"`
		Detail     string `json:"detail"`
		ErrorTitle string `json:"error_title"`
		Invalid    []struct {
			Name   string `json:"name"`
			Reason string `json:"reason"`
		} `json:"invalid_parameters"`
	}
	if json.Unmarshal(raw, &body) != nil {
		return
	}
	if _, frag, ok := strings.Cut(body.Type, "#"); ok {
		pe.Code = frag
	}
	pe.Message = body.Detail
	if pe.Message == "" {
		pe.Message = body.Title
	}
	if pe.Message == "" {
		pe.Message = body.ErrorTitle
	}
	for _, ip := range body.Invalid {
		pe.Message += fmt.Sprintf(" (%s: %s)", ip.Name, ip.Reason)
	}
}

// number reads a JSON number or numeric string ("42" or 42); 0 otherwise.
func number(raw json.RawMessage) int {
	s := strings.Trim(strings.TrimSpace(string(raw)), `"`)
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return int(f)
	}
	return 0
}

func clamp(v, lo, hi int) int {
	return min(max(v, lo), hi)
}
