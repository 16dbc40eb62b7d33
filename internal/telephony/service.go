package telephony

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/contact"
	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/audit"
	"github.com/parleyhq/parley/internal/platform/authz"
	"github.com/parleyhq/parley/internal/platform/db"
	"github.com/parleyhq/parley/internal/platform/id"
	"github.com/parleyhq/parley/internal/platform/page"
	"github.com/parleyhq/parley/internal/platform/secret"
)

// Constructor builds a provider adapter from its configuration.
type Constructor func(Config) (Provider, error)

// Options configure the Service.
type Options struct {
	// BaseURL is the platform's public URL (voice and status URLs start with it).
	BaseURL string
	// Adapters maps a provider name to its adapter's constructor.
	Adapters map[string]Constructor
	// APIBaseURLs replaces providers' API base URLs (tests point them at fakes).
	APIBaseURLs map[string]string
	// HTTPClient makes provider requests (nil: 15 s timeout).
	HTTPClient *http.Client
	// AllowHTTPRouting lets routing webhooks use http (development).
	AllowHTTPRouting bool
}

// Service manages a workspace's telephony credentials and phone numbers, and builds the adapter
// a call uses.
type Service struct {
	db      *db.DB
	secrets *secret.Keyring
	now     func() time.Time
	opts    Options
	st      store
}

// NewService returns the telephony service.
func NewService(d *db.DB, secrets *secret.Keyring, now func() time.Time, opts Options) *Service {
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 15 * time.Second}
	}
	return &Service{db: d, secrets: secrets, now: now, opts: opts}
}

// ProviderFields lists every provider's credential fields (anyone signed in may read it).
func (s *Service) ProviderFields() map[string][]Field { return Fields }

func (s *Service) view(r credentialRow) Credential {
	c := r.Credential
	c.VoiceURL, c.StatusURL = URLs(s.opts.BaseURL, c.WorkspaceID, c.Provider, "")
	if c.Provider == Exotel {
		// Exotel does not sign: its URLs carry the credential's token, shown to those who paste them.
		if sec, err := s.open(r); err == nil {
			c.VoiceURL, c.StatusURL = URLs(s.opts.BaseURL, c.WorkspaceID, c.Provider, sec[CallbackTokenField])
		}
	}
	if c.Fields == nil {
		c.Fields = map[string]string{}
	}
	if c.Secrets == nil {
		c.Secrets = map[string]string{}
	}
	return c
}

func (s *Service) open(r credentialRow) (map[string]string, error) {
	if s.secrets == nil {
		return nil, errors.New("telephony: no keyring")
	}
	plain, err := s.secrets.Open(r.sealed, r.aad())
	if err != nil {
		return nil, fmt.Errorf("credential %s of workspace %s: %w", r.ID, r.WorkspaceID, err)
	}
	out := map[string]string{}
	if err := json.Unmarshal(plain, &out); err != nil {
		return nil, fmt.Errorf("credential %s: secrets: %w", r.ID, err)
	}
	return out, nil
}

// seal splits fields into the stored plain fields, the sealed secrets and their hints.
func (s *Service) seal(r *credentialRow, all map[string]string) error {
	if s.secrets == nil {
		return errors.New("telephony: no keyring")
	}
	plain, secrets, hints := map[string]string{}, map[string]string{}, map[string]string{}
	for k, v := range all {
		if v == "" {
			continue
		}
		if isSecret(r.Provider, k) {
			secrets[k] = v
			if k != CallbackTokenField {
				hints[k] = secret.Last4(v)
			}
		} else {
			plain[k] = v
		}
	}
	b, _ := json.Marshal(secrets)
	sealed, err := s.secrets.Seal(b, r.aad())
	if err != nil {
		return fmt.Errorf("seal credential: %w", err)
	}
	r.Fields, r.Secrets, r.sealed = plain, hints, sealed
	return nil
}

func randomToken() string { return base64.RawURLEncoding.EncodeToString(randomBytes(24)) }

