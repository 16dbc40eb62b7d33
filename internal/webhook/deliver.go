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
	"time"

	"code.dny.dev/ssrf"
	"github.com/riverqueue/river"

	"github.com/parleyhq/parley/internal/platform/events"
	"github.com/parleyhq/parley/internal/platform/id"
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
}

// NextRetry follows RetrySchedule, with ±10 % jitter.
func (w *Worker) NextRetry(job *river.Job[DeliverArgs]) time.Time {
	i := max(job.Attempt-1, 0)
	if i >= len(RetrySchedule) {
		i = len(RetrySchedule) - 1
	}
	d := RetrySchedule[i]
	jitter := time.Duration((rand.Float64()*0.2 - 0.1) * float64(d))
	return time.Now().Add(d + jitter)
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
	r, err := s.st.getEndpointOfMessage(ctx, s.db.Read, a.WorkspaceID, a.MessageID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // the endpoint (and its messages) was deleted
	}
	if err != nil {
		return err
	}
	m, err := s.st.getMessage(ctx, s.db.Read, a.WorkspaceID, r.ID, a.MessageID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
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
	now := s.now()
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := s.st.insertAttempt(ctx, tx, a.WorkspaceID, att); err != nil {
			return err
		}
		if err := s.st.setMessage(ctx, tx, a.WorkspaceID, m.ID, status, true, now); err != nil {
			return err
		}
		if !gone {
			return nil
		}
		reason := "the endpoint answered 410 Gone"
		disabled, err := s.st.disableEndpoint(ctx, tx, a.WorkspaceID, r.ID, reason, now)
		if err != nil || !disabled {
			return err
		}
		_, err = events.Publish(ctx, tx, events.Event{WorkspaceID: a.WorkspaceID, Type: "webhook.endpoint_disabled", CreatedAt: now,
			Data: map[string]any{"endpointId": r.ID, "url": r.URL, "reason": reason}})
		return err
	})
	if err != nil {
		return err
	}
	if sendErr != nil && !errors.Is(sendErr, errPermanent) {
		return sendErr
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
