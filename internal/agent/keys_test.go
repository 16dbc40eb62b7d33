package agent

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/authz"
	"github.com/parleyhq/parley/internal/platform/db"
	"github.com/parleyhq/parley/internal/platform/db/dbtest"
	"github.com/parleyhq/parley/internal/platform/secret"
)

func TestCheckProviderKey(t *testing.T) {
	cat, err := LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		in      NewProviderKey
		wantLoc string // "" = valid
	}{
		{NewProviderKey{Provider: "openai", APIKey: "sk-1234567890abcd"}, ""},
		{NewProviderKey{Provider: "deepgram", APIKey: "dg", BaseURL: "https://api.eu.deepgram.com"}, ""},
		{NewProviderKey{Provider: "openai-compatible", APIKey: "k", BaseURL: "https://llm.example.com/v1"}, ""},
		{NewProviderKey{Provider: "nope", APIKey: "k"}, "body.provider"},
		{NewProviderKey{Provider: "openai", APIKey: "   "}, "body.apiKey"},
		{NewProviderKey{Provider: "openai", APIKey: "a\x00b"}, "body.apiKey"},
		{NewProviderKey{Provider: "openai", APIKey: strings.Repeat("k", MaxProviderKeyBytes+1)}, "body.apiKey"},
		{NewProviderKey{Provider: "openai-compatible", APIKey: "k"}, "body.baseUrl"},
		{NewProviderKey{Provider: "azure-openai", APIKey: "k"}, "body.baseUrl"},
		{NewProviderKey{Provider: "openai-compatible", APIKey: "k", BaseURL: "http://llm.example.com/v1"}, "body.baseUrl"},
		{NewProviderKey{Provider: "openai-compatible", APIKey: "k", BaseURL: "https://127.0.0.1:8000/v1"}, "body.baseUrl"},
		{NewProviderKey{Provider: "openai-compatible", APIKey: "k", BaseURL: "https://10.1.2.3/v1"}, "body.baseUrl"},
		{NewProviderKey{Provider: "openai-compatible", APIKey: "k", BaseURL: "https://[::1]/v1"}, "body.baseUrl"},
		{NewProviderKey{Provider: "openai-compatible", APIKey: "k", BaseURL: "https://localhost/v1"}, "body.baseUrl"},
		{NewProviderKey{Provider: "openai-compatible", APIKey: "k", BaseURL: "https://user:pw@llm.example.com"}, "body.baseUrl"},
		{NewProviderKey{Provider: "openai-compatible", APIKey: "k", BaseURL: "https://llm.example.com/?x=1"}, "body.baseUrl"},
		{NewProviderKey{Provider: "openai-compatible", APIKey: "k", BaseURL: "llm.example.com"}, "body.baseUrl"},
	} {
		err := checkProviderKey(cat, c.in)
		var e *apierr.Error
		switch {
		case c.wantLoc == "" && err != nil:
			t.Errorf("%+v: %v", c.in.BaseURL, err)
		case c.wantLoc != "" && (!errors.As(err, &e) || len(e.Fields) == 0 || e.Fields[0].Location != c.wantLoc):
			t.Errorf("%s %q: err = %v, want a field error on %s", c.in.Provider, c.in.BaseURL, err, c.wantLoc)
		}
	}
}

