package campaign

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/platform/apierr"
)

// IDPrefix is the prefix of campaign IDs (camp_…).
const IDPrefix = "camp"

// Campaign states. draft → scheduled → running ⇄ paused → completed; canceled from any state
// that is not final.
const (
	Draft     = "draft"
	Scheduled = "scheduled"
	Running   = "running"
	Paused    = "paused"
	Completed = "completed"
	Canceled  = "canceled"
)

// Final reports whether a campaign state is an end.
func Final(status string) bool { return status == Completed || status == Canceled }

// Sub-statuses of a running campaign.
const (
	SubDialing          = "dialing"
	SubWaitingForWindow = "waiting_for_window"
	SubWaitingForRetry  = "waiting_for_retries"
	SubFinishing        = "finishing"
)

// Pause reasons.
const (
	ReasonUser                = "user"
	ReasonInsufficientCredits = "insufficient_credits"
	ReasonCarrierFailures     = "carrier_failures"
	ReasonAgentNotActive      = "agent_not_active"
)

// Outcomes of an attempt (the call's end, or why no call was placed).
const (
	OutcomeCompleted = "completed"
	OutcomeBusy      = "busy"
	OutcomeNoAnswer  = "no_answer"
	OutcomeVoicemail = "voicemail"
	OutcomeFailed    = "failed"
	OutcomeCanceled  = "canceled"
	// OutcomeDoNotCall: the number was on the do-not-call list at dial time; never retried.
	OutcomeDoNotCall = "do_not_call"
	// OutcomeInvalid: the contact could not be called at all (deleted, its number refused).
	OutcomeInvalid = "invalid"
)

// Retryable lists the outcomes a retry policy may name.
var Retryable = []string{OutcomeNoAnswer, OutcomeBusy, OutcomeVoicemail, OutcomeFailed}

// Days of the week as a calling window names them.
var dayNames = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// Limits and defaults.
const (
	MaxNameLen            = 200
	MaxFromNumbers        = 50
	MaxVariables          = 50
	DefaultMaxConcurrent  = 5
	MaxMaxConcurrent      = 1000
	DefaultCallsPerMinute = 60
	MaxCallsPerMinute     = 60000
	DefaultMaxAttempts    = 3
	MaxMaxAttempts        = 10
	MaxDelayMinutes       = 7 * 24 * 60
)

// CampaignAudience is who a campaign calls.
type CampaignAudience struct {
	ListID string `json:"listId" minLength:"1" maxLength:"64" doc:"A contact list of the workspace: its members when the campaign starts are the campaign's contacts."`
}

// CallingWindow is when calls may be placed, in each contact's own time zone (the workspace's when the
// contact has none).
type CallingWindow struct {
	Days  []string `json:"days" doc:"Days of the week: sun, mon, tue, wed, thu, fri, sat." example:"[\"mon\",\"tue\",\"wed\",\"thu\",\"fri\"]"`
	Start string   `json:"start" doc:"Local start time, HH:MM (inclusive)." example:"09:00"`
	End   string   `json:"end" doc:"Local end time, HH:MM (exclusive; 24:00 is midnight), after start." example:"20:00"`
}

// RetryPolicy is a campaign's retry policy.
type RetryPolicy struct {
	On            []string  `json:"on" doc:"Outcomes that are retried: no_answer, busy, voicemail, failed."`
	MaxAttempts   int       `json:"maxAttempts" doc:"Attempts per contact in all, the first one included (1 = no retry)."`
	DelaysMinutes []float64 `json:"delaysMinutes" doc:"Wait before the 1st, 2nd, … retry; the last delay repeats."`
}

// Campaign is a campaign as the API shows it.
type Campaign struct {
	ID                 string            `json:"id" example:"camp_01jdq6c2v1f6m8t7x0k9w3e4r9"`
	WorkspaceID        string            `json:"workspaceId"`
	Name               string            `json:"name"`
	AgentID            string            `json:"agentId"`
	Audience           CampaignAudience  `json:"audience"`
	FromNumbers        []string          `json:"fromNumbers" doc:"Caller IDs, rotated; empty: the workspace's default (the simulator's number on the simulator)."`
	CredentialID       string            `json:"credentialId,omitempty"`
	CallingWindow      CallingWindow     `json:"callingWindow"`
	MaxConcurrentCalls int               `json:"maxConcurrentCalls"`
	CallsPerMinute     int               `json:"callsPerMinute"`
	Retry              RetryPolicy       `json:"retry"`
	Variables          map[string]string `json:"variables" doc:"Agent variable → constant, or {{contact.<attribute>}}."`
	Status             string            `json:"status" enum:"draft,scheduled,running,paused,completed,canceled"`
	SubStatus          string            `json:"subStatus,omitempty" doc:"While running: dialing, waiting_for_window, waiting_for_retries, finishing."`
	PauseReason        string            `json:"pauseReason,omitempty" doc:"user, insufficient_credits, carrier_failures, agent_not_active."`
	StartAt            *time.Time        `json:"startAt,omitempty"`
	StartedAt          *time.Time        `json:"startedAt,omitempty"`
	EndedAt            *time.Time        `json:"endedAt,omitempty"`
	CreatedAt          time.Time         `json:"createdAt"`
	UpdatedAt          time.Time         `json:"updatedAt"`

	inFlight int
	paceTAT  int64
	dialed   int64
	tickGen  int64
	tickedAt time.Time
}

