package call

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/audit"
	"github.com/parleyhq/parley/internal/platform/authz"
	"github.com/parleyhq/parley/internal/platform/db"
	"github.com/parleyhq/parley/internal/platform/id"
	"github.com/parleyhq/parley/internal/platform/secret"
	"github.com/parleyhq/parley/internal/webhook"
)

// A call trigger is a URL a customer's system (a CRM, a form, a no-code tool) posts JSON to, to
// start a call with one agent: {baseUrl}/hooks/{workspaceId}/{triggerId}. The request carries the
// trigger's secret as a bearer token, or is signed with it as Parley's webhooks are (Standard
// Webhooks: webhook-id, webhook-timestamp within 5 minutes, webhook-signature). The mapping says
// where in the posted JSON the number to call and the variables are (dotted paths:
// "contact.phone", "items.0.sku").

// TriggerMapping maps the posted JSON onto a call.
type TriggerMapping struct {
	To        string            `json:"to" minLength:"1" maxLength:"200" example:"contact.phone" doc:"Dotted path of the number to call in the posted JSON."`
	Variables map[string]string `json:"variables,omitempty" doc:"Agent variable → dotted path of its value in the posted JSON." example:"{\"first\":\"contact.first_name\"}"`
	ContactID string            `json:"contactId,omitempty" maxLength:"200" doc:"Dotted path of a Parley contact ID, when the posted JSON carries one."`
}

// Trigger is a call trigger as the API shows it.
type Trigger struct {
	ID          string         `json:"id" doc:"The trigger's ID (trig_…)."`
	WorkspaceID string         `json:"workspaceId"`
	Name        string         `json:"name"`
	AgentID     string         `json:"agentId"`
	Mapping     TriggerMapping `json:"mapping"`
	URL         string         `json:"url" doc:"Where your system posts JSON to start a call."`
	Secret      string         `json:"secret,omitempty" doc:"The trigger's secret (whsec_…): in the creation's answer only."`
	CreatedBy   string         `json:"createdBy"`
	CreatedAt   time.Time      `json:"createdAt"`
	LastUsedAt  *time.Time     `json:"lastUsedAt,omitempty"`
}

// TriggerInput is POST …/call-triggers.
type TriggerInput struct {
	Name    string         `json:"name" minLength:"1" maxLength:"100" example:"HubSpot new lead"`
	AgentID string         `json:"agentId" minLength:"1" maxLength:"64"`
	Mapping TriggerMapping `json:"mapping"`
}

const (
	triggersTable  = "call_triggers"
	triggersColumn = "secret"
	// triggerMaxAge is how old a signed trigger request's webhook-timestamp may be.
	triggerMaxAge = 5 * time.Minute
)

var pathPattern = regexp.MustCompile(`^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*$`)

func triggerAAD(wsID, trigID string) secret.AAD {
	return secret.AAD{WorkspaceID: wsID, Table: triggersTable, Column: triggersColumn, RowID: trigID}
}

func (s *Service) triggerView(t Trigger) Trigger {
	t.URL = strings.TrimSuffix(s.opts.BaseURL, "/") + "/hooks/" + url.PathEscape(t.WorkspaceID) + "/" + url.PathEscape(t.ID)
	return t
}

