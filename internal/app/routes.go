package app

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/swaggest/swgui/v5emb"

	"github.com/parleyhq/parley/internal/agent"
	"github.com/parleyhq/parley/internal/apikey"
	"github.com/parleyhq/parley/internal/billing"
	"github.com/parleyhq/parley/internal/call"
	"github.com/parleyhq/parley/internal/campaign"
	"github.com/parleyhq/parley/internal/contact"
	"github.com/parleyhq/parley/internal/identity"
	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/audit"
	"github.com/parleyhq/parley/internal/platform/authz"
	"github.com/parleyhq/parley/internal/platform/idempotency"
	"github.com/parleyhq/parley/internal/telephony"
	"github.com/parleyhq/parley/internal/webhook"
	"github.com/parleyhq/parley/internal/workspace"
)

// act names the authz action of a workspace operation as the OpenAPI extension x-parley-action,
// which the isolation suite reads to check every role and scope against the matrix.
func act(a authz.Action) map[string]any { return map[string]any{"x-parley-action": string(a)} }

// maxBodyBytes is the default request body limit (413 beyond it).
const maxBodyBytes = 1 << 20

var (
	userAuth = []map[string][]string{{"session": {}}}
	// anyAuth: a session or an API key (authz then decides what a key may do).
	anyAuth = []map[string][]string{{"session": {}}, {"bearer": {}}}
)

func (s *Server) cookie() identity.Cookie {
	u, err := url.Parse(s.Config.BaseURL)
	return identity.Cookie{Secure: err == nil && u.Scheme == "https"}
}

// newAPI makes the huma API on mux with Parley's conventions.
func newAPI(mux *http.ServeMux) huma.API {
	apierr.InstallHuma()
	cfg := huma.DefaultConfig("Parley API", Version)
	cfg.Info.Description = "Parley is a self-hostable workspace platform for voice-AI agents. " +
		"Workspace resources live under /v1/workspaces/{workspaceId}/…. Errors are RFC 9457 problem+json with a stable `code`."
	cfg.OpenAPIPath = "/v1/openapi"
	cfg.DocsPath = ""
	cfg.SchemasPath = "/v1/schemas"
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"session": {Type: "apiKey", In: "cookie", Name: "parley_session", Description: "The dashboard's session cookie (__Host-parley_session on https)."},
		"bearer":  {Type: "http", Scheme: "bearer", BearerFormat: "parley_live_… / parley_test_…", Description: "A workspace API key: `Authorization: Bearer parley_live_…`."},
	}
	return humago.New(mux, cfg)
}

