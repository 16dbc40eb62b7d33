package secret

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

var rowAAD = AAD{WorkspaceID: "ws_01", Table: "telephony_credentials", Column: "auth_token", RowID: "tcred_01"}

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func newKeyring(t *testing.T, primary []byte, previous ...[]byte) *Keyring {
	t.Helper()
	k, err := FromKeys(primary, previous...)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// env returns a getenv over a map.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func noEnv(string) string { return "" }

func mustSeal(t *testing.T, k *Keyring, plaintext string, aad AAD) string {
	t.Helper()
	ct, err := k.Seal([]byte(plaintext), aad)
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	return ct
}

func mustOpen(t *testing.T, k *Keyring, ct string, aad AAD) string {
	t.Helper()
	pt, err := k.Open(ct, aad)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return string(pt)
}

func TestSealOpenRoundTrip(t *testing.T) {
	k := newKeyring(t, testKey(1))
	for _, pt := range []string{"", "x", "9f86d081884c7d659a2feaa0c55ad015", "ünïcödé ✓", string(bytes.Repeat([]byte{0, 255}, 500)), strings.Repeat("a", MaxPlaintext)} {
		ct := mustSeal(t, k, pt, rowAAD)
		if !strings.HasPrefix(ct, "v1."+k.PrimaryID()+".") {
			t.Fatalf("ciphertext %.20q… lacks the v1.<keyid>. header", ct)
		}
		if len(pt) >= 8 && strings.Contains(ct, pt) {
			t.Fatal("plaintext visible in ciphertext")
		}
		if got := mustOpen(t, k, ct, rowAAD); got != pt {
			t.Fatalf("round trip of %d bytes gave %d bytes", len(pt), len(got))
		}
	}
	if _, err := k.Seal(make([]byte, MaxPlaintext+1), rowAAD); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversize Seal: err = %v, want ErrTooLarge", err)
	}
}

func TestOpenWithAnotherContextFails(t *testing.T) {
	k := newKeyring(t, testKey(1))
	ct := mustSeal(t, k, "token", rowAAD)
	for name, aad := range map[string]AAD{
		"another workspace": {WorkspaceID: "ws_02", Table: rowAAD.Table, Column: rowAAD.Column, RowID: rowAAD.RowID},
		"no workspace":      {Table: rowAAD.Table, Column: rowAAD.Column, RowID: rowAAD.RowID},
		"another row":       {WorkspaceID: rowAAD.WorkspaceID, Table: rowAAD.Table, Column: rowAAD.Column, RowID: "tcred_02"},
		"another column":    {WorkspaceID: rowAAD.WorkspaceID, Table: rowAAD.Table, Column: "api_secret", RowID: rowAAD.RowID},
		"another table":     {WorkspaceID: rowAAD.WorkspaceID, Table: "webhook_endpoints", Column: rowAAD.Column, RowID: rowAAD.RowID},
		// Fields shifted across a boundary: a delimiter-joined encoding would confuse these.
		"shifted boundary": {WorkspaceID: rowAAD.WorkspaceID, Table: rowAAD.Table + "auth", Column: "_token", RowID: rowAAD.RowID},
		"workspace as row": {WorkspaceID: rowAAD.RowID, Table: rowAAD.Table, Column: rowAAD.Column, RowID: rowAAD.WorkspaceID},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := k.Open(ct, aad)
			if !errors.Is(err, ErrDecrypt) {
				t.Fatalf("err = %v, want ErrDecrypt", err)
			}
			if errors.Is(err, ErrMalformed) || errors.Is(err, ErrUnknownKey) {
				t.Fatalf("err = %v, want an authentication failure", err)
			}
		})
	}
}

