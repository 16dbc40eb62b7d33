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
//   - Every mutation writes an audit entry (field names only, never values) and publishes an
//     event (workspace.updated, agent.created, agent.updated, agent.deleted) in its transaction.
package agent
