package campaign

import (
	"context"
	"database/sql"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/parleyhq/parley/internal/agent"
	"github.com/parleyhq/parley/internal/billing"
	"github.com/parleyhq/parley/internal/call"
	"github.com/parleyhq/parley/internal/contact"
	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/audit"
	"github.com/parleyhq/parley/internal/platform/authz"
	"github.com/parleyhq/parley/internal/platform/db"
	"github.com/parleyhq/parley/internal/platform/events"
	"github.com/parleyhq/parley/internal/platform/id"
	"github.com/parleyhq/parley/internal/platform/page"
	"github.com/parleyhq/parley/internal/telephony"
)

// Inserter enqueues a job in a transaction (jobs.Queue).
type Inserter interface {
	InsertTx(ctx context.Context, tx *sql.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

// Options configure the Service.
type Options struct {
	Now func() time.Time
	// RoundFor is how long one dialer job keeps dialing before it hands over to the next one
	// (default 2 s).
	RoundFor time.Duration
}

// Service manages campaigns and runs their dialer.
type Service struct {
	db        *db.DB
	agents    *agent.Service
	contacts  *contact.Service
	calls     *call.Service
	telephony *telephony.Service
	queue     Inserter
	opts      Options
	st        store
}

// NewService returns the campaigns service and registers its end-of-call hook on calls.
func NewService(d *db.DB, agents *agent.Service, contacts *contact.Service, calls *call.Service, tel *telephony.Service, queue Inserter, opts Options) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RoundFor <= 0 {
		opts.RoundFor = 2 * time.Second
	}
	s := &Service{db: d, agents: agents, contacts: contacts, calls: calls, telephony: tel, queue: queue, opts: opts}
	calls.OnEnd(s.onCallEnd)
	return s
}

func (s *Service) now() time.Time { return s.opts.Now().UTC() }

func system(ctx context.Context) context.Context { return authz.WithPrincipal(ctx, authz.System()) }

// Errors.
var (
	errState = func(c Campaign, what string) error {
		return apierr.Newf(apierr.Conflict, "campaign_state", "the campaign is %s: it cannot %s", c.Status, what)
	}
	errAudienceLocked = apierr.New(apierr.Conflict, "audience_locked", "the audience can change only while the campaign is a draft")
)

const attemptPrefix = "catt"

func view(c Campaign) Campaign {
	if c.FromNumbers == nil {
		c.FromNumbers = []string{}
	}
	if c.Variables == nil {
		c.Variables = map[string]string{}
	}
	if c.Status != Running {
		c.SubStatus = ""
	}
	return c
}

func (s *Service) get(ctx context.Context, q db.Querier, wsID, campaignID string) (Campaign, error) {
	c, err := s.st.get(ctx, q, wsID, campaignID)
	if errors.Is(err, sql.ErrNoRows) {
		return Campaign{}, apierr.NotFoundf("campaign")
	}
	return c, err
}

// record writes the audit entry of a change and, when typ is not empty, its event.
func (s *Service) record(ctx context.Context, tx *sql.Tx, now time.Time, action string, c Campaign, changes []string, typ string) error {
	if action != "" {
		if err := audit.Record(ctx, tx, now, audit.Entry{WorkspaceID: c.WorkspaceID, Action: action, ResourceType: "campaign", ResourceID: c.ID, Changes: changes}); err != nil {
			return err
		}
	}
	if typ == "" {
		return nil
	}
	_, err := events.Publish(ctx, tx, events.Event{WorkspaceID: c.WorkspaceID, Type: typ, CreatedAt: now, Data: map[string]any{
		"campaignId": c.ID, "agentId": c.AgentID, "name": c.Name, "status": c.Status, "pauseReason": c.PauseReason}})
	return err
}

// checkRefs checks that what c names exists in the workspace: the agent (and that it declares
// every variable), the list, the credential; and normalises the caller IDs.
func (s *Service) checkRefs(ctx context.Context, c *Campaign) error {
	sys := system(ctx)
	var ck checker
	ag, err := s.agents.GetAgent(sys, c.WorkspaceID, c.AgentID)
	switch {
	case errors.Is(err, apierr.NotFound):
		ck.add("agentId", "no such agent in the workspace", c.AgentID)
	case err != nil:
		return err
	default:
		for k := range c.Variables {
			if !slices.ContainsFunc(ag.Variables, func(v agent.Variable) bool { return v.Name == k }) {
				ck.add("variables."+k, "the agent declares no variable "+k, nil)
			}
		}
	}
	if _, err := s.contacts.GetList(sys, c.WorkspaceID, c.Audience.ListID); errors.Is(err, apierr.NotFound) {
		ck.add("audience.listId", "no such contact list in the workspace", c.Audience.ListID)
	} else if err != nil {
		return err
	}
	if c.CredentialID != "" && c.CredentialID != call.SimulatorCredential {
		if _, err := s.telephony.GetCredential(sys, c.WorkspaceID, c.CredentialID); errors.Is(err, apierr.NotFound) {
			ck.add("credentialId", "no such telephony credential in the workspace", c.CredentialID)
		} else if err != nil {
			return err
		}
	}
	settings, err := s.agents.GetSettings(sys, c.WorkspaceID)
	if err != nil {
		return err
	}
	region := "US"
	if settings.DefaultRegion != nil && *settings.DefaultRegion != "" {
		region = *settings.DefaultRegion
	}
	for i, n := range c.FromNumbers {
		e164, err := contact.NormalizePhone(n, region)
		if err != nil {
			ck.add(fmt.Sprintf("fromNumbers[%d]", i), err.Error(), n)
			continue
		}
		c.FromNumbers[i] = e164
	}
	return ck.err()
}

// Create makes a draft campaign (owner, admin; campaigns:write). Errors: Invalid (field errors,
// also for an agent, list or credential the workspace does not have), Forbidden, NotFound.
func (s *Service) Create(ctx context.Context, wsID string, in CampaignInput) (Campaign, error) {
	p, err := authz.Require(ctx, wsID, authz.CampaignsWrite)
	if err != nil {
		return Campaign{}, err
	}
	now := s.now()
	c := Campaign{ID: id.New(IDPrefix), WorkspaceID: wsID, CallingWindow: DefaultWindow(), MaxConcurrentCalls: DefaultMaxConcurrent,
		CallsPerMinute: DefaultCallsPerMinute, Retry: DefaultRetry(), FromNumbers: []string{}, Variables: map[string]string{}, Status: Draft,
		CreatedAt: now, UpdatedAt: now}
	if err := apply(&c, in, true); err != nil {
		return Campaign{}, err
	}
	pinTestKey(p, &c)
	if err := s.checkRefs(ctx, &c); err != nil {
		return Campaign{}, err
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := s.st.insert(ctx, tx, c); err != nil {
			return err
		}
		return s.record(ctx, tx, now, "campaign.created", c, nil, "")
	})
	return view(c), err
}