func TestSealAndOpenRequireContext(t *testing.T) {
	k := newKeyring(t, testKey(1))
	for _, aad := range []AAD{{}, {WorkspaceID: "ws_1", Column: "c", RowID: "r"}, {Table: "t", RowID: "r"}, {Table: "t", Column: "c"}} {
		if _, err := k.Seal([]byte("x"), aad); !errors.Is(err, ErrInvalidAAD) {
			t.Errorf("Seal(%+v): err = %v, want ErrInvalidAAD", aad, err)
		}
	}
	ct := mustSeal(t, k, "x", rowAAD)
	if _, err := k.Open(ct, AAD{}); !errors.Is(err, ErrDecrypt) || !errors.Is(err, ErrInvalidAAD) {
		t.Errorf("Open with empty AAD: err = %v", err)
	}
	// Instance-level secrets have no workspace.
	instance := AAD{Table: "settings", Column: "smtp_password", RowID: "smtp"}
	if got := mustOpen(t, k, mustSeal(t, k, "pw", instance), instance); got != "pw" {
		t.Fatalf("got %q", got)
	}
}

func TestOpenTamperedFails(t *testing.T) {
	k := newKeyring(t, testKey(1))
	ct := mustSeal(t, k, "a provider token", rowAAD)
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	// Every single-character substitution after the header.
	for i := headerSize; i < len(ct); i++ {
		for _, c := range []byte{alphabet[(strings.IndexByte(alphabet, ct[i])+1)%64], alphabet[(strings.IndexByte(alphabet, ct[i])+37)%64]} {
			bad := ct[:i] + string(c) + ct[i+1:]
			if _, err := k.Open(bad, rowAAD); !errors.Is(err, ErrDecrypt) {
				t.Fatalf("substitution at %d opened: err = %v", i, err)
			}
		}
	}
	// Flipping bits in the sealed bytes, nonce and tag included.
	raw, _ := base64.RawURLEncoding.DecodeString(ct[headerSize:])
	for i := range raw {
		mod := bytes.Clone(raw)
		mod[i] ^= 0x01
		bad := ct[:headerSize] + base64.RawURLEncoding.EncodeToString(mod)
		if _, err := k.Open(bad, rowAAD); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("bit flip in byte %d opened: err = %v", i, err)
		}
	}
	// Truncated or extended.
	for _, bad := range []string{ct[:len(ct)-1], ct[:len(ct)-4], ct + "A", ct + "AAAA"} {
		if _, err := k.Open(bad, rowAAD); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("length change opened: err = %v", err)
		}
	}
}

