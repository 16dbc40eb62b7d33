package call

import (
	"context"
	"database/sql"
	"time"

	"github.com/parleyhq/parley/internal/telephony"
)

// Call states. A call moves forward only: queued → initiating → ringing → in_progress, then
// exactly one end (completed, busy, no_answer, voicemail, failed, canceled). A state may be
// skipped (a call can go from initiating straight to failed) but never revisited.
const (
	Queued     = "queued"
	Initiating = "initiating"
	Ringing    = "ringing"
	InProgress = "in_progress"
	Completed  = "completed"
	Busy       = "busy"
	NoAnswer   = "no_answer"
	Voicemail  = "voicemail"
	Failed     = "failed"
	Canceled   = "canceled"
)

// Directions.
const (
	Outbound = "outbound"
	Inbound  = "inbound"
)

// rank orders the live states; every end ranks above them all.
var rank = map[string]int{Queued: 0, Initiating: 1, Ringing: 2, InProgress: 3,
	Completed: 4, Busy: 4, NoAnswer: 4, Voicemail: 4, Failed: 4, Canceled: 4}

// Final reports whether status is an end.
func Final(status string) bool { return rank[status] == 4 }

// Active lists the live states (a live call holds a concurrency slot and a credit hold).
var Active = []string{Queued, Initiating, Ringing, InProgress}

// advances reports whether a call in state from may move to state to: forward only, and an
// ended call never moves.
func advances(from, to string) bool {
	rf, okf := rank[from]
	rt, okt := rank[to]
	return okf && okt && !Final(from) && rt > rf
}

// answered reports whether an end means the call was answered (and so is billed by duration).
func answered(status string) bool { return status == Completed || status == Voicemail }

// Call is a call as the API shows it.
type Call struct {
	ID              string         `json:"id" doc:"The call's ID (call_…)."`
	WorkspaceID     string         `json:"workspaceId"`
	Direction       string         `json:"direction" enum:"outbound,inbound"`
	Status          string         `json:"status" enum:"queued,initiating,ringing,in_progress,completed,busy,no_answer,voicemail,failed,canceled"`
	AgentID         string         `json:"agentId"`
	ContactID       string         `json:"contactId,omitempty"`
	CampaignID      string         `json:"campaignId,omitempty"`
	CredentialID    string         `json:"credentialId,omitempty" doc:"The telephony credential; absent for the built-in simulator."`
	Provider        string         `json:"provider" example:"sim"`
	ProviderCallID  string         `json:"providerCallId,omitempty"`
	From            string         `json:"from" example:"+14155550100"`
	To              string         `json:"to" example:"+14155550142"`
	Variables       map[string]any `json:"variables"`
	Metadata        map[string]any `json:"metadata"`
	Overrides       map[string]any `json:"overrides,omitempty" doc:"Agent settings changed for this call only."`
	EndReason       string         `json:"endReason,omitempty" doc:"Why the call ended, in Parley's words."`
	ProviderReason  string         `json:"providerReason,omitempty" doc:"The provider's own reason (hangup cause, SIP code)."`
	Note            string         `json:"note,omitempty"`
	DurationSeconds int            `json:"durationSeconds" doc:"Billed seconds (answered time)."`
	Cost            string         `json:"cost" doc:"Credits debited for the call minutes, a decimal string." example:"0.0312"`
	CostMicros      int64          `json:"costMicros"`
	Test            bool           `json:"test" doc:"Placed with a test API key: always on the simulator."`
	QueuedAt        time.Time      `json:"queuedAt"`
	InitiatingAt    *time.Time     `json:"initiatingAt,omitempty"`
	RingingAt       *time.Time     `json:"ringingAt,omitempty"`
	InProgressAt    *time.Time     `json:"inProgressAt,omitempty"`
	EndedAt         *time.Time     `json:"endedAt,omitempty"`
	UpdatedAt       time.Time      `json:"updatedAt"`

	holdMicros int64
}

// TimelineEntry is one line of a call's timeline: a state change, or a provider report that
// changed nothing (late, duplicate or out of order).
type TimelineEntry struct {
	ID        string    `json:"id"`
	Status    string    `json:"status"`
	Source    string    `json:"source" doc:"api, dialer, provider, hangup, sweep." example:"provider"`
	Applied   bool      `json:"applied" doc:"false when the report changed nothing (the call had moved past it)."`
	Detail    string    `json:"detail,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
}

// PlaceInput is POST /v1/workspaces/{workspaceId}/calls.
type PlaceInput struct {
	AgentID      string         `json:"agentId" minLength:"1" maxLength:"64"`
	To           string         `json:"to,omitempty" maxLength:"40" example:"+14155550142" doc:"E.164 or national in the workspace's defaultRegion. Optional when contactId is given (the contact's number)."`
	From         string         `json:"from,omitempty" maxLength:"40" example:"+14155550100" doc:"Caller ID; default: the workspace's telephony.defaultFromNumber."`
	CredentialID string         `json:"credentialId,omitempty" maxLength:"64" doc:"Telephony credential, or sim for the built-in simulator; default: the workspace's telephony.defaultCredentialId, else the simulator."`
	ContactID    string         `json:"contactId,omitempty" maxLength:"64"`
	Variables    map[string]any `json:"variables,omitempty" doc:"Values of the agent's declared variables, over the contact's attributes and the agents' defaults."`
	Metadata     map[string]any `json:"metadata,omitempty" doc:"Your own data, echoed on the call and its events (at most 16 KiB)."`
	Overrides    map[string]any `json:"overrides,omitempty" doc:"Agent settings for this call only (same fields as an agent: greetingMessage, language, llm, tts…)."`
	// CampaignID is set by the dialer, never by the API.
	CampaignID string `json:"-"`
	// InTx, when set (by the dialer, never by the API), runs inside the transaction that creates
	// the call, after the call row is written: the caller's own record of the dial commits with
	// the call or not at all. Like every transaction function it may run more than once.
	InTx func(ctx context.Context, tx *sql.Tx, c Call) error `json:"-"`
}

// EndHook runs inside the transaction that ends a call (its hold settled, its slot freed), for
// capabilities that follow calls they placed (campaigns). It may run more than once if the
// transaction is retried; it must not fail for reasons the call cannot change.
type EndHook func(ctx context.Context, tx *sql.Tx, c Call) error

// statusOf maps a provider's status onto a call state.
func statusOf(s telephony.CallStatus) string {
	switch s {
	case telephony.StatusInitiating:
		return Initiating
	case telephony.StatusRinging:
		return Ringing
	case telephony.StatusInProgress:
		return InProgress
	case telephony.StatusCompleted:
		return Completed
	case telephony.StatusBusy:
		return Busy
	case telephony.StatusNoAnswer:
		return NoAnswer
	case telephony.StatusVoicemail:
		return Voicemail
	case telephony.StatusFailed:
		return Failed
	case telephony.StatusCanceled:
		return Canceled
	}
	return ""
}

// eventType is the webhook event a state change publishes ("" for none).
func eventType(status string) string {
	switch {
	case status == Ringing:
		return "call.ringing"
	case status == InProgress:
		return "call.started"
	case answered(status):
		return "call.completed"
	case Final(status):
		return "call.failed"
	}
	return ""
}
