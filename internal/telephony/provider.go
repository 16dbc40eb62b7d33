package telephony

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Provider names, as they appear in credentials, URLs (/telephony/{workspaceId}/{provider}/…) and
// the API.
const (
	Twilio = "twilio"
	Plivo  = "plivo"
	Telnyx = "telnyx"
	Vonage = "vonage"
	Exotel = "exotel"
	SIP    = "sip"
	Sim    = "sim"
)

// Provider is one provider account seen by the platform: an adapter built from a workspace's
// decrypted credential. Adapters are cheap to build (one per request is fine) and safe for
// concurrent use. Every method that talks to the provider honours ctx.
type Provider interface {
	// Name is the provider's name (Twilio, Plivo, …).
	Name() string
	// Verify makes the provider's cheapest authenticated request and returns nil when the
	// credential works, or a *ProviderError with the provider's reason.
	Verify(ctx context.Context) error
	// Place asks the provider to start an outbound call. It returns once the provider has
	// accepted the request (the call is then queued or ringing at the provider); the call's
	// progress arrives later as status callbacks.
	Place(ctx context.Context, req PlaceRequest) (PlaceResult, error)
	// Hangup ends a call in any state (ringing or in progress). Hanging up a call that has
	// already ended is not an error.
	Hangup(ctx context.Context, providerCallID string) error
	// Parse verifies an inbound request from the provider (a voice/answer request or a status
	// callback) as the provider signs it, then parses it. A request whose signature does not
	// verify returns an error wrapping ErrBadSignature, and the caller changes nothing.
	Parse(r Request) (Event, error)
	// Answer renders the response to a voice/answer request: the provider's markup (TwiML,
	// Plivo XML, NCCO, ExoML…) that speaks the greeting and then connects or ends the call.
	// Providers driven by commands rather than markup (Telnyx Call Control) may send their
	// commands here and return an empty 200 response.
	Answer(ctx context.Context, ev Event, a Answer) (Response, error)
	// Reject renders the polite refusal of an inbound call (unknown number, paused agent, no
	// credits): the caller hears a short message, or a busy/reject, and the call ends.
	Reject(ctx context.Context, ev Event, reason string) (Response, error)
}

// Config is what an adapter is built from: the credential's fields and the platform's options.
type Config struct {
	// Fields are the credential's fields, secrets decrypted (e.g. accountSid, authToken).
	Fields map[string]string
	// BaseURL replaces the provider's API base URL (tests point it at a fake); empty means the
	// provider's public API.
	BaseURL string
	// HTTPClient makes the provider requests; nil means a client with a 15 s timeout.
	HTTPClient *http.Client
	// Now is the clock (signature freshness, JWT issue times); nil means time.Now.
	Now func() time.Time
}

// PlaceRequest is an outbound call to start.
type PlaceRequest struct {
	// CallID is Parley's call ID. Adapters echo it to the provider where the provider allows a
	// correlation value (URL query, client_state, CustomField) so callbacks name it.
	CallID string
	// From and To are E.164 numbers ("+14155550100").
	From, To string
	// AnswerURL is where the provider asks for the call's markup once it is answered
	// ({baseUrl}/telephony/{workspaceId}/{provider}/voice?callId=…).
	AnswerURL string
	// StatusURL receives the call's status callbacks
	// ({baseUrl}/telephony/{workspaceId}/{provider}/status?callId=…).
	StatusURL string
	// RingTimeout is how long the call may ring before it counts as no answer (0: provider default).
	RingTimeout time.Duration
	// TimeLimit is the longest the call may last once answered (0: provider default).
	TimeLimit time.Duration
	// MachineDetection asks the provider to detect answering machines (voicemail outcome).
	MachineDetection bool
}

// PlaceResult is the provider's answer to Place.
type PlaceResult struct {
	// ProviderCallID is the provider's ID of the call (Twilio CallSid, Plivo request_uuid,
	// Telnyx call_control_id, Vonage uuid, Exotel Sid).
	ProviderCallID string
}

// Request is an HTTP request from the provider, as received, for Parse.
type Request struct {
	// URL is the full public URL the provider requested: the platform's base URL, the path and
	// the raw query (signatures cover it exactly as the provider saw it).
	URL    string
	Method string
	Header http.Header
	// Body is the raw body, unparsed.
	Body []byte
}