// Get returns one campaign (every role; campaigns:read). Errors: NotFound.
func (s *Service) Get(ctx context.Context, wsID, campaignID string) (Campaign, error) {
	if _, err := authz.Require(ctx, wsID, authz.CampaignsRead); err != nil {
		return Campaign{}, err
	}
	c, err := s.get(ctx, s.db.Read, wsID, campaignID)
	return view(c), err
}

// List returns the workspace's campaigns, newest first, optionally of one status (every role;
// campaigns:read).
func (s *Service) List(ctx context.Context, wsID, status, cursor string, limit int) (page.Page[Campaign], error) {
	if _, err := authz.Require(ctx, wsID, authz.CampaignsRead); err != nil {
		return page.Page[Campaign]{}, err
	}
	return page.Fetch(cursor, limit, func(before string, n int) ([]Campaign, error) {
		rows, err := s.st.list(ctx, s.db.Read, wsID, status, before, n)
		for i := range rows {
			rows[i] = view(rows[i])
		}
		return rows, err
	}, func(c Campaign) string { return c.ID })
}

// Update changes a draft or paused campaign (owner, admin; campaigns:write); absent fields stay.
// The audience changes only in draft (409 audience_locked). Errors: NotFound, Invalid,
// Conflict campaign_state.
func (s *Service) Update(ctx context.Context, wsID, campaignID string, in CampaignInput) (Campaign, error) {
	p, err := authz.Require(ctx, wsID, authz.CampaignsWrite)
	if err != nil {
		return Campaign{}, err
	}
	c, err := s.get(ctx, s.db.Read, wsID, campaignID)
	if err != nil {
		return Campaign{}, err
	}
	if c.Status != Draft && c.Status != Paused {
		return Campaign{}, errState(c, "be edited (only draft and paused campaigns can)")
	}
	if in.Audience != nil && in.Audience.ListID != c.Audience.ListID && c.Status != Draft {
		return Campaign{}, errAudienceLocked
	}
	before := c
	if err := apply(&c, in, false); err != nil {
		return Campaign{}, err
	}
	pinTestKey(p, &c)
	if err := s.checkRefs(ctx, &c); err != nil {
		return Campaign{}, err
	}
	now := s.now()
	c.UpdatedAt = now
	changes := changed(before, c)
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		ok, err := s.st.saveSettings(ctx, tx, c, before.Status)
		if err != nil {
			return err
		}
		if !ok {
			return apierr.New(apierr.Conflict, "campaign_state", "the campaign changed state meanwhile: read it again")
		}
		return s.record(ctx, tx, now, "campaign.updated", c, changes, "")
	})
	return view(c), err
}