func TestOpenMalformedFailsCleanly(t *testing.T) {
	k := newKeyring(t, testKey(1))
	// 6 bytes of plaintext: 34 sealed bytes, so the last base64 character has unused bits.
	ct := mustSeal(t, k, "token!", rowAAD)
	id, body := k.PrimaryID(), ct[headerSize:]
	short := base64.RawURLEncoding.EncodeToString(make([]byte, nonceSize+tagSize-1))
	// Same bytes, last character changed so that its unused low bits are set: decodes (leniently)
	// to the same bytes, but is not the canonical text.
	noncanon := func() string {
		raw, _ := base64.RawURLEncoding.DecodeString(body)
		for _, c := range "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" {
			alt := body[:len(body)-1] + string(c)
			if alt == body {
				continue
			}
			if b, err := base64.RawURLEncoding.DecodeString(alt); err == nil && bytes.Equal(b, raw) {
				return alt
			}
		}
		t.Fatal("no non-canonical spelling found")
		return ""
	}()
	cases := map[string]string{
		"empty":                  "",
		"just the version":       "v1",
		"version and dot":        "v1.",
		"no body":                "v1." + id,
		"empty body":             "v1." + id + ".",
		"wrong version":          "v2." + id + "." + body,
		"upper-case version":     "V1." + id + "." + body,
		"no version":             id + "." + body,
		"upper-case key ID":      "v1." + strings.ToUpper("abcdef01") + "." + body,
		"short key ID":           "v1." + id[:7] + "." + body,
		"long key ID":            "v1." + id + "0." + body,
		"non-hex key ID":         "v1.zzzzzzzz." + body,
		"extra dot":              ct + ".x",
		"bad base64 character":   "v1." + id + "." + body[:10] + "!" + body[11:],
		"std alphabet +":         "v1." + id + "." + body[:10] + "+" + body[11:],
		"padded":                 ct + "=",
		"newline in body":        "v1." + id + "." + body[:10] + "\n" + body[10:],
		"carriage return":        "v1." + id + "." + body[:10] + "\r" + body[10:],
		"space":                  " " + ct,
		"trailing space":         ct + " ",
		"too short for nonce":    "v1." + id + ".AAAA",
		"too short for tag":      "v1." + id + "." + short,
		"non-canonical base64":   "v1." + id + "." + noncanon,
		"over the maximum":       "v1." + id + "." + strings.Repeat("A", maxCiphertext),
		"base64 of 1 extra char": "v1." + id + "." + body + "A",
		"NUL bytes":              "v1.\x00\x00\x00\x00\x00\x00\x00\x00." + body,
		"non-UTF-8":              "v1." + id + ".\xff\xfe" + body,
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			pt, err := k.Open(in, rowAAD)
			if err == nil || pt != nil {
				t.Fatalf("Open succeeded: %q", pt)
			}
			if !errors.Is(err, ErrDecrypt) {
				t.Fatalf("err = %v, want ErrDecrypt", err)
			}
			if in != "" && strings.Contains(err.Error(), in) {
				t.Fatalf("error repeats the input: %v", err)
			}
			// Malformed text reports true, so a rotation walk hands it to Reseal, which fails.
			if _, _, perr := parse(in); perr != nil && !k.NeedsRotation(in) {
				t.Fatal("NeedsRotation(malformed) = false")
			}
			if _, err := k.Reseal(in, rowAAD); !errors.Is(err, ErrDecrypt) {
				t.Fatalf("Reseal: err = %v, want ErrDecrypt", err)
			}
		})
	}
}

func TestOpenUnknownKey(t *testing.T) {
	a, b := newKeyring(t, testKey(1)), newKeyring(t, testKey(2))
	ct := mustSeal(t, a, "token", rowAAD)
	_, err := b.Open(ct, rowAAD)
	if !errors.Is(err, ErrUnknownKey) || !errors.Is(err, ErrDecrypt) {
		t.Fatalf("err = %v, want ErrUnknownKey wrapping ErrDecrypt", err)
	}
	if !strings.Contains(err.Error(), a.PrimaryID()) {
		t.Fatalf("error %q does not name the missing key ID", err)
	}
	// Right key ID in the header but another key: an authentication failure, not a panic.
	forged := "v1." + b.PrimaryID() + ct[headerSize-1:]
	if _, err := b.Open(forged, rowAAD); !errors.Is(err, ErrDecrypt) || errors.Is(err, ErrUnknownKey) {
		t.Fatalf("forged header: err = %v", err)
	}
}

func TestNilAndZeroKeyringDoNotPanic(t *testing.T) {
	for _, k := range []*Keyring{nil, {}} {
		if _, err := k.Seal([]byte("x"), rowAAD); !errors.Is(err, ErrNoKey) {
			t.Errorf("Seal: err = %v", err)
		}
		ct := mustSeal(t, newKeyring(t, testKey(1)), "x", rowAAD)
		if _, err := k.Open(ct, rowAAD); !errors.Is(err, ErrDecrypt) {
			t.Errorf("Open: err = %v", err)
		}
		if !k.NeedsRotation(ct) {
			t.Error("NeedsRotation = false")
		}
		_ = fmt.Sprint(k)
	}
}

func TestNoncesDiffer(t *testing.T) {
	k := newKeyring(t, testKey(1))
	texts, nonces := map[string]bool{}, map[string]bool{}
	for range 1000 {
		ct := mustSeal(t, k, "same plaintext", rowAAD)
		raw, err := base64.RawURLEncoding.DecodeString(ct[headerSize:])
		if err != nil {
			t.Fatal(err)
		}
		n := string(raw[:nonceSize])
		if texts[ct] || nonces[n] {
			t.Fatal("a ciphertext or nonce repeated")
		}
		texts[ct], nonces[n] = true, true
	}
}

