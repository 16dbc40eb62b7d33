package webhook

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"code.dny.dev/ssrf"
	"github.com/riverqueue/river"

	"github.com/parleyhq/parley/internal/platform/db"
	"github.com/parleyhq/parley/internal/platform/events"
	"github.com/parleyhq/parley/internal/platform/id"
	"github.com/parleyhq/parley/internal/platform/mail"
)

// Delivery limits.
const (
	// RequestTimeout bounds one attempt, connection included.
	RequestTimeout = 15 * time.Second
	// MaxBody is the largest body Parley sends.
	MaxBody = 256 << 10
	// MaxResponse is how much of an answer is read and kept in the attempt log.
	MaxResponse = 4 << 10
	// UserAgent identifies deliveries.
	UserAgent = "Parley-Webhooks/1"
)

// RetrySchedule is the delay before each retry after a failed attempt: the first attempt is
// immediate, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h (8 attempts over about 27.6 h).
var RetrySchedule = []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}

// Failure handling.
const (
	// DisableAfter is how long an endpoint may fail continuously (every attempt, however many)
	// before Parley disables it.
	DisableAfter = 5 * 24 * time.Hour
	// MaxRetryAfter bounds how long a Retry-After header can postpone the next attempt.
	MaxRetryAfter = time.Hour
)

// DeliverArgs is the job that delivers one message (one attempt per run; River retries it).
type DeliverArgs struct {
	WorkspaceID string `json:"workspaceId"`
	MessageID   string `json:"messageId"`
	// Manual is true for a retry or a test asked through the API.
	Manual bool `json:"manual,omitempty"`
}

// Kind is the stable job kind.
func (DeliverArgs) Kind() string { return "webhook.deliver" }

// InsertOpts caps the attempts at the schedule's length.
func (DeliverArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: len(RetrySchedule) + 1}
}