// CreateCredential stores a provider account of the workspace, its secret fields encrypted
// (owner, admin; no API key). Errors: NotFound, Forbidden, Invalid.
func (s *Service) CreateCredential(ctx context.Context, wsID string, in CredentialInput) (Credential, error) {
	p, err := authz.Require(ctx, wsID, authz.TelephonyManage)
	if err != nil {
		return Credential{}, err
	}
	if in.Provider == "" {
		return Credential{}, apierr.Validation(apierr.FieldError{Location: "body.provider", Message: "provider is required; one of: " + strings.Join(Providers(), ", ")})
	}
	if err := checkFields(in.Provider, in.Fields); err != nil {
		return Credential{}, err
	}
	now := s.now()
	r := credentialRow{Credential: Credential{ID: id.New(id.Credential), WorkspaceID: wsID, Provider: in.Provider, Name: strings.TrimSpace(in.Name),
		Verify: VerifyState{Status: VerifyUnverified}, CreatedBy: p.ActorID(), CreatedAt: now, UpdatedAt: now}}
	if r.Name == "" {
		r.Name = in.Provider
	}
	all := maps.Clone(in.Fields)
	if all == nil {
		all = map[string]string{}
	}
	if in.Provider == Exotel {
		all[CallbackTokenField] = randomToken()
	}
	if err := s.checkAdapter(r.Provider, all); err != nil {
		return Credential{}, err
	}
	if err := s.seal(&r, all); err != nil {
		return Credential{}, err
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if ok, err := s.st.workspaceExists(ctx, tx, wsID); err != nil {
			return err
		} else if !ok {
			return apierr.NotFoundf("workspace")
		}
		if err := s.st.insertCredential(ctx, tx, r); err != nil {
			return err
		}
		return audit.Record(ctx, tx, now, audit.Entry{WorkspaceID: wsID, Action: "telephony_credential.created", ResourceType: "telephony_credential",
			ResourceID: r.ID, Changes: append([]string{"provider", "name"}, fieldNames(in.Fields)...)})
	})
	if err != nil {
		return Credential{}, err
	}
	return s.view(r), nil
}

func fieldNames(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, "fields."+k)
	}
	return out
}

// checkAdapter builds the provider's adapter from the fields, so a credential the adapter
// refuses (a private key that does not parse, a public key of the wrong size) is refused on
// save with the adapter's reason.
func (s *Service) checkAdapter(provider string, fields map[string]string) error {
	newp, ok := s.opts.Adapters[provider]
	if !ok {
		return nil
	}
	if _, err := newp(s.config(fields, provider)); err != nil {
		return apierr.Validation(apierr.FieldError{Location: "body.fields", Message: err.Error()})
	}
	return nil
}

func (s *Service) config(fields map[string]string, provider string) Config {
	return Config{Fields: fields, BaseURL: s.opts.APIBaseURLs[provider], HTTPClient: s.opts.HTTPClient, Now: s.now}
}

// ListCredentials returns the workspace's credentials, newest first (every role; keys with
// calls:read). Secret fields show only their last four characters.
func (s *Service) ListCredentials(ctx context.Context, wsID string) ([]Credential, error) {
	if _, err := authz.Require(ctx, wsID, authz.TelephonyRead); err != nil {
		return nil, err
	}
	rows, err := s.st.credentials(ctx, s.db.Read, wsID, "")
	if err != nil {
		return nil, err
	}
	out := make([]Credential, len(rows))
	for i, r := range rows {
		out[i] = s.view(r)
	}
	return out, nil
}

func (s *Service) getRow(ctx context.Context, q db.Querier, wsID, credID string) (credentialRow, error) {
	r, err := s.st.credential(ctx, q, wsID, credID)
	if errors.Is(err, sql.ErrNoRows) {
		return credentialRow{}, apierr.NotFoundf("telephony credential")
	}
	return r, err
}