func TestFileKeyringCreatedOnceAndReused(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "parley-data") // does not exist yet
	k1, err := Load(dataDir, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if !k1.Generated() || k1.Source() != "file" || len(k1.KeyIDs()) != 1 {
		t.Fatalf("first Load: %v generated=%v", k1, k1.Generated())
	}
	path := filepath.Join(dataDir, FileName)
	assertMode(t, path, 0o600)
	assertMode(t, dataDir, 0o700)
	ct := mustSeal(t, k1, "token", rowAAD)

	k2, err := Load(dataDir, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if k2.Generated() || k2.PrimaryID() != k1.PrimaryID() {
		t.Fatalf("second Load: %v generated=%v, want the same key, not generated", k2, k2.Generated())
	}
	if got := mustOpen(t, k2, ct, rowAAD); got != "token" {
		t.Fatalf("got %q", got)
	}
	if entries, _ := os.ReadDir(dataDir); len(entries) != 1 {
		t.Fatalf("data dir holds %d entries, want only %s (no temporary files left)", len(entries), FileName)
	}
}

func TestFileKeyringConcurrentFirstStartsAgree(t *testing.T) {
	dataDir := t.TempDir()
	const n = 8
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			k, err := Load(dataDir, noEnv)
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = k.PrimaryID()
		})
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("concurrent first starts got different keys: %v", ids)
		}
	}
}

func TestFileKeyringRefusesLoosePermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permissions")
	}
	dataDir := t.TempDir()
	if _, err := Load(dataDir, noEnv); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dataDir, FileName)
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		_, err := Load(dataDir, noEnv)
		if err == nil || !strings.Contains(err.Error(), "chmod 600") {
			t.Fatalf("mode %04o: err = %v, want a refusal telling to chmod 600", mode, err)
		}
		if _, err := Rotate(dataDir, noEnv); err == nil {
			t.Fatalf("mode %04o: Rotate accepted the file", mode)
		}
	}
	if err := os.Chmod(path, 0o400); err != nil { // read-only for the owner is fine
		t.Fatal(err)
	}
	if _, err := Load(dataDir, noEnv); err != nil {
		t.Fatal(err)
	}
}

func TestFileKeyringInvalidContent(t *testing.T) {
	k := testKey(7)
	good := keyringFile{Format: fileFormat, Primary: KeyID(k), Keys: []fileKey{{ID: KeyID(k), Key: base64.StdEncoding.EncodeToString(k)}}}
	mutate := func(f func(*keyringFile)) string {
		c := good
		c.Keys = append([]fileKey(nil), good.Keys...)
		f(&c)
		b, _ := json.Marshal(c)
		return string(b)
	}
	secretish := base64.StdEncoding.EncodeToString(k)
	for name, content := range map[string]string{
		"empty":          "",
		"not JSON":       "x" + secretish,
		"truncated JSON": `{"format":"parley-keyring-v1","keys":[{"key":"` + secretish,
		"wrong format":   mutate(func(f *keyringFile) { f.Format = "other" }),
		"no keys":        mutate(func(f *keyringFile) { f.Keys = nil }),
		"wrong primary":  mutate(func(f *keyringFile) { f.Primary = "00000000" }),
		"short key":      mutate(func(f *keyringFile) { f.Keys[0].Key = base64.StdEncoding.EncodeToString(k[:16]) }),
		"id mismatch":    mutate(func(f *keyringFile) { f.Keys[0].ID = "00000000"; f.Primary = "00000000" }),
		"duplicate key":  mutate(func(f *keyringFile) { f.Keys = append(f.Keys, f.Keys[0]) }),
		"wrong type":     `{"format":"parley-keyring-v1","keys":"` + secretish + `"}`,
	} {
		t.Run(name, func(t *testing.T) {
			dataDir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dataDir, FileName), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(dataDir, noEnv)
			if err == nil {
				t.Fatal("Load accepted an invalid keyring file")
			}
			if strings.Contains(err.Error(), secretish) || strings.Contains(err.Error(), secretish[:8]) {
				t.Fatalf("error reveals key material: %v", err)
			}
		})
	}
	// The good file loads, which makes the cases above meaningful.
	dataDir := t.TempDir()
	b, _ := json.Marshal(good)
	if err := os.WriteFile(filepath.Join(dataDir, FileName), b, 0o600); err != nil {
		t.Fatal(err)
	}
	if kr, err := Load(dataDir, noEnv); err != nil || kr.PrimaryID() != KeyID(k) {
		t.Fatalf("good file: %v, %v", kr, err)
	}
}

