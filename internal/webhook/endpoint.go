package webhook

import (
	"net"
	"net/netip"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"code.dny.dev/ssrf"

	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/id"
)

// Limits of an endpoint.
const (
	MaxURLLength   = 2000
	MaxDescription = 500
	MaxEvents      = 50
	MaxAgents      = 100
	MaxHeaders     = 20
	// PreviousSecretValidity is how long the secret replaced by a rotation still signs deliveries.
	PreviousSecretValidity = 24 * time.Hour
)

// Endpoint is a workspace's webhook endpoint, without its secret.
type Endpoint struct {
	ID                      string            `json:"id" doc:"The endpoint's ID (whep_…)."`
	WorkspaceID             string            `json:"workspaceId"`
	URL                     string            `json:"url" example:"https://hooks.example.com/parley"`
	Description             string            `json:"description"`
	Events                  []string          `json:"events" doc:"The event types it receives; [\"*\"] for all."`
	AgentIDs                []string          `json:"agentIds" doc:"When not empty, only events about these agents (calls, campaigns, the agents themselves)."`
	Headers                 map[string]string `json:"headers" doc:"Extra headers sent with every delivery."`
	Enabled                 bool              `json:"enabled"`
	DisabledReason          string            `json:"disabledReason,omitempty" doc:"Why Parley disabled the endpoint, when it did (e.g. it answered 410 Gone)."`
	PreviousSecretExpiresAt *time.Time        `json:"previousSecretExpiresAt,omitempty" doc:"While a rotation is in progress: when the previous secret stops signing deliveries."`
	CreatedAt               time.Time         `json:"createdAt"`
	UpdatedAt               time.Time         `json:"updatedAt"`
}

// Secret is an endpoint's signing secret.
type Secret struct {
	Secret string `json:"secret" example:"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" doc:"The signing secret: verify deliveries with it (Standard Webhooks)."`
}

// CreatedEndpoint is an endpoint with its secret, as create answers.
type CreatedEndpoint struct {
	Endpoint
	Secret string `json:"secret" doc:"The signing secret (also available later through reveal-secret)."`
}

// receives reports whether the endpoint takes an event of type t about agentID ("" when the event
// is about no agent). (A function, not a method: huma embeds Endpoint in generated response types,
// and reflect cannot embed a type that has methods after the first field.)
func receives(e Endpoint, t, agentID string) bool {
	if !e.Enabled || t == "ping" {
		return false
	}
	if !slices.Contains(e.Events, "*") && !slices.Contains(e.Events, t) {
		return false
	}
	return len(e.AgentIDs) == 0 || (agentID != "" && slices.Contains(e.AgentIDs, agentID))
}

// urlPolicy checks endpoint URLs when they are saved.
type urlPolicy struct {
	allowPrivate bool
	guard        *ssrf.Guardian
}

func newGuard() *ssrf.Guardian { return ssrf.New(ssrf.WithPorts(80, 443, 8443)) }

func (p urlPolicy) check(raw string) (string, *apierr.Error) {
	bad := func(msg string) (string, *apierr.Error) {
		return "", apierr.Validation(apierr.FieldError{Location: "body.url", Message: msg, Value: truncate(raw, 200)})
	}
	raw = strings.TrimSpace(raw)
	if raw == "" || len(raw) > MaxURLLength {
		return bad("url is required, at most " + strconv.Itoa(MaxURLLength) + " characters")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return bad("url must be an absolute https URL")
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && p.allowPrivate:
	default:
		return bad("url must use https")
	}
	if u.User != nil {
		return bad("url must not carry a user name or password: use headers")
	}
	if u.Fragment != "" {
		return bad("url must not have a #fragment")
	}
	if p.allowPrivate {
		return u.String(), nil
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") || strings.HasSuffix(host, ".internal") || strings.HasSuffix(host, ".local") || !strings.Contains(host, ".") && net.ParseIP(host) == nil {
		return bad("url must name a public host")
	}
	if port := u.Port(); port != "" && port != "443" && port != "80" && port != "8443" {
		return bad("url port must be 443, 80 or 8443")
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if p.guard.SafeAddr(ip) != nil {
			return bad("url must not point to a private, loopback, link-local or metadata address")
		}
	}
	return u.String(), nil
}

