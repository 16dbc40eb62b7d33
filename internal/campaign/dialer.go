package campaign

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/parleyhq/parley/internal/call"
	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/authz"
	"github.com/parleyhq/parley/internal/platform/id"
)

// TickArgs is one link of a campaign's dialer chain: it dials for a while, then inserts the
// next link (Gen+1) in the transaction that advances the campaign's tick_gen from Gen, so a
// campaign has one live chain however many replicas run. A link whose Gen is not the
// campaign's (paused, resumed, replaced by the watchdog) ends without a successor.
type TickArgs struct {
	WorkspaceID string `json:"workspaceId"`
	CampaignID  string `json:"campaignId"`
	Gen         int64  `json:"gen"`
}

// Kind is the job's stable name.
func (TickArgs) Kind() string { return "campaign.tick" }

// InsertOpts: a failed link is retried by River; the watchdog restarts a lost chain.
func (TickArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 5, Queue: river.QueueDefault}
}

// TickWorker works TickArgs.
type TickWorker struct {
	river.WorkerDefaults[TickArgs]
	Svc *Service
}

// Timeout bounds one link.
func (w *TickWorker) Timeout(*river.Job[TickArgs]) time.Duration { return 2 * time.Minute }

// Work runs one link of the chain.
func (w *TickWorker) Work(ctx context.Context, j *river.Job[TickArgs]) error {
	return w.Svc.RunTick(ctx, j.Args.WorkspaceID, j.Args.CampaignID, j.Args.Gen)
}

// Tuning of the dialer.
const (
	// windowWait is how often a campaign waiting for its calling window looks again; retryWait
	// bounds the wait for the next retry that is due.
	windowWait = 30 * time.Second
	retryWait  = 30 * time.Second
	// sleepInJob: a link sleeps through shorter waits itself (a scheduled job is promoted by
	// River's scheduler only every few seconds); longer ones end it with a scheduled successor.
	sleepInJob = 5 * time.Second
	// busyWait is how long a campaign at its concurrency limit waits before it looks again.
	busyWait = 10 * time.Millisecond
	// breakerWindow and breakerRatio: the campaign pauses (carrier_failures) when at least
	// breakerRatio of its last breakerWindow ended calls failed at the carrier.
	breakerWindow = 20
	breakerRatio  = 0.8
	// stallAfter: a running campaign whose chain has not moved for this long lost it (a killed
	// process); the watchdog starts a new one.
	stallAfter = 2 * time.Minute
)

// RunTick runs the chain link gen of a campaign: it starts a scheduled campaign that is due,
// dials rounds for up to Options.RoundFor, and hands over to the next link. It is the dialer's
// entry point for jobs; it acts as the platform.
func (s *Service) RunTick(ctx context.Context, wsID, campaignID string, gen int64) error {
	ctx = system(ctx)
	deadline := time.Now().Add(s.opts.RoundFor)
	wait := time.Duration(0)
	for {
		c, err := s.get(ctx, s.db.Read, wsID, campaignID)
		if errors.Is(err, apierr.NotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if c.tickGen != gen {
			return nil // replaced
		}
		switch c.Status {
		case Scheduled:
			if c.StartAt != nil && c.StartAt.After(s.now()) {
				return s.next(ctx, c, gen, min(c.StartAt.Sub(s.now()), time.Minute))
			}
			if _, err := s.begin(ctx, c); err != nil {
				var ae *apierr.Error
				if errors.As(err, &ae) {
					// The agent or list is gone: the campaign cannot start; it stays scheduled
					// and the owner sees why when starting it by hand.
					return nil
				}
				return err
			}
			return nil // begin started a chain of its own
		case Running:
		default:
			return nil // paused or ended: the chain stops
		}
		wait, err = s.round(ctx, c)
		if err != nil {
			return err
		}
		if wait < 0 || ctx.Err() != nil {
			return ctx.Err()
		}
		if wait >= sleepInJob {
			break // a long wait: the next link is a scheduled job
		}
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
		if time.Now().After(deadline) {
			wait = 0 // hand over now: the next link is available at once
			break
		}
	}
	return s.next(ctx, Campaign{ID: campaignID, WorkspaceID: wsID}, gen, wait)
}

// next inserts link gen+1 of the chain, due after wait, if gen is still the campaign's.
func (s *Service) next(ctx context.Context, c Campaign, gen int64, wait time.Duration) error {
	now := s.now()
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		ok, err := s.st.advanceTick(ctx, tx, c.WorkspaceID, c.ID, gen, now)
		if err != nil || !ok {
			return err
		}
		var opts *river.InsertOpts
		if wait > 50*time.Millisecond {
			opts = &river.InsertOpts{ScheduledAt: time.Now().Add(wait)}
		}
		_, err = s.queue.InsertTx(ctx, tx, TickArgs{WorkspaceID: c.WorkspaceID, CampaignID: c.ID, Gen: gen + 1}, opts)
		return err
	})
}

