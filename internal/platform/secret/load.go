package secret

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

const (
	// EnvMasterKey names the variable holding the primary master key.
	EnvMasterKey = "PARLEY_MASTER_KEY"
	// EnvPreviousKeys names the variable holding older keys, comma-separated, that only decrypt.
	EnvPreviousKeys = "PARLEY_MASTER_KEY_PREVIOUS"
	// FileName is the keyring file inside the data directory.
	FileName = "master.key"

	fileFormat = "parley-keyring-v1"
	keyHint    = "need 32 random bytes as base64 (44 characters, e.g. `openssl rand -base64 32`) or hex (64 characters, e.g. `openssl rand -hex 32`)"
)

// ErrEnvKeyring is returned by Rotate when the keys come from the environment.
var ErrEnvKeyring = errors.New("secret: the master key comes from " + EnvMasterKey + ", so parley cannot rotate it: " +
	"generate a new key (`openssl rand -base64 32`), set it as " + EnvMasterKey + ", put the old key first in " +
	EnvPreviousKeys + " (comma-separated), restart every parley process, then reseal the stored secrets")

// Load returns the keyring. If PARLEY_MASTER_KEY is set (through getenv), it is the primary key
// and PARLEY_MASTER_KEY_PREVIOUS may add older keys; otherwise the keyring file
// <dataDir>/master.key is read, or created with one random key (mode 0600) if it does not exist.
// See the package documentation for the rules. Errors never contain key material.
func Load(dataDir string, getenv func(string) string) (*Keyring, error) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	primary := strings.TrimSpace(getenv(EnvMasterKey))
	previous := strings.TrimSpace(getenv(EnvPreviousKeys))
	if primary == "" {
		if previous != "" {
			return nil, fmt.Errorf("secret: %s is set but %s is not; set the current key in %s",
				EnvPreviousKeys, EnvMasterKey, EnvMasterKey)
		}
		return loadFile(dataDir)
	}
	k, err := fromEnv(primary, previous)
	if err != nil {
		return nil, err
	}
	if dataDir != "" {
		if err := checkFileCovered(k, filepath.Join(dataDir, FileName)); err != nil {
			return nil, err
		}
	}
	return k, nil
}

func fromEnv(primary, previous string) (*Keyring, error) {
	k := &Keyring{source: "env"}
	key, err := decodeKey(primary)
	if err == nil {
		err = k.add(key)
		clear(key)
	}
	if err != nil {
		return nil, fmt.Errorf("secret: %s is not a valid master key: %w", EnvMasterKey, err)
	}
	n := 0
	for part := range strings.SplitSeq(previous, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		n++
		key, err := decodeKey(part)
		if err == nil {
			err = k.add(key)
			clear(key)
		}
		if err != nil {
			return nil, fmt.Errorf("secret: %s entry %d is not a valid master key: %w", EnvPreviousKeys, n, err)
		}
	}
	return k, nil
}

// decodeKey accepts 32 bytes as hex (64 characters) or base64 (standard or URL alphabet, padded
// or not). The error describes the input by its length only.
func decodeKey(s string) ([]byte, error) {
	if len(s)%2 == 0 && isHex(s) {
		// Padded base64 always has '=', and unpadded base64 of 32 bytes has odd length, so
		// an even-length all-hex string is hex.
		key, err := hex.DecodeString(s)
		if err == nil && len(key) == KeySize {
			return key, nil
		}
		if err == nil {
			n := len(key)
			clear(key)
			return nil, fmt.Errorf("it is hex of %d bytes; %s", n, keyHint)
		}
	}
	for _, enc := range []*base64.Encoding{
		base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding,
	} {
		key, err := enc.Strict().DecodeString(s)
		if err != nil {
			continue
		}
		if len(key) == KeySize {
			return key, nil
		}
		n := len(key)
		clear(key)
		return nil, fmt.Errorf("it decodes to %d bytes; %s", n, keyHint)
	}
	return nil, fmt.Errorf("it is %d characters of neither base64 nor hex; %s", len(s), keyHint)
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return s != ""
}

// keyringFile is the JSON of master.key. Key is the raw key, base64 (standard alphabet).
type keyringFile struct {
	Format  string    `json:"format"`
	Primary string    `json:"primary"`
	Keys    []fileKey `json:"keys"`
}

