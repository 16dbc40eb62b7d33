package plivo

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/telephony"
)

// Name is the provider's name.
const Name = telephony.Plivo

// DefaultBaseURL is Plivo's REST API.
const DefaultBaseURL = "https://api.plivo.com"

// RequiredFields are the credential fields New requires.
var RequiredFields = []string{"authId", "authToken"}

// SecretFields are the credential fields stored encrypted and never shown.
var SecretFields = []string{"authToken"}

// Provider is a Plivo account. Build it with New.
type Provider struct {
	authID, authToken string
	api               telephony.API
}

var _ telephony.Provider = (*Provider)(nil)

// New builds the adapter from a credential; it returns an error naming a missing field.
func New(cfg telephony.Config) (telephony.Provider, error) {
	p := &Provider{
		authID:    strings.TrimSpace(cfg.Fields["authId"]),
		authToken: cfg.Fields["authToken"],
	}
	if p.authID == "" {
		return nil, errors.New("plivo: authId is required")
	}
	if p.authToken == "" {
		return nil, errors.New("plivo: authToken is required")
	}
	p.api = telephony.NewAPI(Name, cfg, DefaultBaseURL,
		func(r *http.Request) error { r.SetBasicAuth(p.authID, p.authToken); return nil },
		decodeError)
	return p, nil
}

// Name returns "plivo".
func (p *Provider) Name() string { return Name }

func (p *Provider) accountPath(suffix string) string {
	return "/v1/Account/" + url.PathEscape(p.authID) + "/" + suffix
}

// Verify fetches the account.
func (p *Provider) Verify(ctx context.Context) error {
	_, err := p.api.Do(ctx, http.MethodGet, p.accountPath(""), nil)
	return err
}

// createCall is the body of POST Call/.
type createCall struct {
	From                   string `json:"from"`
	To                     string `json:"to"`
	AnswerURL              string `json:"answer_url"`
	AnswerMethod           string `json:"answer_method"`
	RingURL                string `json:"ring_url,omitempty"`
	RingMethod             string `json:"ring_method,omitempty"`
	HangupURL              string `json:"hangup_url,omitempty"`
	HangupMethod           string `json:"hangup_method,omitempty"`
	RingTimeout            int    `json:"ring_timeout,omitempty"`
	TimeLimit              int    `json:"time_limit,omitempty"`
	MachineDetection       string `json:"machine_detection,omitempty"`
	MachineDetectionURL    string `json:"machine_detection_url,omitempty"`
	MachineDetectionMethod string `json:"machine_detection_method,omitempty"`
}

// Place fires the call.
func (p *Provider) Place(ctx context.Context, req telephony.PlaceRequest) (telephony.PlaceResult, error) {
	if req.To == "" || req.From == "" || req.AnswerURL == "" {
		return telephony.PlaceResult{}, errors.New("plivo: place needs To, From and AnswerURL")
	}
	body := createCall{
		From: telephony.E164Digits(req.From), To: telephony.E164Digits(req.To),
		AnswerURL: req.AnswerURL, AnswerMethod: http.MethodPost,
	}
	if req.StatusURL != "" {
		body.RingURL, body.RingMethod = req.StatusURL, http.MethodPost
		body.HangupURL, body.HangupMethod = req.StatusURL, http.MethodPost
	}
	if req.RingTimeout > 0 {
		body.RingTimeout = max(seconds(req.RingTimeout), 1)
	}
	if req.TimeLimit > 0 {
		body.TimeLimit = max(seconds(req.TimeLimit), 1)
	}
	if req.MachineDetection {
		body.MachineDetection = "true"
		if req.StatusURL != "" {
			body.MachineDetectionURL, body.MachineDetectionMethod = req.StatusURL, http.MethodPost
		}
	}
	var out struct {
		RequestUUID json.RawMessage `json:"request_uuid"`
	}
	if err := p.api.DoJSON(ctx, http.MethodPost, p.accountPath("Call/"), body, &out); err != nil {
		return telephony.PlaceResult{}, err
	}
	id := requestUUID(out.RequestUUID)
	if id == "" {
		return telephony.PlaceResult{}, &telephony.ProviderError{Provider: Name, HTTPStatus: http.StatusCreated,
			Message: "the make-call response has no request_uuid"}
	}
	return telephony.PlaceResult{ProviderCallID: id}, nil
}

// requestUUID reads request_uuid, a string (or, for bulk calls, a list of strings).
func requestUUID(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var list []string
	if json.Unmarshal(raw, &list) == nil && len(list) > 0 {
		return list[0]
	}
	return ""
}

// Hangup ends a live call, or cancels a queued one; a call that has already ended is not an
// error.
func (p *Provider) Hangup(ctx context.Context, providerCallID string) error {
	if providerCallID == "" {
		return errors.New("plivo: hangup needs a call UUID")
	}
	id := url.PathEscape(providerCallID)
	_, err := p.api.Do(ctx, http.MethodDelete, p.accountPath("Call/"+id+"/"), nil)
	if !isNotFound(err) {
		return err
	}
	_, err = p.api.Do(ctx, http.MethodDelete, p.accountPath("Request/"+id+"/"), nil)
	if isNotFound(err) {
		return nil
	}
	return err
}

func isNotFound(err error) bool {
	var pe *telephony.ProviderError
	return errors.As(err, &pe) && pe.HTTPStatus == http.StatusNotFound
}

// decodeError reads Plivo's error answer ({"api_id": …, "error": "…" or {…}}, or plain text).
// Plivo gives no error codes.
func decodeError(pe *telephony.ProviderError, raw []byte) {
	var body struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(raw, &body) == nil && len(body.Error) > 0 {
		var s string
		if json.Unmarshal(body.Error, &s) == nil {
			pe.Message = s
		} else {
			pe.Message = string(body.Error) // field errors, e.g. {"to": ["…"]}
		}
	} else if text := strings.TrimSpace(string(raw)); text != "" && !strings.HasPrefix(text, "<") {
		pe.Message = text
	}
	if len(pe.Message) > 500 {
		pe.Message = pe.Message[:500]
	}
}

func seconds(d time.Duration) int { return int(math.Ceil(d.Seconds())) }