// errNoRoom: the campaign is at its concurrency limit, paced out, or no longer running.
var errNoRoom = errors.New("campaign: no room for a call")

// errTaken: another dialer took the attempt first.
var errTaken = errors.New("campaign: attempt taken")

// Round runs one dialer round of a campaign now, if it is running (owner, admin;
// campaigns:write — the dialer's jobs do this as the platform; tests and benchmarks call it), and returns how long the dialer would wait before the
// next round (negative: the campaign stopped).
func (s *Service) Round(ctx context.Context, wsID, campaignID string) (time.Duration, error) {
	if _, err := authz.Require(ctx, wsID, authz.CampaignsWrite); err != nil {
		return 0, err
	}
	c, err := s.get(ctx, s.db.Read, wsID, campaignID)
	if err != nil {
		return 0, err
	}
	if c.Status != Running {
		return -1, nil
	}
	return s.round(ctx, c)
}

// round places the calls a running campaign may place now and returns how long to wait
// before the next round (negative: the campaign stopped). Every call is placed with
// call.Service.Place, whose transaction also takes the campaign's place (its concurrency and
// pace, compare and set), moves the contact to its next attempt (compare and set) and writes the
// attempt (unique per contact and attempt number): two rounds running at once — two replicas —
// never dial one attempt twice, and a campaign never has more than maxConcurrentCalls live calls.
func (s *Service) round(ctx context.Context, c Campaign) (time.Duration, error) {
	ctx = system(ctx)
	now := s.now()
	paceNow := time.Now().UnixMilli() // pacing is a rate in real time, whatever the service's clock
	room := c.MaxConcurrentCalls - c.inFlight
	interval := max(int64(60_000/c.CallsPerMinute), 1)
	burst := max(int64(c.CallsPerMinute/60), 1)
	tolerance := (burst - 1) * interval
	if room <= 0 {
		return busyWait, nil
	}
	if ahead := c.paceTAT - (paceNow + tolerance); ahead > 0 {
		return time.Duration(ahead) * time.Millisecond, nil
	}
	zones, err := s.st.dueZones(ctx, s.db.Read, c.WorkspaceID, c.ID, now)
	if err != nil {
		return 0, err
	}
	if len(zones) == 0 {
		return s.idle(ctx, c)
	}
	open, err := s.openZones(ctx, c, zones, now)
	if err != nil {
		return 0, err
	}
	if len(open) == 0 {
		return windowWait, s.st.setSubStatus(ctx, s.db.Write, c.WorkspaceID, c.ID, SubWaitingForWindow)
	}
	if c.SubStatus != SubDialing {
		if err := s.st.setSubStatus(ctx, s.db.Write, c.WorkspaceID, c.ID, SubDialing); err != nil {
			return 0, err
		}
	}
	due, err := s.st.due(ctx, s.db.Read, c.WorkspaceID, c.ID, open, now, min(room, int(burst)+1))
	if err != nil {
		return 0, err
	}
	// Dial the due contacts in parallel (distinct contacts; each call's transaction decides
	// alone whether it may happen): on PostgreSQL round trips overlap, on SQLite concurrent
	// transactions share one commit.
	var (
		mu       sync.Mutex
		wg       sync.WaitGroup
		next     = make(chan int)
		stopped  bool
		waitMax  time.Duration
		firstErr error
	)
	for range min(parallelDials, len(due)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				wait, stop, err := s.dial(ctx, c, due[i], int(c.dialed)+i)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				if stop || err != nil {
					stopped = true
					waitMax = max(waitMax, wait)
					if wait < 0 {
						waitMax = -1
					}
				}
				mu.Unlock()
			}
		}()
	}
	for i := range due {
		mu.Lock()
		halt := stopped
		mu.Unlock()
		if halt {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if firstErr != nil || stopped {
		if waitMax < 0 {
			return -1, firstErr
		}
		return waitMax, firstErr
	}
	return 0, nil
}

// parallelDials is how many calls one dialer round places at once.
const parallelDials = 16

// idle handles a running campaign with nobody due: it completes when every contact is done.
func (s *Service) idle(ctx context.Context, c Campaign) (time.Duration, error) {
	notDone, pending, err := s.st.remaining(ctx, s.db.Read, c.WorkspaceID, c.ID)
	if err != nil {
		return 0, err
	}
	if notDone == 0 {
		return -1, s.db.Tx(ctx, func(tx *sql.Tx) error { return s.completeTx(ctx, tx, c.WorkspaceID, c.ID) })
	}
	sub := SubFinishing
	if pending > 0 {
		sub = SubWaitingForRetry
	}
	if sub != c.SubStatus {
		if err := s.st.setSubStatus(ctx, s.db.Write, c.WorkspaceID, c.ID, sub); err != nil {
			return 0, err
		}
	}
	if pending == 0 {
		return 50 * time.Millisecond, nil // live calls only: their ends finish the campaign
	}
	next, err := s.st.nextDue(ctx, s.db.Read, c.WorkspaceID, c.ID)
	if err != nil {
		return 0, err
	}
	return min(max(next.Sub(s.now()), 50*time.Millisecond), retryWait), nil
}

// completeTx completes a running campaign whose contacts are all done.
func (s *Service) completeTx(ctx context.Context, tx *sql.Tx, wsID, campaignID string) error {
	notDone, _, err := s.st.remaining(ctx, tx, wsID, campaignID)
	if err != nil || notDone > 0 {
		return err
	}
	now := s.now()
	ok, err := s.st.setStatus(ctx, tx, wsID, campaignID, transition{from: []string{Running}, to: Completed, ended: true}, now)
	if err != nil || !ok {
		return err
	}
	c, err := s.get(ctx, tx, wsID, campaignID)
	if err != nil {
		return err
	}
	return s.record(ctx, tx, now, "campaign.completed", c, []string{"status"}, "campaign.completed")
}

// zones caches loaded time zones (time.LoadLocation reads the zone database each time).
var zoneCache sync.Map

func loadZone(name string) (*time.Location, error) {
	if l, ok := zoneCache.Load(name); ok {
		return l.(*time.Location), nil
	}
	l, err := time.LoadLocation(name)
	if err == nil {
		zoneCache.Store(name, l)
	}
	return l, err
}

// openZones returns the zones whose local time is in the campaign's calling window; ” is the
// workspace's zone, and so is a zone the system does not know.
func (s *Service) openZones(ctx context.Context, c Campaign, zones []string, now time.Time) ([]string, error) {
	var wsLoc *time.Location
	var open []string
	for _, z := range zones {
		loc, err := loadZone(z)
		if z == "" || err != nil {
			if wsLoc == nil {
				settings, err := s.agents.GetSettings(ctx, c.WorkspaceID)
				if err != nil {
					return nil, err
				}
				wsLoc = time.UTC
				if settings.Timezone != nil {
					if l, err := time.LoadLocation(*settings.Timezone); err == nil {
						wsLoc = l
					}
				}
			}
			loc = wsLoc
		}
		if InWindow(c.CallingWindow, loc, now) {
			open = append(open, z)
		}
	}
	return open, nil
}

// dial places the next attempt of one contact. stop ends the round (with the wait before the
// next one).
func (s *Service) dial(ctx context.Context, c Campaign, m member, seq int) (wait time.Duration, stop bool, err error) {
	attempt := m.Attempts + 1
	from := ""
	if len(c.FromNumbers) > 0 {
		from = c.FromNumbers[seq%len(c.FromNumbers)]
	}
	interval := max(int64(60_000/c.CallsPerMinute), 1)
	tolerance := (max(int64(c.CallsPerMinute/60), 1) - 1) * interval
	in := call.PlaceInput{AgentID: c.AgentID, ContactID: m.ContactID, From: from, CredentialID: c.CredentialID, Variables: m.Variables, CampaignID: c.ID,
		InTx: func(ctx context.Context, tx *sql.Tx, cl call.Call) error {
			ok, err := s.st.take(ctx, tx, c.WorkspaceID, c.ID, time.Now().UnixMilli(), interval, tolerance)
			if err != nil {
				return err
			}
			if !ok {
				return errNoRoom
			}
			if ok, err = s.st.claim(ctx, tx, c.WorkspaceID, c.ID, m.ContactID, attempt, contactInProgress, "", cl.ID); err != nil {
				return err
			} else if !ok {
				return errTaken
			}
			return s.st.insertAttempt(ctx, tx, c.WorkspaceID, DialAttempt{ID: id.New(attemptPrefix), CampaignID: c.ID, ContactID: m.ContactID,
				Attempt: attempt, CallID: cl.ID, From: cl.From, CreatedAt: s.now()})
		}}
	_, err = s.calls.Place(ctx, c.WorkspaceID, in)
	var ae *apierr.Error
	errors.As(err, &ae)
	switch {
	case err == nil, errors.Is(err, errTaken):
		return 0, false, nil
	case errors.Is(err, errNoRoom):
		return busyWait, true, nil
	case ae != nil && ae.Code == "do_not_call":
		return 0, false, s.skip(ctx, c, m.ContactID, attempt, OutcomeDoNotCall)
	case errors.Is(err, apierr.PaymentRequired):
		return -1, true, s.db.Tx(ctx, func(tx *sql.Tx) error {
			_, err := s.pauseTx(ctx, tx, c.WorkspaceID, c.ID, ReasonInsufficientCredits, false)
			return err
		})
	case errors.Is(err, apierr.RateLimited):
		return 100 * time.Millisecond, true, nil // the workspace's lines are full: try later
	case ae != nil && ae.Code == "agent_not_active":
		return -1, true, s.db.Tx(ctx, func(tx *sql.Tx) error {
			_, err := s.pauseTx(ctx, tx, c.WorkspaceID, c.ID, ReasonAgentNotActive, false)
			return err
		})
	case errors.Is(err, apierr.NotFound), errors.Is(err, apierr.Invalid):
		// The contact is gone or cannot be called (its number, its variables): skip it.
		return 0, false, s.skip(ctx, c, m.ContactID, attempt, OutcomeInvalid)
	}
	if transient(err) {
		return 50 * time.Millisecond, true, nil // a deadlock or serialization failure: nothing was written; try again
	}
	return 0, true, fmt.Errorf("campaign %s: place a call to contact %s: %w", c.ID, m.ContactID, err)
}

// transient reports whether err is a PostgreSQL serialization failure or deadlock that outlived
// the store's own retries: the transaction was rolled back and may simply be tried again.
func transient(err error) bool {
	var se interface{ SQLState() string }
	if errors.As(err, &se) {
		return se.SQLState() == "40001" || se.SQLState() == "40P01"
	}
	return false
}

// skip records an attempt that placed no call; the contact is done.
func (s *Service) skip(ctx context.Context, c Campaign, contactID string, attempt int, outcome string) error {
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		ok, err := s.st.claim(ctx, tx, c.WorkspaceID, c.ID, contactID, attempt, contactDone, outcome, "")
		if err != nil || !ok {
			return err
		}
		now := s.now()
		return s.st.insertAttempt(ctx, tx, c.WorkspaceID, DialAttempt{ID: id.New(attemptPrefix), CampaignID: c.ID, ContactID: contactID, Attempt: attempt,
			Outcome: outcome, CreatedAt: now, EndedAt: &now})
	})
}