// CampaignInput is the body of POST (every field but name, agentId and audience optional) and PATCH
// (absent fields stay) of a campaign.
type CampaignInput struct {
	Name               *string           `json:"name,omitempty" maxLength:"200"`
	AgentID            *string           `json:"agentId,omitempty" maxLength:"64"`
	Audience           *CampaignAudience `json:"audience,omitempty"`
	FromNumbers        []string          `json:"fromNumbers,omitempty" maxItems:"50" doc:"Replaces the list."`
	CredentialID       *string           `json:"credentialId,omitempty" maxLength:"64" doc:"Telephony credential, or sim; default: the workspace's default credential, else the simulator."`
	CallingWindow      *CallingWindow    `json:"callingWindow,omitempty" doc:"Default: every day 09:00–20:00."`
	MaxConcurrentCalls *int              `json:"maxConcurrentCalls,omitempty" doc:"Default 5, at most 1000 (and never above the workspace's calls.maxConcurrentCalls, shared with other calls)."`
	CallsPerMinute     *int              `json:"callsPerMinute,omitempty" doc:"Default 60, at most 60000."`
	Retry              *RetryPolicy      `json:"retry,omitempty" doc:"Default: on no_answer and busy, 3 attempts, after 30 then 120 minutes."`
	Variables          map[string]string `json:"variables,omitempty" doc:"Replaces the mapping."`
}

// DefaultWindow is the calling window of a campaign that names none.
func DefaultWindow() CallingWindow {
	return CallingWindow{Days: slices.Clone(dayNames), Start: "09:00", End: "20:00"}
}

// DefaultRetry is the retry policy of a campaign that names none.
func DefaultRetry() RetryPolicy {
	return RetryPolicy{On: []string{OutcomeNoAnswer, OutcomeBusy}, MaxAttempts: DefaultMaxAttempts, DelaysMinutes: []float64{30, 120, 240}}
}