func changed(a, b Campaign) []string {
	var out []string
	add := func(name string, differ bool) {
		if differ {
			out = append(out, name)
		}
	}
	add("name", a.Name != b.Name)
	add("agentId", a.AgentID != b.AgentID)
	add("audience", a.Audience != b.Audience)
	add("fromNumbers", js(a.FromNumbers) != js(b.FromNumbers))
	add("credentialId", a.CredentialID != b.CredentialID)
	add("callingWindow", js(a.CallingWindow) != js(b.CallingWindow))
	add("maxConcurrentCalls", a.MaxConcurrentCalls != b.MaxConcurrentCalls)
	add("callsPerMinute", a.CallsPerMinute != b.CallsPerMinute)
	add("retry", js(a.Retry) != js(b.Retry))
	add("variables", js(a.Variables) != js(b.Variables))
	return out
}

// Delete removes a campaign that is a draft or has ended, with its contacts and attempts (owner,
// admin; campaigns:write); its calls stay. A scheduled, running or paused campaign is 409
// campaign_state: cancel it first.
func (s *Service) Delete(ctx context.Context, wsID, campaignID string) error {
	if _, err := authz.Require(ctx, wsID, authz.CampaignsWrite); err != nil {
		return err
	}
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		c, err := s.get(ctx, tx, wsID, campaignID)
		if err != nil {
			return err
		}
		ok, err := s.st.delete(ctx, tx, wsID, campaignID)
		if err != nil {
			return err
		}
		if !ok {
			return errState(c, "be deleted: cancel it first")
		}
		return s.record(ctx, tx, s.now(), "campaign.deleted", c, nil, "")
	})
}

// Start starts a draft or scheduled campaign now (owner, admin; campaigns:write): the list's
// members become the campaign's contacts and the dialer begins. Errors: NotFound, Invalid (the
// agent or list is gone), Conflict campaign_state.
func (s *Service) Start(ctx context.Context, wsID, campaignID string) (Campaign, error) {
	if _, err := authz.Require(ctx, wsID, authz.CampaignsWrite); err != nil {
		return Campaign{}, err
	}
	c, err := s.get(ctx, s.db.Read, wsID, campaignID)
	if err != nil {
		return Campaign{}, err
	}
	if c.Status != Draft && c.Status != Scheduled {
		return Campaign{}, errState(c, "start (only draft and scheduled campaigns can)")
	}
	return s.begin(ctx, c)
}