// GetCredential returns one credential (every role; keys with calls:read). Errors: NotFound.
func (s *Service) GetCredential(ctx context.Context, wsID, credID string) (Credential, error) {
	if _, err := authz.Require(ctx, wsID, authz.TelephonyRead); err != nil {
		return Credential{}, err
	}
	r, err := s.getRow(ctx, s.db.Read, wsID, credID)
	if err != nil {
		return Credential{}, err
	}
	return s.view(r), nil
}

// UpdateCredential renames a credential or replaces some of its fields (owner, admin). Changing
// a field resets its verification. Errors: NotFound, Forbidden, Invalid.
func (s *Service) UpdateCredential(ctx context.Context, wsID, credID string, in CredentialInput) (Credential, error) {
	if _, err := authz.Require(ctx, wsID, authz.TelephonyManage); err != nil {
		return Credential{}, err
	}
	now := s.now()
	var out credentialRow
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		r, err := s.getRow(ctx, tx, wsID, credID)
		if err != nil {
			return err
		}
		if in.Provider != "" && in.Provider != r.Provider {
			return apierr.Validation(apierr.FieldError{Location: "body.provider", Message: "a credential's provider never changes: create another credential", Value: in.Provider})
		}
		changes := []string{}
		if n := strings.TrimSpace(in.Name); n != "" && n != r.Name {
			r.Name = n
			changes = append(changes, "name")
		}
		if len(in.Fields) > 0 {
			all, err := s.open(r)
			if err != nil {
				return err
			}
			maps.Copy(all, r.Fields)
			for k, v := range in.Fields {
				all[k] = v
			}
			check := maps.Clone(all)
			delete(check, CallbackTokenField)
			for k, v := range check {
				if v == "" {
					delete(check, k)
				}
			}
			if err := checkFields(r.Provider, check); err != nil {
				return err
			}
			if err := s.checkAdapter(r.Provider, all); err != nil {
				return err
			}
			if err := s.seal(&r, all); err != nil {
				return err
			}
			r.Verify = VerifyState{Status: VerifyUnverified}
			changes = append(changes, fieldNames(in.Fields)...)
		}
		r.UpdatedAt = now
		if _, err := s.st.updateCredential(ctx, tx, r); err != nil {
			return err
		}
		out = r
		return audit.Record(ctx, tx, now, audit.Entry{WorkspaceID: wsID, Action: "telephony_credential.updated", ResourceType: "telephony_credential", ResourceID: credID, Changes: changes})
	})
	if err != nil {
		return Credential{}, err
	}
	return s.view(out), nil
}

// DeleteCredential removes a credential and the phone numbers at it (owner, admin). Calls
// already placed keep their record. Errors: NotFound, Forbidden.
func (s *Service) DeleteCredential(ctx context.Context, wsID, credID string) error {
	if _, err := authz.Require(ctx, wsID, authz.TelephonyManage); err != nil {
		return err
	}
	now := s.now()
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		ok, err := s.st.deleteCredential(ctx, tx, wsID, credID)
		if err != nil {
			return err
		}
		if !ok {
			return apierr.NotFoundf("telephony credential")
		}
		return audit.Record(ctx, tx, now, audit.Entry{WorkspaceID: wsID, Action: "telephony_credential.deleted", ResourceType: "telephony_credential", ResourceID: credID})
	})
}

// VerifyCredential makes the provider's cheapest authenticated request with the credential and
// records the result (owner, admin). A provider's refusal is a result (status failed, with the
// provider's reason), not an error. Errors: NotFound, Forbidden.
func (s *Service) VerifyCredential(ctx context.Context, wsID, credID string) (Credential, error) {
	if _, err := authz.Require(ctx, wsID, authz.TelephonyManage); err != nil {
		return Credential{}, err
	}
	r, err := s.getRow(ctx, s.db.Read, wsID, credID)
	if err != nil {
		return Credential{}, err
	}
	prov, err := s.adapter(r)
	v := VerifyState{Status: VerifyOK}
	if err == nil {
		err = prov.Verify(ctx)
	}
	if err != nil {
		v = VerifyState{Status: VerifyFailed, Error: err.Error()}
	}
	now := s.now()
	v.VerifiedAt = &now
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := s.st.setVerify(ctx, tx, wsID, credID, v, now); err != nil {
			return err
		}
		return audit.Record(ctx, tx, now, audit.Entry{WorkspaceID: wsID, Action: "telephony_credential.verified", ResourceType: "telephony_credential", ResourceID: credID, Changes: []string{"verification.status=" + v.Status}})
	})
	if err != nil {
		return Credential{}, err
	}
	r.Verify = v
	return s.view(r), nil
}

