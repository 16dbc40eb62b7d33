package telephony

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/secret"
)

// Where a credential's secret fields are sealed: the AAD binds them to the workspace, this table
// and column, and the row's ID.
const (
	credentialsTable  = "telephony_credentials"
	credentialsColumn = "secrets"
)

// CallbackTokenField is the secret field Parley adds to credentials of providers that do not
// sign their requests (Exotel): the URLs given to the provider carry ?token=… and requests
// without it are refused.
const CallbackTokenField = "callbackToken"

// Field describes one field of a provider's credential.
type Field struct {
	Name     string `json:"name" example:"accountSid"`
	Secret   bool   `json:"secret" doc:"Secret fields are encrypted at rest and write-only: reads show their last four characters."`
	Required bool   `json:"required"`
	Doc      string `json:"doc"`
}

// Fields lists, per provider, the fields its credential takes.
var Fields = map[string][]Field{
	Twilio: {
		{Name: "accountSid", Required: true, Doc: "Account SID (AC…), from the Twilio Console."},
		{Name: "authToken", Secret: true, Doc: "Auth Token: required to verify Twilio's webhook signatures; give it, or an API key SID and secret for the REST API."},
		{Name: "apiKeySid", Doc: "API key SID (SK…), instead of the Auth Token for the REST API."},
		{Name: "apiKeySecret", Secret: true, Doc: "The API key's secret."},
	},
	Plivo: {
		{Name: "authId", Required: true, Doc: "Auth ID, from the Plivo console overview."},
		{Name: "authToken", Secret: true, Required: true, Doc: "Auth Token (signs Plivo's webhooks too)."},
	},
	Telnyx: {
		{Name: "apiKey", Secret: true, Required: true, Doc: "API key (KEY…), from Mission Control → API Keys."},
		{Name: "connectionId", Required: true, Doc: "The Call Control application (connection) ID."},
		{Name: "publicKey", Required: true, Doc: "The account's webhook public key (base64 Ed25519), from Keys & Credentials → Public Key."},
	},
	Vonage: {
		{Name: "applicationId", Required: true, Doc: "The Vonage application ID (voice capability on)."},
		{Name: "privateKey", Secret: true, Required: true, Doc: "The application's private key (PEM)."},
		{Name: "signatureSecret", Secret: true, Required: true, Doc: "The account's signature secret (Settings), which signs Voice webhooks."},
	},
	Exotel: {
		{Name: "accountSid", Required: true, Doc: "Account SID."},
		{Name: "apiKey", Required: true, Doc: "API key."},
		{Name: "apiToken", Secret: true, Required: true, Doc: "API token."},
		{Name: "subdomain", Required: true, Doc: "API host: api.exotel.com (Singapore) or api.in.exotel.com (Mumbai)."},
		{Name: "appId", Required: true, Doc: "The ID of the Exotel app (flow) that fetches Parley's voice URL."},
	},
	SIP: {
		{Name: "host", Required: true, Doc: "The SIP trunk's host name or address."},
		{Name: "port", Doc: "Port (default 5060, 5061 for tls)."},
		{Name: "transport", Doc: "udp, tcp or tls (default udp)."},
		{Name: "username", Doc: "Digest user name, when the trunk authenticates."},
		{Name: "password", Secret: true, Doc: "Digest password."},
	},
	Sim: {
		{Name: "outcomes", Doc: "Empty: outcomes by number (see docs/calls.md). Or weights for random outcomes, e.g. completed=70,busy=10,no_answer=10,voicemail=5,failed=5."},
	},
}

// Providers lists the provider names, sorted.
func Providers() []string { return slices.Sorted(maps.Keys(Fields)) }

// Credential is a workspace's account at a telephony provider as the API shows it: secret fields
// are never shown, only their last four characters.
type Credential struct {
	ID          string            `json:"id" doc:"The credential's ID (tcred_…)."`
	WorkspaceID string            `json:"workspaceId"`
	Provider    string            `json:"provider" enum:"twilio,plivo,telnyx,vonage,exotel,sip,sim"`
	Name        string            `json:"name" example:"Twilio production"`
	Fields      map[string]string `json:"fields" doc:"The non-secret fields."`
	Secrets     map[string]string `json:"secrets" doc:"Each secret field that is set, as its last four characters."`
	Verify      VerifyState       `json:"verification"`
	VoiceURL    string            `json:"voiceUrl" doc:"What to paste as the voice / answer URL in the provider's console."`
	StatusURL   string            `json:"statusUrl" doc:"What to paste as the status / event / hangup callback URL."`
	CreatedBy   string            `json:"createdBy"`
	CreatedAt   time.Time         `json:"createdAt"`
	UpdatedAt   time.Time         `json:"updatedAt"`
}