// begin moves a draft or scheduled campaign to running: it copies the audience and starts the
// dialer chain, in one transaction.
func (s *Service) begin(ctx context.Context, c Campaign) (Campaign, error) {
	if err := s.checkRefs(ctx, &c); err != nil {
		return Campaign{}, err
	}
	members, err := s.audience(ctx, c)
	if err != nil {
		return Campaign{}, err
	}
	now := s.now()
	var out Campaign
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		ok, err := s.st.setStatus(ctx, tx, c.WorkspaceID, c.ID, transition{from: []string{Draft, Scheduled}, to: Running, sub: SubDialing,
			started: true, bumpTick: true, resetPace: true}, now)
		if err != nil {
			return err
		}
		if !ok {
			cur, err := s.get(ctx, tx, c.WorkspaceID, c.ID)
			if err != nil {
				return err
			}
			return errState(cur, "start")
		}
		if err := s.st.insertMembers(ctx, tx, c.WorkspaceID, c.ID, members, now); err != nil {
			return err
		}
		if out, err = s.get(ctx, tx, c.WorkspaceID, c.ID); err != nil {
			return err
		}
		if err := s.record(ctx, tx, now, "campaign.started", out, []string{"status"}, "campaign.started"); err != nil {
			return err
		}
		_, err = s.queue.InsertTx(ctx, tx, TickArgs{WorkspaceID: c.WorkspaceID, CampaignID: c.ID, Gen: out.tickGen}, nil)
		return err
	})
	return view(out), err
}

// audience reads the members of the campaign's list, with their prompt variables resolved.
func (s *Service) audience(ctx context.Context, c Campaign) ([]member, error) {
	sys := system(ctx)
	var out []member
	cursor := ""
	for {
		p, err := s.contacts.List(sys, c.WorkspaceID, contact.Filter{ListID: c.Audience.ListID}, cursor, page.MaxLimit)
		if err != nil {
			return nil, err
		}
		for _, ct := range p.Data {
			vars := map[string]any{}
			for k, v := range c.Variables {
				if attr, ok := attributeOf(v); ok {
					if a, ok := ct.Attributes[attr]; ok {
						vars[k] = a
					}
					continue
				}
				vars[k] = v
			}
			out = append(out, member{ContactID: ct.ID, Timezone: ct.Timezone, Variables: vars})
		}
		if p.NextCursor == "" {
			return out, nil
		}
		cursor = p.NextCursor
	}
}

// Schedule makes a draft campaign start by itself at startAt (owner, admin; campaigns:write).
// Errors: NotFound, Invalid (startAt not in the future), Conflict campaign_state.
func (s *Service) Schedule(ctx context.Context, wsID, campaignID string, startAt time.Time) (Campaign, error) {
	if _, err := authz.Require(ctx, wsID, authz.CampaignsWrite); err != nil {
		return Campaign{}, err
	}
	now := s.now()
	if !startAt.After(now) {
		return Campaign{}, apierr.Validation(apierr.FieldError{Location: "body.startAt", Message: "startAt must be in the future", Value: startAt})
	}
	c, err := s.get(ctx, s.db.Read, wsID, campaignID)
	if err != nil {
		return Campaign{}, err
	}
	if err := s.checkRefs(ctx, &c); err != nil {
		return Campaign{}, err
	}
	startAt = startAt.UTC().Truncate(time.Millisecond)
	var out Campaign
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		ok, err := s.st.setStatus(ctx, tx, wsID, campaignID, transition{from: []string{Draft, Scheduled}, to: Scheduled, startAt: &startAt, bumpTick: true}, now)
		if err != nil {
			return err
		}
		if out, err = s.get(ctx, tx, wsID, campaignID); err != nil {
			return err
		}
		if !ok {
			return errState(out, "be scheduled (only a draft can)")
		}
		if err := s.record(ctx, tx, now, "campaign.scheduled", out, []string{"status", "startAt"}, ""); err != nil {
			return err
		}
		// The job queue runs on the real clock; the service's clock may be a test's.
		due := time.Now().Add(startAt.Sub(now))
		_, err = s.queue.InsertTx(ctx, tx, TickArgs{WorkspaceID: wsID, CampaignID: campaignID, Gen: out.tickGen}, &river.InsertOpts{ScheduledAt: due})
		return err
	})
	return view(out), err
}