// NewClient returns the HTTP client of deliveries: RequestTimeout, no redirects, no proxy, and
// unless allowPrivate a dialer that refuses non-public addresses after DNS resolution.
func NewClient(allowPrivate bool) *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		dialer.Control = newGuard().Safe
	}
	tr := &http.Transport{
		Proxy: nil, DialContext: dialer.DialContext, ForceAttemptHTTP2: true,
		MaxIdleConns: 100, MaxIdleConnsPerHost: 10, IdleConnTimeout: 90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second, ResponseHeaderTimeout: RequestTimeout,
	}
	return &http.Client{Transport: tr, Timeout: RequestTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// Worker delivers messages (webhook.deliver).
type Worker struct {
	river.WorkerDefaults[DeliverArgs]
	Svc    *Service
	Client *http.Client
	// Clock gives the webhook-timestamp of attempts (time.Now when nil).
	Clock func() time.Time
	// retryAfter passes a Retry-After from Work to NextRetry, which River calls right after Work
	// returns, in the same process (job ID → time.Duration).
	retryAfter sync.Map
}

// NextRetry follows RetrySchedule, with ±10 % jitter; when the endpoint answered 429 or 503 with
// a Retry-After, the retry waits that long if it is longer than the schedule's delay, up to
// MaxRetryAfter (see retryDelay).
func (w *Worker) NextRetry(job *river.Job[DeliverArgs]) time.Time {
	var after time.Duration
	if v, ok := w.retryAfter.LoadAndDelete(job.ID); ok {
		after = v.(time.Duration)
	}
	return time.Now().Add(retryDelay(job.Attempt, after, rand.Float64()))
}

// retryDelay is the wait after failed attempt number attempt (1-based): RetrySchedule's delay with
// ±10 % jitter (r in [0, 1) picks it), or retryAfter when that is longer, capped at MaxRetryAfter
// (never shorter than the schedule's delay).
func retryDelay(attempt int, retryAfter time.Duration, r float64) time.Duration {
	i := min(max(attempt-1, 0), len(RetrySchedule)-1)
	d := RetrySchedule[i]
	d += time.Duration((r*0.2 - 0.1) * float64(d))
	return max(d, min(retryAfter, MaxRetryAfter))
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date; 0 when absent or
// unreadable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		return time.Duration(min(n, int64(MaxRetryAfter/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// Timeout leaves room for the request and the bookkeeping.
func (w *Worker) Timeout(*river.Job[DeliverArgs]) time.Duration {
	return RequestTimeout + 15*time.Second
}

// errPermanent ends a message without retrying.
var errPermanent = errors.New("webhook: permanent failure")

// Work makes one attempt. It returns an error (River retries) when the endpoint did not answer
// 2xx, nil when it did, or when there is nothing left to do (endpoint gone, disabled or 410).
func (w *Worker) Work(ctx context.Context, job *river.Job[DeliverArgs]) error {
	s := w.Svc
	a := job.Args
	m, r, err := s.st.getMessageAndEndpoint(ctx, s.db.Read, a.WorkspaceID, a.MessageID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // the endpoint (and its messages) was deleted, or the message pruned
	}
	if err != nil {
		return err
	}
	if err := s.openHeaders(&r); err != nil {
		return err
	}
	if !r.Enabled && !(a.Manual && m.EventType == "ping") {
		return s.db.Tx(ctx, func(tx *sql.Tx) error {
			return s.st.setMessage(ctx, tx, a.WorkspaceID, m.ID, MessageFailed, false, s.now())
		})
	}
	clock := w.Clock
	if clock == nil {
		clock = time.Now
	}
	start := clock()
	att := Attempt{ID: id.New(id.Attempt), EndpointID: r.ID, MessageID: m.ID, URL: r.URL, Trigger: "scheduled"}
	if a.Manual {
		att.Trigger = "manual"
	}
	sendErr := w.send(ctx, r, m, start, &att)
	att.DurationMs = clock().Sub(start).Milliseconds()
	att.CreatedAt = s.now()

	last := job.Attempt >= job.MaxAttempts
	status := MessageDelivered
	switch {
	case errors.Is(sendErr, errPermanent):
		status = MessageFailed
	case sendErr != nil && last:
		status = MessageFailed
	case sendErr != nil:
		status = MessagePending
	}
	gone := att.StatusCode == http.StatusGone
	failed := sendErr != nil
	now := s.now()
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := s.st.insertAttempt(ctx, tx, a.WorkspaceID, att); err != nil {
			return err
		}
		if err := s.st.setMessage(ctx, tx, a.WorkspaceID, m.ID, status, true, now); err != nil {
			return err
		}
		reason := ""
		switch {
		case gone:
			reason = "the endpoint answered 410 Gone"
		case failed || !r.failingSince.IsZero():
			since, err := s.st.setFailing(ctx, tx, a.WorkspaceID, r.ID, failed, now)
			if err != nil {
				return err
			}
			if failed && r.Enabled && !since.IsZero() && now.Sub(since) >= DisableAfter {
				reason = "every delivery failed for 5 days, since " + since.Format("2006-01-02 15:04 UTC")
			}
		}
		if reason == "" {
			return nil
		}
		return s.disable(ctx, tx, r, reason, now)
	})
	if err != nil {
		return err
	}
	if sendErr != nil && !errors.Is(sendErr, errPermanent) {
		if att.RetryAfter > 0 && job.Attempt < job.MaxAttempts {
			w.retryAfter.Store(job.ID, att.RetryAfter)
		}
		return sendErr
	}
	return nil
}

// disable turns the endpoint off for reason, publishes webhook.endpoint_disabled and mails the
// workspace's owner and admins, in tx; nothing when it was disabled already.
func (s *Service) disable(ctx context.Context, tx *sql.Tx, r endpointRow, reason string, now time.Time) error {
	disabled, err := s.st.disableEndpoint(ctx, tx, r.WorkspaceID, r.ID, reason, now)
	if err != nil || !disabled {
		return err
	}
	if _, err := events.Publish(ctx, tx, events.Event{WorkspaceID: r.WorkspaceID, Type: "webhook.endpoint_disabled", CreatedAt: now,
		Data: map[string]any{"endpointId": r.ID, "url": r.URL, "reason": reason}}); err != nil {
		return err
	}
	to, err := s.st.adminEmails(ctx, tx, r.WorkspaceID)
	if err != nil {
		return err
	}
	body := "Parley disabled the webhook endpoint " + r.URL + " (" + r.ID + ") of workspace " + r.WorkspaceID + ":\n" + reason + ".\n\n" +
		"Nothing is sent to it any more. When the receiver works again, enable the endpoint in the dashboard (Webhooks) or with\n" +
		"PATCH /v1/workspaces/" + r.WorkspaceID + "/webhooks/" + r.ID + " {\"enabled\": true}, then replay what it missed.\n"
	for _, addr := range to {
		if _, err := mail.Enqueue(ctx, tx, now, addr, "Webhook endpoint disabled: "+truncate(r.URL, 80), body); err != nil {
			return err
		}
	}
	return nil
}

