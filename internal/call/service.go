package call

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/parleyhq/parley/internal/agent"
	"github.com/parleyhq/parley/internal/billing"
	"github.com/parleyhq/parley/internal/contact"
	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/authz"
	"github.com/parleyhq/parley/internal/platform/db"
	"github.com/parleyhq/parley/internal/platform/events"
	"github.com/parleyhq/parley/internal/platform/id"
	"github.com/parleyhq/parley/internal/platform/page"
	"github.com/parleyhq/parley/internal/platform/secret"
	"github.com/parleyhq/parley/internal/telephony"
)

// Inserter enqueues a job in a transaction (jobs.Queue).
type Inserter interface {
	InsertTx(ctx context.Context, tx *sql.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

// Options configure the Service.
type Options struct {
	// BaseURL is the platform's public URL (the provider's callback URLs start with it).
	BaseURL string
	// ReserveSeconds is how many seconds of a call are reserved when it starts (default 300).
	ReserveSeconds int64
	// RingTimeout is how long an outbound call may ring (default 30 s).
	RingTimeout time.Duration
	// RoutingClient posts to routing webhooks (nil: the webhook client, with its SSRF guard).
	RoutingClient *http.Client
	// Secrets seals call triggers' secrets.
	Secrets *secret.Keyring
	Now     func() time.Time
}

// Service places, follows and ends calls.
type Service struct {
	db        *db.DB
	agents    *agent.Service
	contacts  *contact.Service
	billing   *billing.Service
	telephony *telephony.Service
	queue     Inserter
	opts      Options
	st        store
	onEnd     []EndHook
}

// OnEnd registers a hook run in the transaction of every call's end (wire it before serving).
func (s *Service) OnEnd(h EndHook) { s.onEnd = append(s.onEnd, h) }

// NewService returns the calls service.
func NewService(d *db.DB, agents *agent.Service, contacts *contact.Service, bill *billing.Service, tel *telephony.Service, queue Inserter, opts Options) *Service {
	if opts.ReserveSeconds <= 0 {
		opts.ReserveSeconds = 300
	}
	if opts.RingTimeout <= 0 {
		opts.RingTimeout = 30 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Service{db: d, agents: agents, contacts: contacts, billing: bill, telephony: tel, queue: queue, opts: opts}
}

func (s *Service) now() time.Time { return s.opts.Now().UTC() }

// system is ctx acting as the platform, for the reads and ledger moves a call makes on behalf of
// a principal that was already authorised for the call itself.
func system(ctx context.Context) context.Context { return authz.WithPrincipal(ctx, authz.System()) }

// Errors of placing a call.
var (
	errAgentNotActive = func(status string) error {
		return apierr.Newf(apierr.Conflict, "agent_not_active", "the agent is %s: resume it (status active) to place calls", status)
	}
	errConcurrency = func(limit int) error {
		return apierr.Newf(apierr.RateLimited, "concurrency_limit", "the workspace already has %d live calls, its limit (settings calls.maxConcurrentCalls)", limit)
	}
)

// maxMetadataBytes bounds a call's metadata.
const maxMetadataBytes = 16 << 10

// plan is everything Place resolved before its transaction.
type plan struct {
	call    Call
	limit   int
	reserve int64
	ttl     time.Duration
	maxDur  time.Duration
}

// Place queues an outbound call (every role; keys with calls:write). It refuses a number on the
// do-not-call list (409 do_not_call), a paused or archived agent (409 agent_not_active), an
// unknown credential, agent or contact (404), a workspace that cannot reserve the call's first
// minutes (402 insufficient_credits) or is at its concurrent-call limit (429
// concurrency_limit). The call, its hold, its slot, its call.queued event and its dial job are
// written in one transaction.
func (s *Service) Place(ctx context.Context, wsID string, in PlaceInput) (Call, error) {
	p, err := authz.Require(ctx, wsID, authz.CallsWrite)
	if err != nil {
		return Call{}, err
	}
	pl, err := s.plan(ctx, p, wsID, in)
	if err != nil {
		return Call{}, err
	}
	c := pl.call
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := s.contacts.IsCallableTx(ctx, tx, wsID, c.To); err != nil {
			return err
		}
		ok, err := s.st.takeSlot(ctx, tx, wsID, pl.limit)
		if err != nil {
			return err
		}
		if !ok {
			return errConcurrency(pl.limit)
		}
		if _, err := s.billing.ReserveTx(system(ctx), tx, billing.ReserveInput{WorkspaceID: wsID, Reference: c.ID, Amount: pl.reserve, TTL: pl.ttl}); err != nil {
			return err
		}
		if err := s.st.insert(ctx, tx, c); err != nil {
			return err
		}
		if err := s.st.addEvent(ctx, tx, wsID, c.ID, TimelineEntry{ID: id.New(id.Event), Status: Queued, Source: "api", Applied: true,
			Detail: "reserved " + billing.FormatCredits(pl.reserve) + " credits", CreatedAt: c.QueuedAt}); err != nil {
			return err
		}
		if err := publish(ctx, tx, "call.queued", c); err != nil {
			return err
		}
		if in.InTx != nil {
			if err := in.InTx(ctx, tx, view(c)); err != nil {
				return err
			}
		}
		_, err = s.queue.InsertTx(ctx, tx, DialArgs{WorkspaceID: wsID, CallID: c.ID}, nil)
		return err
	})
	if err != nil {
		return Call{}, err
	}
	return view(c), nil
}

func (s *Service) plan(ctx context.Context, p *authz.Principal, wsID string, in PlaceInput) (plan, error) {
	sys := system(ctx)
	settings, err := s.agents.GetSettings(sys, wsID)
	if err != nil {
		return plan{}, err
	}
	ag, err := s.agents.GetAgent(sys, wsID, in.AgentID)
	if err != nil {
		return plan{}, err
	}
	if st := deref(ag.Status, "active"); st != "active" {
		return plan{}, errAgentNotActive(st)
	}
	eff, err := s.agents.Effective(sys, wsID, in.AgentID)
	if err != nil {
		return plan{}, err
	}
	var contactAttrs map[string]any
	to := in.To
	if in.ContactID != "" {
		ct, err := s.contacts.Get(sys, wsID, in.ContactID)
		if err != nil {
			return plan{}, err
		}
		contactAttrs = ct.Attributes
		if to == "" {
			to = ct.Phone
		}
	}
	region := deref(settings.DefaultRegion, "US")
	if to == "" {
		return plan{}, apierr.Validation(apierr.FieldError{Location: "body.to", Message: "to is required (or a contactId whose number is called)"})
	}
	e164, err := contact.NormalizePhone(to, region)
	if err != nil {
		return plan{}, apierr.Validation(apierr.FieldError{Location: "body.to", Message: err.Error(), Value: to})
	}
	vars, err := resolveVariables(ag.Variables, contactAttrs, in.Variables)
	if err != nil {
		return plan{}, err
	}
	if err := checkObject("body.metadata", in.Metadata, maxMetadataBytes); err != nil {
		return plan{}, err
	}
	if err := checkObject("body.overrides", in.Overrides, 64<<10); err != nil {
		return plan{}, err
	}
	if err := s.agents.CheckCallOverrides(sys, wsID, in.AgentID, in.Overrides); err != nil {
		return plan{}, err
	}
	credID := in.CredentialID
	if credID == "" && settings.Telephony != nil && settings.Telephony.DefaultCredentialID != nil {
		credID = *settings.Telephony.DefaultCredentialID
	}
	provider := telephony.Sim
	if p.Test || credID == SimulatorCredential {
		credID = "" // test keys always run on the simulator
	} else if credID != "" {
		cred, err := s.telephony.GetCredential(sys, wsID, credID)
		if err != nil {
			return plan{}, err
		}
		provider = cred.Provider
	}
	from := in.From
	if from == "" && settings.Telephony != nil && settings.Telephony.DefaultFromNumber != nil {
		from = *settings.Telephony.DefaultFromNumber
	}
	if from == "" && provider == telephony.Sim {
		from = SimFromNumber
	}
	if from == "" {
		return plan{}, apierr.Validation(apierr.FieldError{Location: "body.from", Message: "from is required: give it, or set the workspace's telephony.defaultFromNumber"})
	}
	if from, err = contact.NormalizePhone(from, region); err != nil {
		return plan{}, apierr.Validation(apierr.FieldError{Location: "body.from", Message: err.Error(), Value: in.From})
	}
	maxDur := time.Duration(intOf(eff.Config["maxDurationSeconds"], 1800)) * time.Second
	limit := 5
	if settings.Calls != nil && settings.Calls.MaxConcurrentCalls != nil {
		limit = *settings.Calls.MaxConcurrentCalls
	}
	reserve, err := s.billing.Rate(sys, wsID, billing.Usage{Kind: billing.UsageCallSeconds, Quantity: s.opts.ReserveSeconds, Provider: pricedAs(provider)})
	if err != nil {
		return plan{}, err
	}
	if reserve <= 0 {
		reserve = 1 // a hold needs a positive amount; a free call reserves one micro-credit
	}
	now := s.now()
	c := Call{ID: id.New(id.Call), WorkspaceID: wsID, Direction: Outbound, Status: Queued, AgentID: in.AgentID, ContactID: in.ContactID,
		CampaignID: in.CampaignID, CredentialID: credID, Provider: provider, From: from, To: e164, Variables: vars, Metadata: in.Metadata,
		Overrides: in.Overrides, Test: p.Test, QueuedAt: now, UpdatedAt: now, holdMicros: reserve}
	return plan{call: c, limit: limit, reserve: reserve, ttl: maxDur + s.opts.RingTimeout + 15*time.Minute, maxDur: maxDur}, nil
}

// SimulatorCredential as a call's credentialId names the built-in simulator explicitly (over the
// workspace's default credential).
const SimulatorCredential = "sim"

// SimFromNumber is the caller ID of simulated calls that name none.
const SimFromNumber = "+15005550006"

// pricedAs is the price-book telephony key of a provider: the simulator is priced as platform
// telephony, every customer provider as bring-your-own (the carrier bills the customer).
func pricedAs(provider string) string {
	if provider == telephony.Sim {
		return billing.TelephonyPlatform
	}
	return billing.TelephonyBYOP
}

func deref(p *string, def string) string {
	if p == nil || *p == "" {
		return def
	}
	return *p
}

func intOf(v any, def int) int {
	switch n := v.(type) {
	case int:
		return n
	case float64:
		return int(n)
	case json.Number:
		i, err := n.Int64()
		if err == nil {
			return int(i)
		}
	}
	return def
}

// resolveVariables merges the agent's declared defaults, then the contact's attributes, then the
// call's variables. The call's variables must be declared by the agent; every declared variable
// must end with a value.
func resolveVariables(declared []agent.Variable, attrs, given map[string]any) (map[string]any, error) {
	out := map[string]any{}
	known := map[string]bool{}
	for _, v := range declared {
		known[v.Name] = true
		if v.Default != nil {
			out[v.Name] = *v.Default
		}
		if a, ok := attrs[v.Name]; ok {
			out[v.Name] = a
		}
	}
	var errs []apierr.FieldError
	for k, v := range given {
		if !known[k] {
			errs = append(errs, apierr.FieldError{Location: "body.variables." + k, Message: "the agent declares no variable " + k, Value: v})
			continue
		}
		switch v.(type) {
		case string, float64, bool, json.Number, int:
		default:
			errs = append(errs, apierr.FieldError{Location: "body.variables." + k, Message: "a variable is a string, number or boolean"})
			continue
		}
		out[k] = v
	}
	for _, v := range declared {
		if _, ok := out[v.Name]; !ok {
			errs = append(errs, apierr.FieldError{Location: "body.variables." + v.Name, Message: "the agent's variable " + v.Name + " has no default: give it a value"})
		}
	}
	if len(errs) > 0 {
		return nil, apierr.Validation(errs...)
	}
	return out, nil
}

func checkObject(loc string, m map[string]any, max int) error {
	if m == nil {
		return nil
	}
	b, err := json.Marshal(m)
	if err != nil || len(b) > max {
		return apierr.Validation(apierr.FieldError{Location: loc, Message: fmt.Sprintf("must be a JSON object of at most %d KiB", max>>10)})
	}
	return nil
}

func view(c Call) Call {
	c.Cost = billing.FormatCredits(c.CostMicros)
	if c.Variables == nil {
		c.Variables = map[string]any{}
	}
	if c.Metadata == nil {
		c.Metadata = map[string]any{}
	}
	return c
}

// publish writes a call.* event with the call as its data.
func publish(ctx context.Context, tx *sql.Tx, typ string, c Call) error {
	b, err := json.Marshal(view(c))
	if err != nil {
		return err
	}
	var data map[string]any
	if err := json.Unmarshal(b, &data); err != nil {
		return err
	}
	data["callId"] = c.ID
	_, err = events.Publish(ctx, tx, events.Event{WorkspaceID: c.WorkspaceID, Type: typ, CreatedAt: c.UpdatedAt, Data: data})
	return err
}

// Get returns one call (every role; keys with calls:read). Errors: NotFound.
func (s *Service) Get(ctx context.Context, wsID, callID string) (Call, error) {
	if _, err := authz.Require(ctx, wsID, authz.CallsRead); err != nil {
		return Call{}, err
	}
	c, err := s.get(ctx, s.db.Read, wsID, callID)
	return view(c), err
}

func (s *Service) get(ctx context.Context, q db.Querier, wsID, callID string) (Call, error) {
	c, err := s.st.get(ctx, q, wsID, callID)
	if errors.Is(err, sql.ErrNoRows) {
		return Call{}, apierr.NotFoundf("call")
	}
	return c, err
}

// Effective returns the configuration a call runs with: its agent's effective configuration with
// the call's overrides laid over it (every role; keys with calls:read). Errors: NotFound.
func (s *Service) Effective(ctx context.Context, wsID, callID string) (agent.Effective, error) {
	if _, err := authz.Require(ctx, wsID, authz.CallsRead); err != nil {
		return agent.Effective{}, err
	}
	c, err := s.get(ctx, s.db.Read, wsID, callID)
	if err != nil {
		return agent.Effective{}, err
	}
	eff, err := s.agents.Effective(system(ctx), wsID, c.AgentID)
	if err != nil {
		return agent.Effective{}, err
	}
	return eff.WithCallOverrides(c.Overrides), nil
}

// Timeline returns a call's timeline, oldest first (every role; keys with calls:read).
func (s *Service) Timeline(ctx context.Context, wsID, callID string) ([]TimelineEntry, error) {
	if _, err := authz.Require(ctx, wsID, authz.CallsRead); err != nil {
		return nil, err
	}
	if _, err := s.get(ctx, s.db.Read, wsID, callID); err != nil {
		return nil, err
	}
	return s.st.timeline(ctx, s.db.Read, wsID, callID)
}

// List returns the workspace's calls, newest first (every role; keys with calls:read).
func (s *Service) List(ctx context.Context, wsID string, f Filter, cursor string, limit int) (page.Page[Call], error) {
	if _, err := authz.Require(ctx, wsID, authz.CallsRead); err != nil {
		return page.Page[Call]{}, err
	}
	if f.Status != "" {
		if _, ok := rank[f.Status]; !ok {
			return page.Page[Call]{}, apierr.Validation(apierr.FieldError{Location: "query.status", Message: "unknown status", Value: f.Status})
		}
	}
	return page.Fetch(cursor, limit, func(before string, n int) ([]Call, error) {
		rows, err := s.st.list(ctx, s.db.Read, wsID, f, before, n)
		for i := range rows {
			rows[i] = view(rows[i])
		}
		return rows, err
	}, func(c Call) string { return c.ID })
}

// ActiveCalls is the workspace's number of live calls (every role; keys with calls:read).
func (s *Service) ActiveCalls(ctx context.Context, wsID string) (int, error) {
	if _, err := authz.Require(ctx, wsID, authz.CallsRead); err != nil {
		return 0, err
	}
	return s.st.activeSlots(ctx, s.db.Read, wsID)
}

// Hangup ends a call (every role; keys with calls:write). A call not dialled yet is canceled at
// once; a live call is hung up at the provider, whose callback then ends it. Hanging up an ended
// call is 409 call_ended.
func (s *Service) Hangup(ctx context.Context, wsID, callID string) (Call, error) {
	if _, err := authz.Require(ctx, wsID, authz.CallsWrite); err != nil {
		return Call{}, err
	}
	c, err := s.get(ctx, s.db.Read, wsID, callID)
	if err != nil {
		return Call{}, err
	}
	if Final(c.Status) {
		return Call{}, apierr.Newf(apierr.Conflict, "call_ended", "the call has already ended (%s)", c.Status)
	}
	if c.ProviderCallID == "" {
		// Not dialled yet (or the dial is in flight): cancel here; the dial job hangs up what it
		// placed once it sees the call canceled.
		out, _, err := s.advance(ctx, wsID, callID, change{status: Canceled, source: "hangup", reason: "hung up before the call was placed"})
		return view(out), err
	}
	prov, _, err := s.telephony.Adapter(ctx, wsID, c.CredentialID)
	if err != nil {
		return Call{}, err
	}
	if err := prov.Hangup(ctx, c.ProviderCallID); err != nil {
		return Call{}, providerErr(err)
	}
	return s.Get(ctx, wsID, callID)
}

// providerErr maps a provider's refusal to a 502 with its reason.
func providerErr(err error) error {
	var pe *telephony.ProviderError
	if errors.As(err, &pe) {
		return apierr.Newf(apierr.BadGateway, "provider_error", "%s", pe.Error())
	}
	return err
}

// urls are the provider callback URLs of a call.
func (s *Service) urls(c Call, token string) (answer, status string) {
	voice, st := telephony.URLs(s.opts.BaseURL, c.WorkspaceID, c.Provider, "")
	q := url.Values{"callId": {c.ID}}
	if token != "" {
		q.Set("token", token)
	}
	return voice + "?" + q.Encode(), st + "?" + q.Encode()
}