func TestRotate(t *testing.T) {
	dataDir := t.TempDir()
	before, err := Load(dataDir, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	oldCT := mustSeal(t, before, "old token", rowAAD)
	if before.NeedsRotation(oldCT) {
		t.Fatal("NeedsRotation true for a value under the primary key")
	}

	newID, err := Rotate(dataDir, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if newID == before.PrimaryID() || len(newID) != keyIDLen {
		t.Fatalf("Rotate returned %q", newID)
	}
	assertMode(t, filepath.Join(dataDir, FileName), 0o600)

	after, err := Load(dataDir, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if after.PrimaryID() != newID || strings.Join(after.KeyIDs(), ",") != newID+","+before.PrimaryID() {
		t.Fatalf("after rotation: %v, want primary %s then %s", after, newID, before.PrimaryID())
	}
	if got := mustOpen(t, after, oldCT, rowAAD); got != "old token" {
		t.Fatalf("old value opened to %q", got)
	}
	if !after.NeedsRotation(oldCT) {
		t.Fatal("NeedsRotation false for a value under the old key")
	}

	resealed, err := after.Reseal(oldCT, rowAAD)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(resealed, "v1."+newID+".") || after.NeedsRotation(resealed) {
		t.Fatalf("resealed value %.12q… is not under the primary key", resealed)
	}
	if got := mustOpen(t, after, resealed, rowAAD); got != "old token" {
		t.Fatalf("resealed value opened to %q", got)
	}
	if _, err := after.Open(resealed, AAD{WorkspaceID: "ws_02", Table: rowAAD.Table, Column: rowAAD.Column, RowID: rowAAD.RowID}); !errors.Is(err, ErrDecrypt) {
		t.Fatal("resealed value lost its context binding")
	}
	// Already current: unchanged, so a rotation walk can skip the write.
	if again, err := after.Reseal(resealed, rowAAD); err != nil || again != resealed {
		t.Fatalf("Reseal of a current value: %v, changed=%v", err, again != resealed)
	}
	// Reseal checks the context even when nothing needs doing.
	if _, err := after.Reseal(resealed, AAD{Table: "t", Column: "c", RowID: "other"}); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("Reseal with the wrong context: err = %v", err)
	}
	// A process still holding the old keyring cannot open the new value: hence restart first.
	if _, err := before.Open(resealed, rowAAD); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("old keyring on a new value: err = %v", err)
	}

	// A second rotation keeps every key.
	third, err := Rotate(dataDir, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	latest, err := Load(dataDir, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if ids := latest.KeyIDs(); len(ids) != 3 || ids[0] != third || ids[1] != newID || ids[2] != before.PrimaryID() {
		t.Fatalf("after two rotations: %v", ids)
	}
	if got := mustOpen(t, latest, oldCT, rowAAD); got != "old token" {
		t.Fatalf("oldest value opened to %q", got)
	}
}

func TestRotateRefusals(t *testing.T) {
	t.Run("env keys", func(t *testing.T) {
		for _, e := range []map[string]string{
			{EnvMasterKey: hex.EncodeToString(testKey(1))},
			{EnvPreviousKeys: hex.EncodeToString(testKey(1))},
		} {
			_, err := Rotate(t.TempDir(), env(e))
			if !errors.Is(err, ErrEnvKeyring) {
				t.Fatalf("err = %v, want ErrEnvKeyring", err)
			}
			for _, want := range []string{EnvMasterKey, EnvPreviousKeys, "restart"} {
				if !strings.Contains(err.Error(), want) {
					t.Fatalf("error %q does not mention %s", err, want)
				}
			}
		}
	})
	t.Run("no keyring yet", func(t *testing.T) {
		dataDir := t.TempDir()
		if _, err := Rotate(dataDir, noEnv); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("err = %v, want fs.ErrNotExist", err)
		}
		if _, err := os.Stat(filepath.Join(dataDir, FileName)); !errors.Is(err, fs.ErrNotExist) {
			t.Fatal("Rotate created a keyring")
		}
	})
}

func TestEnvKeyEncodings(t *testing.T) {
	key := make([]byte, KeySize)
	for i := range key {
		key[i] = byte(i*7 + 251) // includes bytes that encode to + / - _ in base64
	}
	sealer := newKeyring(t, key)
	ct := mustSeal(t, sealer, "token", rowAAD)
	for name, v := range map[string]string{
		"hex":                 hex.EncodeToString(key),
		"hex upper-case":      strings.ToUpper(hex.EncodeToString(key)),
		"base64 std":          base64.StdEncoding.EncodeToString(key),
		"base64 std unpadded": base64.RawStdEncoding.EncodeToString(key),
		"base64 url":          base64.URLEncoding.EncodeToString(key),
		"base64 url unpadded": base64.RawURLEncoding.EncodeToString(key),
		"surrounding space":   "  " + base64.StdEncoding.EncodeToString(key) + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			k, err := Load(t.TempDir(), env(map[string]string{EnvMasterKey: v}))
			if err != nil {
				t.Fatal(err)
			}
			if k.Source() != "env" || k.PrimaryID() != KeyID(key) || k.Generated() {
				t.Fatalf("got %v", k)
			}
			if got := mustOpen(t, k, ct, rowAAD); got != "token" {
				t.Fatalf("got %q", got)
			}
		})
	}
	// The documented way to compute the ID matches KeyID: SHA-256 of the raw bytes, 8 hex chars.
	if want := "66687aad"; KeyID(make([]byte, 32)) != want { // head -c32 /dev/zero | sha256sum
		t.Fatalf("KeyID(zeros) = %s, want %s", KeyID(make([]byte, 32)), want)
	}
}