var clockPattern = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$`)

// minuteOf is "HH:MM" in minutes since midnight.
func minuteOf(hhmm string) int {
	var h, m int
	_, _ = fmt.Sscanf(hhmm, "%d:%d", &h, &m)
	return h*60 + m
}

var varRef = regexp.MustCompile(`^\{\{\s*contact\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$`)

// attributeOf returns the contact attribute a variable's value refers to ({{contact.x}}).
func attributeOf(v string) (string, bool) {
	m := varRef.FindStringSubmatch(v)
	if m == nil {
		return "", false
	}
	return m[1], true
}

type checker struct{ errs []apierr.FieldError }

func (c *checker) add(loc, msg string, v any) {
	c.errs = append(c.errs, apierr.FieldError{Location: "body." + loc, Message: msg, Value: v})
}

func (c *checker) err() error {
	if len(c.errs) == 0 {
		return nil
	}
	return apierr.Validation(c.errs...)
}

// apply validates in and writes it over c (create: c holds the defaults). It checks shapes
// only; the service checks that the agent, list and credential exist.
func apply(c *Campaign, in CampaignInput, creating bool) error {
	var ck checker
	if in.Name != nil {
		n := strings.TrimSpace(*in.Name)
		if n == "" || len([]rune(n)) > MaxNameLen {
			ck.add("name", fmt.Sprintf("a name is 1 to %d characters", MaxNameLen), *in.Name)
		}
		c.Name = n
	} else if creating {
		ck.add("name", "name is required", nil)
	}
	if in.AgentID != nil {
		if *in.AgentID == "" {
			ck.add("agentId", "agentId is required", nil)
		}
		c.AgentID = *in.AgentID
	} else if creating {
		ck.add("agentId", "agentId is required", nil)
	}
	if in.Audience != nil {
		if in.Audience.ListID == "" {
			ck.add("audience.listId", "audience.listId is required", nil)
		}
		c.Audience = *in.Audience
	} else if creating {
		ck.add("audience", "audience is required: {\"listId\": \"list_…\"}", nil)
	}
	if in.FromNumbers != nil {
		c.FromNumbers = in.FromNumbers
	}
	if in.CredentialID != nil {
		c.CredentialID = *in.CredentialID
	}
	if in.CallingWindow != nil {
		w := *in.CallingWindow
		seen := map[string]bool{}
		for i, d := range w.Days {
			d = strings.ToLower(d)
			w.Days[i] = d
			if !slices.Contains(dayNames, d) {
				ck.add(fmt.Sprintf("callingWindow.days[%d]", i), "a day is one of sun, mon, tue, wed, thu, fri, sat", d)
			} else if seen[d] {
				ck.add(fmt.Sprintf("callingWindow.days[%d]", i), "a day is listed once", d)
			}
			seen[d] = true
		}
		if len(w.Days) == 0 {
			ck.add("callingWindow.days", "at least one day", nil)
		}
		okStart, okEnd := clockPattern.MatchString(w.Start) && w.Start != "24:00", clockPattern.MatchString(w.End)
		if !okStart {
			ck.add("callingWindow.start", "a local time HH:MM (00:00–23:59)", w.Start)
		}
		if !okEnd {
			ck.add("callingWindow.end", "a local time HH:MM (00:01–24:00)", w.End)
		}
		if okStart && okEnd && minuteOf(w.End) <= minuteOf(w.Start) {
			ck.add("callingWindow.end", "end must be after start (a window does not span midnight)", w.End)
		}
		c.CallingWindow = w
	}
	if in.MaxConcurrentCalls != nil {
		if n := *in.MaxConcurrentCalls; n < 1 || n > MaxMaxConcurrent {
			ck.add("maxConcurrentCalls", fmt.Sprintf("between 1 and %d", MaxMaxConcurrent), n)
		}
		c.MaxConcurrentCalls = *in.MaxConcurrentCalls
	}
	if in.CallsPerMinute != nil {
		if n := *in.CallsPerMinute; n < 1 || n > MaxCallsPerMinute {
			ck.add("callsPerMinute", fmt.Sprintf("between 1 and %d", MaxCallsPerMinute), n)
		}
		c.CallsPerMinute = *in.CallsPerMinute
	}
	if in.Retry != nil {
		r := *in.Retry
		if r.On == nil {
			r.On = []string{}
		}
		for i, o := range r.On {
			if !slices.Contains(Retryable, o) {
				ck.add(fmt.Sprintf("retry.on[%d]", i), "one of no_answer, busy, voicemail, failed", o)
			}
		}
		if r.MaxAttempts == 0 {
			r.MaxAttempts = DefaultMaxAttempts
		}
		if r.MaxAttempts < 1 || r.MaxAttempts > MaxMaxAttempts {
			ck.add("retry.maxAttempts", fmt.Sprintf("between 1 and %d", MaxMaxAttempts), r.MaxAttempts)
		}
		if r.DelaysMinutes == nil {
			r.DelaysMinutes = DefaultRetry().DelaysMinutes
		}
		if len(r.DelaysMinutes) == 0 && r.MaxAttempts > 1 {
			ck.add("retry.delaysMinutes", "at least one delay when maxAttempts is above 1", nil)
		}
		for i, d := range r.DelaysMinutes {
			if math.IsNaN(d) || d < 0 || d > MaxDelayMinutes {
				ck.add(fmt.Sprintf("retry.delaysMinutes[%d]", i), fmt.Sprintf("between 0 and %d minutes", MaxDelayMinutes), d)
			}
		}
		c.Retry = r
	}
	if in.Variables != nil {
		if len(in.Variables) > MaxVariables {
			ck.add("variables", fmt.Sprintf("at most %d variables", MaxVariables), nil)
		}
		for k, v := range in.Variables {
			if len(v) > 1000 {
				ck.add("variables."+k, "a value is at most 1000 characters", nil)
			}
			if strings.Contains(v, "{{") {
				if _, ok := attributeOf(v); !ok {
					ck.add("variables."+k, "a reference is {{contact.<attribute>}}", v)
				}
			}
		}
		c.Variables = in.Variables
	}
	return ck.err()
}

// InWindow reports whether t falls in w in the time zone loc: its local day is one of w.Days and
// its local time of day is in [Start, End). The local day and time come from the zone's rules
// at t, so a daylight-saving change moves the window in UTC with the clocks.
func InWindow(w CallingWindow, loc *time.Location, t time.Time) bool {
	lt := t.In(loc)
	if !slices.Contains(w.Days, dayNames[lt.Weekday()]) {
		return false
	}
	m := lt.Hour()*60 + lt.Minute()
	return m >= minuteOf(w.Start) && m < minuteOf(w.End)
}

// retryDelay is the wait after the attempt-th attempt (1-based) before the next one.
func (r RetryPolicy) retryDelay(attempt int) time.Duration {
	if len(r.DelaysMinutes) == 0 {
		return 0
	}
	i := min(attempt-1, len(r.DelaysMinutes)-1)
	return time.Duration(r.DelaysMinutes[max(i, 0)] * float64(time.Minute))
}

// retries reports whether an outcome of the attempt-th attempt is tried again.
func (r RetryPolicy) retries(outcome string, attempt int) bool {
	return attempt < r.MaxAttempts && slices.Contains(r.On, outcome)
}
