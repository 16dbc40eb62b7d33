package call

import (
	"context"
	"errors"
	"time"

	"github.com/riverqueue/river"

	"github.com/parleyhq/parley/internal/telephony"
)

// DialArgs is the job that places a queued call at its provider.
type DialArgs struct {
	WorkspaceID string `json:"workspaceId"`
	CallID      string `json:"callId"`
}

// Kind is the job's stable name.
func (DialArgs) Kind() string { return "call.dial" }

// InsertOpts: a dial is tried once by River's own retry budget at most three times; the call's
// state, not the job's, decides whether a dial happens (see Dial).
func (DialArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 3, Queue: river.QueueDefault}
}

// DialWorker works DialArgs.
type DialWorker struct {
	river.WorkerDefaults[DialArgs]
	Svc *Service
}

// Work dials the call.
func (w *DialWorker) Work(ctx context.Context, j *river.Job[DialArgs]) error {
	return w.Svc.Dial(ctx, j.Args.WorkspaceID, j.Args.CallID)
}

// Dial places a queued call at its provider, at most once: the call moves queued → initiating in
// a transaction before the provider is asked, so a retried job (after a crash between the two)
// finds the call initiating and never dials again; the stale-call sweep ends such a call. A
// provider's refusal ends the call failed (its hold released, its slot freed, call.failed).
func (s *Service) Dial(ctx context.Context, wsID, callID string) error {
	c, applied, err := s.advance(ctx, wsID, callID, change{status: Initiating, source: "dialer"})
	if err != nil || !applied {
		return err // already dialled, canceled or gone
	}
	prov, cred, err := s.telephony.Adapter(ctx, wsID, c.CredentialID)
	if err != nil {
		_, _, err = s.advance(ctx, wsID, callID, change{status: Failed, source: "dialer", reason: "the telephony credential is unusable", providerReason: err.Error()})
		return err
	}
	token := ""
	if cred.Provider == telephony.Exotel {
		token = tokenOf(cred.VoiceURL)
	}
	answer, status := s.urls(c, token)
	maxDur := 30 * time.Minute
	res, err := prov.Place(ctx, telephony.PlaceRequest{CallID: c.ID, From: c.From, To: c.To, AnswerURL: answer, StatusURL: status,
		RingTimeout: s.opts.RingTimeout, TimeLimit: maxDur, MachineDetection: true})
	if err != nil {
		var pe *telephony.ProviderError
		reason := err.Error()
		if errors.As(err, &pe) {
			reason = pe.Error()
		}
		_, _, err = s.advance(ctx, wsID, callID, change{status: Failed, source: "dialer", reason: "the provider refused the call", providerReason: reason})
		return err
	}
	after, _, err := s.advance(ctx, wsID, callID, change{status: Initiating, source: "dialer", providerCallID: res.ProviderCallID,
		providerReason: "placed: " + res.ProviderCallID})
	if err != nil {
		return err
	}
	if after.Status == Canceled {
		// Hung up while the dial was in flight: end it at the provider too.
		return prov.Hangup(ctx, res.ProviderCallID)
	}
	return nil
}

// SweepArgs is the periodic job that ends calls whose provider went silent.
type SweepArgs struct{}

// Kind is the job's stable name.
func (SweepArgs) Kind() string { return "call.sweep" }

// SweepWorker works SweepArgs.
type SweepWorker struct {
	river.WorkerDefaults[SweepArgs]
	Svc *Service
}

// Work extends the holds of long calls and ends stale calls.
func (w *SweepWorker) Work(ctx context.Context, _ *river.Job[SweepArgs]) error {
	if _, _, err := w.Svc.ExtendHolds(ctx); err != nil {
		return err
	}
	_, err := w.Svc.Sweep(ctx)
	return err
}

// PeriodicSweep is the sweep's schedule.
func PeriodicSweep(every time.Duration) *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(every), func() (river.JobArgs, *river.InsertOpts) {
		return SweepArgs{}, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: every}}
	}, &river.PeriodicJobOpts{RunOnStart: true})
}

// Staleness: a live call that no report has touched for this long is ended failed (its hold
// settled for the time it was answered, its slot freed). Calls are capped at 4 hours by every
// provider; a ringing or dialling call has long been given up by then.
const (
	StaleLive    = 4*time.Hour + 15*time.Minute
	StaleDialing = 10 * time.Minute
)

// Sweep ends calls whose provider went silent (the process that simulated them stopped, a
// provider lost the callbacks, a dial crashed mid-flight) and returns how many it ended.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	now := s.now()
	stale, err := s.st.stale(ctx, s.db.Read, now.Add(-StaleDialing), 500)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, c := range stale {
		if c.Status == InProgress && c.UpdatedAt.After(now.Add(-StaleLive)) {
			continue
		}
		reason := "the provider stopped reporting on the call"
		if c.ProviderCallID == "" {
			reason = "the dial was interrupted before the provider confirmed it; the call was not retried"
		}
		_, applied, err := s.advance(ctx, c.WorkspaceID, c.ID, change{status: Failed, source: "sweep", reason: reason})
		if err != nil {
			return n, err
		}
		if applied {
			n++
		}
	}
	return n, nil
}
