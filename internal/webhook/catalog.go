package webhook

import (
	"encoding/json"
	"sort"
)

// EventType is one entry of the event catalog.
type EventType struct {
	Type        string `json:"type" example:"agent.created"`
	Description string `json:"description"`
	// Available is false for events of capabilities that have not landed yet: they can be
	// subscribed to, and are published once the capability exists.
	Available bool `json:"available" doc:"Whether this version of Parley publishes the event yet; endpoints may subscribe to it either way."`
	// Example is the data of an example event (the envelope's data member).
	Example map[string]any `json:"example" doc:"An example of the event's data (the envelope's data member)."`
	// Schema is a JSON Schema of data, derived from the example; fields may be added over time.
	Schema map[string]any `json:"schema" doc:"JSON Schema of the event's data; fields may be added, never removed or renamed."`
}

const exampleTime = "2026-11-27T09:00:00.000Z"

func obj(kv ...any) map[string]any {
	m := map[string]any{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

var (
	exWorkspace = obj("id", "ws_01jdq6c2v1f6m8t7x0k9w3e4r5", "name", "Acme Support", "slug", "acme-support", "timezone", "Europe/Berlin",
		"createdAt", exampleTime, "updatedAt", exampleTime)
	exMember = obj("userId", "user_01jdq6c2v1f6m8t7x0k9w3e4r6", "email", "ada@example.com", "name", "Ada Lovelace", "role", "admin", "joinedAt", exampleTime)
	exAPIKey = obj("id", "key_01jdq6c2v1f6m8t7x0k9w3e4r7", "workspaceId", "ws_01jdq6c2v1f6m8t7x0k9w3e4r5", "name", "CRM sync",
		"prefix", "parley_live_ab12", "lastFour", "9f3c", "scopes", []any{"contacts:write"}, "mode", "live", "status", "active",
		"createdBy", "user_01jdq6c2v1f6m8t7x0k9w3e4r6", "createdAt", exampleTime)
	exAgent = obj("id", "agent_01jdq6c2v1f6m8t7x0k9w3e4r8", "workspaceId", "ws_01jdq6c2v1f6m8t7x0k9w3e4r5", "name", "Front desk",
		"version", 1, "createdBy", "user_01jdq6c2v1f6m8t7x0k9w3e4r6", "createdAt", exampleTime, "updatedAt", exampleTime)
	exCampaign = obj("campaignId", "camp_01jdq6c2v1f6m8t7x0k9w3e4r9", "agentId", "agent_01jdq6c2v1f6m8t7x0k9w3e4r8", "name", "November renewals", "status", "running")
	exCall     = obj("callId", "call_01jdq6c2v1f6m8t7x0k9w3e4ra", "id", "call_01jdq6c2v1f6m8t7x0k9w3e4ra", "workspaceId", "ws_01jdq6c2v1f6m8t7x0k9w3e4r0",
		"agentId", "agent_01jdq6c2v1f6m8t7x0k9w3e4r8", "direction", "outbound", "provider", "sim", "from", "+14155550100", "to", "+14155550123",
		"status", "completed", "durationSeconds", 0, "cost", "0", "costMicros", 0, "variables", obj(), "metadata", obj(), "queuedAt", exampleTime)
	exCredits = obj("balanceMicros", 12500000, "currency", "credits")
)

func with(base map[string]any, kv ...any) map[string]any {
	m := map[string]any{}
	for k, v := range base {
		m[k] = v
	}
	for k, v := range obj(kv...) {
		m[k] = v
	}
	return m
}

// catalog is every event type an endpoint can subscribe to.
var catalog = []EventType{
	{Type: "workspace.updated", Available: true, Description: "The workspace's name, time zone or settings changed.",
		Example: obj("workspace", exWorkspace, "changes", []any{"name"})},
	{Type: "member.invited", Available: true, Description: "Someone was invited to the workspace.",
		Example: obj("invitation", obj("id", "inv_01jdq6c2v1f6m8t7x0k9w3e4rb", "email", "grace@example.com", "role", "member", "status", "pending", "createdAt", exampleTime, "expiresAt", exampleTime))},
	{Type: "member.joined", Available: true, Description: "An invitation was accepted: a new member.",
		Example: obj("member", exMember, "invitationId", "inv_01jdq6c2v1f6m8t7x0k9w3e4rb")},
	{Type: "member.removed", Available: true, Description: "A member was removed or left (reason: removed or left).",
		Example: obj("member", exMember, "reason", "removed")},
	{Type: "member.role_changed", Available: true, Description: "A member's role changed.",
		Example: obj("member", exMember, "previousRole", "member")},
	{Type: "api_key.created", Available: true, Description: "An API key was created (never with its secret).", Example: exAPIKey},
	{Type: "api_key.revoked", Available: true, Description: "An API key was revoked.", Example: with(exAPIKey, "status", "revoked", "revokedAt", exampleTime)},
	{Type: "agent.created", Available: true, Description: "An agent was created.", Example: exAgent},
	{Type: "agent.updated", Available: true, Description: "An agent was changed (a new version).",
		Example: obj("agent", with(exAgent, "version", 2), "changes", []any{"name"})},
	{Type: "agent.deleted", Available: true, Description: "An agent was deleted.",
		Example: obj("id", "agent_01jdq6c2v1f6m8t7x0k9w3e4r8", "name", "Front desk", "version", 2)},
	{Type: "contact_import.completed", Available: true, Description: "A CSV import of contacts finished.",
		Example: obj("importId", "imp_01jdq6c2v1f6m8t7x0k9w3e4rc", "created", 120, "updated", 3, "skipped", 1)},
	{Type: "campaign.started", Available: true, Description: "A campaign started dialing.", Example: exCampaign},
	{Type: "campaign.paused", Available: true, Description: "A campaign was paused.", Example: with(exCampaign, "status", "paused")},
	{Type: "campaign.resumed", Available: true, Description: "A paused campaign resumed.", Example: exCampaign},
	{Type: "campaign.completed", Available: true, Description: "A campaign called every contact it could.", Example: with(exCampaign, "status", "completed")},
	{Type: "call.queued", Available: true, Description: "A call was created and waits for a line.", Example: with(exCall, "status", "queued")},
	{Type: "call.ringing", Available: true, Description: "The callee's phone is ringing.", Example: with(exCall, "status", "ringing")},
	{Type: "call.started", Available: true, Description: "The call was answered and the agent is talking.", Example: with(exCall, "status", "in_progress")},
	{Type: "call.completed", Available: true, Description: "The call was answered and ended (status completed, or voicemail when a machine answered).", Example: with(exCall, "durationSeconds", 184, "costMicros", 420000)},
	{Type: "call.failed", Available: true, Description: "The call ended without being answered: busy, no_answer, failed or canceled (see status and endReason).", Example: with(exCall, "status", "no_answer", "endReason", "no answer")},
	{Type: "credits.added", Available: true, Description: "Credits were added to the workspace.", Example: with(exCredits, "amountMicros", 10000000)},
	{Type: "credits.low", Available: true, Description: "The balance fell below the workspace's low-balance threshold.", Example: with(exCredits, "thresholdMicros", 15000000)},
	{Type: "credits.depleted", Available: true, Description: "The balance reached zero: new calls are refused.", Example: with(exCredits, "balanceMicros", 0)},
	{Type: "webhook.endpoint_disabled", Available: true, Description: "A webhook endpoint was disabled by Parley: it answered 410 Gone, or every delivery to it failed for 5 days.",
		Example: obj("endpointId", "whep_01jdq6c2v1f6m8t7x0k9w3e4rd", "url", "https://hooks.example.com/parley", "reason", "the endpoint answered 410 Gone")},
	{Type: "ping", Available: true, Description: "A test event, sent only by POST …/webhooks/{endpointId}/test to that endpoint.",
		Example: obj("endpointId", "whep_01jdq6c2v1f6m8t7x0k9w3e4rd", "message", "Hello from Parley")},
}

var catalogTypes = func() map[string]bool {
	m := map[string]bool{}
	for i := range catalog {
		catalog[i].Schema = schemaOf(catalog[i].Example)
		m[catalog[i].Type] = true
	}
	return m
}()

// Catalog returns the event types endpoints can subscribe to, sorted by type.
func Catalog() []EventType {
	out := append([]EventType(nil), catalog...)
	sort.Slice(out, func(i, j int) bool { return out[i].Type < out[j].Type })
	return out
}

// KnownType reports whether t is in the catalog.
func KnownType(t string) bool { return catalogTypes[t] }

// schemaOf derives a JSON Schema from an example value.
func schemaOf(v any) map[string]any {
	switch x := v.(type) {
	case map[string]any:
		props := map[string]any{}
		var req []string
		for k, e := range x {
			props[k] = schemaOf(e)
			req = append(req, k)
		}
		sort.Strings(req)
		return map[string]any{"type": "object", "properties": props, "required": req}
	case []any:
		s := map[string]any{"type": "array"}
		if len(x) > 0 {
			s["items"] = schemaOf(x[0])
		}
		return s
	case string:
		if x == exampleTime {
			return map[string]any{"type": "string", "format": "date-time"}
		}
		return map[string]any{"type": "string"}
	case int, int64:
		return map[string]any{"type": "integer"}
	case float64, json.Number:
		return map[string]any{"type": "number"}
	case bool:
		return map[string]any{"type": "boolean"}
	}
	return map[string]any{}
}