// CreateTrigger makes a call trigger for one of the workspace's agents (owner, admin). The answer
// holds the secret, shown this once. Errors: NotFound (workspace, agent), Forbidden, Invalid.
func (s *Service) CreateTrigger(ctx context.Context, wsID string, in TriggerInput) (Trigger, error) {
	p, err := authz.Require(ctx, wsID, authz.TelephonyManage)
	if err != nil {
		return Trigger{}, err
	}
	var errs []apierr.FieldError
	if !pathPattern.MatchString(in.Mapping.To) {
		errs = append(errs, apierr.FieldError{Location: "body.mapping.to", Message: "a dotted path, e.g. contact.phone", Value: in.Mapping.To})
	}
	if in.Mapping.ContactID != "" && !pathPattern.MatchString(in.Mapping.ContactID) {
		errs = append(errs, apierr.FieldError{Location: "body.mapping.contactId", Message: "a dotted path, e.g. contact.id", Value: in.Mapping.ContactID})
	}
	for k, v := range in.Mapping.Variables {
		if !pathPattern.MatchString(v) {
			errs = append(errs, apierr.FieldError{Location: "body.mapping.variables." + k, Message: "a dotted path, e.g. contact.first_name", Value: v})
		}
	}
	if len(errs) > 0 {
		return Trigger{}, apierr.Validation(errs...)
	}
	ag, err := s.agents.GetAgent(system(ctx), wsID, in.AgentID)
	if err != nil {
		return Trigger{}, err
	}
	known := map[string]bool{}
	for _, v := range ag.Variables {
		known[v.Name] = true
	}
	for k := range in.Mapping.Variables {
		if !known[k] {
			errs = append(errs, apierr.FieldError{Location: "body.mapping.variables." + k, Message: "the agent declares no variable " + k})
		}
	}
	if len(errs) > 0 {
		return Trigger{}, apierr.Validation(errs...)
	}
	if s.opts.Secrets == nil {
		return Trigger{}, errors.New("call: no keyring for trigger secrets")
	}
	now := s.now()
	t := Trigger{ID: id.New(id.Trigger), WorkspaceID: wsID, Name: strings.TrimSpace(in.Name), AgentID: in.AgentID, Mapping: in.Mapping,
		CreatedBy: p.ActorID(), CreatedAt: now}
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	plain := "whsec_" + base64.StdEncoding.EncodeToString(raw)
	sealed, err := s.opts.Secrets.Seal([]byte(plain), triggerAAD(wsID, t.ID))
	if err != nil {
		return Trigger{}, err
	}
	mapping, _ := json.Marshal(t.Mapping)
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO call_triggers (id, workspace_id, name, agent_id, secret, mapping, created_by, created_at)
VALUES ($1,$2,$3,$4,$5,$6,$7,$8)`, t.ID, wsID, t.Name, t.AgentID, sealed, string(mapping), t.CreatedBy, db.Time(now)); err != nil {
			return err
		}
		return audit.Record(ctx, tx, now, audit.Entry{WorkspaceID: wsID, Action: "call_trigger.created", ResourceType: "call_trigger", ResourceID: t.ID,
			Changes: []string{"name", "agentId", "mapping"}})
	})
	if err != nil {
		return Trigger{}, err
	}
	out := s.triggerView(t)
	out.Secret = plain
	return out, nil
}

const triggerCols = `id, workspace_id, name, agent_id, secret, mapping, created_by, created_at, last_used_at`

func scanTrigger(sc interface{ Scan(...any) error }) (Trigger, string, error) {
	var t Trigger
	var sealed, mapping string
	var used db.Time
	if err := sc.Scan(&t.ID, &t.WorkspaceID, &t.Name, &t.AgentID, &sealed, &mapping, &t.CreatedBy, (*db.Time)(&t.CreatedAt), &used); err != nil {
		return Trigger{}, "", err
	}
	if err := json.Unmarshal([]byte(mapping), &t.Mapping); err != nil {
		return Trigger{}, "", fmt.Errorf("trigger %s: %w", t.ID, err)
	}
	t.LastUsedAt = used.Ptr()
	return t, sealed, nil
}

func (s *Service) trigger(ctx context.Context, wsID, trigID string) (Trigger, string, error) {
	t, sealed, err := scanTrigger(s.db.Read.QueryRowContext(ctx, `SELECT `+triggerCols+` FROM call_triggers WHERE workspace_id = $1 AND id = $2`, wsID, trigID))
	if errors.Is(err, sql.ErrNoRows) {
		return Trigger{}, "", apierr.NotFoundf("call trigger")
	}
	return t, sealed, err
}

// ListTriggers returns the workspace's call triggers, newest first, never their secrets (every
// role; keys with calls:read).
func (s *Service) ListTriggers(ctx context.Context, wsID string) ([]Trigger, error) {
	if _, err := authz.Require(ctx, wsID, authz.TelephonyRead); err != nil {
		return nil, err
	}
	rows, err := s.db.Read.QueryContext(ctx, `SELECT `+triggerCols+` FROM call_triggers WHERE workspace_id = $1 ORDER BY id DESC`, wsID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Trigger{}
	for rows.Next() {
		t, _, err := scanTrigger(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, s.triggerView(t))
	}
	return out, rows.Err()
}

// GetTrigger returns one call trigger, never its secret (every role; keys with calls:read).
func (s *Service) GetTrigger(ctx context.Context, wsID, trigID string) (Trigger, error) {
	if _, err := authz.Require(ctx, wsID, authz.TelephonyRead); err != nil {
		return Trigger{}, err
	}
	t, _, err := s.trigger(ctx, wsID, trigID)
	return s.triggerView(t), err
}

// DeleteTrigger removes a call trigger: its URL stops working at once (owner, admin).
func (s *Service) DeleteTrigger(ctx context.Context, wsID, trigID string) error {
	if _, err := authz.Require(ctx, wsID, authz.TelephonyManage); err != nil {
		return err
	}
	now := s.now()
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM call_triggers WHERE workspace_id = $1 AND id = $2`, wsID, trigID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return apierr.NotFoundf("call trigger")
		}
		return audit.Record(ctx, tx, now, audit.Entry{WorkspaceID: wsID, Action: "call_trigger.deleted", ResourceType: "call_trigger", ResourceID: trigID})
	})
}

