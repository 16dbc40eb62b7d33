// Package sim is Parley's built-in telephony provider: a simulator that rings, answers, ends and
// reports calls the way a real provider does, through the same code path as real provider
// callbacks (signed requests to the workspace's /telephony/{workspaceId}/sim/… URLs, parsed by
// Parse), so everything above the adapter — the call state machine, billing, events, campaigns —
// runs unchanged on it. It places no real call and costs nothing outside Parley.
//
// Outcomes are deterministic by the called number's last four digits, unless the credential sets
// weights for random outcomes (fields.outcomes, e.g. "completed=70,busy=10,no_answer=10,voicemail=5,failed=5"):
//
//	…0002 busy        rings 4 s, then busy
//	…0003 no_answer   rings until the ring timeout (30 s by default), then no answer
//	…0004 voicemail   rings 5 s, a machine answers, the call ends after 20 s as voicemail
//	…0005 failed      fails at once (the carrier refuses the call)
//	other completed   rings 5 s, answered, talks 30 s + the last two digits (…0142 talks 72 s)
//
// Time runs Scale times faster than the wall clock (parley serve --sim-time-scale), so a 3-minute
// call takes 18 ms at scale 10,000; reported durations are simulated seconds.
//
// The simulator's state lives in the process that placed the call: a call whose process stops
// before its end is ended by the calls capability's stale-call sweep, as a real call whose
// provider went silent would be.
package sim

import (
	"context"
	"crypto/hmac"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"html"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/parleyhq/parley/internal/platform/id"
	"github.com/parleyhq/parley/internal/telephony"
)

// SignatureHeader carries the simulator's signature of a request: base64 HMAC-SHA256, keyed by
// the engine's secret, of the URL, a dot and the body.
const SignatureHeader = "X-Parley-Sim-Signature"

// Durations of the simulated call, in simulated time.
const (
	RingBusy        = 4 * time.Second
	RingAnswer      = 5 * time.Second
	DefaultRingTime = 30 * time.Second
	VoicemailLength = 20 * time.Second
	BaseTalk        = 30 * time.Second
)

// Deliver sends a simulated provider request into the platform (the calls capability's
// provider-request handler). It returns the response the platform answered.
type Deliver func(ctx context.Context, req telephony.Request) (telephony.Response, error)

// Engine runs the simulated calls of a process.
type Engine struct {
	scale   float64
	secret  []byte
	mu      sync.Mutex
	deliver Deliver
	calls   map[string]*call
	closed  bool
}

type call struct {
	stop       chan struct{} // closed to stop the call's remaining steps
	answeredAt time.Time
	seq        int
	ended      bool
	req        telephony.PlaceRequest
}

// step is one event of a simulated call, at a simulated offset from its start.
type step struct {
	at time.Duration
	fn func()
}

// run plays a call's steps in order, on one goroutine, so its reports arrive in order (as a
// provider sends them; the platform copes with any order, tests want a known one).
func (e *Engine) run(c *call, steps []step) {
	start := time.Now()
	for _, st := range steps {
		wait := time.Until(start.Add(e.wall(st.at)))
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-c.stop:
				t.Stop()
				return
			}
		}
		select {
		case <-c.stop:
			return
		default:
		}
		st.fn()
	}
}

// NewEngine returns an engine whose time runs scale times faster than the wall clock (scale ≤ 0
// means 1).
func NewEngine(scale float64) *Engine {
	if scale <= 0 {
		scale = 1
	}
	s := make([]byte, 32)
	_, _ = crand.Read(s)
	return &Engine{scale: scale, secret: s, calls: map[string]*call{}}
}

// SetDeliver names where simulated provider requests go; requests made before it is set fail.
func (e *Engine) SetDeliver(d Deliver) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.deliver = d
}

// Close stops every pending simulated event.
func (e *Engine) Close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed = true
	for _, c := range e.calls {
		close(c.stop)
	}
	e.calls = map[string]*call{}
}

// Active returns how many simulated calls have not ended.
func (e *Engine) Active() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.calls)
}

// wall converts simulated time to wall-clock time.
func (e *Engine) wall(d time.Duration) time.Duration { return time.Duration(float64(d) / e.scale) }