// VerifyState is the result of the credential's last check against the provider.
type VerifyState struct {
	Status     string     `json:"status" enum:"unverified,ok,failed"`
	Error      string     `json:"error,omitempty" doc:"The provider's reason, when status is failed."`
	VerifiedAt *time.Time `json:"verifiedAt,omitempty"`
}

// Verification statuses.
const (
	VerifyUnverified = "unverified"
	VerifyOK         = "ok"
	VerifyFailed     = "failed"
)

// credentialRow is a credential as stored, its secrets sealed.
type credentialRow struct {
	Credential
	sealed string
}

func (r credentialRow) aad() secret.AAD {
	return secret.AAD{WorkspaceID: r.WorkspaceID, Table: credentialsTable, Column: credentialsColumn, RowID: r.ID}
}

// CredentialInput is the body of POST …/telephony/credentials and, all optional, of PATCH.
type CredentialInput struct {
	Provider string            `json:"provider,omitempty" enum:"twilio,plivo,telnyx,vonage,exotel,sip,sim" doc:"Required on create; never changes."`
	Name     string            `json:"name,omitempty" maxLength:"100" example:"Twilio production"`
	Fields   map[string]string `json:"fields,omitempty" doc:"The provider's fields (GET /v1/telephony/providers lists them). On PATCH, the fields given replace those stored; an empty string removes an optional field."`
}

// maxFieldBytes bounds one credential field (a PEM private key fits).
const maxFieldBytes = 16 << 10

// checkFields validates the fields of a credential of provider (the merged fields on update).
func checkFields(provider string, fields map[string]string) error {
	spec, ok := Fields[provider]
	if !ok {
		return apierr.Validation(apierr.FieldError{Location: "body.provider", Message: "unknown provider; valid providers: " + strings.Join(Providers(), ", "), Value: provider})
	}
	var errs []apierr.FieldError
	known := map[string]bool{CallbackTokenField: true}
	for _, f := range spec {
		known[f.Name] = true
		if f.Required && strings.TrimSpace(fields[f.Name]) == "" {
			errs = append(errs, apierr.FieldError{Location: "body.fields." + f.Name, Message: fmt.Sprintf("%s needs %s: %s", provider, f.Name, f.Doc)})
		}
	}
	for _, name := range slices.Sorted(maps.Keys(fields)) {
		v := fields[name]
		switch {
		case !known[name] || name == CallbackTokenField:
			names := make([]string, 0, len(spec))
			for _, f := range spec {
				names = append(names, f.Name)
			}
			errs = append(errs, apierr.FieldError{Location: "body.fields." + name, Message: fmt.Sprintf("unknown field for %s; its fields are: %s", provider, strings.Join(names, ", "))})
		case len(v) > maxFieldBytes:
			errs = append(errs, apierr.FieldError{Location: "body.fields." + name, Message: "a field must be at most 16 KiB"})
		case !utf8.ValidString(v) || strings.ContainsRune(v, 0):
			errs = append(errs, apierr.FieldError{Location: "body.fields." + name, Message: "a field must be UTF-8 text without NUL characters"})
		}
	}
	if provider == Twilio && fields["authToken"] == "" && (fields["apiKeySid"] == "" || fields["apiKeySecret"] == "") {
		errs = append(errs, apierr.FieldError{Location: "body.fields.authToken", Message: "twilio needs authToken, or apiKeySid and apiKeySecret (authToken is still needed to verify Twilio's webhooks)"})
	}
	if provider == SIP {
		if t := fields["transport"]; t != "" && t != "udp" && t != "tcp" && t != "tls" {
			errs = append(errs, apierr.FieldError{Location: "body.fields.transport", Message: "transport must be udp, tcp or tls", Value: t})
		}
	}
	if len(errs) > 0 {
		return apierr.Validation(errs...)
	}
	return nil
}

// isSecret reports whether the field of provider is secret.
func isSecret(provider, name string) bool {
	if name == CallbackTokenField {
		return true
	}
	for _, f := range Fields[provider] {
		if f.Name == name {
			return f.Secret
		}
	}
	return false
}

// URLs is where a provider sends the calls of a workspace: what to paste into its console.
func URLs(baseURL, wsID, provider, token string) (voice, status string) {
	base := strings.TrimSuffix(baseURL, "/") + "/telephony/" + url.PathEscape(wsID) + "/" + provider
	voice, status = base+"/voice", base+"/status"
	if token != "" {
		q := "?token=" + url.QueryEscape(token)
		voice, status = voice+q, status+q
	}
	return voice, status
}