var errTriggerAuth = apierr.New(apierr.Unauthenticated, "bad_trigger_secret", "send the trigger's secret as a bearer token, or sign the request with it (Standard Webhooks)")

// FireTrigger starts a call from a request posted to a trigger's URL. It takes no principal: the
// trigger's secret (bearer token or signature) is the authentication; an unknown trigger and a
// wrong secret are the same 401. The call is placed as the system, with the same refusals as the
// calls API (do-not-call, credits, concurrency…), and carries metadata.triggerId.
func (s *Service) FireTrigger(ctx context.Context, wsID, trigID string, header map[string][]string, body []byte) (Call, error) {
	t, sealed, err := s.trigger(ctx, wsID, trigID)
	if errors.Is(err, apierr.NotFound) {
		return Call{}, errTriggerAuth
	}
	if err != nil {
		return Call{}, err
	}
	plain, err := s.opts.Secrets.Open(sealed, triggerAAD(wsID, trigID))
	if err != nil {
		return Call{}, fmt.Errorf("trigger %s: %w", trigID, err)
	}
	get := func(k string) string {
		for hk, v := range header {
			if strings.EqualFold(hk, k) && len(v) > 0 {
				return v[0]
			}
		}
		return ""
	}
	ok := false
	if bearer, found := strings.CutPrefix(get("Authorization"), "Bearer "); found {
		ok = hmac.Equal([]byte(strings.TrimSpace(bearer)), plain)
	} else if sig := get("webhook-signature"); sig != "" {
		ts, err := strconv.ParseInt(get("webhook-timestamp"), 10, 64)
		age := s.now().Sub(time.Unix(ts, 0))
		ok = err == nil && age < triggerMaxAge && age > -triggerMaxAge && webhook.Verify(string(plain), sig, get("webhook-id"), ts, body)
	}
	if !ok {
		return Call{}, errTriggerAuth
	}
	var doc any
	if err := json.Unmarshal(body, &doc); err != nil {
		return Call{}, apierr.New(apierr.BadRequest, "invalid_json", "the body must be JSON: "+err.Error())
	}
	in := PlaceInput{AgentID: t.AgentID, Metadata: map[string]any{"triggerId": t.ID}, Variables: map[string]any{}}
	var errs []apierr.FieldError
	if v, found := lookup(doc, t.Mapping.To); found {
		in.To = fmt.Sprint(v)
	} else if t.Mapping.ContactID == "" {
		errs = append(errs, apierr.FieldError{Location: "body." + t.Mapping.To, Message: "the trigger's mapping takes the number from " + t.Mapping.To + ", which the posted JSON lacks"})
	}
	if t.Mapping.ContactID != "" {
		if v, found := lookup(doc, t.Mapping.ContactID); found {
			in.ContactID = fmt.Sprint(v)
		}
	}
	for name, path := range t.Mapping.Variables {
		if v, found := lookup(doc, path); found {
			switch v.(type) {
			case string, float64, bool:
				in.Variables[name] = v
			default:
				b, _ := json.Marshal(v)
				in.Variables[name] = string(b)
			}
		}
	}
	if len(errs) > 0 {
		return Call{}, apierr.Validation(errs...)
	}
	c, err := s.Place(system(ctx), wsID, in)
	if err != nil {
		return Call{}, err
	}
	_, _ = s.db.Write.ExecContext(ctx, `UPDATE call_triggers SET last_used_at = $3 WHERE workspace_id = $1 AND id = $2`, wsID, trigID, db.Time(s.now()))
	return c, nil
}

// lookup finds a dotted path in a decoded JSON document ("a.b.0.c").
func lookup(doc any, path string) (any, bool) {
	cur := doc
	for part := range strings.SplitSeq(path, ".") {
		switch v := cur.(type) {
		case map[string]any:
			next, ok := v[part]
			if !ok {
				return nil, false
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(v) {
				return nil, false
			}
			cur = v[i]
		default:
			return nil, false
		}
	}
	return cur, cur != nil
}