type fileKey struct {
	ID        string    `json:"id"`
	Key       string    `json:"key"`
	CreatedAt time.Time `json:"createdAt"`
}

// keyring builds the Keyring the file describes, primary first, checking every entry.
func (f *keyringFile) keyring(path string) (*Keyring, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("secret: %s is not a valid keyring file: %s", path, fmt.Sprintf(format, args...))
	}
	if f.Format != fileFormat {
		return nil, bad("format is %q, want %q", f.Format, fileFormat)
	}
	if len(f.Keys) == 0 {
		return nil, bad("it holds no keys")
	}
	keys := make(map[string][]byte, len(f.Keys))
	defer func() {
		for _, key := range keys {
			clear(key)
		}
	}()
	for i, fk := range f.Keys {
		key, err := base64.StdEncoding.Strict().DecodeString(fk.Key)
		if err != nil || len(key) != KeySize {
			return nil, bad("key %d is not %d bytes of base64", i+1, KeySize)
		}
		if got := KeyID(key); got != fk.ID {
			return nil, bad("key %d has id %q but the key's ID is %s", i+1, fk.ID, got)
		}
		if _, dup := keys[fk.ID]; dup {
			return nil, bad("key %s appears twice", fk.ID)
		}
		keys[fk.ID] = key
	}
	if keys[f.Primary] == nil {
		return nil, bad("primary %q is not one of its keys", f.Primary)
	}
	k := &Keyring{source: "file"}
	if err := k.add(keys[f.Primary]); err != nil {
		return nil, bad("primary key: %v", err)
	}
	// The others newest first: the order a rotation walk is most likely to meet them in.
	for i := len(f.Keys) - 1; i >= 0; i-- {
		if id := f.Keys[i].ID; id != f.Primary {
			if err := k.add(keys[id]); err != nil {
				return nil, bad("key %s: %v", id, err)
			}
		}
	}
	return k, nil
}

func loadFile(dataDir string) (*Keyring, error) {
	if dataDir == "" {
		return nil, fmt.Errorf("secret: no data directory for %s, and %s is not set", FileName, EnvMasterKey)
	}
	path := filepath.Join(dataDir, FileName)
	f, err := readFile(path)
	if err == nil {
		return f.keyring(path)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}

	// First start: make one key and publish the file without replacing one that a concurrent
	// first start may have written meanwhile; if that happened, use theirs.
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("secret: create data directory: %w", err)
	}
	f, err = newKeyringFile(nil)
	if err != nil {
		return nil, err
	}
	created, err := writeFile(path, f, false)
	if err != nil {
		return nil, err
	}
	if !created {
		if f, err = readFile(path); err != nil {
			return nil, err
		}
	}
	k, err := f.keyring(path)
	if err != nil {
		return nil, err
	}
	k.generated = created
	return k, nil
}

// newKeyringFile returns f (or a new file) with a fresh random key added and made primary.
func newKeyringFile(f *keyringFile) (*keyringFile, error) {
	if f == nil {
		f = &keyringFile{Format: fileFormat}
	}
	key := make([]byte, KeySize)
	defer clear(key)
	for {
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("secret: generate key: %w", err)
		}
		id := KeyID(key)
		if !f.has(id) {
			f.Keys = append(f.Keys, fileKey{
				ID:        id,
				Key:       base64.StdEncoding.EncodeToString(key),
				CreatedAt: time.Now().UTC().Truncate(time.Second),
			})
			f.Primary = id
			return f, nil
		}
	}
}

func (f *keyringFile) has(id string) bool {
	for _, k := range f.Keys {
		if k.ID == id {
			return true
		}
	}
	return false
}

// readFile reads and decodes the keyring file, refusing one that group or others may access.
// A missing file is an error wrapping fs.ErrNotExist.
func readFile(path string) (*keyringFile, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("secret: keyring file: %w", err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("secret: keyring file %s is not a regular file", path)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return nil, fmt.Errorf("secret: keyring file %s has mode %04o and may be read by other users; "+
			"run `chmod 600 %s` (and consider whether the key has leaked)", path, perm, path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("secret: keyring file: %w", err)
	}
	defer clear(data)
	var f keyringFile
	if err := json.Unmarshal(data, &f); err != nil {
		// The decoder's message may quote the file's bytes; give only the position.
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return nil, fmt.Errorf("secret: %s is not a valid keyring file: JSON syntax error at byte %d", path, syn.Offset)
		}
		return nil, fmt.Errorf("secret: %s is not a valid keyring file: unexpected JSON structure", path)
	}
	return &f, nil
}

