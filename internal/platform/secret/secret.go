package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"unicode/utf8"
)

const (
	// KeySize is the size of a master key in bytes (AES-256).
	KeySize = 32
	// MaxPlaintext is the largest value Seal accepts. Credentials are small; a larger value is a
	// sign of misuse, and the bound keeps Open from decoding arbitrarily large input.
	MaxPlaintext = 64 << 10

	version    = "v1"
	keyIDLen   = 8  // hex characters
	nonceSize  = 12 // 96 bits, the GCM standard nonce
	tagSize    = 16
	aadDomain  = "parley/secret"
	headerSize = len(version) + 1 + keyIDLen + 1
)

// maxCiphertext is the length of the text Seal returns for a MaxPlaintext value.
var maxCiphertext = headerSize + base64.RawURLEncoding.EncodedLen(nonceSize+MaxPlaintext+tagSize)

var (
	// ErrDecrypt is wrapped by every error Open returns for a value it cannot open: malformed or
	// truncated text, an unknown version or key, another row's context, tampering.
	ErrDecrypt = errors.New("secret: cannot decrypt")
	// ErrMalformed is a value that is not a well-formed sealed value. It wraps ErrDecrypt.
	ErrMalformed = fmt.Errorf("%w: malformed ciphertext", ErrDecrypt)
	// ErrUnknownKey is a well-formed value sealed under a key the keyring does not hold (e.g. a
	// key was removed too early, or this process was started with other keys). It wraps ErrDecrypt.
	ErrUnknownKey = fmt.Errorf("%w: key not in keyring", ErrDecrypt)
	// ErrInvalidAAD is an AAD without table, column or row.
	ErrInvalidAAD = errors.New("secret: AAD needs table, column and row ID")
	// ErrTooLarge is a plaintext longer than MaxPlaintext.
	ErrTooLarge = fmt.Errorf("secret: plaintext longer than %d bytes", MaxPlaintext)
	// ErrNoKey is a nil or empty Keyring.
	ErrNoKey = errors.New("secret: keyring has no primary key")
)

// AAD is where a sealed value is stored. It is bound into the ciphertext, so the value opens only
// with the same AAD. Table, Column and RowID are required; WorkspaceID is empty only for
// instance-level secrets that belong to no workspace.
type AAD struct {
	WorkspaceID string
	Table       string
	Column      string
	RowID       string
}

func (a AAD) validate() error {
	if a.Table == "" || a.Column == "" || a.RowID == "" {
		return ErrInvalidAAD
	}
	return nil
}

// encode returns the GCM additional data: every field, with the format version and key ID, each
// prefixed by its length as a big-endian uint32, so distinct inputs never encode alike.
func (a AAD) encode(ver, keyID string) []byte {
	fields := [...]string{aadDomain, ver, keyID, a.WorkspaceID, a.Table, a.Column, a.RowID}
	n := 0
	for _, f := range fields {
		n += 4 + len(f)
	}
	b := make([]byte, 0, n)
	for _, f := range fields {
		b = binary.BigEndian.AppendUint32(b, uint32(len(f)))
		b = append(b, f...)
	}
	return b
}

// Keyring holds the master keys: one primary that seals, all of which open. Build it with Load or
// FromKeys. It is immutable and safe for concurrent use. It formats as its key IDs only.
type Keyring struct {
	primary   string
	ids       []string // primary first, then the others in the order given
	aeads     map[string]cipher.AEAD
	digests   map[string][sha256.Size]byte // full SHA-256 per key ID, to tell duplicates from collisions
	source    string                       // "env", "file" or "keys"
	generated bool
}

// FromKeys builds a keyring from raw 32-byte keys: primary seals, previous only open. Duplicates
// are ignored. For tests and for callers that hold keys themselves; Load is the usual way.
func FromKeys(primary []byte, previous ...[]byte) (*Keyring, error) {
	k := &Keyring{source: "keys"}
	if err := k.add(primary); err != nil {
		return nil, fmt.Errorf("secret: primary key: %w", err)
	}
	for i, key := range previous {
		if err := k.add(key); err != nil {
			return nil, fmt.Errorf("secret: previous key %d: %w", i+1, err)
		}
	}
	return k, nil
}