func TestEnvKeyRejectedClearly(t *testing.T) {
	short := base64.StdEncoding.EncodeToString(testKey(3)[:16])
	for name, tc := range map[string]struct {
		env  map[string]string
		want []string
	}{
		"short base64":       {map[string]string{EnvMasterKey: short}, []string{EnvMasterKey, "16 bytes", "32", "openssl rand"}},
		"short hex":          {map[string]string{EnvMasterKey: hex.EncodeToString(testKey(3)[:16])}, []string{EnvMasterKey, "16 bytes"}},
		"long base64":        {map[string]string{EnvMasterKey: base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 48))}, []string{"48 bytes"}},
		"a passphrase":       {map[string]string{EnvMasterKey: "correct horse battery staple"}, []string{EnvMasterKey, "28 characters", "base64", "hex"}},
		"all zeros":          {map[string]string{EnvMasterKey: strings.Repeat("0", 64)}, []string{"zero"}},
		"bad previous entry": {map[string]string{EnvMasterKey: hex.EncodeToString(testKey(1)), EnvPreviousKeys: hex.EncodeToString(testKey(2)) + ", " + short}, []string{EnvPreviousKeys, "entry 2", "16 bytes"}},
		"previous alone":     {map[string]string{EnvPreviousKeys: hex.EncodeToString(testKey(2))}, []string{EnvPreviousKeys, EnvMasterKey}},
	} {
		t.Run(name, func(t *testing.T) {
			k, err := Load(t.TempDir(), env(tc.env))
			if err == nil {
				t.Fatalf("Load accepted it: %v", k)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			for _, v := range tc.env {
				for part := range strings.SplitSeq(v, ",") {
					if part = strings.TrimSpace(part); len(part) >= 8 && strings.Contains(err.Error(), part) {
						t.Errorf("error repeats the key value: %v", err)
					}
				}
			}
		})
	}
}