// routes wires every route of the server: this file is the one place that lists them.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	api := newAPI(mux)
	api.UseMiddleware(requireAuth(api))

	ih := &identity.HTTP{Svc: s.Identity, Cookie: s.cookie()}
	wh := &workspace.HTTP{Svc: s.Workspaces}

	// Accounts.
	huma.Register(api, huma.Operation{OperationID: "signup", Method: http.MethodPost, Path: "/v1/auth/signup", Tags: []string{"Accounts"},
		Summary: "Create an account", Description: "Creates an account and signs it in (sets the session cookie).", DefaultStatus: http.StatusCreated,
		Errors: []int{409, 422, 429}}, ih.Signup)
	huma.Register(api, huma.Operation{OperationID: "login", Method: http.MethodPost, Path: "/v1/auth/login", Tags: []string{"Accounts"},
		Summary: "Sign in", Errors: []int{401, 429}}, ih.Login)
	huma.Register(api, huma.Operation{OperationID: "logout", Method: http.MethodPost, Path: "/v1/auth/logout", Tags: []string{"Accounts"},
		Summary: "Sign out", Description: "Ends the current session.", DefaultStatus: http.StatusNoContent, Security: userAuth}, ih.Logout)
	huma.Register(api, huma.Operation{OperationID: "request-password-reset", Method: http.MethodPost, Path: "/v1/auth/password-reset", Tags: []string{"Accounts"},
		Summary: "Ask for a password-reset link", Description: "Mails a single-use link valid for one hour. Answers 202 whether or not the account exists.",
		DefaultStatus: http.StatusAccepted, Errors: []int{422, 429}}, ih.RequestReset)
	huma.Register(api, huma.Operation{OperationID: "confirm-password-reset", Method: http.MethodPost, Path: "/v1/auth/password-reset/confirm", Tags: []string{"Accounts"},
		Summary: "Set a new password with a reset token", Description: "Ends every session of the account.", DefaultStatus: http.StatusNoContent,
		Errors: []int{410, 422}}, ih.ConfirmReset)
	huma.Register(api, huma.Operation{OperationID: "get-me", Method: http.MethodGet, Path: "/v1/me", Tags: []string{"Accounts"},
		Summary: "The signed-in user", Security: userAuth}, ih.Me)
	huma.Register(api, huma.Operation{OperationID: "update-me", Method: http.MethodPatch, Path: "/v1/me", Tags: []string{"Accounts"},
		Summary: "Change your name", Security: userAuth, Errors: []int{422}}, ih.UpdateMe)
	huma.Register(api, huma.Operation{OperationID: "change-password", Method: http.MethodPost, Path: "/v1/me/password", Tags: []string{"Accounts"},
		Summary: "Change your password", Description: "Ends every session of the account and opens a new one for this browser.",
		Security: userAuth, Errors: []int{422}}, ih.ChangePassword)

	// Workspaces.
	huma.Register(api, huma.Operation{OperationID: "create-workspace", Method: http.MethodPost, Path: "/v1/workspaces", Tags: []string{"Workspaces"},
		Summary: "Create a workspace", Description: "You become its owner.", DefaultStatus: http.StatusCreated, Security: userAuth, Errors: []int{422}}, wh.Create)
	huma.Register(api, huma.Operation{OperationID: "list-workspaces", Method: http.MethodGet, Path: "/v1/workspaces", Tags: []string{"Workspaces"},
		Summary: "List your workspaces", Description: "Newest first, with your role in each. An API key sees its own workspace.", Security: anyAuth}, wh.List)
	huma.Register(api, huma.Operation{OperationID: "get-workspace", Method: http.MethodGet, Path: "/v1/workspaces/{workspaceId}", Tags: []string{"Workspaces"},
		Summary: "Get a workspace", Security: anyAuth, Errors: []int{404}, Extensions: act(authz.WorkspaceView)}, wh.Get)
	huma.Register(api, huma.Operation{OperationID: "update-workspace", Method: http.MethodPatch, Path: "/v1/workspaces/{workspaceId}", Tags: []string{"Workspaces"},
		Summary: "Rename a workspace or change its time zone", Description: "Owner and admins.", Security: userAuth, Errors: []int{403, 404, 422}, Extensions: act(authz.WorkspaceUpdate)}, wh.Update)
	huma.Register(api, huma.Operation{OperationID: "delete-workspace", Method: http.MethodDelete, Path: "/v1/workspaces/{workspaceId}", Tags: []string{"Workspaces"},
		Summary: "Delete a workspace and all of its data", Description: "Owner only. Send {\"confirm\": \"<workspace id>\"}.",
		DefaultStatus: http.StatusNoContent, Security: userAuth, Errors: []int{403, 404, 422}, Extensions: act(authz.WorkspaceDelete)}, wh.Delete)

	// Team: members, invitations, ownership.
	team := []string{"Team"}
	huma.Register(api, huma.Operation{OperationID: "list-members", Method: http.MethodGet, Path: "/v1/workspaces/{workspaceId}/members", Tags: team,
		Summary: "List members", Description: "Every member. Newest first (by join time), cursor-paginated.", Security: userAuth, Errors: []int{404, 422}, Extensions: act(authz.MembersView)}, wh.ListMembers)
	huma.Register(api, huma.Operation{OperationID: "change-member-role", Method: http.MethodPatch, Path: "/v1/workspaces/{workspaceId}/members/{userId}", Tags: team,
		Summary: "Change a member's role", Description: "Owner and admins; to admin or member. The owner's role changes only by transferring ownership.",
		Security: userAuth, Errors: []int{403, 404, 409, 422}, Extensions: act(authz.MembersManage)}, wh.ChangeRole)
	huma.Register(api, huma.Operation{OperationID: "remove-member", Method: http.MethodDelete, Path: "/v1/workspaces/{workspaceId}/members/{userId}", Tags: team,
		Summary: "Remove a member", Description: "Owner and admins; never the owner. Access ends on the member's next request.",
		DefaultStatus: http.StatusNoContent, Security: userAuth, Errors: []int{403, 404, 409}, Extensions: act(authz.MembersManage)}, wh.RemoveMember)
	huma.Register(api, huma.Operation{OperationID: "leave-workspace", Method: http.MethodPost, Path: "/v1/workspaces/{workspaceId}/leave", Tags: team,
		Summary: "Leave a workspace", Description: "Any member but the owner, who must transfer ownership first.",
		DefaultStatus: http.StatusNoContent, Security: userAuth, Errors: []int{404, 409}, Extensions: act(authz.MembersView)}, wh.Leave)
	huma.Register(api, huma.Operation{OperationID: "create-invitation", Method: http.MethodPost, Path: "/v1/workspaces/{workspaceId}/invitations", Tags: team,
		Summary: "Invite someone by email", Description: "Owner and admins; as admin or member. Mails a single-use link valid for 7 days. At most 20 per hour per workspace.",
		DefaultStatus: http.StatusCreated, Security: userAuth, Errors: []int{403, 404, 409, 422, 429}, Extensions: act(authz.MembersManage)}, wh.Invite)
	huma.Register(api, huma.Operation{OperationID: "list-invitations", Method: http.MethodGet, Path: "/v1/workspaces/{workspaceId}/invitations", Tags: team,
		Summary: "List pending invitations", Description: "Owner and admins. Not accepted, declined, revoked nor expired; newest first.",
		Security: userAuth, Errors: []int{403, 404, 422}, Extensions: act(authz.MembersManage)}, wh.ListInvitations)
	huma.Register(api, huma.Operation{OperationID: "resend-invitation", Method: http.MethodPost, Path: "/v1/workspaces/{workspaceId}/invitations/{invitationId}/resend", Tags: team,
		Summary: "Resend an invitation", Description: "Owner and admins. Mails a new link valid for 7 days; the previous link stops working.",
		Security: userAuth, Errors: []int{403, 404, 409, 429}, Extensions: act(authz.MembersManage)}, wh.ResendInvitation)
	huma.Register(api, huma.Operation{OperationID: "revoke-invitation", Method: http.MethodDelete, Path: "/v1/workspaces/{workspaceId}/invitations/{invitationId}", Tags: team,
		Summary: "Revoke an invitation", Description: "Owner and admins. Its link stops working.",
		DefaultStatus: http.StatusNoContent, Security: userAuth, Errors: []int{403, 404, 409}, Extensions: act(authz.MembersManage)}, wh.RevokeInvitation)
	huma.Register(api, huma.Operation{OperationID: "preview-invitation", Method: http.MethodGet, Path: "/v1/invitations/{token}", Tags: team,
		Summary: "What an invitation link offers", Description: "No sign-in needed: the token is the credential. 410 invitation_invalid once it is used, declined, revoked or expired.",
		Errors: []int{410}}, wh.PreviewInvitation)
	huma.Register(api, huma.Operation{OperationID: "accept-invitation", Method: http.MethodPost, Path: "/v1/invitations/{token}/accept", Tags: team,
		Summary: "Accept an invitation", Description: "Signed in with the invited email (any case). Answers the workspace with your new role. To accept without an account, sign up with invitationToken.",
		Security: userAuth, Errors: []int{403, 409, 410}}, wh.AcceptInvitation)
	huma.Register(api, huma.Operation{OperationID: "decline-invitation", Method: http.MethodPost, Path: "/v1/invitations/{token}/decline", Tags: team,
		Summary: "Decline an invitation", Description: "Signed in with the invited email (any case).",
		DefaultStatus: http.StatusNoContent, Security: userAuth, Errors: []int{403, 410}}, wh.DeclineInvitation)
	huma.Register(api, huma.Operation{OperationID: "transfer-ownership", Method: http.MethodPost, Path: "/v1/workspaces/{workspaceId}/transfer-ownership", Tags: team,
		Summary: "Transfer ownership", Description: "Owner only, to an existing member. The previous owner becomes an admin; one transaction.",
		Security: userAuth, Errors: []int{403, 404, 422}, Extensions: act(authz.OwnershipTransfer)}, wh.TransferOwnership)

	// API keys.
	kh := &apikey.HTTP{Svc: s.APIKeys}
	huma.Register(api, huma.Operation{OperationID: "create-api-key", Method: http.MethodPost, Path: "/v1/workspaces/{workspaceId}/api-keys", Tags: []string{"API keys"},
		Summary: "Create an API key", Description: "Owner and admins. The answer holds the key (`secret`): it is shown this once and only a hash is kept.",
		DefaultStatus: http.StatusCreated, Security: anyAuth, Errors: []int{401, 403, 404, 422}, Extensions: act(authz.APIKeysManage)}, kh.Create)
	huma.Register(api, huma.Operation{OperationID: "list-api-keys", Method: http.MethodGet, Path: "/v1/workspaces/{workspaceId}/api-keys", Tags: []string{"API keys"},
		Summary: "List API keys", Description: "Owner and admins. Newest first, revoked and expired keys included (see `status`); never the secret.",
		Security: anyAuth, Errors: []int{401, 403, 404, 422}, Extensions: act(authz.APIKeysManage)}, kh.List)
	huma.Register(api, huma.Operation{OperationID: "get-api-key", Method: http.MethodGet, Path: "/v1/workspaces/{workspaceId}/api-keys/{keyId}", Tags: []string{"API keys"},
		Summary: "Get an API key", Description: "Owner and admins. Never the secret.", Security: anyAuth, Errors: []int{401, 403, 404}, Extensions: act(authz.APIKeysManage)}, kh.Get)
	huma.Register(api, huma.Operation{OperationID: "revoke-api-key", Method: http.MethodDelete, Path: "/v1/workspaces/{workspaceId}/api-keys/{keyId}", Tags: []string{"API keys"},
		Summary: "Revoke an API key", Description: "Owner and admins. The key stops working at once; it stays listed with `revokedAt`.",
		DefaultStatus: http.StatusNoContent, Security: anyAuth, Errors: []int{401, 403, 404}, Extensions: act(authz.APIKeysManage)}, kh.Revoke)

	// Audit log.
	ah := &audit.HTTP{Reader: &audit.Reader{DB: s.DB}}
	huma.Register(api, huma.Operation{OperationID: "list-audit-log", Method: http.MethodGet, Path: "/v1/workspaces/{workspaceId}/audit-log", Tags: []string{"Audit"},
		Summary: "Read the audit log", Description: "Who did what to which resource, when and from where; newest first. Owner and admins.",
		Security: userAuth, Errors: []int{403, 404, 422}, Extensions: act(authz.AuditRead)}, ah.List)

	// Settings and agents.
	gh := &agent.HTTP{Svc: s.Agents}
	huma.Register(api, huma.Operation{OperationID: "get-catalog", Method: http.MethodGet, Path: "/v1/catalog", Tags: []string{"Settings"},
		Summary: "The provider catalog", Description: "Every LLM, STT and TTS provider Parley supports, with models, voices (where listable), languages and list prices (integer micro-credits per unit).",
		Security: anyAuth}, gh.Catalog)
	huma.Register(api, huma.Operation{OperationID: "get-settings", Method: http.MethodGet, Path: "/v1/workspaces/{workspaceId}/settings", Tags: []string{"Settings"},
		Summary: "Get workspace settings", Description: "Every setting, with platform defaults filling what the workspace does not set (listed in `platformDefaults`). Every role; API keys with agents:read.",
		Security: anyAuth, Errors: []int{401, 403, 404}, Extensions: act(authz.SettingsRead)}, gh.GetSettings)
	huma.Register(api, huma.Operation{OperationID: "update-settings", Method: http.MethodPatch, Path: "/v1/workspaces/{workspaceId}/settings", Tags: []string{"Settings"},
		Summary: "Change workspace settings", Description: "A JSON merge patch (RFC 7396): a value sets, `null` returns the setting to the platform default. Owner and admins. " +
			"Send `If-Match` with the ETag you read to get 412 instead of overwriting someone else's change. 409 agents_incompatible if an agent would be left with a model its inherited provider does not offer.",
		Security: userAuth, Errors: []int{400, 403, 404, 409, 412, 422}, Extensions: act(authz.SettingsWrite)}, gh.UpdateSettings)
	agent.DocumentMergePatch[agent.Settings](api, http.MethodPatch, "/v1/workspaces/{workspaceId}/settings",
		map[string]any{"llm": map[string]any{"provider": "anthropic", "model": "claude-haiku-4-5"}, "calls": map[string]any{"recordCalls": true}, "tts": map[string]any{"speed": nil}})
	agents := []string{"Agents"}
	huma.Register(api, huma.Operation{OperationID: "create-agent", Method: http.MethodPost, Path: "/v1/workspaces/{workspaceId}/agents", Tags: agents,
		Summary: "Create an agent", Description: "`name` is required; every other field is optional (absent or null: inherit from the workspace, then the platform). Owner and admins; API keys with agents:write. " +
			"`warnings` lists {{placeholders}} that are neither declared nor built in.",
		DefaultStatus: http.StatusCreated, Security: anyAuth, Errors: []int{400, 401, 403, 404, 422}, Extensions: act(authz.AgentsWrite)}, gh.CreateAgent)
	agent.DocumentMergePatch[agent.Document](api, http.MethodPost, "/v1/workspaces/{workspaceId}/agents",
		map[string]any{"name": "Front desk", "prompt": "You are the front desk of {{company}}. Help {{contact.name}} book an appointment.",
			"variables": []any{map[string]any{"name": "company", "default": "Acme Dental"}}, "llm": map[string]any{"temperature": 0.3}, "tts": map[string]any{"voice": "coral"}})
	huma.Register(api, huma.Operation{OperationID: "list-agents", Method: http.MethodGet, Path: "/v1/workspaces/{workspaceId}/agents", Tags: agents,
		Summary: "List agents", Description: "Newest first. Every role; API keys with agents:read.", Security: anyAuth, Errors: []int{401, 403, 404, 422}, Extensions: act(authz.AgentsRead)}, gh.ListAgents)
	huma.Register(api, huma.Operation{OperationID: "get-agent", Method: http.MethodGet, Path: "/v1/workspaces/{workspaceId}/agents/{agentId}", Tags: agents,
		Summary: "Get an agent", Description: "The agent's own settings (what it overrides) and its version (also the ETag). Every role; agents:read.", Security: anyAuth, Errors: []int{401, 403, 404}, Extensions: act(authz.AgentsRead)}, gh.GetAgent)
	huma.Register(api, huma.Operation{OperationID: "update-agent", Method: http.MethodPatch, Path: "/v1/workspaces/{workspaceId}/agents/{agentId}", Tags: agents,
		Summary: "Change an agent", Description: "A JSON merge patch (RFC 7396): `null` returns a setting to inheriting. Every change is a new version. Owner and admins; agents:write. " +
			"Send `If-Match` with the ETag you read to get 412 instead of overwriting someone else's change.",
		Security: anyAuth, Errors: []int{400, 401, 403, 404, 412, 422}, Extensions: act(authz.AgentsWrite)}, gh.UpdateAgent)
	agent.DocumentMergePatch[agent.Document](api, http.MethodPatch, "/v1/workspaces/{workspaceId}/agents/{agentId}",
		map[string]any{"llm": map[string]any{"model": "gpt-4.1-mini", "temperature": nil}, "status": "paused"})
	huma.Register(api, huma.Operation{OperationID: "delete-agent", Method: http.MethodDelete, Path: "/v1/workspaces/{workspaceId}/agents/{agentId}", Tags: agents,
		Summary: "Delete an agent", Description: "With its versions. Owner and admins; agents:write. To keep it, set status archived instead.",
		DefaultStatus: http.StatusNoContent, Security: anyAuth, Errors: []int{401, 403, 404, 412}, Extensions: act(authz.AgentsWrite)}, gh.DeleteAgent)
	huma.Register(api, huma.Operation{OperationID: "get-effective-agent", Method: http.MethodGet, Path: "/v1/workspaces/{workspaceId}/agents/{agentId}/effective", Tags: agents,
		Summary: "An agent's effective configuration", Description: "Every setting with its value and its source: agent, workspace or platform. Every role; agents:read.",
		Security: anyAuth, Errors: []int{401, 403, 404}, Extensions: act(authz.AgentsRead)}, gh.Effective)
	huma.Register(api, huma.Operation{OperationID: "list-agent-versions", Method: http.MethodGet, Path: "/v1/workspaces/{workspaceId}/agents/{agentId}/versions", Tags: agents,
		Summary: "List an agent's versions", Description: "Newest first, each with its author, time and changed settings. Every role; agents:read.",
		Security: anyAuth, Errors: []int{401, 403, 404, 422}, Extensions: act(authz.AgentsRead)}, gh.ListVersions)
	huma.Register(api, huma.Operation{OperationID: "get-agent-version", Method: http.MethodGet, Path: "/v1/workspaces/{workspaceId}/agents/{agentId}/versions/{number}", Tags: agents,
		Summary: "Get one version of an agent", Description: "Every role; agents:read.", Security: anyAuth, Errors: []int{401, 403, 404}, Extensions: act(authz.AgentsRead)}, gh.GetVersion)
	huma.Register(api, huma.Operation{OperationID: "restore-agent-version", Method: http.MethodPost, Path: "/v1/workspaces/{workspaceId}/agents/{agentId}/versions/{number}/restore", Tags: agents,
		Summary: "Restore a version of an agent", Description: "Makes that version's settings current, as a new version. Owner and admins; agents:write. Honours If-Match.",
		Security: anyAuth, Errors: []int{401, 403, 404, 412, 422}, Extensions: act(authz.AgentsWrite)}, gh.RestoreVersion)
	huma.Register(api, huma.Operation{OperationID: "copy-agent", Method: http.MethodPost, Path: "/v1/workspaces/{workspaceId}/agents/{agentId}/copy", Tags: agents,
		Summary: "Copy an agent to another workspace", Description: "Promotion, e.g. development to production: a new agent (version 1) in `targetWorkspaceId` with the same own settings and `copiedFrom`. " +
			"You must be owner or admin in both workspaces; otherwise, or if there is no such workspace, 422 on body.targetWorkspaceId. The copy is checked against the target's settings (422 naming the field). " +
			"Provider keys, phone numbers and credentials are never copied.",
		DefaultStatus: http.StatusCreated, Security: anyAuth, Errors: []int{401, 403, 404, 422}, Extensions: act(authz.AgentsWrite)}, gh.CopyAgent)
	keys := []string{"Provider keys"}
	huma.Register(api, huma.Operation{OperationID: "create-provider-key", Method: http.MethodPost, Path: "/v1/workspaces/{workspaceId}/provider-keys", Tags: keys,
		Summary: "Add a provider key", Description: "Bring your own key for an LLM, STT or TTS provider of the catalog: calls then use it instead of the platform's. Encrypted at rest and write-only: answers show `lastFour`, never the key. " +
			"One key per provider: 409 provider_key_exists (delete the old one to replace it). `baseUrl` (https) is required for azure-openai and openai-compatible. Owner and admins; no API key.",
		DefaultStatus: http.StatusCreated, Security: userAuth, Errors: []int{403, 404, 409, 422}, Extensions: act(authz.ProviderKeysManage)}, gh.CreateProviderKey)
	huma.Register(api, huma.Operation{OperationID: "list-provider-keys", Method: http.MethodGet, Path: "/v1/workspaces/{workspaceId}/provider-keys", Tags: keys,
		Summary: "List provider keys", Description: "Newest first; never the keys, only `lastFour`. Owner and admins; no API key.",
		Security: userAuth, Errors: []int{403, 404}, Extensions: act(authz.ProviderKeysManage)}, gh.ListProviderKeys)
	huma.Register(api, huma.Operation{OperationID: "get-provider-key", Method: http.MethodGet, Path: "/v1/workspaces/{workspaceId}/provider-keys/{providerKeyId}", Tags: keys,
		Summary: "Get a provider key", Description: "Never the key, only `lastFour`. Owner and admins; no API key.",
		Security: userAuth, Errors: []int{403, 404}, Extensions: act(authz.ProviderKeysManage)}, gh.GetProviderKey)
	huma.Register(api, huma.Operation{OperationID: "delete-provider-key", Method: http.MethodDelete, Path: "/v1/workspaces/{workspaceId}/provider-keys/{providerKeyId}", Tags: keys,
		Summary: "Delete a provider key", Description: "Calls use the platform's key for that provider from then on. Owner and admins; no API key.",
		DefaultStatus: http.StatusNoContent, Security: userAuth, Errors: []int{403, 404}, Extensions: act(authz.ProviderKeysManage)}, gh.DeleteProviderKey)

	// Webhooks.
	hh := &webhook.HTTP{Svc: s.Webhooks}
	webhooks := []string{"Webhooks"}
	huma.Register(api, huma.Operation{OperationID: "list-webhook-event-types", Method: http.MethodGet, Path: "/v1/webhook-event-types", Tags: webhooks,
		Summary: "List the webhook event types", Description: "Every event an endpoint can subscribe to, with an example of its data and a JSON Schema of it. Any signed-in user or API key.",
		Security: anyAuth, Errors: []int{401}}, hh.EventTypes)
	huma.Register(api, huma.Operation{OperationID: "create-webhook", Method: http.MethodPost, Path: "/v1/workspaces/{workspaceId}/webhooks", Tags: webhooks,
		Summary: "Create a webhook endpoint", Description: "Answers the endpoint with its signing secret `whsec_…`. `url` must be https (http only with --webhook-allow-private); " +
			"`events` lists event types or is [\"*\"]; `agentIds` limits it to events about those agents. Owner and admins; webhooks:write.",
		DefaultStatus: http.StatusCreated, Security: anyAuth, Errors: []int{401, 403, 404, 422}, Extensions: act(authz.WebhooksWrite)}, hh.Create)
	huma.Register(api, huma.Operation{OperationID: "list-webhooks", Method: http.MethodGet, Path: "/v1/workspaces/{workspaceId}/webhooks", Tags: webhooks,
		Summary: "List webhook endpoints", Description: "Newest first, cursor-paginated; never with their secrets. Owner and admins; webhooks:read.",
		Security: anyAuth, Errors: []int{401, 403, 404, 422}, Extensions: act(authz.WebhooksRead)}, hh.List)
	huma.Register(api, huma.Operation{OperationID: "get-webhook", Method: http.MethodGet, Path: "/v1/workspaces/{workspaceId}/webhooks/{endpointId}", Tags: webhooks,
		Summary: "Get a webhook endpoint", Description: "Owner and admins; webhooks:read.",
		Security: anyAuth, Errors: []int{401, 403, 404}, Extensions: act(authz.WebhooksRead)}, hh.Get)
	huma.Register(api, huma.Operation{OperationID: "update-webhook", Method: http.MethodPatch, Path: "/v1/workspaces/{workspaceId}/webhooks/{endpointId}", Tags: webhooks,
		Summary: "Change a webhook endpoint", Description: "Absent fields stay; `events`, `agentIds` and `headers` replace. Owner and admins; webhooks:write.",
		Security: anyAuth, Errors: []int{401, 403, 404, 422}, Extensions: act(authz.WebhooksWrite)}, hh.Update)
	huma.Register(api, huma.Operation{OperationID: "delete-webhook", Method: http.MethodDelete, Path: "/v1/workspaces/{workspaceId}/webhooks/{endpointId}", Tags: webhooks,
		Summary: "Delete a webhook endpoint", Description: "With its messages and attempts; pending deliveries are dropped. Owner and admins; webhooks:write.",
		DefaultStatus: http.StatusNoContent, Security: anyAuth, Errors: []int{401, 403, 404}, Extensions: act(authz.WebhooksWrite)}, hh.Delete)
	huma.Register(api, huma.Operation{OperationID: "reveal-webhook-secret", Method: http.MethodPost, Path: "/v1/workspaces/{workspaceId}/webhooks/{endpointId}/reveal-secret", Tags: webhooks,
		Summary: "Reveal a webhook endpoint's signing secret", Description: "Audited. Owner and admins; webhooks:write.",
		Security: anyAuth, Errors: []int{401, 403, 404}, Extensions: act(authz.WebhooksWrite)}, hh.RevealSecret)
	huma.Register(api, huma.Operation{OperationID: "rotate-webhook-secret", Method: http.MethodPost, Path: "/v1/workspaces/{workspaceId}/webhooks/{endpointId}/rotate-secret", Tags: webhooks,
		Summary: "Rotate a webhook endpoint's signing secret", Description: "Answers the new secret. For 24 hours every delivery is signed with both the new and the previous secret. Owner and admins; webhooks:write.",
		Security: anyAuth, Errors: []int{401, 403, 404}, Extensions: act(authz.WebhooksWrite)}, hh.RotateSecret)
	huma.Register(api, huma.Operation{OperationID: "list-webhook-messages", Method: http.MethodGet, Path: "/v1/workspaces/{workspaceId}/webhooks/{endpointId}/messages", Tags: webhooks,
		Summary: "List a webhook endpoint's messages", Description: "One per event sent to the endpoint (its `id` is the webhook-id), with its status; newest first. Owner and admins; webhooks:read.",
		Security: anyAuth, Errors: []int{401, 403, 404, 422}, Extensions: act(authz.WebhooksRead)}, hh.Messages)
	huma.Register(api, huma.Operation{OperationID: "list-webhook-attempts", Method: http.MethodGet, Path: "/v1/workspaces/{workspaceId}/webhooks/{endpointId}/attempts", Tags: webhooks,
		Summary: "List a webhook endpoint's delivery attempts", Description: "Status code, latency, the first 4 KiB of the answer or the error; newest first. Owner and admins; webhooks:read.",
		Security: anyAuth, Errors: []int{401, 403, 404, 422}, Extensions: act(authz.WebhooksRead)}, hh.Attempts)
	huma.Register(api, huma.Operation{OperationID: "retry-webhook-message", Method: http.MethodPost, Path: "/v1/workspaces/{workspaceId}/webhooks/{endpointId}/messages/{messageId}/retry", Tags: webhooks,
		Summary: "Send a webhook message again", Description: "Now, with the same webhook-id; 409 endpoint_disabled when the endpoint is disabled. Owner and admins; webhooks:write.",
		DefaultStatus: http.StatusAccepted, Security: anyAuth, Errors: []int{401, 403, 404, 409}, Extensions: act(authz.WebhooksWrite)}, hh.Retry)
	huma.Register(api, huma.Operation{OperationID: "test-webhook", Method: http.MethodPost, Path: "/v1/workspaces/{workspaceId}/webhooks/{endpointId}/test", Tags: webhooks,
		Summary: "Send a test event", Description: "Sends a `ping` event to this endpoint only, even when it is disabled; answers its message. Owner and admins; webhooks:write.",
		DefaultStatus: http.StatusAccepted, Security: anyAuth, Errors: []int{401, 403, 404}, Extensions: act(authz.WebhooksWrite)}, hh.Test)
	huma.Register(api, huma.Operation{OperationID: "replay-webhook", Method: http.MethodPost, Path: "/v1/workspaces/{workspaceId}/webhooks/{endpointId}/replay", Tags: webhooks,
		Summary: "Send an endpoint's messages again", Description: "Re-sends, with their own webhook-ids, the endpoint's failed messages created since `since` (every message with `all: true`), at most 10,000 per call, oldest first. " +
			"409 endpoint_disabled when the endpoint is disabled. Owner and admins; webhooks:write.",
		DefaultStatus: http.StatusAccepted, Security: anyAuth, Errors: []int{401, 403, 404, 409, 422}, Extensions: act(authz.WebhooksWrite)}, hh.Replay)

	// Billing.
	bh := &billing.HTTP{Svc: s.Billing}
	bill := []string{"Billing"}
	huma.Register(api, huma.Operation{OperationID: "get-balance", Method: http.MethodGet, Path: "/v1/workspaces/{workspaceId}/billing/balance", Tags: bill,
		Summary: "The workspace's credits", Description: "Available and held credits, as decimal strings (at most 6 decimals) and integer micro-credits. Every role; API keys with usage:read.",
		Security: anyAuth, Errors: []int{401, 403, 404}, Extensions: act(authz.BillingView)}, bh.GetBalance)
	huma.Register(api, huma.Operation{OperationID: "get-ledger", Method: http.MethodGet, Path: "/v1/workspaces/{workspaceId}/billing/ledger", Tags: bill,
		Summary: "The workspace's ledger", Description: "Every movement of credits (grants, debits, holds and their settlement), newest first, cursor-paginated. Every role; API keys with usage:read.",
		Security: anyAuth, Errors: []int{401, 403, 404, 422}, Extensions: act(authz.BillingView)}, bh.GetLedger)
	huma.Register(api, huma.Operation{OperationID: "get-prices", Method: http.MethodGet, Path: "/v1/workspaces/{workspaceId}/prices", Tags: bill,
		Summary: "The workspace's prices", Description: "The effective price book: the platform's prices with the operator's overrides for this workspace (source: platform or workspace), in credits and micro-credits per unit. Every role; API keys with usage:read.",
		Security: anyAuth, Errors: []int{401, 403, 404}, Extensions: act(authz.BillingView)}, bh.GetPrices)
	huma.Register(api, huma.Operation{OperationID: "get-usage", Method: http.MethodGet, Path: "/v1/workspaces/{workspaceId}/billing/usage", Tags: bill,
		Summary: "The workspace's usage report", Description: "Rated usage that occurred in [from, to) (default: the last 30 days), grouped by day (UTC), agent or kind and then by kind; the total equals the usage debits of the ledger. Every role; API keys with usage:read.",
		Security: anyAuth, Errors: []int{401, 403, 404, 422}, Extensions: act(authz.BillingView)}, bh.GetUsage)
	huma.Register(api, huma.Operation{OperationID: "export-usage", Method: http.MethodGet, Path: "/v1/workspaces/{workspaceId}/billing/usage.csv", Tags: bill,
		Summary: "The workspace's usage report as CSV", Description: "The same report as CSV, with a total line. Every role; API keys with usage:read.",
		Security: anyAuth, Errors: []int{401, 403, 404, 422}, Responses: billing.UsageCSVResponses, Extensions: act(authz.BillingView)}, bh.GetUsageCSV)
	huma.Register(api, huma.Operation{OperationID: "get-billing-settings", Method: http.MethodGet, Path: "/v1/workspaces/{workspaceId}/billing/settings", Tags: bill,
		Summary: "The workspace's billing settings", Description: "The low-balance threshold of credits.low. Every role; API keys with usage:read.",
		Security: anyAuth, Errors: []int{401, 403, 404}, Extensions: act(authz.BillingView)}, bh.GetSettings)
	huma.Register(api, huma.Operation{OperationID: "update-billing-settings", Method: http.MethodPatch, Path: "/v1/workspaces/{workspaceId}/billing/settings", Tags: bill,
		Summary: "Change the workspace's billing settings", Description: "lowBalanceThreshold (decimal credits; \"0\" = off): credits.low is published, and the owner mailed, when a movement takes available from at or above it to below it; credits.depleted when it reaches zero. Once per crossing. Owner only.",
		Security: userAuth, Errors: []int{401, 403, 404, 422}, Extensions: act(authz.BillingManage)}, bh.UpdateSettings)
	huma.Register(api, huma.Operation{OperationID: "create-credit-transfer", Method: http.MethodPost, Path: "/v1/workspaces/{workspaceId}/billing/transfers", Tags: bill,
		Summary: "Move credits to another workspace you own", Description: "One ledger transfer: transfer_out (available → grants) here and transfer_in (grants → available) in the target, same key, audited in both. " +
			"Owner of both workspaces (404 when you do not own the target); 402 insufficient_credits when available does not cover it (nothing moves). Expiring credits go first and keep their expiry.",
		DefaultStatus: http.StatusCreated, Security: userAuth, Errors: []int{401, 402, 403, 404, 409, 422}, Extensions: act(authz.BillingManage)}, bh.CreateTransfer)
	// Operator routes: authenticated only by the operator token (--operator-token), as the system
	// principal; no x-parley-action (they are not workspace-role routes; the isolation suite skips them).
	api.OpenAPI().Components.SecuritySchemes["operator"] = &huma.SecurityScheme{Type: "http", Scheme: "bearer",
		Description: "The operator token (`--operator-token` / PARLEY_OPERATOR_TOKEN): `Authorization: Bearer <token>`. Only for operator routes; when no token is configured they answer 403 operator_api_disabled."}
	operatorAuth := []map[string][]string{{"operator": {}}}
	huma.Register(api, huma.Operation{OperationID: "set-workspace-prices", Method: http.MethodPut, Path: "/v1/operator/workspaces/{workspaceId}/prices", Tags: bill,
		Summary: "Set a workspace's price overrides (operator)", Description: "Replaces every override of the workspace; [] returns it to the platform book. Prices are decimal credits per unit of the kind. Operator token only.",
		Security: operatorAuth, Errors: []int{401, 403, 404, 422}}, bh.SetPrices)
	huma.Register(api, huma.Operation{OperationID: "record-usage", Method: http.MethodPost, Path: "/v1/workspaces/{workspaceId}/usage", Tags: bill,
		Summary: "Record metered usage (trusted runtimes)", Description: "Rates each record with the workspace's prices (rounded up per record to the micro-credit) and debits it, once per record id: " +
			"a replay answers the first result. Records are judged in order; one the balance cannot cover is refused (status refused, code insufficient_credits) and writes nothing, the others still go through. " +
			"Operator token only: a session or a workspace API key gets 403.",
		Security: operatorAuth, Errors: []int{401, 403, 404, 422}}, bh.RecordUsage)
	huma.Register(api, huma.Operation{OperationID: "grant-credits", Method: http.MethodPost, Path: "/v1/operator/workspaces/{workspaceId}/credits/grants", Tags: bill,
		Summary: "Grant credits to a workspace (operator)", Description: "grants → available, once per key (the same key and input answer the first grant, replayed: true; another input 409). " +
			"expiresAt makes the credits expire: what is left of them then leaves through a transfer of kind expire. Operator token only.",
		DefaultStatus: http.StatusCreated, Security: operatorAuth, Errors: []int{401, 403, 404, 409, 422}}, bh.Grant)

	// Contacts.
	ch := &contact.HTTP{Svc: s.Contacts, OnStreamError: func(ctx context.Context, err error) {
		s.Logger.ErrorContext(ctx, "contact export cut short", "err", err)
	}}
	contacts := []string{"Contacts"}
	huma.Register(api, huma.Operation{OperationID: "create-contact", Method: http.MethodPost, Path: "/v1/workspaces/{workspaceId}/contacts", Tags: contacts,
		Summary: "Create a contact", Description: "`phone` is normalised to E.164 (a national number is read in the workspace's `defaultRegion`); an impossible or invalid number is 422 with the reason. " +
			"409 contact_exists when the workspace has a contact with that number. `timezone`, when absent, is derived from the number when it has exactly one. Owner and admins; contacts:write.",
		DefaultStatus: http.StatusCreated, Security: anyAuth, Errors: []int{401, 403, 404, 409, 422}, Extensions: act(authz.ContactsWrite)}, ch.Create)
	huma.Register(api, huma.Operation{OperationID: "list-contacts", Method: http.MethodGet, Path: "/v1/workspaces/{workspaceId}/contacts", Tags: contacts,
		Summary: "List and search contacts", Description: "Newest first, cursor-paginated; filters combine (phone prefix, name substring, tags, attribute equality, list, doNotCall). " +
			"Every role (numbers masked for members when the workspace masks them); contacts:read.",
		Security: anyAuth, Errors: []int{401, 403, 404, 422}, Extensions: act(authz.ContactsRead)}, ch.List)
	huma.Register(api, huma.Operation{OperationID: "export-contacts", Method: http.MethodGet, Path: "/v1/workspaces/{workspaceId}/contacts/export.csv", Tags: contacts,
		Summary: "Export contacts as CSV", Description: "The same filters as the list; streamed, newest first. Every role (numbers masked for members when the workspace masks them); contacts:read.",
		Security: anyAuth, Errors: []int{401, 403, 404, 422}, Responses: contact.ExportResponses, Extensions: act(authz.ContactsRead)}, ch.Export)
	huma.Register(api, huma.Operation{OperationID: "get-contact", Method: http.MethodGet, Path: "/v1/workspaces/{workspaceId}/contacts/{contactId}", Tags: contacts,
		Summary: "Get a contact", Description: "Every role (number masked for members when the workspace masks numbers); contacts:read.",
		Security: anyAuth, Errors: []int{401, 403, 404}, Extensions: act(authz.ContactsRead)}, ch.Get)
	huma.Register(api, huma.Operation{OperationID: "update-contact", Method: http.MethodPatch, Path: "/v1/workspaces/{workspaceId}/contacts/{contactId}", Tags: contacts,
		Summary: "Change a contact", Description: "Absent fields stay; `attributes` are merged (null removes one); `tags` replace. Owner and admins; contacts:write.",
		Security: anyAuth, Errors: []int{401, 403, 404, 409, 422}, Extensions: act(authz.ContactsWrite)}, ch.Update)
	huma.Register(api, huma.Operation{OperationID: "delete-contact", Method: http.MethodDelete, Path: "/v1/workspaces/{workspaceId}/contacts/{contactId}", Tags: contacts,
		Summary: "Delete a contact", Description: "With its attributes, tags and list memberships; its number stays on the do-not-call list if it is there. Owner and admins; contacts:write.",
		DefaultStatus: http.StatusNoContent, Security: anyAuth, Errors: []int{401, 403, 404}, Extensions: act(authz.ContactsWrite)}, ch.Delete)
	huma.Register(api, huma.Operation{OperationID: "create-contact-list", Method: http.MethodPost, Path: "/v1/workspaces/{workspaceId}/contact-lists", Tags: contacts,
		Summary: "Create a contact list", Description: "A named static list; names are unique in the workspace (409 list_exists). Owner and admins; contacts:write.",
		DefaultStatus: http.StatusCreated, Security: anyAuth, Errors: []int{401, 403, 404, 409, 422}, Extensions: act(authz.ContactsWrite)}, ch.CreateList)
	huma.Register(api, huma.Operation{OperationID: "list-contact-lists", Method: http.MethodGet, Path: "/v1/workspaces/{workspaceId}/contact-lists", Tags: contacts,
		Summary: "List contact lists", Description: "Newest first, each with its size. Members: GET …/contacts?listId=. Every role; contacts:read.",
		Security: anyAuth, Errors: []int{401, 403, 404, 422}, Extensions: act(authz.ContactsRead)}, ch.ListLists)
	huma.Register(api, huma.Operation{OperationID: "get-contact-list", Method: http.MethodGet, Path: "/v1/workspaces/{workspaceId}/contact-lists/{listId}", Tags: contacts,
		Summary: "Get a contact list", Description: "Every role; contacts:read.", Security: anyAuth, Errors: []int{401, 403, 404}, Extensions: act(authz.ContactsRead)}, ch.GetList)
	huma.Register(api, huma.Operation{OperationID: "rename-contact-list", Method: http.MethodPatch, Path: "/v1/workspaces/{workspaceId}/contact-lists/{listId}", Tags: contacts,
		Summary: "Rename a contact list", Description: "Owner and admins; contacts:write.", Security: anyAuth, Errors: []int{401, 403, 404, 409, 422}, Extensions: act(authz.ContactsWrite)}, ch.RenameList)
	huma.Register(api, huma.Operation{OperationID: "delete-contact-list", Method: http.MethodDelete, Path: "/v1/workspaces/{workspaceId}/contact-lists/{listId}", Tags: contacts,
		Summary: "Delete a contact list", Description: "Its contacts stay. Owner and admins; contacts:write.",
		DefaultStatus: http.StatusNoContent, Security: anyAuth, Errors: []int{401, 403, 404}, Extensions: act(authz.ContactsWrite)}, ch.DeleteList)
	huma.Register(api, huma.Operation{OperationID: "add-contact-list-members", Method: http.MethodPost, Path: "/v1/workspaces/{workspaceId}/contact-lists/{listId}/members", Tags: contacts,
		Summary: "Add contacts to a list", Description: "Up to 1,000 contact IDs; those already in the list are left alone. An ID that is not a contact of the workspace is 422 and nothing is added. Owner and admins; contacts:write.",
		Security: anyAuth, Errors: []int{401, 403, 404, 422}, Extensions: act(authz.ContactsWrite)}, ch.AddMembers)
	huma.Register(api, huma.Operation{OperationID: "remove-contact-list-member", Method: http.MethodDelete, Path: "/v1/workspaces/{workspaceId}/contact-lists/{listId}/members/{contactId}", Tags: contacts,
		Summary: "Take a contact out of a list", Description: "Owner and admins; contacts:write.",
		DefaultStatus: http.StatusNoContent, Security: anyAuth, Errors: []int{401, 403, 404}, Extensions: act(authz.ContactsWrite)}, ch.RemoveMember)
	huma.Register(api, huma.Operation{OperationID: "add-dnc-number", Method: http.MethodPost, Path: "/v1/workspaces/{workspaceId}/dnc", Tags: contacts,
		Summary: "Put a number on the do-not-call list", Description: "Nothing in Parley dials it afterwards (409 do_not_call). 201 when added, 200 when it was already there. Owner and admins; contacts:write.",
		DefaultStatus: http.StatusCreated, Security: anyAuth, Errors: []int{401, 403, 404, 422}, Extensions: act(authz.ContactsWrite)}, ch.AddDNC)
	huma.Register(api, huma.Operation{OperationID: "list-dnc-numbers", Method: http.MethodGet, Path: "/v1/workspaces/{workspaceId}/dnc", Tags: contacts,
		Summary: "List the do-not-call list", Description: "Newest first. Every role (numbers masked for members when the workspace masks them); contacts:read.",
		Security: anyAuth, Errors: []int{401, 403, 404, 422}, Extensions: act(authz.ContactsRead)}, ch.ListDNC)
	huma.Register(api, huma.Operation{OperationID: "remove-dnc-number", Method: http.MethodDelete, Path: "/v1/workspaces/{workspaceId}/dnc/{phone}", Tags: contacts,
		Summary: "Take a number off the do-not-call list", Description: "404 when it is not on it. Owner and admins; contacts:write.",
		DefaultStatus: http.StatusNoContent, Security: anyAuth, Errors: []int{401, 403, 404, 422}, Extensions: act(authz.ContactsWrite)}, ch.RemoveDNC)
	huma.Register(api, huma.Operation{OperationID: "start-contact-import", Method: http.MethodPost, Path: "/v1/workspaces/{workspaceId}/contact-imports", Tags: contacts,
		Summary: "Import contacts from a CSV file", Description: "Up to 200 MB, as a text/csv body or multipart/form-data (a file part and option fields). UTF-8 (with or without BOM); " +
			"`,`, `;` or tab delimiters (detected from the header line). Columns are detected by header (phone, name, email, timezone, tags and common variants); " +
			"every other column becomes an attribute. The file is checked (CSV throughout, a phone column) before 202; the rows are then imported by a background job: " +
			"poll GET …/contact-imports/{importId}. Owner and admins; contacts:write.",
		DefaultStatus: http.StatusAccepted, RequestBody: contact.ImportRequestBody, Security: anyAuth, Errors: []int{400, 401, 403, 404, 413, 422, 503},
		Extensions: act(authz.ContactsWrite)}, ch.StartImport)
	huma.Register(api, huma.Operation{OperationID: "list-contact-imports", Method: http.MethodGet, Path: "/v1/workspaces/{workspaceId}/contact-imports", Tags: contacts,
		Summary: "List CSV imports", Description: "Newest first, with status and counts. Every role; contacts:read.",
		Security: anyAuth, Errors: []int{401, 403, 404, 422}, Extensions: act(authz.ContactsRead)}, ch.ListImports)
	huma.Register(api, huma.Operation{OperationID: "get-contact-import", Method: http.MethodGet, Path: "/v1/workspaces/{workspaceId}/contact-imports/{importId}", Tags: contacts,
		Summary: "Get a CSV import", Description: "Status (queued, running, completed, failed) and counts (total, processed, created, updated, skipped, failed). Every role; contacts:read.",
		Security: anyAuth, Errors: []int{401, 403, 404}, Extensions: act(authz.ContactsRead)}, ch.GetImport)
	huma.Register(api, huma.Operation{OperationID: "get-contact-import-errors", Method: http.MethodGet, Path: "/v1/workspaces/{workspaceId}/contact-imports/{importId}/errors.csv", Tags: contacts,
		Summary: "The failed rows of a CSV import", Description: "CSV: line, column, value, reason, in line order (the header is line 1). Every role (phone values hidden for members when the workspace masks numbers); contacts:read.",
		Security: anyAuth, Errors: []int{401, 403, 404}, Responses: contact.ImportErrorsResponses, Extensions: act(authz.ContactsRead)}, ch.ImportErrors)

	// Telephony.
	th := &telephony.HTTP{Svc: s.Telephony}
	tel := []string{"Telephony"}
	wsTel := "/v1/workspaces/{workspaceId}/telephony"
	huma.Register(api, huma.Operation{OperationID: "list-telephony-providers", Method: http.MethodGet, Path: "/v1/telephony/providers", Tags: tel,
		Summary: "Telephony providers and their credential fields", Description: "Which fields each provider's credential takes, which are secret and which are required. Anyone signed in.",
		Security: anyAuth, Errors: []int{401}}, th.Providers)
	huma.Register(api, huma.Operation{OperationID: "create-telephony-credential", Method: http.MethodPost, Path: wsTel + "/credentials", Tags: tel,
		Summary: "Add a telephony credential", Description: "A provider account of the workspace (bring your own provider): twilio, plivo, telnyx, vonage, exotel, sip or sim. " +
			"Secret fields are encrypted at rest and never shown again (reads show their last four characters). The answer holds the voice and status URLs to paste into the provider's console. Owner and admins.",
		DefaultStatus: http.StatusCreated, Security: anyAuth, Errors: []int{401, 403, 404, 422}, Extensions: act(authz.TelephonyManage)}, th.CreateCredential)
	huma.Register(api, huma.Operation{OperationID: "list-telephony-credentials", Method: http.MethodGet, Path: wsTel + "/credentials", Tags: tel,
		Summary: "List telephony credentials", Description: "Newest first; secret fields as their last four characters. Every role; calls:read.",
		Security: anyAuth, Errors: []int{401, 403, 404}, Extensions: act(authz.TelephonyRead)}, th.ListCredentials)
	huma.Register(api, huma.Operation{OperationID: "get-telephony-credential", Method: http.MethodGet, Path: wsTel + "/credentials/{credentialId}", Tags: tel,
		Summary: "Get a telephony credential", Description: "Every role; calls:read.",
		Security: anyAuth, Errors: []int{401, 403, 404}, Extensions: act(authz.TelephonyRead)}, th.GetCredential)
	huma.Register(api, huma.Operation{OperationID: "update-telephony-credential", Method: http.MethodPatch, Path: wsTel + "/credentials/{credentialId}", Tags: tel,
		Summary: "Rename a credential or replace some of its fields", Description: "Fields given replace those stored (an empty string removes an optional field); changing any field resets the verification. Owner and admins.",
		Security: anyAuth, Errors: []int{401, 403, 404, 422}, Extensions: act(authz.TelephonyManage)}, th.UpdateCredential)
	huma.Register(api, huma.Operation{OperationID: "delete-telephony-credential", Method: http.MethodDelete, Path: wsTel + "/credentials/{credentialId}", Tags: tel,
		Summary: "Delete a telephony credential", Description: "Also removes the phone numbers at it; calls keep their records. Owner and admins.",
		DefaultStatus: http.StatusNoContent, Security: anyAuth, Errors: []int{401, 403, 404}, Extensions: act(authz.TelephonyManage)}, th.DeleteCredential)
	huma.Register(api, huma.Operation{OperationID: "verify-telephony-credential", Method: http.MethodPost, Path: wsTel + "/credentials/{credentialId}/verify", Tags: tel,
		Summary: "Verify a credential with its provider", Description: "Makes the provider's cheapest authenticated request and records the result: verification.status ok, or failed with the provider's reason. Owner and admins.",
		Security: anyAuth, Errors: []int{401, 403, 404}, Extensions: act(authz.TelephonyManage)}, th.VerifyCredential)
	huma.Register(api, huma.Operation{OperationID: "create-phone-number", Method: http.MethodPost, Path: wsTel + "/numbers", Tags: tel,
		Summary: "Add a phone number", Description: "A number of the workspace at one of its credentials, with the agent that answers it. The answer holds voiceUrl and statusUrl, to paste into the provider's console. 409 number_exists. Owner and admins.",
		DefaultStatus: http.StatusCreated, Security: anyAuth, Errors: []int{401, 403, 404, 409, 422}, Extensions: act(authz.TelephonyManage)}, th.CreateNumber)
	huma.Register(api, huma.Operation{OperationID: "list-phone-numbers", Method: http.MethodGet, Path: wsTel + "/numbers", Tags: tel,
		Summary: "List phone numbers", Description: "Newest first, cursor-paginated. Every role; calls:read.",
		Security: anyAuth, Errors: []int{401, 403, 404, 422}, Extensions: act(authz.TelephonyRead)}, th.ListNumbers)
	huma.Register(api, huma.Operation{OperationID: "get-phone-number", Method: http.MethodGet, Path: wsTel + "/numbers/{numberId}", Tags: tel,
		Summary: "Get a phone number", Description: "Every role; calls:read.",
		Security: anyAuth, Errors: []int{401, 403, 404}, Extensions: act(authz.TelephonyRead)}, th.GetNumber)
	huma.Register(api, huma.Operation{OperationID: "update-phone-number", Method: http.MethodPatch, Path: wsTel + "/numbers/{numberId}", Tags: tel,
		Summary: "Change a phone number's credential, label, agent or routing webhook", Description: "Owner and admins.",
		Security: anyAuth, Errors: []int{401, 403, 404, 422}, Extensions: act(authz.TelephonyManage)}, th.UpdateNumber)
	huma.Register(api, huma.Operation{OperationID: "delete-phone-number", Method: http.MethodDelete, Path: wsTel + "/numbers/{numberId}", Tags: tel,
		Summary: "Delete a phone number", Description: "Owner and admins.",
		DefaultStatus: http.StatusNoContent, Security: anyAuth, Errors: []int{401, 403, 404}, Extensions: act(authz.TelephonyManage)}, th.DeleteNumber)

	// Calls.
	calh := &call.HTTP{Svc: s.Calls, BaseURL: s.Config.BaseURL}
	calls := []string{"Calls"}
	huma.Register(api, huma.Operation{OperationID: "place-call", Method: http.MethodPost, Path: "/v1/workspaces/{workspaceId}/calls", Tags: calls,
		Summary: "Place an outbound call", Description: "Queues the call and dials it in the background (201, status queued). Refused: a do-not-call number (409 do_not_call), a paused or archived agent (409 agent_not_active), " +
			"an unknown agent, contact or credential (404), no credits to reserve the first minutes (402 insufficient_credits), the workspace at its concurrent-call limit (429 concurrency_limit). " +
			"Without credentialId the workspace's default credential is used, else the simulator; test API keys always use the simulator. Every role; calls:write.",
		DefaultStatus: http.StatusCreated, Security: anyAuth, Errors: []int{401, 402, 403, 404, 409, 422, 429}, Extensions: act(authz.CallsWrite)}, calh.Place)
	huma.Register(api, huma.Operation{OperationID: "list-calls", Method: http.MethodGet, Path: "/v1/workspaces/{workspaceId}/calls", Tags: calls,
		Summary: "List calls", Description: "Newest first, cursor-paginated; filter by status, direction, agent, campaign, number and time. Every role; calls:read.",
		Security: anyAuth, Errors: []int{401, 403, 404, 422}, Extensions: act(authz.CallsRead)}, calh.List)
	huma.Register(api, huma.Operation{OperationID: "get-call", Method: http.MethodGet, Path: "/v1/workspaces/{workspaceId}/calls/{callId}", Tags: calls,
		Summary: "Get a call", Description: "Its state, a timestamp per state, end reason, duration and cost. Every role; calls:read.",
		Security: anyAuth, Errors: []int{401, 403, 404}, Extensions: act(authz.CallsRead)}, calh.Get)
	huma.Register(api, huma.Operation{OperationID: "get-call-timeline", Method: http.MethodGet, Path: "/v1/workspaces/{workspaceId}/calls/{callId}/timeline", Tags: calls,
		Summary: "A call's timeline", Description: "Every state change and every provider report, applied or ignored (late, duplicate, out of order), oldest first. Every role; calls:read.",
		Security: anyAuth, Errors: []int{401, 403, 404}, Extensions: act(authz.CallsRead)}, calh.Timeline)
	huma.Register(api, huma.Operation{OperationID: "get-call-effective", Method: http.MethodGet, Path: "/v1/workspaces/{workspaceId}/calls/{callId}/effective", Tags: calls,
		Summary: "A call's effective configuration", Description: "The agent's effective configuration with the call's overrides laid over it: platform → workspace → agent → call, each setting with its source. Every role; calls:read.",
		Security: anyAuth, Errors: []int{401, 403, 404}, Extensions: act(authz.CallsRead)}, calh.Effective)
	huma.Register(api, huma.Operation{OperationID: "hangup-call", Method: http.MethodPost, Path: "/v1/workspaces/{workspaceId}/calls/{callId}/hangup", Tags: calls,
		Summary: "Hang up a call", Description: "A call not dialled yet is canceled at once; a live call is hung up at the provider, whose report ends it. 409 call_ended. Every role; calls:write.",
		Security: anyAuth, Errors: []int{401, 403, 404, 409, 502}, Extensions: act(authz.CallsWrite)}, calh.Hangup)
	huma.Register(api, huma.Operation{OperationID: "create-call-trigger", Method: http.MethodPost, Path: "/v1/workspaces/{workspaceId}/call-triggers", Tags: calls,
		Summary: "Create a call trigger", Description: "A URL ({baseUrl}/hooks/{workspaceId}/{triggerId}) your CRM or form tool posts JSON to, to start a call with the agent; mapping says where the number and the variables are in the JSON. " +
			"The answer holds the secret (whsec_…), shown once: send it as a bearer token or sign requests with it (Standard Webhooks). Owner and admins.",
		DefaultStatus: http.StatusCreated, Security: anyAuth, Errors: []int{401, 403, 404, 422}, Extensions: act(authz.TelephonyManage)}, calh.CreateTrigger)
	huma.Register(api, huma.Operation{OperationID: "list-call-triggers", Method: http.MethodGet, Path: "/v1/workspaces/{workspaceId}/call-triggers", Tags: calls,
		Summary: "List call triggers", Description: "Newest first, never their secrets. Every role; calls:read.",
		Security: anyAuth, Errors: []int{401, 403, 404}, Extensions: act(authz.TelephonyRead)}, calh.ListTriggers)
	huma.Register(api, huma.Operation{OperationID: "get-call-trigger", Method: http.MethodGet, Path: "/v1/workspaces/{workspaceId}/call-triggers/{triggerId}", Tags: calls,
		Summary: "Get a call trigger", Description: "Never its secret. Every role; calls:read.",
		Security: anyAuth, Errors: []int{401, 403, 404}, Extensions: act(authz.TelephonyRead)}, calh.GetTrigger)
	huma.Register(api, huma.Operation{OperationID: "delete-call-trigger", Method: http.MethodDelete, Path: "/v1/workspaces/{workspaceId}/call-triggers/{triggerId}", Tags: calls,
		Summary: "Delete a call trigger", Description: "Its URL stops working at once. Owner and admins.",
		DefaultStatus: http.StatusNoContent, Security: anyAuth, Errors: []int{401, 403, 404}, Extensions: act(authz.TelephonyManage)}, calh.DeleteTrigger)
	// Trigger requests: authenticated by the trigger's secret.
	mux.HandleFunc("POST /hooks/{workspaceId}/{triggerId}", calh.ServeTrigger)
	// Provider requests: authenticated by each provider's signature, not by a session or key.
	mux.HandleFunc("/telephony/{workspaceId}/{provider}/{kind}", calh.ServeProvider)

	// Campaigns.
	cph := &campaign.HTTP{Svc: s.Campaigns}
	camps := []string{"Campaigns"}
	campPath := "/v1/workspaces/{workspaceId}/campaigns/{campaignId}"
	huma.Register(api, huma.Operation{OperationID: "create-campaign", Method: http.MethodPost, Path: "/v1/workspaces/{workspaceId}/campaigns", Tags: camps,
		Summary: "Create a campaign", Description: "A draft: an agent calls the members of a contact list within a calling window, paced and retried. " +
			"Optional fields take their documented defaults. Owner and admins; campaigns:write.",
		DefaultStatus: http.StatusCreated, Security: anyAuth, Errors: []int{401, 403, 404, 422}, Extensions: act(authz.CampaignsWrite)}, cph.Create)
	huma.Register(api, huma.Operation{OperationID: "list-campaigns", Method: http.MethodGet, Path: "/v1/workspaces/{workspaceId}/campaigns", Tags: camps,
		Summary: "List campaigns", Description: "Newest first, cursor-paginated; filter by status. Every role; campaigns:read.",
		Security: anyAuth, Errors: []int{401, 403, 404, 422}, Extensions: act(authz.CampaignsRead)}, cph.List)
	huma.Register(api, huma.Operation{OperationID: "get-campaign", Method: http.MethodGet, Path: campPath, Tags: camps,
		Summary: "Get a campaign", Description: "Every role; campaigns:read.",
		Security: anyAuth, Errors: []int{401, 403, 404}, Extensions: act(authz.CampaignsRead)}, cph.Get)
	huma.Register(api, huma.Operation{OperationID: "update-campaign", Method: http.MethodPatch, Path: campPath, Tags: camps,
		Summary: "Change a campaign", Description: "Draft and paused campaigns only (409 campaign_state); the audience only in draft (409 audience_locked). Absent fields stay. Owner and admins; campaigns:write.",
		Security: anyAuth, Errors: []int{401, 403, 404, 409, 422}, Extensions: act(authz.CampaignsWrite)}, cph.Update)
	huma.Register(api, huma.Operation{OperationID: "delete-campaign", Method: http.MethodDelete, Path: campPath, Tags: camps,
		Summary: "Delete a campaign", Description: "A draft or ended campaign, with its contacts and attempts (its calls stay); 409 campaign_state otherwise. Owner and admins; campaigns:write.",
		DefaultStatus: http.StatusNoContent, Security: anyAuth, Errors: []int{401, 403, 404, 409}, Extensions: act(authz.CampaignsWrite)}, cph.Delete)
	for _, op := range []struct {
		id, verb, summary, desc string
		fn                      func(context.Context, *campaign.CampaignPath) (*campaign.CampaignOutput, error)
	}{
		{"start-campaign", "start", "Start a campaign now", "A draft or scheduled campaign: its list's members become its contacts and the dialer begins.", cph.Start},
		{"pause-campaign", "pause", "Pause a campaign", "A running campaign: no new call is placed; live calls finish.", cph.Pause},
		{"resume-campaign", "resume", "Resume a paused campaign", "Whatever paused it (you, insufficient_credits, carrier_failures, agent_not_active).", cph.Resume},
		{"cancel-campaign", "cancel", "Cancel a campaign", "Any campaign that has not ended; live calls finish.", cph.Cancel},
	} {
		huma.Register(api, huma.Operation{OperationID: op.id, Method: http.MethodPost, Path: campPath + "/" + op.verb, Tags: camps,
			Summary: op.summary, Description: op.desc + " 409 campaign_state from another state. Owner and admins; campaigns:write.",
			Security: anyAuth, Errors: []int{401, 403, 404, 409, 422}, Extensions: act(authz.CampaignsWrite)}, op.fn)
	}
	huma.Register(api, huma.Operation{OperationID: "schedule-campaign", Method: http.MethodPost, Path: campPath + "/schedule", Tags: camps,
		Summary: "Schedule a campaign", Description: "A draft (or scheduled) campaign starts by itself at startAt. Owner and admins; campaigns:write.",
		Security: anyAuth, Errors: []int{401, 403, 404, 409, 422}, Extensions: act(authz.CampaignsWrite)}, cph.Schedule)
	huma.Register(api, huma.Operation{OperationID: "get-campaign-stats", Method: http.MethodGet, Path: campPath + "/stats", Tags: camps,
		Summary: "A campaign's progress", Description: "Contacts total, pending, in progress, done by outcome; attempts, live calls, credits spent, a rough ETA. Every role; campaigns:read.",
		Security: anyAuth, Errors: []int{401, 403, 404}, Extensions: act(authz.CampaignsRead)}, cph.Stats)
	huma.Register(api, huma.Operation{OperationID: "list-campaign-attempts", Method: http.MethodGet, Path: campPath + "/attempts", Tags: camps,
		Summary: "A campaign's attempts", Description: "Every try at a contact (its call, caller ID, outcome, duration, cost), newest first. Every role; campaigns:read.",
		Security: anyAuth, Errors: []int{401, 403, 404, 422}, Extensions: act(authz.CampaignsRead)}, cph.Attempts)
	huma.Register(api, huma.Operation{OperationID: "campaign-results", Method: http.MethodGet, Path: campPath + "/results.csv", Tags: camps,
		Summary: "A campaign's results as CSV", Description: "One line per contact (attempts, last outcome, last call, total duration and cost), streamed. Every role; campaigns:read.",
		Security: anyAuth, Errors: []int{401, 403, 404}, Responses: campaign.ResultsResponses, Extensions: act(authz.CampaignsRead)}, cph.Results)
	huma.Register(api, huma.Operation{OperationID: "campaign-events", Method: http.MethodGet, Path: campPath + "/events", Tags: camps,
		Summary: "A campaign's live progress (server-sent events)", Description: "`event: progress` with the status and stats now, then every second until the campaign ends. Every role; campaigns:read.",
		Security: anyAuth, Errors: []int{401, 403, 404}, Responses: campaign.EventsResponses, Extensions: act(authz.CampaignsRead)}, cph.Events)

	// Operations.
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", s.ready)
	s.metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics, promhttp.HandlerOpts{Registry: s.metrics}))
	mux.Handle("GET /docs", v5emb.New("Parley API", "/v1/openapi.json", "/docs"))
	mux.Handle("GET /docs/", v5emb.New("Parley API", "/v1/openapi.json", "/docs"))

	// The dashboard.
	s.webRoutes(mux)

	// Requests that match no route answer in problem+json too.
	var h http.Handler = notFoundAsProblem(mux)
	h = idempotency.Middleware(s.DB, s.now, maxBodyBytes)(h)
	h = s.authenticate(h)
	h = s.crossOrigin(h)
	h = s.observe(h)
	return h
}

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.DB.Ping(ctx); err != nil {
		s.Logger.Warn("not ready", "err", err)
		apierr.Write(w, r, apierr.New(apierr.Unavailable, "database_unreachable", "the database does not answer"))
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ready\n"))
}

