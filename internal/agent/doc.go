// Package agent owns workspace settings, agents, the provider catalog, settings inheritance and
// the effective configuration of an agent, and agent versions.
//
// Rules and invariants:
//   - Three levels: the platform's defaults (PlatformSettings, agentDefaults), the workspace's
//     settings and the agent's own settings. Stored, a level holds only what it sets (a sparse
//     JSON object); nothing is copied down. An agent's language, llm.*, stt.*, tts.* and
//     maxDurationSeconds (from the workspace's calls.maxDurationSeconds) inherit: the agent's
//     value if it sets one, else the workspace's, else the platform's. Other agent settings have
//     platform defaults only. So a changed workspace default reaches every agent that does not
//     override it at once, and Effective reports each value with its source.
//   - Writes are JSON merge patches (RFC 7396), applied to the stored object: a value sets, null
//     removes (inherit again), objects merge, arrays replace; empty objects are pruned. Creating
//     an agent is a patch of an empty agent. The merged result is decoded strictly (unknown
//     fields and wrong types are 422 with the field's location) and validated as a whole
//     (ranges, formats, catalog combinations) before anything is written: nothing is half-saved.
//   - Provider, model, voice and STT language are checked against the embedded catalog
//     (catalog.json) on the resolved values, so an agent that overrides llm.model but inherits
//     llm.provider is checked against the inherited provider. Every agent is always valid: a
//     workspace change that would leave an agent with a model its inherited provider does not
//     offer is refused (409 agents_incompatible, naming the agents and fields).
//   - The workspace's time zone is one value: settings.timezone reads and writes the workspaces
//     row (the one place this package touches another capability's table), and it cannot be
//     removed.
//   - Every change to an agent is an immutable version (number, author, time, changed fields as
//     dotted paths, and the full document); a patch that changes nothing makes no version.
//     Restoring version n stores n's document as a new version with restoredFrom = n.
//     Versions are removed only with their agent.
//   - Concurrency: the agent's (and the settings') version is its ETag. If-Match, when sent, must
//     name the current version (strong comparison, * matches) or the answer is 412
//     version_mismatch; the UPDATE also requires the version read, so two concurrent writers
//     never both win.
//   - Placeholders {{name}} in prompt, greetingMessage and voicemailMessage must be declared in
//     variables or built in (Builtins); others are reported in the agent's warnings, not refused.
//   - Tool parameters must be a JSON Schema (draft 2020-12) of type object; it is compiled with
//     no loader, so references outside the schema fail and nothing is fetched or read.
//   - Permissions: settings are read by every role (API keys: agents:read) and written by owner
//     and admin only (no API key); agents are read by every role (agents:read) and written by
//     owner and admin (agents:write). Another workspace's agent is 404.
//   - Tenancy: every store method takes the workspace ID and filters on it.
//   - Provider keys (bring your own key): at most one per provider per workspace (a second is
//     409 provider_key_exists; replacing is delete then add). A key is for a provider ID of the
//     catalog, of any kind, and serves that provider in every kind. It is sealed with
//     platform/secret under AAD {workspace, provider_keys, api_key, row ID} before the INSERT and
//     is write-only: no answer, event, audit entry, error or log holds it (lastFour is the hint).
//     ProviderKey opens it for the call runtime (agents.use, or the system). baseUrl is https
//     only, without credentials, query or fragment, and not a loopback/private literal or
//     localhost; azure-openai and openai-compatible require it. Managing keys is owner and
//     admin only (provider_keys.manage; no API key).
//   - Key resolution: for an agent's resolved llm, stt and tts provider, a call uses the
//     workspace's key for that provider if there is one (keySource workspace), else the
//     platform's (platform) — except providers that require a base URL, which have no platform
//     key (none). Effective reports it in keys.
//   - Promotion: CopyAgent needs agents.write in the source and in the target; a target the
//     caller may not write agents in (or that does not exist) is one 422 on
//     body.targetWorkspaceId, never revealing whether it exists. The copy is a new agent (new ID,
//     version 1) with the source's own document and copiedFrom {workspace, agent, version},
//     validated against the target's settings. Only the document is copied: provider keys, phone
//     numbers and credentials never leave their workspace.
//   - Every mutation writes an audit entry (field names only, never values; IDs of the other
//     side of a copy as name=value) and publishes an event (workspace.updated, agent.created,
//     agent.updated, agent.deleted, agent.copied_out, provider_key.created,
//     provider_key.deleted) in its transaction.
package agent