// onCallEnd runs in the transaction that ends any call: for a campaign's call it records the
// attempt's outcome, frees the campaign's place, schedules a retry or marks the contact done,
// trips the circuit breaker, and completes the campaign after its last contact.
func (s *Service) onCallEnd(ctx context.Context, tx *sql.Tx, cl call.Call) error {
	if cl.CampaignID == "" {
		return nil
	}
	now := s.now()
	at := now
	if cl.EndedAt != nil {
		at = *cl.EndedAt
	}
	a, ok, err := s.st.endAttempt(ctx, tx, cl.WorkspaceID, cl.ID, cl.Status, cl.DurationSeconds, cl.CostMicros, at)
	if err != nil || !ok {
		return err
	}
	if err := s.st.release(ctx, tx, cl.WorkspaceID, a.CampaignID); err != nil {
		return err
	}
	c, err := s.get(ctx, tx, cl.WorkspaceID, a.CampaignID)
	if errors.Is(err, apierr.NotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	status, next := contactDone, now
	if c.Retry.retries(cl.Status, a.Attempt) {
		status, next = contactPending, now.Add(c.Retry.retryDelay(a.Attempt))
	}
	if err := s.st.settle(ctx, tx, cl.WorkspaceID, c.ID, a.ContactID, a.Attempt, status, cl.Status, next); err != nil {
		return err
	}
	if c.Status != Running {
		return nil
	}
	if cl.Status == call.Failed {
		recent, err := s.st.recentOutcomes(ctx, tx, cl.WorkspaceID, c.ID, breakerWindow)
		if err != nil {
			return err
		}
		failed := 0
		for _, o := range recent {
			if o == OutcomeFailed {
				failed++
			}
		}
		if len(recent) >= breakerWindow && float64(failed) >= breakerRatio*float64(len(recent)) {
			_, err := s.pauseTx(ctx, tx, cl.WorkspaceID, c.ID, ReasonCarrierFailures, false)
			return err
		}
	}
	if status == contactDone {
		return s.completeTx(ctx, tx, cl.WorkspaceID, c.ID)
	}
	return nil
}

// WatchdogArgs is the periodic job that restarts the dialer chain of campaigns that lost it.
type WatchdogArgs struct{}

// Kind is the job's stable name.
func (WatchdogArgs) Kind() string { return "campaign.watchdog" }

// WatchdogWorker works WatchdogArgs.
type WatchdogWorker struct {
	river.WorkerDefaults[WatchdogArgs]
	Svc *Service
}

// Work restarts stalled chains.
func (w *WatchdogWorker) Work(ctx context.Context, _ *river.Job[WatchdogArgs]) error {
	_, err := w.Svc.Watchdog(ctx)
	return err
}

// PeriodicWatchdog is the watchdog's schedule.
func PeriodicWatchdog(every time.Duration) *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(every), func() (river.JobArgs, *river.InsertOpts) {
		return WatchdogArgs{}, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: every}}
	}, &river.PeriodicJobOpts{RunOnStart: true})
}

// Watchdog starts a new dialer chain for every running or scheduled campaign whose chain has
// not moved for stallAfter (its job died with a killed process), and returns how many.
func (s *Service) Watchdog(ctx context.Context) (int, error) {
	now := s.now()
	stalled, err := s.st.stalled(ctx, s.db.Read, now.Add(-stallAfter), 100)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, c := range stalled {
		if c.Status == Scheduled && c.StartAt != nil && c.StartAt.After(now) {
			continue // its link is scheduled for startAt
		}
		err := s.db.Tx(ctx, func(tx *sql.Tx) error {
			ok, err := s.st.restartTick(ctx, tx, c.WorkspaceID, c.ID, c.tickGen, now)
			if err != nil || !ok {
				return err
			}
			n++
			_, err = s.queue.InsertTx(ctx, tx, TickArgs{WorkspaceID: c.WorkspaceID, CampaignID: c.ID, Gen: c.tickGen + 1}, nil)
			return err
		})
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
