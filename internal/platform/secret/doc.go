// Package secret encrypts stored credentials at rest: telephony auth tokens, provider API keys,
// webhook signing secrets — values Parley must be able to read back (we sign and authenticate with
// them), so they are encrypted, not hashed. (Parley's own API keys and passwords are hashed
// elsewhere and never come here.)
//
// # Model
//
// A [Keyring] holds one or more AES-256 keys, each named by a key ID: the first 8 hex characters of
// SHA-256 of the raw 32 key bytes. One key is primary and encrypts; every key decrypts. A Keyring is
// immutable after it is built and safe for concurrent use.
//
// [Keyring.Seal] encrypts with AES-256-GCM under the primary key and a fresh 96-bit random nonce, and
// returns printable text that fits a TEXT column:
//
//	v1.<keyid>.<base64url-unpadded(nonce ‖ ciphertext ‖ tag)>
//
// The GCM additional data binds every value to where it is stored: the [AAD] (workspace, table,
// column, row), the format version and the key ID, each length-prefixed, so no two different
// contexts encode alike. A value copied to another row, column or workspace does not decrypt.
//
// # Invariants
//
//   - The primary key encrypts; every key in the keyring decrypts. Keys are never removed by this
//     package: old keys stay until an operator removes them after a reseal pass.
//   - Every ciphertext is bound to its (workspace, table, column, row) through GCM associated data.
//     Table, column and row are required; the workspace is empty only for instance-level secrets
//     that belong to no workspace. The row ID must therefore exist before the value is sealed
//     (Parley makes IDs in Go, before the INSERT).
//   - A nonce is 96 random bits, never a counter, never reused on purpose. NIST SP 800-38D bounds
//     random nonces at 2^32 encryptions per key; stored credentials are written a few times per
//     workspace, orders of magnitude below that, and rotation starts a fresh key.
//   - [Keyring.Open] fails with an error that wraps [ErrDecrypt] for every bad input — empty,
//     malformed, unknown version, unknown key, wrong context, tampered — and never panics.
//     The text is parsed strictly (exact alphabet, canonical base64), so exactly one string
//     opens to a given sealed value: a tampered string never opens.
//   - Key material is never logged, never put in an error, and never printed: [Keyring] formats
//     itself (fmt, slog) as its key IDs only. Errors about a bad key name the variable or file and
//     its length, not its content. Plaintexts are not logged by this package either; show a stored
//     credential with [Last4].
//
// # Where the keys come from ([Load])
//
// Environment (takes precedence, needed when several replicas share one database):
//
//	PARLEY_MASTER_KEY           the primary key: 32 bytes as base64 (std or url, padded or not;
//	                            e.g. `openssl rand -base64 32`) or hex (`openssl rand -hex 32`)
//	PARLEY_MASTER_KEY_PREVIOUS  older keys, comma-separated, same encodings; decrypt only
//
// Otherwise the keyring file <dataDir>/master.key (JSON, mode 0600) is read, or created with one
// random key on first start. Load refuses a keyring file readable or writable by group or others.
// If PARLEY_MASTER_KEY is set while a keyring file also exists, every key in the file must also be
// given in the environment; otherwise Load fails rather than silently losing access to secrets
// sealed under the file's keys.
//
// Losing the keys loses every stored credential: back up master.key (or the env values) apart from
// the database. Replicas that share a database must share the keys: use the environment, not a
// file generated separately in each replica's data directory.
//
// # Rotation
//
// File keyring: [Rotate] adds a fresh key to master.key and makes it primary. Then restart every
// running parley process (each holds its keyring in memory: until restarted it still seals under
// the old key and cannot open values sealed under the new one), and walk the secret columns: for
// each value where [Keyring.NeedsRotation] is true, [Keyring.Reseal] it and write it back
// conditionally (UPDATE … WHERE the column still holds the old text). Run Rotate from one process
// at a time.
//
// Environment keyring: Rotate refuses ([ErrEnvKeyring]). Generate a new key, set it as
// PARLEY_MASTER_KEY, put the old one first in PARLEY_MASTER_KEY_PREVIOUS, restart every replica,
// then reseal as above. An old key may be dropped once a reseal pass finds nothing left under it.
//
// # Why not envelope encryption (yet)
//
// The reference notes (§5.7) describe per-workspace data keys wrapped by a master key. Stored
// credentials are few and small, so re-encrypting them all on rotation is cheap, and one level of
// keys keeps the schema free of a key table. The version tag ("v1") leaves room for an enveloped
// "v2" format — e.g. for per-workspace crypto-shredding or a cloud KMS — readable side by side.
package secret
