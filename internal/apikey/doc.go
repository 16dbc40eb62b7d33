// Package apikey owns workspace API keys: long-lived secrets that let a program call the API as
// the workspace, within the scopes the key was given.
//
// Rules and invariants:
//   - A key belongs to exactly one workspace. Authenticating with it yields an authz API-key
//     principal confined to that workspace and its scopes: any other workspace answers 404, an
//     action outside its scopes 403 insufficient_scope, and actions with no scope in the authz
//     matrix (team, billing, API keys, the workspace itself) are refused to every key.
//   - Only owners and admins manage keys (authz.APIKeysManage). A key can never manage keys.
//   - Format: "parley_live_" or "parley_test_", then 32 base62 characters from crypto/rand
//     (≈190 bits), then 6 base62 characters: the CRC32 (IEEE) of those 32, zero-padded. Secret
//     scanners match the prefix and verify the checksum offline; Authenticate rejects a token of
//     the wrong shape or with a bad checksum (401 invalid_api_key) before any database lookup.
//   - The secret is returned once, by Create. Only its SHA-256 is stored (a slow KDF adds nothing
//     for 190 random bits); lists show the prefix ("parley_live_" + 4 characters) and the last
//     four characters. Audit entries and events never contain the secret.
//   - Scopes are exactly those of Scopes; a key has at least one, stored deduplicated in
//     Scopes order. Unknown scopes are refused (422, listing the valid ones).
//   - A key is refused with a distinct 401 code when it is unknown (unknown_api_key), revoked
//     (revoked_api_key: revocation wins over expiry) or expired (expired_api_key: at or after
//     expiresAt). expiresAt, when given, must be in the future; without it the key never expires.
//   - Revocation is immediate and soft: revoked_at is set and the row stays, so lists keep showing
//     the key (with revokedAt and status "revoked") as a record. Revoking a revoked key changes
//     nothing and succeeds.
//   - lastUsedAt is written at most once a minute per key: authentication compares the stored
//     value it has just read with the clock and writes only when it is a minute old or more (the
//     UPDATE repeats the condition, so concurrent requests and replicas do not pile up writes).
//   - Mode (live or test) is recorded on the key; later capabilities use it to avoid real calls.
//   - Tenancy: every store method takes the workspace ID and filters on it, with one exception:
//     byHash, the lookup by token hash that authentication uses. It cannot be scoped, because the
//     token is what tells us the workspace; the principal it produces is then confined to the
//     workspace of the row found, so it can reach nothing else.
//   - Every mutation writes an audit entry (api_key.created, api_key.revoked) and publishes an
//     event of the same type, in the transaction of the change.
package apikey
