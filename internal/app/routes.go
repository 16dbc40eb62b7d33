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
	"github.com/parleyhq/parley/internal/contact"
	"github.com/parleyhq/parley/internal/identity"
	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/audit"
	"github.com/parleyhq/parley/internal/platform/authz"
	"github.com/parleyhq/parley/internal/platform/idempotency"
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

	// Billing.
	bh := &billing.HTTP{Svc: s.Billing}
	bill := []string{"Billing"}
	huma.Register(api, huma.Operation{OperationID: "get-balance", Method: http.MethodGet, Path: "/v1/workspaces/{workspaceId}/billing/balance", Tags: bill,
		Summary: "The workspace's credits", Description: "Available and held credits, as decimal strings (at most 6 decimals) and integer micro-credits. Every role; API keys with usage:read.",
		Security: anyAuth, Errors: []int{401, 403, 404}, Extensions: act(authz.BillingView)}, bh.GetBalance)
	huma.Register(api, huma.Operation{OperationID: "get-ledger", Method: http.MethodGet, Path: "/v1/workspaces/{workspaceId}/billing/ledger", Tags: bill,
		Summary: "The workspace's ledger", Description: "Every movement of credits (grants, debits, holds and their settlement), newest first, cursor-paginated. Every role; API keys with usage:read.",
		Security: anyAuth, Errors: []int{401, 403, 404, 422}, Extensions: act(authz.BillingView)}, bh.GetLedger)

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