// Constructor builds the sim adapter of a credential.
func (e *Engine) Constructor() telephony.Constructor {
	return func(cfg telephony.Config) (telephony.Provider, error) {
		w, err := parseWeights(cfg.Fields["outcomes"])
		if err != nil {
			return nil, err
		}
		return &provider{e: e, weights: w}, nil
	}
}

// Outcome is a simulated call's end.
type Outcome = telephony.CallStatus

var outcomes = []Outcome{telephony.StatusCompleted, telephony.StatusBusy, telephony.StatusNoAnswer, telephony.StatusVoicemail, telephony.StatusFailed}

type weight struct {
	o Outcome
	w int
}

func parseWeights(s string) ([]weight, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []weight
	total := 0
	for part := range strings.SplitSeq(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		n, err := strconv.Atoi(strings.TrimSpace(v))
		known := false
		for _, o := range outcomes {
			known = known || string(o) == strings.TrimSpace(k)
		}
		if !ok || err != nil || n < 0 || !known {
			return nil, fmt.Errorf("sim: outcomes must be outcome=weight pairs separated by commas (outcomes: completed, busy, no_answer, voicemail, failed), got %q", part)
		}
		out = append(out, weight{Outcome(strings.TrimSpace(k)), n})
		total += n
	}
	if total == 0 {
		return nil, fmt.Errorf("sim: the outcome weights sum to zero")
	}
	return out, nil
}

// OutcomeFor is the deterministic outcome of a call to number (by its last four digits) and how
// long it talks when answered.
func OutcomeFor(number string) (Outcome, time.Duration) {
	digits := strings.TrimLeft(number, "+")
	last4 := ""
	if len(digits) >= 4 {
		last4 = digits[len(digits)-4:]
	}
	switch last4 {
	case "0002":
		return telephony.StatusBusy, 0
	case "0003":
		return telephony.StatusNoAnswer, 0
	case "0004":
		return telephony.StatusVoicemail, VoicemailLength
	case "0005":
		return telephony.StatusFailed, 0
	}
	extra := 0
	if len(digits) >= 2 {
		extra, _ = strconv.Atoi(digits[len(digits)-2:])
	}
	return telephony.StatusCompleted, BaseTalk + time.Duration(extra)*time.Second
}

type provider struct {
	e       *Engine
	weights []weight
}

func (p *provider) Name() string                     { return telephony.Sim }
func (p *provider) Verify(ctx context.Context) error { return nil }

func (p *provider) pick(to string) (Outcome, time.Duration) {
	o, talk := OutcomeFor(to)
	if p.weights == nil {
		return o, talk
	}
	total := 0
	for _, w := range p.weights {
		total += w.w
	}
	n := rand.IntN(total)
	for _, w := range p.weights {
		if n < w.w {
			o = w.o
			break
		}
		n -= w.w
	}
	switch o {
	case telephony.StatusCompleted:
		if talk == 0 {
			talk = BaseTalk
		}
	case telephony.StatusVoicemail:
		talk = VoicemailLength
	}
	return o, talk
}

// Place schedules the call's progress; its provider call ID is a fresh "simcall_…".
func (p *provider) Place(ctx context.Context, req telephony.PlaceRequest) (telephony.PlaceResult, error) {
	e := p.e
	sid := id.New("simcall")
	o, talk := p.pick(req.To)
	if req.TimeLimit > 0 && talk > req.TimeLimit {
		talk = req.TimeLimit
	}
	ring := req.RingTimeout
	if ring <= 0 {
		ring = DefaultRingTime
	}
	c := &call{req: req, stop: make(chan struct{})}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return telephony.PlaceResult{}, &telephony.ProviderError{Provider: telephony.Sim, Message: "simulator stopped", Retryable: true}
	}
	e.calls[sid] = c
	status := func(at time.Duration, st string, dur int, end bool) step {
		return step{at, func() { e.report(sid, st, dur, end) }}
	}
	var steps []step
	switch o {
	case telephony.StatusFailed:
		steps = []step{status(time.Second, "failed", 0, true)}
	case telephony.StatusBusy:
		steps = []step{status(time.Second, "ringing", 0, false), status(RingBusy, "busy", 0, true)}
	case telephony.StatusNoAnswer:
		steps = []step{status(time.Second, "ringing", 0, false), status(ring, "no-answer", 0, true)}
	case telephony.StatusVoicemail:
		steps = []step{status(time.Second, "ringing", 0, false), {RingAnswer, func() { e.answer(sid) }},
			status(RingAnswer+talk, "voicemail", int(talk/time.Second), true)}
	default:
		steps = []step{status(time.Second, "ringing", 0, false), {RingAnswer, func() { e.answer(sid) }},
			status(RingAnswer+talk, "completed", int(talk/time.Second), true)}
	}
	go e.run(c, steps)
	return telephony.PlaceResult{ProviderCallID: sid}, nil
}

