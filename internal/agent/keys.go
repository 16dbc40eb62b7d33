package agent

import (
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/secret"
)

// Where a provider key is sealed: the AAD of secret.Keyring binds the ciphertext to the
// workspace, this table and column, and the row's ID.
const (
	providerKeysTable  = "provider_keys"
	providerKeysColumn = "api_key"
)

// MaxProviderKeyBytes bounds a provider key (a service-account JSON document fits).
const MaxProviderKeyBytes = 16 << 10

// Key sources of a service in an agent's effective configuration.
const (
	KeySourceWorkspace = "workspace"
	KeySourcePlatform  = "platform"
	KeySourceNone      = "none"
)

// NewProviderKey is the body of POST …/provider-keys.
type NewProviderKey struct {
	Provider string `json:"provider" minLength:"1" maxLength:"64" example:"openai" doc:"A provider ID of the catalog (GET /v1/catalog), of any kind: one key serves that provider's LLM, STT and TTS."`
	APIKey   string `json:"apiKey" minLength:"1" maxLength:"16384" example:"sk-proj-example-0000000000000000" doc:"The provider's API key. Write-only: it is encrypted at rest and never shown again (lists show lastFour)."`
	BaseURL  string `json:"baseUrl,omitempty" maxLength:"2048" example:"https://llm.example.com/v1" doc:"The endpoint, https only. Required for providers marked requiresBaseUrl (azure-openai, openai-compatible); optional for the others (e.g. a proxy)."`
}

// ProviderKey is a workspace's key for a provider as the API shows it: never the key itself.
type ProviderKey struct {
	ID          string    `json:"id" doc:"The provider key's ID (pkey_…)."`
	WorkspaceID string    `json:"workspaceId"`
	Provider    string    `json:"provider" example:"openai"`
	Kinds       []string  `json:"kinds" doc:"The services this key serves: the kinds of the catalog (llm, stt, tts) that list this provider."`
	BaseURL     *string   `json:"baseUrl,omitempty"`
	LastFour    string    `json:"lastFour" example:"…a1b2" doc:"… and the key's last four characters (only … for keys shorter than 12 characters)."`
	CreatedBy   string    `json:"createdBy"`
	CreatedAt   time.Time `json:"createdAt"`
}

// KeyUse says whose key a call of an agent uses for one service (llm, stt or tts).
type KeyUse struct {
	Provider      string `json:"provider" example:"openai"`
	KeySource     string `json:"keySource" enum:"workspace,platform,none" doc:"workspace: the workspace's provider key; platform: the operator's key for the provider; none: the provider needs the workspace's own key and base URL (requiresBaseUrl) and the workspace has none."`
	ProviderKeyID string `json:"providerKeyId,omitempty" doc:"The workspace's key, when keySource is workspace."`
	LastFour      string `json:"lastFour,omitempty"`
}

// kindsOf lists the kinds of the catalog that have the provider.
func (c *Catalog) kindsOf(provider string) []string {
	var out []string
	for _, k := range []string{"llm", "stt", "tts"} {
		if _, ok := c.provider(k, provider); ok {
			out = append(out, k)
		}
	}
	return out
}

// requiresBaseURL reports whether the provider, in any kind, needs a base URL.
func (c *Catalog) requiresBaseURL(provider string) bool {
	for _, k := range []string{"llm", "stt", "tts"} {
		if p, ok := c.provider(k, provider); ok && p.RequiresBaseURL {
			return true
		}
	}
	return false
}

// allProviderIDs lists every provider of every kind, once, sorted.
func (c *Catalog) allProviderIDs() []string {
	var out []string
	for _, k := range []string{"llm", "stt", "tts"} {
		for _, id := range c.ProviderIDs(k) {
			if !slices.Contains(out, id) {
				out = append(out, id)
			}
		}
	}
	slices.Sort(out)
	return out
}

// checkProviderKey validates a new provider key against the catalog.
func checkProviderKey(cat *Catalog, in NewProviderKey) error {
	var c checker
	if len(cat.kindsOf(in.Provider)) == 0 {
		c.add("body.provider", "unknown provider; valid providers: "+strings.Join(cat.allProviderIDs(), ", "), in.Provider)
	}
	switch {
	case strings.TrimSpace(in.APIKey) == "":
		c.add("body.apiKey", "apiKey must not be empty", nil)
	case len(in.APIKey) > MaxProviderKeyBytes:
		c.add("body.apiKey", "apiKey must be at most 16 KiB", nil)
	case !utf8.ValidString(in.APIKey) || strings.ContainsRune(in.APIKey, 0):
		c.add("body.apiKey", "apiKey must be UTF-8 text without NUL characters", nil)
	}
	switch {
	case in.BaseURL == "" && cat.requiresBaseURL(in.Provider):
		c.add("body.baseUrl", in.Provider+" needs baseUrl, the https endpoint of your deployment", nil)
	case in.BaseURL != "":
		if msg := checkBaseURL(in.BaseURL); msg != "" {
			c.add("body.baseUrl", msg, in.BaseURL)
		}
	}
	return c.err()
}

// checkBaseURL returns what is wrong with a provider's base URL, or "": it must be an absolute
// https URL with a host name or a public-looking address, no user info, query or fragment.
// Loopback and private addresses are not refused here by name only (a name can resolve to
// anything): the runtime's dialer checks the address it connects to.
func checkBaseURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return "baseUrl must be an absolute URL, e.g. https://llm.example.com/v1"
	}
	if u.Scheme != "https" {
		return "baseUrl must use https: the key is sent with every request"
	}
	if u.User != nil {
		return "baseUrl must not hold a user name or password: put the credential in apiKey"
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "baseUrl must not have a query or fragment"
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); ip != nil && (ip.IsLoopback() || ip.IsUnspecified() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast()) {
		return "baseUrl must not point to a loopback, private or link-local address"
	}
	if h := strings.ToLower(strings.TrimSuffix(host, ".")); h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return "baseUrl must not point to localhost"
	}
	return ""
}

// providerKeyRow is a provider key as stored.
type providerKeyRow struct {
	ProviderKey
	sealed string
}

// aad is where the row's key is sealed.
func (r providerKeyRow) aad() secret.AAD {
	return secret.AAD{WorkspaceID: r.WorkspaceID, Table: providerKeysTable, Column: providerKeysColumn, RowID: r.ID}
}

// keyUses says, for the resolved llm, stt and tts of an agent, whose key a call uses.
func keyUses(cat *Catalog, cfg map[string]any, keys []providerKeyRow) map[string]KeyUse {
	out := map[string]KeyUse{}
	for _, kind := range []string{"llm", "stt", "tts"} {
		m, _ := cfg[kind].(map[string]any)
		provider, _ := m["provider"].(string)
		u := KeyUse{Provider: provider, KeySource: KeySourcePlatform}
		if p, ok := cat.provider(kind, provider); ok && p.RequiresBaseURL {
			u.KeySource = KeySourceNone
		}
		for _, k := range keys {
			if k.Provider == provider {
				u = KeyUse{Provider: provider, KeySource: KeySourceWorkspace, ProviderKeyID: k.ID, LastFour: k.LastFour}
			}
		}
		out[kind] = u
	}
	return out
}

// apiErrProviderKeyExists is the answer to a second key for the same provider.
func apiErrProviderKeyExists(provider string) error {
	return apierr.Newf(apierr.Conflict, "provider_key_exists",
		"the workspace already has a key for %s: delete it first to replace it (calls use the platform's key in between)", provider)
}