// EventKind tells a new inbound call from a status report.
type EventKind string

const (
	// Inbound is a call arriving at one of the workspace's numbers (a voice request with no
	// Parley call ID).
	Inbound EventKind = "inbound"
	// Answered is the provider asking for the markup of a call Parley placed, now answered.
	Answered EventKind = "answered"
	// Status is a status callback about a known call.
	Status EventKind = "status"
)

// CallStatus is a provider status mapped onto Parley's call states.
type CallStatus string

const (
	StatusInitiating CallStatus = "initiating"
	StatusRinging    CallStatus = "ringing"
	StatusInProgress CallStatus = "in_progress"
	StatusCompleted  CallStatus = "completed"
	StatusBusy       CallStatus = "busy"
	StatusNoAnswer   CallStatus = "no_answer"
	StatusVoicemail  CallStatus = "voicemail"
	StatusFailed     CallStatus = "failed"
	StatusCanceled   CallStatus = "canceled"
)

// Event is a parsed, verified provider request.
type Event struct {
	Kind EventKind
	// CallID is Parley's call ID when the provider echoed it (outbound calls), else empty.
	CallID string
	// ProviderCallID is the provider's ID of the call.
	ProviderCallID string
	// From and To are E.164 numbers as the provider reported them.
	From, To string
	// Status is the call's state as the provider reports it ("" when the request reports none,
	// e.g. a voice request).
	Status CallStatus
	// DurationSeconds is the billable duration when the provider reports it (on the end).
	DurationSeconds int
	// Reason is the provider's own reason for an end (hangup cause, SIP code), for the record.
	Reason string
	// Sequence orders a call's callbacks when the provider numbers them (Twilio SequenceNumber);
	// -1 when it does not.
	Sequence int
	// OccurredAt is when the provider says the event happened (zero when it does not say).
	OccurredAt time.Time
}

// Answer is what an answered call hears and where its audio goes.
type Answer struct {
	// CallID is Parley's call ID.
	CallID string
	// Greeting is spoken with the provider's own text-to-speech.
	Greeting string
	// Language is the BCP 47 language of the greeting ("en-US").
	Language string
	// MediaURL, when set, is the voice runtime's WebSocket endpoint the call's audio is streamed
	// to after the greeting; when empty the call ends after the greeting.
	MediaURL string
	// StatusURL receives the call's status callbacks (for inbound calls, whose status URL the
	// provider may not know yet).
	StatusURL string
}

// Response is the HTTP response to send back to the provider.
type Response struct {
	Status      int // 0 means 200
	ContentType string
	Body        []byte
}

// ErrBadSignature is wrapped by Parse when the request is not signed by the provider (or not by
// this credential): the HTTP layer answers 403 and changes nothing.
var ErrBadSignature = errors.New("telephony: bad signature")

// ErrMalformed is wrapped by Parse when a correctly signed request lacks what it must carry.
var ErrMalformed = errors.New("telephony: malformed provider request")

// ProviderError is a refusal by the provider's API (or a failure to reach it).
type ProviderError struct {
	Provider string
	// HTTPStatus is the provider's HTTP status (0 when the provider was not reached).
	HTTPStatus int
	// Code is the provider's own error code when it gives one ("20003", "invalid_credentials").
	Code string
	// Message is the provider's message, for the user.
	Message string
	// Retryable is true for failures worth retrying later (network, 429, 5xx).
	Retryable bool
	// RetryAfter is the provider's Retry-After, when it sent one.
	RetryAfter time.Duration
}

func (e *ProviderError) Error() string {
	s := e.Provider + ": "
	if e.HTTPStatus != 0 {
		s += fmt.Sprintf("HTTP %d: ", e.HTTPStatus)
	}
	if e.Code != "" {
		s += e.Code + ": "
	}
	return s + e.Message
}

// IsAuthError reports whether err is the provider refusing the credential (401/403).
func IsAuthError(err error) bool {
	var pe *ProviderError
	return errors.As(err, &pe) && (pe.HTTPStatus == http.StatusUnauthorized || pe.HTTPStatus == http.StatusForbidden)
}
