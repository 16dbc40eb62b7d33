package telephony

import (
	"net/url"
	"time"

	"github.com/parleyhq/parley/internal/platform/apierr"
)

// Number is one of the workspace's phone numbers at one of its credentials.
type Number struct {
	ID             string    `json:"id" doc:"The number's ID (num_…)."`
	WorkspaceID    string    `json:"workspaceId"`
	E164           string    `json:"e164" example:"+14155550100"`
	CredentialID   string    `json:"credentialId"`
	Provider       string    `json:"provider"`
	Label          string    `json:"label"`
	InboundAgentID *string   `json:"inboundAgentId,omitempty" doc:"The agent that answers calls to this number."`
	RoutingURL     string    `json:"routingUrl,omitempty" doc:"The customer's routing webhook for inbound calls, when set: it names the agent per call."`
	RoutingSecret  string    `json:"routingSecret,omitempty" doc:"The routing webhook's signing secret (whsec_…): in the answer that sets or changes routingUrl only. Verify Parley's routing requests with it as with webhooks."`
	VoiceURL       string    `json:"voiceUrl" doc:"Paste into the provider's console as the number's voice / answer URL."`
	StatusURL      string    `json:"statusUrl" doc:"Paste as the number's status / event / hangup URL."`
	CreatedAt      time.Time `json:"createdAt"`
	UpdatedAt      time.Time `json:"updatedAt"`
}

// Where a number's routing secret is sealed.
const (
	numbersTable        = "phone_numbers"
	routingSecretColumn = "routing_secret"
)

// NumberInput is the body of POST …/telephony/numbers and, all optional, of PATCH.
type NumberInput struct {
	E164           string  `json:"e164,omitempty" maxLength:"40" example:"+14155550100" doc:"Required on create; never changes."`
	CredentialID   string  `json:"credentialId,omitempty" maxLength:"64" doc:"Required on create."`
	Label          *string `json:"label,omitempty" maxLength:"100"`
	InboundAgentID *string `json:"inboundAgentId,omitempty" maxLength:"64" doc:"An agent of the workspace; empty string removes it."`
	RoutingURL     *string `json:"routingUrl,omitempty" maxLength:"2048" doc:"https URL of your routing webhook; empty string removes it."`
}

// checkRoutingURL validates a routing webhook URL: https (http only when allowHTTP), absolute,
// no user info.
func checkRoutingURL(s string, allowHTTP bool) error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	bad := err != nil || !u.IsAbs() || u.Host == "" || u.User != nil || (u.Scheme != "https" && !(allowHTTP && u.Scheme == "http"))
	if bad {
		return apierr.Validation(apierr.FieldError{Location: "body.routingUrl", Message: "routingUrl must be an absolute https URL without user info", Value: s})
	}
	return nil
}