// Pause pauses a running campaign (owner, admin; campaigns:write): no new call is placed; live
// calls finish. Errors: NotFound, Conflict campaign_state.
func (s *Service) Pause(ctx context.Context, wsID, campaignID string) (Campaign, error) {
	if _, err := authz.Require(ctx, wsID, authz.CampaignsWrite); err != nil {
		return Campaign{}, err
	}
	var out Campaign
	err := s.db.Tx(ctx, func(tx *sql.Tx) (err error) {
		out, err = s.pauseTx(ctx, tx, wsID, campaignID, ReasonUser, true)
		return err
	})
	return view(out), err
}

// pauseTx pauses a running campaign with a reason and publishes campaign.paused. When strict,
// a campaign that is not running is an error; otherwise it is left as it is.
func (s *Service) pauseTx(ctx context.Context, tx *sql.Tx, wsID, campaignID, reason string, strict bool) (Campaign, error) {
	now := s.now()
	ok, err := s.st.setStatus(ctx, tx, wsID, campaignID, transition{from: []string{Running}, to: Paused, reason: reason}, now)
	if err != nil {
		return Campaign{}, err
	}
	c, err := s.get(ctx, tx, wsID, campaignID)
	if err != nil {
		return Campaign{}, err
	}
	if !ok {
		if strict {
			return Campaign{}, errState(c, "be paused (only a running campaign can)")
		}
		return c, nil
	}
	return c, s.record(ctx, tx, now, "campaign.paused", c, []string{"status", "pauseReason"}, "campaign.paused")
}

// Resume resumes a paused campaign (owner, admin; campaigns:write). Errors: NotFound, Conflict
// campaign_state.
func (s *Service) Resume(ctx context.Context, wsID, campaignID string) (Campaign, error) {
	if _, err := authz.Require(ctx, wsID, authz.CampaignsWrite); err != nil {
		return Campaign{}, err
	}
	now := s.now()
	var out Campaign
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		ok, err := s.st.setStatus(ctx, tx, wsID, campaignID, transition{from: []string{Paused}, to: Running, sub: SubDialing, bumpTick: true, resetPace: true}, now)
		if err != nil {
			return err
		}
		if out, err = s.get(ctx, tx, wsID, campaignID); err != nil {
			return err
		}
		if !ok {
			return errState(out, "be resumed (only a paused campaign can)")
		}
		if err := s.record(ctx, tx, now, "campaign.resumed", out, []string{"status"}, "campaign.resumed"); err != nil {
			return err
		}
		_, err = s.queue.InsertTx(ctx, tx, TickArgs{WorkspaceID: wsID, CampaignID: campaignID, Gen: out.tickGen}, nil)
		return err
	})
	return view(out), err
}

// Cancel ends a campaign that has not ended (owner, admin; campaigns:write): nothing more is
// dialled; live calls finish. Errors: NotFound, Conflict campaign_state.
func (s *Service) Cancel(ctx context.Context, wsID, campaignID string) (Campaign, error) {
	if _, err := authz.Require(ctx, wsID, authz.CampaignsWrite); err != nil {
		return Campaign{}, err
	}
	now := s.now()
	var out Campaign
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		ok, err := s.st.setStatus(ctx, tx, wsID, campaignID, transition{from: []string{Draft, Scheduled, Running, Paused}, to: Canceled, ended: true}, now)
		if err != nil {
			return err
		}
		if out, err = s.get(ctx, tx, wsID, campaignID); err != nil {
			return err
		}
		if !ok {
			return errState(out, "be canceled (it has ended)")
		}
		return s.record(ctx, tx, now, "campaign.canceled", out, []string{"status"}, "")
	})
	return view(out), err
}