// add adds a key; the first one added is primary. Adding the same key twice is a no-op.
func (k *Keyring) add(key []byte) error {
	if len(key) != KeySize {
		return fmt.Errorf("need %d bytes, got %d", KeySize, len(key))
	}
	if isZero(key) {
		return errors.New("key is all zero bytes")
	}
	digest := sha256.Sum256(key)
	id := hex.EncodeToString(digest[:keyIDLen/2])
	if prev, dup := k.digests[id]; dup {
		// Same ID: the same key (harmless), or two keys whose digests share 32 bits, which would
		// make the key ID ambiguous.
		if prev == digest {
			return nil
		}
		return fmt.Errorf("two different keys share key ID %s; generate another key", id)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return err
	}
	if k.aeads == nil {
		k.aeads = make(map[string]cipher.AEAD)
		k.digests = make(map[string][sha256.Size]byte)
	}
	k.aeads[id] = aead
	k.digests[id] = digest
	k.ids = append(k.ids, id)
	if k.primary == "" {
		k.primary = id
	}
	return nil
}

// KeyID returns the ID of a raw key: the first 8 hex characters of its SHA-256. An operator can
// compute it with `printf %s "$PARLEY_MASTER_KEY" | base64 -d | sha256sum | cut -c1-8`.
func KeyID(key []byte) string {
	sum := sha256.Sum256(key)
	return hex.EncodeToString(sum[:keyIDLen/2])
}

// PrimaryID returns the ID of the key that seals.
func (k *Keyring) PrimaryID() string {
	if k == nil {
		return ""
	}
	return k.primary
}

// KeyIDs returns the IDs of every key, primary first.
func (k *Keyring) KeyIDs() []string {
	if k == nil {
		return nil
	}
	return append([]string(nil), k.ids...)
}

// Source says where the keys came from: "env", "file" or "keys" (FromKeys).
func (k *Keyring) Source() string {
	if k == nil {
		return ""
	}
	return k.source
}

// Generated reports whether Load created the keyring file just now, on first start. The caller
// should then tell the operator to back the file up.
func (k *Keyring) Generated() bool { return k != nil && k.generated }

// String describes the keyring without key material.
func (k *Keyring) String() string {
	if k == nil {
		return "secret.Keyring(nil)"
	}
	return fmt.Sprintf("secret.Keyring{source: %s, primary: %s, keys: %s}",
		k.source, k.primary, strings.Join(k.ids, ","))
}

// GoString keeps %#v from printing the ciphers' expanded keys.
func (k *Keyring) GoString() string { return k.String() }

// Format keeps every verb (%v, %+v, %#v, %s, …) to String, never the struct's fields.
func (k *Keyring) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(k.String())) }

// LogValue logs the keyring as its key IDs only.
func (k *Keyring) LogValue() slog.Value {
	if k == nil {
		return slog.StringValue("<nil>")
	}
	return slog.GroupValue(
		slog.String("source", k.source),
		slog.String("primary", k.primary),
		slog.String("keys", strings.Join(k.ids, ",")),
	)
}

// Seal encrypts plaintext under the primary key, bound to aad, and returns printable text
// (v1.<keyid>.<base64url>) to store. Each call uses a fresh random nonce, so sealing the same
// plaintext twice gives different text.
func (k *Keyring) Seal(plaintext []byte, aad AAD) (string, error) {
	if k == nil || k.aeads[k.primary] == nil {
		return "", ErrNoKey
	}
	if err := aad.validate(); err != nil {
		return "", err
	}
	if len(plaintext) > MaxPlaintext {
		return "", ErrTooLarge
	}
	aead := k.aeads[k.primary]
	buf := make([]byte, nonceSize, nonceSize+len(plaintext)+aead.Overhead())
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("secret: nonce: %w", err)
	}
	buf = aead.Seal(buf, buf[:nonceSize], plaintext, aad.encode(version, k.primary))
	var sb strings.Builder
	sb.Grow(headerSize + base64.RawURLEncoding.EncodedLen(len(buf)))
	sb.WriteString(version)
	sb.WriteByte('.')
	sb.WriteString(k.primary)
	sb.WriteByte('.')
	sb.WriteString(base64.RawURLEncoding.EncodeToString(buf))
	return sb.String(), nil
}