func TestEnvPreviousKeys(t *testing.T) {
	older, old, current := testKey(1), testKey(2), testKey(3)
	ctOlder := mustSeal(t, newKeyring(t, older), "older", rowAAD)
	ctOld := mustSeal(t, newKeyring(t, old), "old", rowAAD)
	k, err := Load("", env(map[string]string{
		EnvMasterKey:    base64.StdEncoding.EncodeToString(current),
		EnvPreviousKeys: " " + hex.EncodeToString(old) + " ,," + base64.RawURLEncoding.EncodeToString(older) + ", " + hex.EncodeToString(current),
	}))
	if err != nil {
		t.Fatal(err)
	}
	if ids := k.KeyIDs(); len(ids) != 3 || ids[0] != KeyID(current) {
		t.Fatalf("KeyIDs = %v, want the current key first and duplicates dropped", ids)
	}
	for ct, want := range map[string]string{ctOlder: "older", ctOld: "old"} {
		if got := mustOpen(t, k, ct, rowAAD); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
		if !k.NeedsRotation(ct) {
			t.Fatal("NeedsRotation false for a previous key")
		}
		re, err := k.Reseal(ct, rowAAD)
		if err != nil || k.NeedsRotation(re) || mustOpen(t, k, re, rowAAD) != want {
			t.Fatalf("Reseal: %v", err)
		}
	}
}