// Stats returns a campaign's progress (every role; campaigns:read). Errors: NotFound.
func (s *Service) Stats(ctx context.Context, wsID, campaignID string) (CampaignStats, error) {
	if _, err := authz.Require(ctx, wsID, authz.CampaignsRead); err != nil {
		return CampaignStats{}, err
	}
	c, err := s.get(ctx, s.db.Read, wsID, campaignID)
	if err != nil {
		return CampaignStats{}, err
	}
	st, err := s.st.stats(ctx, s.db.Read, wsID, campaignID)
	if err != nil {
		return CampaignStats{}, err
	}
	st.Spent = billing.FormatCredits(st.SpentMicros)
	if c.Status == Running && st.Pending+st.InProgress > 0 {
		// At most callsPerMinute calls start a minute; a rough floor on the time left.
		eta := int64(st.Pending) * 60 / int64(max(c.CallsPerMinute, 1))
		st.ETASeconds = &eta
	}
	return st, nil
}

// Attempts lists a campaign's attempts, newest first, optionally of one contact (every role;
// campaigns:read).
func (s *Service) Attempts(ctx context.Context, wsID, campaignID, contactID, cursor string, limit int) (page.Page[DialAttempt], error) {
	if _, err := authz.Require(ctx, wsID, authz.CampaignsRead); err != nil {
		return page.Page[DialAttempt]{}, err
	}
	if _, err := s.get(ctx, s.db.Read, wsID, campaignID); err != nil {
		return page.Page[DialAttempt]{}, err
	}
	return page.Fetch(cursor, limit, func(before string, n int) ([]DialAttempt, error) {
		return s.st.attempts(ctx, s.db.Read, wsID, campaignID, contactID, before, n)
	}, func(a DialAttempt) string { return a.ID })
}

// ResultColumns are the columns of a campaign's results CSV.
var ResultColumns = []string{"contact_id", "status", "attempts", "last_outcome", "last_call_id", "duration_seconds", "cost"}

// Results streams a campaign's results as CSV, one line per contact in contact ID order, in
// batches so memory stays flat (every role; campaigns:read). Errors: NotFound.
func (s *Service) Results(ctx context.Context, wsID, campaignID string) (func(w io.Writer) error, error) {
	if _, err := authz.Require(ctx, wsID, authz.CampaignsRead); err != nil {
		return nil, err
	}
	if _, err := s.get(ctx, s.db.Read, wsID, campaignID); err != nil {
		return nil, err
	}
	return func(w io.Writer) error {
		cw := csv.NewWriter(w)
		if err := cw.Write(ResultColumns); err != nil {
			return err
		}
		after := ""
		for {
			rows, err := s.st.results(ctx, s.db.Read, wsID, campaignID, after, 500)
			if err != nil {
				return err
			}
			for _, r := range rows {
				if err := cw.Write([]string{r.ContactID, r.Status, strconv.Itoa(r.Attempts), r.LastOutcome, r.LastCallID,
					strconv.FormatInt(r.Duration, 10), billing.FormatCredits(r.Cost)}); err != nil {
					return err
				}
				after = r.ContactID
			}
			cw.Flush()
			if err := cw.Error(); err != nil {
				return err
			}
			if len(rows) < 500 {
				return nil
			}
		}
	}, nil
}

// Progress is one event of a campaign's progress stream.
type Progress struct {
	CampaignID  string        `json:"campaignId"`
	Status      string        `json:"status"`
	SubStatus   string        `json:"subStatus,omitempty"`
	PauseReason string        `json:"pauseReason,omitempty"`
	Stats       CampaignStats `json:"stats"`
}

// progress reads a campaign's status and stats (every role; campaigns:read).
func (s *Service) progress(ctx context.Context, wsID, campaignID string) (Progress, error) {
	st, err := s.Stats(ctx, wsID, campaignID)
	if err != nil {
		return Progress{}, err
	}
	c, err := s.Get(ctx, wsID, campaignID)
	if err != nil {
		return Progress{}, err
	}
	return Progress{CampaignID: c.ID, Status: c.Status, SubStatus: c.SubStatus, PauseReason: c.PauseReason, Stats: st}, nil
}

// pinTestKey puts a campaign created or edited with a test API key (parley_test_…) on the
// simulator, whatever credential it names: test keys never dial real numbers.
func pinTestKey(p *authz.Principal, c *Campaign) {
	if p.Test {
		c.CredentialID = call.SimulatorCredential
	}
}
