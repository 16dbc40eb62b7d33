package twilio

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/telephony"
)

// Name is the provider's name.
const Name = telephony.Twilio

// DefaultBaseURL is Twilio's REST API.
const DefaultBaseURL = "https://api.twilio.com"

// RequiredFields are the credential fields always required. Either authToken or both
// apiKeySid and apiKeySecret are required too (see the package doc); signature checks need
// authToken.
var RequiredFields = []string{"accountSid"}

// SecretFields are the credential fields stored encrypted and never shown.
var SecretFields = []string{"authToken", "apiKeySecret"}

// Provider is a Twilio account. Build it with New.
type Provider struct {
	accountSid string
	authToken  string
	api        telephony.API
}

var _ telephony.Provider = (*Provider)(nil)

// New builds the adapter from a credential. It returns an error naming the missing field when
// the credential is incomplete.
func New(cfg telephony.Config) (telephony.Provider, error) {
	f := cfg.Fields
	p := &Provider{
		accountSid: strings.TrimSpace(f["accountSid"]),
		authToken:  f["authToken"],
	}
	if p.accountSid == "" {
		return nil, errors.New("twilio: accountSid is required")
	}
	// The API credentials: accountSid/authToken or apiKeySid/apiKeySecret.
	var user, pass string
	keySid, keySecret := strings.TrimSpace(f["apiKeySid"]), f["apiKeySecret"]
	switch {
	case keySid != "" && keySecret == "":
		return nil, errors.New("twilio: apiKeySecret is required with apiKeySid")
	case keySid == "" && keySecret != "":
		return nil, errors.New("twilio: apiKeySid is required with apiKeySecret")
	case keySid != "":
		user, pass = keySid, keySecret
	case p.authToken != "":
		user, pass = p.accountSid, p.authToken
	default:
		return nil, errors.New("twilio: authToken (or apiKeySid and apiKeySecret) is required")
	}
	p.api = telephony.NewAPI(Name, cfg, DefaultBaseURL,
		func(r *http.Request) error { r.SetBasicAuth(user, pass); return nil },
		decodeError)
	return p, nil
}

// Name returns "twilio".
func (p *Provider) Name() string { return Name }

func (p *Provider) accountPath(suffix string) string {
	return "/2010-04-01/Accounts/" + url.PathEscape(p.accountSid) + suffix
}

// Verify fetches the account resource.
func (p *Provider) Verify(ctx context.Context) error {
	_, err := p.api.Do(ctx, http.MethodGet, p.accountPath(".json"), nil)
	return err
}

// Place creates the call.
func (p *Provider) Place(ctx context.Context, req telephony.PlaceRequest) (telephony.PlaceResult, error) {
	if req.To == "" || req.From == "" || req.AnswerURL == "" {
		return telephony.PlaceResult{}, errors.New("twilio: place needs To, From and AnswerURL")
	}
	form := url.Values{}
	form.Set("To", req.To)
	form.Set("From", req.From)
	form.Set("Url", req.AnswerURL)
	form.Set("Method", http.MethodPost)
	if req.StatusURL != "" {
		form.Set("StatusCallback", req.StatusURL)
		form.Set("StatusCallbackMethod", http.MethodPost)
		for _, ev := range []string{"initiated", "ringing", "answered", "completed"} {
			form.Add("StatusCallbackEvent", ev)
		}
	}
	if req.RingTimeout > 0 {
		form.Set("Timeout", strconv.Itoa(clamp(seconds(req.RingTimeout), 1, 600)))
	}
	if req.TimeLimit > 0 {
		form.Set("TimeLimit", strconv.Itoa(max(seconds(req.TimeLimit), 1)))
	}
	if req.MachineDetection {
		form.Set("MachineDetection", "Enable")
	}
	var call struct {
		Sid string `json:"sid"`
	}
	if err := p.api.DoJSON(ctx, http.MethodPost, p.accountPath("/Calls.json"), form, &call); err != nil {
		return telephony.PlaceResult{}, err
	}
	if call.Sid == "" {
		return telephony.PlaceResult{}, &telephony.ProviderError{Provider: Name, HTTPStatus: http.StatusCreated,
			Message: "the create-call response has no sid"}
	}
	return telephony.PlaceResult{ProviderCallID: call.Sid}, nil
}

// Hangup ends the call (Status=completed). A call that has already ended is not an error.
func (p *Provider) Hangup(ctx context.Context, providerCallID string) error {
	if providerCallID == "" {
		return errors.New("twilio: hangup needs a call SID")
	}
	form := url.Values{"Status": {"completed"}}
	_, err := p.api.Do(ctx, http.MethodPost, p.accountPath("/Calls/"+url.PathEscape(providerCallID)+".json"), form)
	var pe *telephony.ProviderError
	if errors.As(err, &pe) && (pe.HTTPStatus == http.StatusNotFound || pe.Code == codeInvalidCallState) {
		return nil
	}
	return err
}

// codeInvalidCallState is Twilio's error for modifying a call that is no longer in progress.
const codeInvalidCallState = "21220"

// decodeError reads Twilio's error answer ({"code": 20003, "message": "…", "more_info": "…"}).
func decodeError(pe *telephony.ProviderError, raw []byte) {
	var body struct {
		Code     json.Number `json:"code"`
		Message  string      `json:"message"`
		MoreInfo string      `json:"more_info"`
	}
	if json.Unmarshal(raw, &body) == nil {
		pe.Code, pe.Message = body.Code.String(), body.Message
	}
}

func seconds(d time.Duration) int { return int(math.Ceil(d.Seconds())) }

func clamp(v, lo, hi int) int { return min(max(v, lo), hi) }
