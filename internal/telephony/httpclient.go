package telephony

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// What every provider adapter shares: sending a REST request and mapping its failures to
// *ProviderError (API), reading Retry-After (RetryAfter), writing XML call-control markup
// (Markup), and the small wire conventions of provider callbacks. What differs between providers
// (authentication, error body shapes, payloads) stays in each adapter.

// MaxResponseBytes is how much of a provider's answer is read.
const MaxResponseBytes = 1 << 20

// defaultClient sends the requests of adapters built without Config.HTTPClient.
var defaultClient = &http.Client{Timeout: 15 * time.Second}

// API sends one provider's REST requests. Failures are *ProviderError:
//   - the provider not reached (network, timeout): Retryable, HTTPStatus 0;
//   - a non-2xx answer: HTTPStatus, Retryable for 429 and 5xx, RetryAfter from the Retry-After
//     header, Code and Message from DecodeError (Message defaults to the HTTP status text);
//   - a 2xx answer DoJSON cannot decode: "malformed response", not retryable.
//
// When the request's context ends before the provider answers, the error wraps ctx.Err() (it is
// not a ProviderError: the provider did nothing wrong).
type API struct {
	// Provider is the provider's name (ProviderError.Provider).
	Provider string
	// BaseURL is put before the paths given to Do, DoJSON and NewRequest.
	BaseURL string
	// Client sends the requests; nil means a client with a 15 s timeout.
	Client *http.Client
	// Now is the clock Retry-After dates are read against; nil means time.Now.
	Now func() time.Time
	// Auth adds the credential to a request (HTTP Basic, a Bearer token…). An error it returns is
	// returned as is.
	Auth func(*http.Request) error
	// DecodeError reads the body of a non-2xx answer into pe (Code, Message). pe already holds
	// Provider, HTTPStatus, Retryable and RetryAfter. Nil: the message is the HTTP status text.
	DecodeError func(pe *ProviderError, body []byte)
}

// NewAPI is the API of an adapter built from cfg: requests go to cfg.BaseURL (trailing slashes
// trimmed) or, when it is empty, defaultBaseURL, through cfg.HTTPClient, with cfg.Now as the
// clock; auth and decodeError are the provider's (see API).
func NewAPI(provider string, cfg Config, defaultBaseURL string, auth func(*http.Request) error, decodeError func(*ProviderError, []byte)) API {
	base := strings.TrimRight(cfg.BaseURL, "/")
	if base == "" {
		base = defaultBaseURL
	}
	return API{Provider: provider, BaseURL: base, Client: cfg.HTTPClient, Now: cfg.Now, Auth: auth, DecodeError: decodeError}
}

// Do sends a request to BaseURL+path and returns the body of a 2xx answer. body is nil or a nil url.Values
// (no body), url.Values (form-encoded) or any other value (sent as JSON). Every request asks for
// JSON.
func (a *API) Do(ctx context.Context, method, path string, body any) ([]byte, error) {
	req, err := a.NewRequest(ctx, method, path, body)
	if err != nil {
		return nil, err
	}
	_, raw, err := a.send(req)
	return raw, err
}

// DoJSON is Do, decoding a non-empty answer into out (when out is not nil).
func (a *API) DoJSON(ctx context.Context, method, path string, body, out any) error {
	req, err := a.NewRequest(ctx, method, path, body)
	if err != nil {
		return err
	}
	status, raw, err := a.send(req)
	if err != nil || out == nil || len(bytes.TrimSpace(raw)) == 0 {
		return err
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return &ProviderError{Provider: a.Provider, HTTPStatus: status, Message: "malformed response: " + err.Error()}
	}
	return nil
}

// NewRequest builds a request as Do sends it (body as for Do), with the credential added by Auth.
func (a *API) NewRequest(ctx context.Context, method, path string, body any) (*http.Request, error) {
	var rd io.Reader
	contentType := ""
	switch b := body.(type) {
	case nil:
	case url.Values:
		if b != nil {
			rd, contentType = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
		}
	default:
		js, err := json.Marshal(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", a.Provider, err)
		}
		rd, contentType = bytes.NewReader(js), "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, method, a.BaseURL+path, rd)
	if err != nil {
		return nil, &ProviderError{Provider: a.Provider, Message: "bad request: " + err.Error()}
	}
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if a.Auth != nil {
		if err := a.Auth(req); err != nil {
			return nil, err
		}
	}
	return req, nil
}

// Send sends a prepared request (see NewRequest) and returns the body of a 2xx answer.
func (a *API) Send(req *http.Request) ([]byte, error) {
	_, raw, err := a.send(req)
	return raw, err
}

func (a *API) send(req *http.Request) (int, []byte, error) {
	hc := a.Client
	if hc == nil {
		hc = defaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		if ctxErr := req.Context().Err(); ctxErr != nil {
			return 0, nil, fmt.Errorf("%s: %w", a.Provider, ctxErr)
		}
		return 0, nil, &ProviderError{Provider: a.Provider, Message: "request failed: " + err.Error(), Retryable: true}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes))
	if err != nil {
		return resp.StatusCode, nil, &ProviderError{Provider: a.Provider, HTTPStatus: resp.StatusCode,
			Message: "reading answer: " + err.Error(), Retryable: true}
	}
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return resp.StatusCode, raw, nil
	}
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	pe := &ProviderError{
		Provider:   a.Provider,
		HTTPStatus: resp.StatusCode,
		Retryable:  resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500,
		RetryAfter: RetryAfter(resp.Header.Get("Retry-After"), now()),
	}
	if a.DecodeError != nil {
		a.DecodeError(pe, raw)
	}
	if pe.Message == "" {
		pe.Message = http.StatusText(resp.StatusCode)
	}
	return resp.StatusCode, nil, pe
}