// answer marks the call answered, reports in-progress and fetches its answer markup.
func (e *Engine) answer(sid string) {
	e.mu.Lock()
	c, ok := e.calls[sid]
	if ok {
		c.answeredAt = time.Now()
	}
	e.mu.Unlock()
	if !ok {
		return
	}
	e.report(sid, "in-progress", 0, false)
	e.send(c.req.AnswerURL, e.form(sid, c, "in-progress", 0))
}

func (e *Engine) form(sid string, c *call, st string, dur int) url.Values {
	v := url.Values{"CallSid": {sid}, "CallStatus": {st}, "From": {c.req.From}, "To": {c.req.To},
		"SequenceNumber": {strconv.Itoa(c.seq)}, "Timestamp": {time.Now().UTC().Format(time.RFC3339Nano)}}
	c.seq++
	if dur > 0 || st == "completed" || st == "voicemail" {
		v.Set("CallDuration", strconv.Itoa(dur))
	}
	return v
}

// report sends a status callback; an end forgets the call.
func (e *Engine) report(sid, st string, dur int, end bool) {
	e.mu.Lock()
	c, ok := e.calls[sid]
	if !ok || c.ended {
		e.mu.Unlock()
		return
	}
	if end {
		c.ended = true
		delete(e.calls, sid)
	}
	form := e.form(sid, c, st, dur)
	e.mu.Unlock()
	e.send(c.req.StatusURL, form)
}

// send signs and delivers one request.
func (e *Engine) send(target string, form url.Values) {
	e.mu.Lock()
	d := e.deliver
	e.mu.Unlock()
	if d == nil || target == "" {
		return
	}
	body := []byte(form.Encode())
	h := http.Header{}
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	h.Set(SignatureHeader, e.sign(target, body))
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	_, _ = d(ctx, telephony.Request{URL: target, Method: http.MethodPost, Header: h, Body: body})
}

func (e *Engine) sign(target string, body []byte) string {
	m := hmac.New(sha256.New, e.secret)
	m.Write([]byte(target))
	m.Write([]byte("."))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Hangup ends a simulated call: canceled when it had not been answered, completed with the
// simulated seconds talked when it had.
func (p *provider) Hangup(ctx context.Context, providerCallID string) error {
	e := p.e
	e.mu.Lock()
	c, ok := e.calls[providerCallID]
	if !ok || c.ended {
		e.mu.Unlock()
		return nil
	}
	close(c.stop)
	c.ended = true
	delete(e.calls, providerCallID)
	st, dur := "canceled", 0
	if !c.answeredAt.IsZero() {
		st, dur = "completed", int(float64(time.Since(c.answeredAt))*e.scale/float64(time.Second))
	}
	form := e.form(providerCallID, c, st, dur)
	e.mu.Unlock()
	e.send(c.req.StatusURL, form)
	return nil
}

// Ring simulates an inbound call from from to the workspace's number to: the simulator asks the
// voice URL what to do, as a provider does when a call arrives, and — when the platform answers
// with markup that does not reject it — reports the call completed after talk (simulated).
// It returns the platform's response to the voice request.
func (e *Engine) Ring(ctx context.Context, voiceURL, statusURL, from, to string, talk time.Duration) (telephony.Response, error) {
	sid := id.New("simcall")
	c := &call{req: telephony.PlaceRequest{From: from, To: to, StatusURL: statusURL}, answeredAt: time.Now(), stop: make(chan struct{})}
	e.mu.Lock()
	d := e.deliver
	e.mu.Unlock()
	if d == nil {
		return telephony.Response{}, fmt.Errorf("sim: no delivery")
	}
	form := e.form(sid, c, "ringing", 0)
	body := []byte(form.Encode())
	h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, SignatureHeader: {e.sign(voiceURL, body)}}
	resp, err := d(ctx, telephony.Request{URL: voiceURL, Method: http.MethodPost, Header: h, Body: body})
	if err != nil || strings.Contains(string(resp.Body), "<Reject") {
		return resp, err
	}
	e.mu.Lock()
	e.calls[sid] = c
	e.mu.Unlock()
	go e.run(c, []step{{talk, func() { e.report(sid, "completed", int(talk/time.Second), true) }}})
	return resp, nil
}