func TestEnvKeyWithExistingKeyringFile(t *testing.T) {
	dataDir := t.TempDir()
	fileKR, err := Load(dataDir, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	ct := mustSeal(t, fileKR, "sealed under the file key", rowAAD)
	newKey := hex.EncodeToString(testKey(9))

	// Switching to the environment without carrying the file's key over would strand ct.
	_, err = Load(dataDir, env(map[string]string{EnvMasterKey: newKey}))
	if err == nil || !strings.Contains(err.Error(), fileKR.PrimaryID()) || !strings.Contains(err.Error(), EnvPreviousKeys) {
		t.Fatalf("err = %v, want a refusal naming key %s and %s", err, fileKR.PrimaryID(), EnvPreviousKeys)
	}

	// Carrying it over in the previous keys works, and the value can be resealed.
	var f keyringFile
	b, _ := os.ReadFile(filepath.Join(dataDir, FileName))
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	k, err := Load(dataDir, env(map[string]string{EnvMasterKey: newKey, EnvPreviousKeys: f.Keys[0].Key}))
	if err != nil {
		t.Fatal(err)
	}
	if !k.NeedsRotation(ct) || mustOpen(t, k, ct, rowAAD) != "sealed under the file key" {
		t.Fatal("the file's key does not open its value through the environment")
	}
}

func TestKeyringNeverPrintsKeyMaterial(t *testing.T) {
	key := make([]byte, KeySize)
	for i := range key {
		key[i] = byte(0xA0 + i)
	}
	k := newKeyring(t, key, testKey(5))
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("keys loaded", "keyring", k)
	out := fmt.Sprintf("%v %+v %#v %s %q %x", k, k, k, k, k, k) + logs.String()
	for _, enc := range []string{
		hex.EncodeToString(key[:6]), base64.StdEncoding.EncodeToString(key)[:8],
		string(key[:6]), fmt.Sprint(key[:6]), strings.Trim(fmt.Sprint(key[:6]), "[]"),
	} {
		if strings.Contains(out, enc) {
			t.Fatalf("key material in formatted output: %s", out)
		}
	}
	if !strings.Contains(out, k.PrimaryID()) {
		t.Fatalf("formatted output lacks the key ID: %s", out)
	}
}

func TestFromKeysRejectsBadKeys(t *testing.T) {
	for name, keys := range map[string][][]byte{
		"short":          {testKey(1)[:31]},
		"long":           {append(testKey(1), 1)},
		"zero":           {make([]byte, KeySize)},
		"nil":            {nil},
		"short previous": {testKey(1), testKey(2)[:5]},
	} {
		if _, err := FromKeys(keys[0], keys[1:]...); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestLast4(t *testing.T) {
	for in, want := range map[string]string{
		"":                                       "",
		"abc":                                    "…",
		"12345678901":                            "…",
		"123456789012":                           "…9012",
		"9f86d081884c7d659a2feaa0c55ad015":       "…d015",
		"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw": "…LaSw",
		"pässwörd-ünïcödé✓✓✓":                    "…é✓✓✓",
	} {
		if got := Last4(in); got != want {
			t.Errorf("Last4(%q) = %q, want %q", in, got, want)
		}
	}
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	if runtime.GOOS == "windows" {
		return
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode().Perm(); got != want {
		t.Fatalf("%s has mode %04o, want %04o", path, got, want)
	}
}

// FuzzOpen: Open never panics, and the only text that opens is the one Seal produced (the format
// is parsed strictly, so no other spelling of the same bytes is accepted).
func FuzzOpen(f *testing.F) {
	k, err := FromKeys(testKey(1), testKey(2))
	if err != nil {
		f.Fatal(err)
	}
	// Fuzz workers are separate processes that each run this setup, so the seeds must not depend
	// on a random nonce.
	const plaintext = "fuzz token"
	valid := sealWithNonce(k, KeyID(testKey(1)), 1, plaintext, rowAAD)
	validOld := sealWithNonce(k, KeyID(testKey(2)), 2, plaintext, rowAAD)
	if got, err := k.Open(valid, rowAAD); err != nil || string(got) != plaintext {
		f.Fatalf("seed does not open: %v", err)
	}
	for _, s := range []string{
		"", "v1", "v1.", "v1..", "v1.00000000.", "v1.00000000.AAAA", valid, validOld,
		valid[:len(valid)-1], valid + "A", valid + "=", strings.ToUpper(valid), "v2" + valid[2:],
		valid[:headerSize] + "\n" + valid[headerSize:], "v1.zzzzzzzz." + valid[headerSize:],
		"v1." + strings.Repeat("a", 8) + "." + strings.Repeat("_", 40), "\xff\xfe\xfd",
	} {
		f.Add(s, rowAAD.RowID)
	}
	f.Fuzz(func(t *testing.T, s, rowID string) {
		aad := rowAAD
		aad.RowID = rowID
		pt, err := k.Open(s, aad)
		_ = k.NeedsRotation(s)
		if err != nil {
			if !errors.Is(err, ErrDecrypt) {
				t.Fatalf("error %v does not wrap ErrDecrypt", err)
			}
			if pt != nil {
				t.Fatal("plaintext returned with an error")
			}
			if _, rerr := k.Reseal(s, aad); rerr == nil {
				t.Fatal("Reseal succeeded where Open failed")
			}
			return
		}
		if (s != valid && s != validOld) || rowID != rowAAD.RowID || string(pt) != plaintext {
			t.Fatalf("Open accepted %q (row %q) → %q", s, rowID, pt)
		}
	})
}

// sealWithNonce is Seal with a chosen key and a fixed nonce, for deterministic fuzz seeds only.
func sealWithNonce(k *Keyring, keyID string, nonceByte byte, plaintext string, aad AAD) string {
	nonce := bytes.Repeat([]byte{nonceByte}, nonceSize)
	sealed := k.aeads[keyID].Seal(bytes.Clone(nonce), nonce, []byte(plaintext), aad.encode(version, keyID))
	return version + "." + keyID + "." + base64.RawURLEncoding.EncodeToString(sealed)
}