// RetryAfter reads a Retry-After header: whole seconds, or an HTTP date (the time from now to
// it, in whole seconds). It is 0 when the header is absent, unreadable or in the past.
func RetryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if n, err := strconv.Atoi(h); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now).Round(time.Second)
	}
	return 0
}

// Markup builds an XML call-control document (TwiML, Plivo XML): the XML header, <Response>, the
// elements written, </Response>. Text and attribute values are escaped with encoding/xml.
type Markup struct {
	contentType string
	b           strings.Builder
}

// NewMarkup starts a document served with contentType.
func NewMarkup(contentType string) *Markup {
	m := &Markup{contentType: contentType}
	m.b.WriteString(xml.Header)
	m.b.WriteString("<Response>")
	return m
}

// Open writes "<name" and the attributes given as name, value pairs (empty values are left out);
// the caller closes the tag (Raw(">") or Raw("/>")).
func (m *Markup) Open(name string, attrs ...string) {
	m.b.WriteString("<" + name)
	for i := 0; i+1 < len(attrs); i += 2 {
		if attrs[i+1] == "" {
			continue
		}
		m.b.WriteString(" " + attrs[i] + `="`)
		_ = xml.EscapeText(&m.b, []byte(attrs[i+1]))
		m.b.WriteString(`"`)
	}
}

// Empty writes <name attrs…/>.
func (m *Markup) Empty(name string, attrs ...string) {
	m.Open(name, attrs...)
	m.b.WriteString("/>")
}

// Text writes <name attrs…>text</name>.
func (m *Markup) Text(name, text string, attrs ...string) {
	m.Open(name, attrs...)
	m.b.WriteString(">")
	_ = xml.EscapeText(&m.b, []byte(text))
	m.b.WriteString("</" + name + ">")
}

// Raw writes s as it is.
func (m *Markup) Raw(s string) { m.b.WriteString(s) }

// Response closes the document.
func (m *Markup) Response() Response {
	m.b.WriteString("</Response>")
	return Response{ContentType: m.contentType, Body: []byte(m.b.String())}
}

// RequireFields returns an error naming the first of names that is blank in fields.
func RequireFields(provider string, fields map[string]string, names []string) error {
	for _, f := range names {
		if strings.TrimSpace(fields[f]) == "" {
			return fmt.Errorf("%s: %s is required", provider, f)
		}
	}
	return nil
}

// CallbackKind tells what a provider request is by the path of the URL Parley gave the provider
// (see URLs): …/status is a status callback (Status); …/voice is a voice request, Answered when the
// URL carries Parley's call ID (callID != "") and Inbound otherwise. ok is false for any other
// path.
func CallbackKind(path, callID string) (kind EventKind, ok bool) {
	switch {
	case strings.HasSuffix(path, "/status"):
		return Status, true
	case strings.HasSuffix(path, "/voice") && callID != "":
		return Answered, true
	case strings.HasSuffix(path, "/voice"):
		return Inbound, true
	}
	return "", false
}

// IsFinal reports whether s ends the call.
func IsFinal(s CallStatus) bool {
	switch s {
	case StatusCompleted, StatusBusy, StatusNoAnswer, StatusVoicemail, StatusFailed, StatusCanceled:
		return true
	}
	return false
}

// E164Digits is an E.164 number without its "+", as Plivo and Vonage take numbers.
func E164Digits(n string) string { return strings.TrimPrefix(strings.TrimSpace(n), "+") }

// E164Plus puts back the "+" such providers drop: an all-digit number gets it; anything else
// (SIP URIs, names, "") is returned as it is.
func E164Plus(n string) string {
	if n == "" || strings.HasPrefix(n, "+") {
		return n
	}
	for _, r := range n {
		if r < '0' || r > '9' {
			return n
		}
	}
	return "+" + n
}