// writeFile writes the keyring atomically with mode 0600: to a temporary file in the same
// directory, synced, then moved into place. With replace false it never overwrites an existing
// file and reports created false if one appeared.
func writeFile(path string, f *keyringFile, replace bool) (created bool, err error) {
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return false, fmt.Errorf("secret: encode keyring: %w", err)
	}
	defer clear(data)
	data = append(data, '\n')

	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+FileName+".tmp-*")
	if err != nil {
		return false, fmt.Errorf("secret: write keyring: %w", err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName) // a no-op once renamed; cleans up otherwise
	if err := tmp.Chmod(0o600); err != nil && runtime.GOOS != "windows" {
		tmp.Close()
		return false, fmt.Errorf("secret: write keyring: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return false, fmt.Errorf("secret: write keyring: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return false, fmt.Errorf("secret: write keyring: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return false, fmt.Errorf("secret: write keyring: %w", err)
	}

	if replace {
		err = os.Rename(tmpName, path)
	} else {
		// A hard link publishes the complete file and fails if the name exists.
		err = os.Link(tmpName, path)
		if errors.Is(err, fs.ErrExist) {
			return false, nil
		}
		if err != nil {
			// No hard links on this file system: check, then rename (a narrow race, only
			// between two first starts on the same data directory).
			if _, statErr := os.Lstat(path); statErr == nil {
				return false, nil
			}
			err = os.Rename(tmpName, path)
		}
	}
	if err != nil {
		return false, fmt.Errorf("secret: write keyring: %w", err)
	}
	syncDir(dir)
	return true, nil
}

// syncDir makes the rename durable where the platform supports it; best effort.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

// checkFileCovered fails if a keyring file exists with keys the env keyring lacks: secrets sealed
// under them would become unreadable once the environment takes over.
func checkFileCovered(k *Keyring, path string) error {
	f, err := readFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w (%s is set; the file is checked so its keys are not lost)", err, EnvMasterKey)
	}
	fk, err := f.keyring(path)
	if err != nil {
		return err
	}
	var missing []string
	for _, id := range fk.ids {
		if _, ok := k.aeads[id]; !ok {
			missing = append(missing, id)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("secret: %s is set, but %s holds keys %s that are in neither %s nor %s; "+
		"secrets sealed under them would become unreadable. Add those keys (the file's \"key\" values) to %s, "+
		"or delete the file if nothing was ever sealed under them",
		EnvMasterKey, path, strings.Join(missing, ", "), EnvMasterKey, EnvPreviousKeys, EnvPreviousKeys)
}

// Rotate adds a fresh random key to the keyring file <dataDir>/master.key, makes it primary and
// returns its ID; older keys stay and still decrypt. It applies only to the file keyring: when
// PARLEY_MASTER_KEY or PARLEY_MASTER_KEY_PREVIOUS is set (through getenv) it returns ErrEnvKeyring,
// which tells the operator what to do instead. The file must exist. Running processes keep their
// old keyring until restarted; then reseal the stored values (see the package documentation).
// Do not run two Rotate calls on one data directory at once.
func Rotate(dataDir string, getenv func(string) string) (newKeyID string, err error) {
	if getenv != nil && (strings.TrimSpace(getenv(EnvMasterKey)) != "" || strings.TrimSpace(getenv(EnvPreviousKeys)) != "") {
		return "", ErrEnvKeyring
	}
	if dataDir == "" {
		return "", fmt.Errorf("secret: no data directory for %s", FileName)
	}
	path := filepath.Join(dataDir, FileName)
	f, err := readFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("secret: no keyring to rotate at %s (it is created on first start): %w", path, err)
		}
		return "", err
	}
	if _, err := f.keyring(path); err != nil { // refuse to extend a file that does not load
		return "", err
	}
	if f, err = newKeyringFile(f); err != nil {
		return "", err
	}
	if _, err := writeFile(path, f, true); err != nil {
		return "", err
	}
	return f.Primary, nil
}