// send makes the HTTP request and fills the attempt's status, response and error.
func (w *Worker) send(ctx context.Context, r endpointRow, m Message, at time.Time, att *Attempt) error {
	body := []byte(m.payload)
	if len(body) > MaxBody {
		att.Error = "the event is larger than " + strconv.Itoa(MaxBody) + " bytes"
		return errPermanent
	}
	secrets, err := w.Svc.secrets(r, w.Svc.now())
	if err != nil {
		att.Error = "cannot read the signing secret"
		return err
	}
	ts := at.Unix()
	sig, err := SignatureHeader(secrets, m.ID, ts, body)
	if err != nil {
		att.Error = "cannot sign"
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL, bytes.NewReader(body))
	if err != nil {
		att.Error = err.Error()
		return errPermanent
	}
	for k, v := range r.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	req.Header["webhook-id"] = []string{m.ID}
	req.Header["webhook-timestamp"] = []string{strconv.FormatInt(ts, 10)}
	req.Header["webhook-signature"] = []string{sig}
	req.Header.Set("Parley-Workspace-Id", r.WorkspaceID)
	req.Header.Set("Parley-Event-Type", m.EventType)
	res, err := w.Client.Do(req)
	if err != nil {
		att.Error = describe(err)
		return fmt.Errorf("webhook: deliver %s to %s: %s", m.ID, r.ID, att.Error)
	}
	defer res.Body.Close()
	resp, _ := io.ReadAll(io.LimitReader(res.Body, MaxResponse))
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10)) // let the connection be reused
	att.StatusCode = res.StatusCode
	att.Response = string(bytes.ToValidUTF8(resp, []byte("\uFFFD")))
	if res.StatusCode == http.StatusTooManyRequests || res.StatusCode == http.StatusServiceUnavailable {
		att.RetryAfter = parseRetryAfter(res.Header.Get("Retry-After"), time.Now())
	}
	switch {
	case res.StatusCode >= 200 && res.StatusCode < 300:
		return nil
	case res.StatusCode == http.StatusGone:
		return errPermanent
	}
	return fmt.Errorf("webhook: deliver %s to %s: status %d", m.ID, r.ID, res.StatusCode)
}

// describe turns a transport error into a short reason for the attempt log.
func describe(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		return "timed out after " + RequestTimeout.String()
	case errors.Is(err, ssrf.ErrProhibitedIP) || errors.Is(err, ssrf.ErrProhibitedPort) || errors.Is(err, ssrf.ErrProhibitedNetwork):
		return "refused: " + err.Error() + " (Parley only delivers to public addresses)"
	}
	return err.Error()
}

// DefaultRetention is how long messages and attempts are kept.
const DefaultRetention = 30 * 24 * time.Hour

// PruneArgs is the periodic job that deletes old messages and attempts.
type PruneArgs struct{}

// Kind is the stable job kind.
func (PruneArgs) Kind() string { return "webhook.prune" }

// PruneWorker deletes attempts, and messages no longer pending, older than Retention.
type PruneWorker struct {
	river.WorkerDefaults[PruneArgs]
	Svc *Service
	// Retention is how long they are kept (DefaultRetention when zero).
	Retention time.Duration
}

// Work prunes in batches until nothing is left to prune.
func (w *PruneWorker) Work(ctx context.Context, _ *river.Job[PruneArgs]) error {
	_, _, err := w.Svc.Prune(ctx, w.Retention)
	return err
}

// Prune deletes the attempts, and the messages that are no longer pending, created more than
// retention ago (DefaultRetention when ≤ 0), in batches, and returns how many of each it deleted.
// It is the retention job's (every workspace), not a workspace's request.
func (s *Service) Prune(ctx context.Context, retention time.Duration) (attempts, messages int64, err error) {
	if retention <= 0 {
		retention = DefaultRetention
	}
	cutoff := s.now().Add(-retention)
	for _, step := range []struct {
		n  *int64
		fn func(context.Context, db.Querier, time.Time) (int64, error)
	}{{&attempts, s.st.pruneAttempts}, {&messages, s.st.pruneMessages}} {
		for {
			var k int64
			if err := s.db.Tx(ctx, func(tx *sql.Tx) (err error) { k, err = step.fn(ctx, tx, cutoff); return err }); err != nil {
				return attempts, messages, err
			}
			*step.n += k
			if k < pruneBatch {
				break
			}
		}
	}
	return attempts, messages, nil
}

// PeriodicPrune is the schedule of the retention job.
func PeriodicPrune(every time.Duration) *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(every), func() (river.JobArgs, *river.InsertOpts) {
		return PruneArgs{}, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: every}}
	}, &river.PeriodicJobOpts{RunOnStart: true})
}