// Parse verifies the simulator's signature and maps its form onto an event.
func (p *provider) Parse(r telephony.Request) (telephony.Event, error) {
	want := p.e.sign(r.URL, r.Body)
	if !hmac.Equal([]byte(want), []byte(r.Header.Get(SignatureHeader))) {
		return telephony.Event{}, fmt.Errorf("sim: %w", telephony.ErrBadSignature)
	}
	u, err := url.Parse(r.URL)
	if err != nil {
		return telephony.Event{}, fmt.Errorf("sim: %w: url", telephony.ErrMalformed)
	}
	form, err := url.ParseQuery(string(r.Body))
	if err != nil || form.Get("CallSid") == "" {
		return telephony.Event{}, fmt.Errorf("sim: %w: no CallSid", telephony.ErrMalformed)
	}
	ev := telephony.Event{CallID: u.Query().Get("callId"), ProviderCallID: form.Get("CallSid"), From: form.Get("From"), To: form.Get("To"), Sequence: -1}
	if n, err := strconv.Atoi(form.Get("SequenceNumber")); err == nil {
		ev.Sequence = n
	}
	ev.DurationSeconds, _ = strconv.Atoi(form.Get("CallDuration"))
	if t, err := time.Parse(time.RFC3339Nano, form.Get("Timestamp")); err == nil {
		ev.OccurredAt = t
	}
	switch {
	case strings.HasSuffix(u.Path, "/voice") && ev.CallID == "":
		ev.Kind = telephony.Inbound
	case strings.HasSuffix(u.Path, "/voice"):
		ev.Kind = telephony.Answered
	default:
		ev.Kind = telephony.Status
	}
	switch form.Get("CallStatus") {
	case "ringing":
		ev.Status = telephony.StatusRinging
	case "in-progress":
		ev.Status = telephony.StatusInProgress
	case "completed":
		ev.Status = telephony.StatusCompleted
	case "busy":
		ev.Status, ev.Reason = telephony.StatusBusy, "busy"
	case "no-answer":
		ev.Status, ev.Reason = telephony.StatusNoAnswer, "no answer"
	case "voicemail":
		ev.Status, ev.Reason = telephony.StatusVoicemail, "answering machine"
	case "failed":
		ev.Status, ev.Reason = telephony.StatusFailed, "carrier refused the call (simulated)"
	case "canceled":
		ev.Status = telephony.StatusCanceled
	}
	return ev, nil
}

// Answer renders TwiML-like markup: the greeting, then the media stream or a hang-up.
func (p *provider) Answer(ctx context.Context, ev telephony.Event, a telephony.Answer) (telephony.Response, error) {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><Response>`)
	if a.Greeting != "" {
		fmt.Fprintf(&b, `<Say language="%s">%s</Say>`, html.EscapeString(a.Language), html.EscapeString(a.Greeting))
	}
	if a.MediaURL != "" {
		fmt.Fprintf(&b, `<Connect><Stream url="%s"/></Connect>`, html.EscapeString(a.MediaURL))
	} else {
		b.WriteString(`<Hangup/>`)
	}
	b.WriteString(`</Response>`)
	return telephony.Response{ContentType: "application/xml", Body: []byte(b.String())}, nil
}

// Reject renders a polite refusal.
func (p *provider) Reject(ctx context.Context, ev telephony.Event, reason string) (telephony.Response, error) {
	body := fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?><Response><Say>%s</Say><Reject reason="rejected"/></Response>`, html.EscapeString(reason))
	return telephony.Response{ContentType: "application/xml", Body: []byte(body)}, nil
}

// Request builds a request of the simulator to target, signed as the simulator signs: for tests
// and demos that play a provider's callbacks by hand (late, duplicated, out of order).
func (e *Engine) Request(target string, form url.Values) telephony.Request {
	body := []byte(form.Encode())
	h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	h.Set(SignatureHeader, e.sign(target, body))
	return telephony.Request{URL: target, Method: http.MethodPost, Header: h, Body: body}
}