// adapter builds the provider adapter of a stored credential.
func (s *Service) adapter(r credentialRow) (Provider, error) {
	newp, ok := s.opts.Adapters[r.Provider]
	if !ok {
		return nil, &ProviderError{Provider: r.Provider, Message: "Parley cannot place or receive calls through " + r.Provider + " yet"}
	}
	all, err := s.open(r)
	if err != nil {
		return nil, err
	}
	maps.Copy(all, r.Fields)
	return newp(s.config(all, r.Provider))
}

// Adapter returns the provider adapter for one of the workspace's credentials, or the built-in
// simulator when credID is empty. It is for the calls capability, which has checked its own
// action (or verifies a provider's signature with it), so it checks none: never expose its
// result. Errors: NotFound (no such credential in the workspace).
func (s *Service) Adapter(ctx context.Context, wsID, credID string) (Provider, Credential, error) {
	if credID == "" {
		newp, ok := s.opts.Adapters[Sim]
		if !ok {
			return nil, Credential{}, errors.New("telephony: no simulator")
		}
		p, err := newp(s.config(map[string]string{}, Sim))
		return p, Credential{WorkspaceID: wsID, Provider: Sim, Name: "Simulator"}, err
	}
	r, err := s.getRow(ctx, s.db.Read, wsID, credID)
	if err != nil {
		return nil, Credential{}, err
	}
	p, err := s.adapter(r)
	return p, s.view(r), err
}

// AdaptersFor returns an adapter for each of the workspace's credentials of provider, for
// verifying a provider's request whose credential is not known yet (an inbound call): the first
// whose Parse succeeds is the one. No authz (as Adapter).
func (s *Service) AdaptersFor(ctx context.Context, wsID, provider string) ([]Provider, []Credential, error) {
	rows, err := s.st.credentials(ctx, s.db.Read, wsID, provider)
	if err != nil {
		return nil, nil, err
	}
	var ps []Provider
	var cs []Credential
	for _, r := range rows {
		p, err := s.adapter(r)
		if err != nil {
			continue
		}
		ps, cs = append(ps, p), append(cs, s.view(r))
	}
	return ps, cs, nil
}

// ---- Phone numbers.

func (s *Service) numberView(n Number) Number {
	n.VoiceURL, n.StatusURL = URLs(s.opts.BaseURL, n.WorkspaceID, n.Provider, "")
	return n
}

// CreateNumber adds a phone number of the workspace at one of its credentials (owner, admin).
// Errors: NotFound (workspace, credential or agent), Forbidden, Invalid, Conflict (number_exists).
func (s *Service) CreateNumber(ctx context.Context, wsID string, in NumberInput) (Number, error) {
	if _, err := authz.Require(ctx, wsID, authz.TelephonyManage); err != nil {
		return Number{}, err
	}
	e164, err := contact.NormalizePhone(in.E164, "")
	if err != nil {
		return Number{}, apierr.Validation(apierr.FieldError{Location: "body.e164", Message: err.Error(), Value: in.E164})
	}
	if in.CredentialID == "" {
		return Number{}, apierr.Validation(apierr.FieldError{Location: "body.credentialId", Message: "credentialId is required"})
	}
	now := s.now()
	n := numberRow{Number: Number{ID: id.New(id.Number), WorkspaceID: wsID, E164: e164, CredentialID: in.CredentialID, CreatedAt: now, UpdatedAt: now}}
	if err := applyNumber(&n.Number, in, s.opts.AllowHTTPRouting); err != nil {
		return Number{}, err
	}
	secretShown, err := s.sealRouting(&n, "")
	if err != nil {
		return Number{}, err
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := s.checkNumberRefs(ctx, tx, &n.Number); err != nil {
			return err
		}
		ok, err := s.st.insertNumber(ctx, tx, n)
		if err != nil {
			return err
		}
		if !ok {
			return apierr.Newf(apierr.Conflict, "number_exists", "the workspace already has %s", e164)
		}
		return audit.Record(ctx, tx, now, audit.Entry{WorkspaceID: wsID, Action: "phone_number.created", ResourceType: "phone_number", ResourceID: n.ID, Changes: []string{"e164", "credentialId"}})
	})
	if err != nil {
		return Number{}, err
	}
	out := s.numberView(n.Number)
	out.RoutingSecret = secretShown
	return out, nil
}