func TestProviderKeysEncryptedAndBound(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := authz.WithPrincipal(context.Background(), authz.System())
		now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
		for _, ws := range []string{"ws_a", "ws_b"} {
			if _, err := d.Write.ExecContext(ctx, `INSERT INTO workspaces (id, name, slug, timezone, created_at, updated_at) VALUES ($1, $1, $1, 'UTC', $2, $2)`, ws, db.Time(now)); err != nil {
				t.Fatal(err)
			}
		}
		keys, err := secret.FromKeys([]byte("0123456789abcdef0123456789abcdef"))
		if err != nil {
			t.Fatal(err)
		}
		s := NewService(d, func() time.Time { return now }, WithSecrets(keys))
		const plain = "sk-test-secret-value-1234"
		a, err := s.CreateProviderKey(ctx, "ws_a", NewProviderKey{Provider: "openai", APIKey: plain})
		if err != nil {
			t.Fatal(err)
		}
		if a.LastFour != "…1234" || strings.Join(a.Kinds, ",") != "llm,stt,tts" || a.BaseURL != nil {
			t.Fatalf("%+v", a)
		}
		b, err := s.CreateProviderKey(ctx, "ws_b", NewProviderKey{Provider: "openai", APIKey: "sk-other-workspace-key-9999"})
		if err != nil {
			t.Fatal(err)
		}
		// One key per provider.
		if _, err := s.CreateProviderKey(ctx, "ws_a", NewProviderKey{Provider: "openai", APIKey: "sk-another"}); !errors.Is(err, apierr.Conflict) {
			t.Fatalf("second key: %v", err)
		}
		// Stored: the ciphertext, never the key.
		var stored string
		if err := d.Read.QueryRowContext(ctx, `SELECT api_key FROM provider_keys WHERE id = $1`, a.ID).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if stored == plain || strings.Contains(stored, plain) || !strings.HasPrefix(stored, "v1.") {
			t.Fatalf("stored %q", stored)
		}
		// Nothing of the key in the audit log or the events.
		for _, q := range []string{`SELECT COUNT(*) FROM audit_log WHERE changes LIKE $1`, `SELECT COUNT(*) FROM events WHERE payload LIKE $1`} {
			var n int
			if err := d.Read.QueryRowContext(ctx, q, "%"+plain[3:]+"%").Scan(&n); err != nil || n != 0 {
				t.Fatalf("%s: %d %v", q, n, err)
			}
		}
		// The runtime gets it back.
		got, base, ok, err := s.ProviderKey(ctx, "ws_a", "openai")
		if err != nil || !ok || got != plain || base != "" {
			t.Fatalf("ProviderKey = %q %q %v %v", got, base, ok, err)
		}
		if _, _, ok, err := s.ProviderKey(ctx, "ws_a", "anthropic"); ok || err != nil {
			t.Fatalf("no anthropic key: %v %v", ok, err)
		}
		// A ciphertext moved to another workspace's row does not open.
		if _, err := d.Write.ExecContext(ctx, `UPDATE provider_keys SET api_key = $1 WHERE id = $2`, stored, b.ID); err != nil {
			t.Fatal(err)
		}
		if k, _, _, err := s.ProviderKey(ctx, "ws_b", "openai"); !errors.Is(err, secret.ErrDecrypt) || k != "" || strings.Contains(err.Error(), plain) {
			t.Fatalf("moved ciphertext: %q %v", k, err)
		}
		// … nor in another row of the same workspace.
		c, err := s.CreateProviderKey(ctx, "ws_a", NewProviderKey{Provider: "anthropic", APIKey: "sk-ant-0000000000000"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Write.ExecContext(ctx, `UPDATE provider_keys SET api_key = $1 WHERE id = $2`, stored, c.ID); err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := s.ProviderKey(ctx, "ws_a", "anthropic"); !errors.Is(err, secret.ErrDecrypt) {
			t.Fatalf("moved to another row: %v", err)
		}
		// Tenancy: another workspace's key is not found.
		if _, err := s.GetProviderKey(ctx, "ws_b", a.ID); !errors.Is(err, apierr.NotFound) {
			t.Fatalf("get from ws_b: %v", err)
		}
		if err := s.DeleteProviderKey(ctx, "ws_b", a.ID); !errors.Is(err, apierr.NotFound) {
			t.Fatalf("delete from ws_b: %v", err)
		}
		if err := s.DeleteProviderKey(ctx, "ws_a", a.ID); err != nil {
			t.Fatal(err)
		}
		if _, _, ok, err := s.ProviderKey(ctx, "ws_a", "openai"); ok || err != nil {
			t.Fatalf("after delete: %v %v", ok, err)
		}
		// Without a keyring, nothing is stored.
		bare := NewService(d, nil)
		if _, err := bare.CreateProviderKey(ctx, "ws_a", NewProviderKey{Provider: "groq", APIKey: "gsk-0000000000000"}); err == nil {
			t.Fatal("stored a key without a keyring")
		}
	})
}

func TestKeyUses(t *testing.T) {
	cat, err := LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	cfg := map[string]any{"llm": map[string]any{"provider": "openai-compatible"}, "stt": map[string]any{"provider": "deepgram"}, "tts": map[string]any{"provider": "openai"}}
	keys := []providerKeyRow{{ProviderKey: ProviderKey{ID: "pkey_1", Provider: "openai", LastFour: "…abcd"}}}
	got := keyUses(cat, cfg, keys)
	if got["llm"].KeySource != KeySourceNone || got["stt"].KeySource != KeySourcePlatform ||
		got["tts"] != (KeyUse{Provider: "openai", KeySource: KeySourceWorkspace, ProviderKeyID: "pkey_1", LastFour: "…abcd"}) {
		t.Fatalf("%+v", got)
	}
}