func validEvents(events []string) ([]string, *apierr.Error) {
	if len(events) == 0 {
		return nil, apierr.Validation(apierr.FieldError{Location: "body.events", Message: `give at least one event type, or ["*"] for all`})
	}
	if len(events) > MaxEvents {
		return nil, apierr.Validation(apierr.FieldError{Location: "body.events", Message: "at most " + strconv.Itoa(MaxEvents) + " event types"})
	}
	var fields []apierr.FieldError
	for i, e := range events {
		if e == "*" && len(events) > 1 {
			fields = append(fields, apierr.FieldError{Location: "body.events[" + strconv.Itoa(i) + "]", Message: `"*" stands alone`, Value: e})
		} else if e != "*" && !KnownType(e) || e == "ping" {
			fields = append(fields, apierr.FieldError{Location: "body.events[" + strconv.Itoa(i) + "]",
				Message: "unknown event type " + strconv.Quote(truncate(e, 100)) + "; see GET /v1/webhook-event-types", Value: truncate(e, 100)})
		}
	}
	if len(fields) > 0 {
		return nil, apierr.Validation(fields...)
	}
	out := slices.Clone(events)
	slices.Sort(out)
	return slices.Compact(out), nil
}

func validAgents(ids []string) ([]string, *apierr.Error) {
	if len(ids) > MaxAgents {
		return nil, apierr.Validation(apierr.FieldError{Location: "body.agentIds", Message: "at most " + strconv.Itoa(MaxAgents) + " agents"})
	}
	var fields []apierr.FieldError
	for i, a := range ids {
		if !id.Valid(id.Agent, a) {
			fields = append(fields, apierr.FieldError{Location: "body.agentIds[" + strconv.Itoa(i) + "]", Message: "not an agent ID (agent_…)", Value: truncate(a, 100)})
		}
	}
	if len(fields) > 0 {
		return nil, apierr.Validation(fields...)
	}
	out := slices.Clone(ids)
	if out == nil {
		out = []string{}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// reservedHeaders are set by Parley and cannot be overridden.
var reservedHeaders = []string{"host", "content-type", "content-length", "user-agent", "connection", "transfer-encoding"}

func validHeaders(h map[string]string) (map[string]string, *apierr.Error) {
	if len(h) > MaxHeaders {
		return nil, apierr.Validation(apierr.FieldError{Location: "body.headers", Message: "at most " + strconv.Itoa(MaxHeaders) + " headers"})
	}
	out := make(map[string]string, len(h))
	var fields []apierr.FieldError
	for k, v := range h {
		lk := strings.ToLower(k)
		switch {
		case !validToken(k) || len(k) > 100:
			fields = append(fields, apierr.FieldError{Location: "body.headers." + truncate(k, 100), Message: "not a valid header name"})
		case slices.Contains(reservedHeaders, lk) || strings.HasPrefix(lk, "webhook-") || strings.HasPrefix(lk, "parley-"):
			fields = append(fields, apierr.FieldError{Location: "body.headers." + k, Message: "header " + k + " is set by Parley"})
		case len(v) > 1000 || strings.ContainsAny(v, "\r\n\x00"):
			fields = append(fields, apierr.FieldError{Location: "body.headers." + k, Message: "header value must be at most 1000 characters, on one line"})
		default:
			out[textproto.CanonicalMIMEHeaderKey(k)] = v
		}
	}
	if len(fields) > 0 {
		slices.SortFunc(fields, func(a, b apierr.FieldError) int { return strings.Compare(a.Location, b.Location) })
		return nil, apierr.Validation(fields...)
	}
	return out, nil
}

func validToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c > 127 || !(c == '-' || c == '_' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

func validDescription(d string) (string, *apierr.Error) {
	d = strings.TrimSpace(d)
	if len(d) > MaxDescription {
		return "", apierr.Validation(apierr.FieldError{Location: "body.description", Message: "at most " + strconv.Itoa(MaxDescription) + " characters"})
	}
	return d, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