func (n numberRow) routingAAD() secret.AAD {
	return secret.AAD{WorkspaceID: n.WorkspaceID, Table: numbersTable, Column: routingSecretColumn, RowID: n.ID}
}

// sealRouting gives a number whose routing webhook is new or changed (its URL differs from
// before) a fresh signing secret, and drops the secret of a number without a webhook. It returns
// the new secret, to show once.
func (s *Service) sealRouting(n *numberRow, before string) (string, error) {
	switch {
	case n.RoutingURL == "":
		n.sealedRouting = ""
		return "", nil
	case n.RoutingURL == before && n.sealedRouting != "":
		return "", nil
	}
	if s.secrets == nil {
		return "", errors.New("telephony: no keyring")
	}
	plain := "whsec_" + base64.StdEncoding.EncodeToString(randomBytes(32))
	sealed, err := s.secrets.Seal([]byte(plain), n.routingAAD())
	if err != nil {
		return "", fmt.Errorf("seal routing secret: %w", err)
	}
	n.sealedRouting = sealed
	return plain, nil
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// Routing returns a number's routing webhook and its signing secret, for routing an inbound call
// (no authz, as NumberFor). ok is false when the number has no routing webhook.
func (s *Service) Routing(ctx context.Context, wsID, numberID string) (url, signingSecret string, ok bool, err error) {
	n, err := s.st.number(ctx, s.db.Read, wsID, numberID)
	if err != nil || n.RoutingURL == "" {
		return "", "", false, err
	}
	plain, err := s.secrets.Open(n.sealedRouting, n.routingAAD())
	if err != nil {
		return "", "", false, fmt.Errorf("number %s: routing secret: %w", numberID, err)
	}
	return n.RoutingURL, string(plain), true, nil
}

func applyNumber(n *Number, in NumberInput, allowHTTP bool) error {
	if in.Label != nil {
		n.Label = strings.TrimSpace(*in.Label)
	}
	if in.InboundAgentID != nil {
		n.InboundAgentID = in.InboundAgentID
		if *in.InboundAgentID == "" {
			n.InboundAgentID = nil
		}
	}
	if in.RoutingURL != nil {
		if err := checkRoutingURL(*in.RoutingURL, allowHTTP); err != nil {
			return err
		}
		n.RoutingURL = *in.RoutingURL
	}
	return nil
}

func (s *Service) checkNumberRefs(ctx context.Context, q db.Querier, n *Number) error {
	cred, err := s.getRow(ctx, q, n.WorkspaceID, n.CredentialID)
	if err != nil {
		return err
	}
	n.Provider = cred.Provider
	if n.InboundAgentID != nil {
		ok, err := s.st.agentExists(ctx, q, n.WorkspaceID, *n.InboundAgentID)
		if err != nil {
			return err
		}
		if !ok {
			return apierr.NotFoundf("agent")
		}
	}
	return nil
}

// ListNumbers returns the workspace's phone numbers, newest first (every role; keys with calls:read).
func (s *Service) ListNumbers(ctx context.Context, wsID, cursor string, limit int) (page.Page[Number], error) {
	if _, err := authz.Require(ctx, wsID, authz.TelephonyRead); err != nil {
		return page.Page[Number]{}, err
	}
	return page.Fetch(cursor, limit, func(before string, n int) ([]Number, error) {
		rows, err := s.st.numbers(ctx, s.db.Read, wsID, before, n)
		for i := range rows {
			rows[i] = s.numberView(rows[i])
		}
		return rows, err
	}, func(n Number) string { return n.ID })
}

// GetNumber returns one phone number (every role; keys with calls:read). Errors: NotFound.
func (s *Service) GetNumber(ctx context.Context, wsID, numberID string) (Number, error) {
	if _, err := authz.Require(ctx, wsID, authz.TelephonyRead); err != nil {
		return Number{}, err
	}
	n, err := s.st.number(ctx, s.db.Read, wsID, numberID)
	if errors.Is(err, sql.ErrNoRows) {
		return Number{}, apierr.NotFoundf("phone number")
	}
	if err != nil {
		return Number{}, err
	}
	return s.numberView(n.Number), nil
}

// UpdateNumber changes a number's credential, label, agent or routing webhook (owner, admin).
// Errors: NotFound, Forbidden, Invalid.
func (s *Service) UpdateNumber(ctx context.Context, wsID, numberID string, in NumberInput) (Number, error) {
	if _, err := authz.Require(ctx, wsID, authz.TelephonyManage); err != nil {
		return Number{}, err
	}
	now := s.now()
	var out Number
	var shown string
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		n, err := s.st.number(ctx, tx, wsID, numberID)
		if errors.Is(err, sql.ErrNoRows) {
			return apierr.NotFoundf("phone number")
		}
		if err != nil {
			return err
		}
		if in.E164 != "" {
			if e, err := contact.NormalizePhone(in.E164, ""); err != nil || e != n.E164 {
				return apierr.Validation(apierr.FieldError{Location: "body.e164", Message: "a number's e164 never changes: delete it and add the new one", Value: in.E164})
			}
		}
		if in.CredentialID != "" {
			n.CredentialID = in.CredentialID
		}
		before := n.RoutingURL
		if err := applyNumber(&n.Number, in, s.opts.AllowHTTPRouting); err != nil {
			return err
		}
		if shown, err = s.sealRouting(&n, before); err != nil {
			return err
		}
		if err := s.checkNumberRefs(ctx, tx, &n.Number); err != nil {
			return err
		}
		n.UpdatedAt = now
		if _, err := s.st.updateNumber(ctx, tx, n); err != nil {
			return err
		}
		out = n.Number
		return audit.Record(ctx, tx, now, audit.Entry{WorkspaceID: wsID, Action: "phone_number.updated", ResourceType: "phone_number", ResourceID: numberID})
	})
	if err != nil {
		return Number{}, err
	}
	out = s.numberView(out)
	out.RoutingSecret = shown
	return out, nil
}

// DeleteNumber removes a phone number (owner, admin). Errors: NotFound, Forbidden.
func (s *Service) DeleteNumber(ctx context.Context, wsID, numberID string) error {
	if _, err := authz.Require(ctx, wsID, authz.TelephonyManage); err != nil {
		return err
	}
	now := s.now()
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		ok, err := s.st.deleteNumber(ctx, tx, wsID, numberID)
		if err != nil {
			return err
		}
		if !ok {
			return apierr.NotFoundf("phone number")
		}
		return audit.Record(ctx, tx, now, audit.Entry{WorkspaceID: wsID, Action: "phone_number.deleted", ResourceType: "phone_number", ResourceID: numberID})
	})
}

// NumberFor returns the workspace's number e164, for routing an inbound call (no authz: the
// provider's request is verified by the caller). ok is false when the workspace has no such number.
func (s *Service) NumberFor(ctx context.Context, wsID, e164 string) (Number, bool, error) {
	n, err := s.st.numberByE164(ctx, s.db.Read, wsID, e164)
	if errors.Is(err, sql.ErrNoRows) {
		return Number{}, false, nil
	}
	return n.Number, err == nil, err
}