// crossOrigin refuses cross-origin browser writes (CSRF), answering in problem+json.
func (s *Server) crossOrigin(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	if u, err := url.Parse(s.Config.BaseURL); err == nil && u.Host != "" {
		_ = cop.AddTrustedOrigin(u.Scheme + "://" + u.Host)
	}
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		apierr.Write(w, r, apierr.New(apierr.Forbidden, "cross_origin_request", "cross-origin request refused"))
	}))
	return cop.Handler(next)
}

// notFoundAsProblem answers the mux's own 404 and 405 (no route, wrong method) in problem+json.
func notFoundAsProblem(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(&problemWriter{ResponseWriter: w, r: r}, r)
	})
}

// problemWriter replaces the mux's plain-text error with a problem.
type problemWriter struct {
	http.ResponseWriter
	r       *http.Request
	written bool
}

func (p *problemWriter) WriteHeader(code int) {
	if p.written {
		return
	}
	p.written = true
	if code == http.StatusNotFound || code == http.StatusMethodNotAllowed {
		p.ResponseWriter.Header().Del("X-Content-Type-Options")
		apierr.WriteStatus(p.ResponseWriter, p.r, code, "no such route: "+p.r.Method+" "+p.r.URL.Path, nil)
		p.ResponseWriter = discard{p.ResponseWriter}
		return
	}
	p.ResponseWriter.WriteHeader(code)
}

func (p *problemWriter) Write(b []byte) (int, error) {
	if !p.written {
		p.WriteHeader(http.StatusOK)
	}
	return p.ResponseWriter.Write(b)
}

type discard struct{ http.ResponseWriter }

func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}