// Open decrypts text that Seal returned for the same aad. Every failure wraps ErrDecrypt
// (ErrMalformed and ErrUnknownKey are more specific); the error never contains the input.
func (k *Keyring) Open(ciphertext string, aad AAD) ([]byte, error) {
	keyID, sealed, err := parse(ciphertext)
	if err != nil {
		return nil, err
	}
	if err := aad.validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDecrypt, err)
	}
	if k == nil {
		return nil, fmt.Errorf("%w: %w", ErrDecrypt, ErrNoKey)
	}
	aead, ok := k.aeads[keyID]
	if !ok {
		return nil, fmt.Errorf("%w (key ID %s)", ErrUnknownKey, keyID)
	}
	plaintext, err := aead.Open(nil, sealed[:nonceSize], sealed[nonceSize:], aad.encode(version, keyID))
	if err != nil {
		return nil, fmt.Errorf("%w: authentication failed (wrong row or workspace, or altered value)", ErrDecrypt)
	}
	if plaintext == nil {
		plaintext = []byte{}
	}
	return plaintext, nil
}

// NeedsRotation reports whether the value should be resealed: it is sealed under a key other than
// the primary. A value that is not a well-formed sealed value also reports true, so a rotation
// walk hands it to Reseal, which reports the error, rather than skipping it silently.
func (k *Keyring) NeedsRotation(ciphertext string) bool {
	keyID, _, err := parse(ciphertext)
	if err != nil || k == nil {
		return true
	}
	return keyID != k.primary
}

// Reseal opens the value with aad and, if it was sealed under an older key, seals it again under
// the primary key. A value already under the primary key is checked (it must open) and returned
// unchanged, so the caller can skip the write when the result equals the input.
func (k *Keyring) Reseal(ciphertext string, aad AAD) (string, error) {
	plaintext, err := k.Open(ciphertext, aad)
	if err != nil {
		return "", err
	}
	defer clear(plaintext)
	if !k.NeedsRotation(ciphertext) {
		return ciphertext, nil
	}
	return k.Seal(plaintext, aad)
}

// parse splits v1.<keyid>.<base64url> and decodes it strictly: exact version, 8 lowercase hex
// characters, only base64url characters, canonical unpadded encoding, room for nonce and tag.
func parse(s string) (keyID string, sealed []byte, err error) {
	if len(s) < headerSize || len(s) > maxCiphertext {
		return "", nil, ErrMalformed
	}
	if s[:len(version)] != version || s[len(version)] != '.' || s[headerSize-1] != '.' {
		return "", nil, ErrMalformed
	}
	keyID = s[len(version)+1 : headerSize-1]
	for i := 0; i < len(keyID); i++ {
		if c := keyID[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return "", nil, ErrMalformed
		}
	}
	body := s[headerSize:]
	for i := 0; i < len(body); i++ {
		// The decoder skips \r and \n; refuse them (and every other stray byte) so that one
		// sealed value has exactly one text.
		if c := body[i]; !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return "", nil, ErrMalformed
		}
	}
	sealed, err = base64.RawURLEncoding.Strict().DecodeString(body)
	if err != nil || len(sealed) < nonceSize+tagSize {
		return "", nil, ErrMalformed
	}
	return keyID, sealed, nil
}

// Last4 returns a write-only display of a credential: "…" and its last four characters, e.g.
// "…a1b2". A value shorter than 12 characters shows only "…", so the hint never reveals more than
// a third of it; an empty value shows "".
func Last4(s string) string {
	if s == "" {
		return ""
	}
	n := utf8.RuneCountInString(s)
	if n < 12 {
		return "…"
	}
	i := len(s)
	for range 4 {
		_, size := utf8.DecodeLastRuneInString(s[:i])
		i -= size
	}
	return "…" + s[i:]
}

func isZero(b []byte) bool {
	var acc byte
	for _, c := range b {
		acc |= c
	}
	return acc == 0
}
