package campaign

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/platform/db"
)

// store is the SQL of campaigns. Every method takes the workspace ID and filters on it, except
// the watchdog's operator-wide read of stalled campaigns (which then acts through each one's
// workspace).
type store struct{}

const campaignCols = `id, workspace_id, name, agent_id, list_id, from_numbers, credential_id, calling_window, max_concurrent_calls,
calls_per_minute, retry, variables, status, sub_status, pause_reason, in_flight, pace_tat, dialed, tick_gen, ticked_at, start_at,
started_at, ended_at, created_at, updated_at`

func scanCampaign(sc interface{ Scan(...any) error }) (Campaign, error) {
	var c Campaign
	var from, window, retry, vars string
	var ticked, startAt, started, ended db.Time
	if err := sc.Scan(&c.ID, &c.WorkspaceID, &c.Name, &c.AgentID, &c.Audience.ListID, &from, &c.CredentialID, &window, &c.MaxConcurrentCalls,
		&c.CallsPerMinute, &retry, &vars, &c.Status, &c.SubStatus, &c.PauseReason, &c.inFlight, &c.paceTAT, &c.dialed, &c.tickGen, &ticked, &startAt,
		&started, &ended, (*db.Time)(&c.CreatedAt), (*db.Time)(&c.UpdatedAt)); err != nil {
		return Campaign{}, err
	}
	for _, p := range []struct {
		s   string
		dst any
	}{{from, &c.FromNumbers}, {window, &c.CallingWindow}, {retry, &c.Retry}, {vars, &c.Variables}} {
		if err := json.Unmarshal([]byte(p.s), p.dst); err != nil {
			return Campaign{}, fmt.Errorf("campaign %s: %w", c.ID, err)
		}
	}
	c.tickedAt = time.Time(ticked)
	c.StartAt, c.StartedAt, c.EndedAt = startAt.Ptr(), started.Ptr(), ended.Ptr()
	return c, nil
}

func js(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func (store) insert(ctx context.Context, q db.Querier, c Campaign) error {
	_, err := q.ExecContext(ctx, `INSERT INTO campaigns (`+campaignCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,$24,$25)`,
		c.ID, c.WorkspaceID, c.Name, c.AgentID, c.Audience.ListID, js(c.FromNumbers), c.CredentialID, js(c.CallingWindow), c.MaxConcurrentCalls,
		c.CallsPerMinute, js(c.Retry), js(c.Variables), c.Status, c.SubStatus, c.PauseReason, 0, int64(0), int64(0), int64(0), nil, db.OptTime(c.StartAt),
		db.OptTime(c.StartedAt), db.OptTime(c.EndedAt), db.Time(c.CreatedAt), db.Time(c.UpdatedAt))
	return err
}

// saveSettings writes a campaign's settings if it is still in state status.
func (store) saveSettings(ctx context.Context, q db.Querier, c Campaign, status string) (bool, error) {
	res, err := q.ExecContext(ctx, `UPDATE campaigns SET name = $3, agent_id = $4, list_id = $5, from_numbers = $6, credential_id = $7,
calling_window = $8, max_concurrent_calls = $9, calls_per_minute = $10, retry = $11, variables = $12, updated_at = $13
WHERE workspace_id = $1 AND id = $2 AND status = $14`,
		c.WorkspaceID, c.ID, c.Name, c.AgentID, c.Audience.ListID, js(c.FromNumbers), c.CredentialID, js(c.CallingWindow), c.MaxConcurrentCalls,
		c.CallsPerMinute, js(c.Retry), js(c.Variables), db.Time(c.UpdatedAt), status)
	return affected(res, err)
}

func affected(res sql.Result, err error) (bool, error) {
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func (store) get(ctx context.Context, q db.Querier, wsID, campaignID string) (Campaign, error) {
	return scanCampaign(q.QueryRowContext(ctx, `SELECT `+campaignCols+` FROM campaigns WHERE workspace_id = $1 AND id = $2`, wsID, campaignID))
}

func (store) list(ctx context.Context, q db.Querier, wsID, status, beforeID string, limit int) ([]Campaign, error) {
	where, args := "workspace_id = $1", []any{wsID}
	if status != "" {
		args = append(args, status)
		where += fmt.Sprintf(" AND status = $%d", len(args))
	}
	if beforeID != "" {
		args = append(args, beforeID)
		where += fmt.Sprintf(" AND id < $%d", len(args))
	}
	args = append(args, limit)
	rows, err := q.QueryContext(ctx, `SELECT `+campaignCols+` FROM campaigns WHERE `+where+fmt.Sprintf(` ORDER BY id DESC LIMIT $%d`, len(args)), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Campaign
	for rows.Next() {
		c, err := scanCampaign(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

func (store) delete(ctx context.Context, q db.Querier, wsID, campaignID string) (bool, error) {
	res, err := q.ExecContext(ctx, `DELETE FROM campaigns WHERE workspace_id = $1 AND id = $2 AND status IN ('draft', 'completed', 'canceled')`, wsID, campaignID)
	return affected(res, err)
}

// transition is one change of a campaign's state.
type transition struct {
	from      []string
	to        string
	sub       string
	reason    string
	startAt   *time.Time
	started   bool // set started_at
	ended     bool // set ended_at
	bumpTick  bool // start a new dialer chain (tick_gen + 1)
	resetPace bool
}

// setStatus moves a campaign from one of t.from to t.to (compare and set): false when it is in
// none of them.
func (store) setStatus(ctx context.Context, q db.Querier, wsID, campaignID string, t transition, now time.Time) (bool, error) {
	set := []string{"status = $3", "sub_status = $4", "pause_reason = $5", "updated_at = $6"}
	args := []any{wsID, campaignID, t.to, t.sub, t.reason, db.Time(now)}
	if t.startAt != nil {
		args = append(args, db.Time(*t.startAt))
		set = append(set, fmt.Sprintf("start_at = $%d", len(args)))
	}
	if t.started {
		args = append(args, db.Time(now))
		set = append(set, fmt.Sprintf("started_at = $%d", len(args)))
	}
	if t.ended {
		args = append(args, db.Time(now))
		set = append(set, fmt.Sprintf("ended_at = $%d", len(args)))
	}
	if t.bumpTick {
		args = append(args, db.Time(now))
		set = append(set, "tick_gen = tick_gen + 1", fmt.Sprintf("ticked_at = $%d", len(args)))
	}
	if t.resetPace {
		set = append(set, "pace_tat = 0")
	}
	in := make([]string, len(t.from))
	for i, f := range t.from {
		args = append(args, f)
		in[i] = fmt.Sprintf("$%d", len(args))
	}
	res, err := q.ExecContext(ctx, `UPDATE campaigns SET `+strings.Join(set, ", ")+` WHERE workspace_id = $1 AND id = $2 AND status IN (`+strings.Join(in, ",")+`)`, args...)
	return affected(res, err)
}

// setSubStatus records a running campaign's sub-status.
func (store) setSubStatus(ctx context.Context, q db.Querier, wsID, campaignID, sub string) error {
	_, err := q.ExecContext(ctx, `UPDATE campaigns SET sub_status = $3 WHERE workspace_id = $1 AND id = $2 AND status = 'running' AND sub_status <> $3`, wsID, campaignID, sub)
	return err
}

// advanceTick passes the dialer chain from generation gen to gen+1: false when another chain
// replaced it or the campaign stopped.
func (store) advanceTick(ctx context.Context, q db.Querier, wsID, campaignID string, gen int64, now time.Time) (bool, error) {
	res, err := q.ExecContext(ctx, `UPDATE campaigns SET tick_gen = tick_gen + 1, ticked_at = $4 WHERE workspace_id = $1 AND id = $2 AND tick_gen = $3
AND status IN ('running', 'scheduled')`, wsID, campaignID, gen, db.Time(now))
	return affected(res, err)
}

// stalled lists running or scheduled campaigns (of every workspace) whose dialer chain has not
// moved since before: its job was lost with a killed process.
func (store) stalled(ctx context.Context, q db.Querier, before time.Time, limit int) ([]Campaign, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+campaignCols+` FROM campaigns WHERE status IN ('running', 'scheduled') AND ticked_at < $1 ORDER BY ticked_at LIMIT $2`,
		db.Millis(before), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Campaign
	for rows.Next() {
		c, err := scanCampaign(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// restartTick starts a new chain for a stalled campaign whose chain is still generation gen.
func (store) restartTick(ctx context.Context, q db.Querier, wsID, campaignID string, gen int64, now time.Time) (bool, error) {
	res, err := q.ExecContext(ctx, `UPDATE campaigns SET tick_gen = tick_gen + 1, ticked_at = $4 WHERE workspace_id = $1 AND id = $2 AND tick_gen = $3`,
		wsID, campaignID, gen, db.Time(now))
	return affected(res, err)
}

// take counts one more live call against the campaign and paces it, in one conditional
// statement: false when the campaign is not running, already has max_concurrent_calls live
// calls, or its pacer has no room (GCRA: the theoretical arrival time pace_tat moves by
// interval per call and may run at most tolerance ahead of now).
func (store) take(ctx context.Context, q db.Querier, wsID, campaignID string, now, interval, tolerance int64) (bool, error) {
	res, err := q.ExecContext(ctx, `UPDATE campaigns SET in_flight = in_flight + 1, dialed = dialed + 1,
pace_tat = (CASE WHEN pace_tat > $3 THEN pace_tat ELSE $3 END) + $4
WHERE workspace_id = $1 AND id = $2 AND status = 'running' AND in_flight < max_concurrent_calls AND pace_tat <= $5`,
		wsID, campaignID, now, interval, now+tolerance)
	return affected(res, err)
}

// release returns a live call's place (in the transaction of its end, which happens once).
func (store) release(ctx context.Context, q db.Querier, wsID, campaignID string) error {
	_, err := q.ExecContext(ctx, `UPDATE campaigns SET in_flight = in_flight - 1 WHERE workspace_id = $1 AND id = $2 AND in_flight > 0`, wsID, campaignID)
	return err
}

// member is one contact of a campaign.
type member struct {
	ContactID   string
	Timezone    string
	Variables   map[string]any
	Status      string
	Attempts    int
	NextAt      time.Time
	LastOutcome string
	LastCallID  string
}

// Contact states in a campaign.
const (
	contactPending    = "pending"
	contactInProgress = "in_progress"
	contactDone       = "done"
)

func (store) insertMembers(ctx context.Context, q db.Querier, wsID, campaignID string, ms []member, now time.Time) error {
	const width = 10
	for len(ms) > 0 {
		n := min(len(ms), 50)
		var sb strings.Builder
		args := make([]any, 0, n*width)
		for i, m := range ms[:n] {
			if i > 0 {
				sb.WriteString(",")
			}
			b := i * width
			fmt.Fprintf(&sb, "($%d,$%d,$%d,$%d,$%d,$%d,$%d,$%d,$%d,$%d)", b+1, b+2, b+3, b+4, b+5, b+6, b+7, b+8, b+9, b+10)
			args = append(args, wsID, campaignID, m.ContactID, m.Timezone, js(m.Variables), contactPending, 0, db.Millis(now), "", "")
		}
		if _, err := q.ExecContext(ctx, `INSERT INTO campaign_contacts (workspace_id, campaign_id, contact_id, timezone, variables, status, attempts, next_at,
last_outcome, last_call_id) VALUES `+sb.String()+` ON CONFLICT (campaign_id, contact_id) DO NOTHING`, args...); err != nil {
			return err
		}
		ms = ms[n:]
	}
	return nil
}

// dueZones lists the time zones of the campaign's contacts due at now (” = the workspace's).
func (store) dueZones(ctx context.Context, q db.Querier, wsID, campaignID string, now time.Time) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT DISTINCT timezone FROM campaign_contacts WHERE workspace_id = $1 AND campaign_id = $2 AND status = 'pending' AND next_at <= $3`,
		wsID, campaignID, db.Millis(now))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var z string
		if err := rows.Scan(&z); err != nil {
			return nil, err
		}
		out = append(out, z)
	}
	return out, rows.Err()
}

// due lists up to limit contacts due at now in the zones, the longest waiting first.
func (store) due(ctx context.Context, q db.Querier, wsID, campaignID string, zones []string, now time.Time, limit int) ([]member, error) {
	args := []any{wsID, campaignID, db.Millis(now)}
	in := make([]string, len(zones))
	for i, z := range zones {
		args = append(args, z)
		in[i] = fmt.Sprintf("$%d", len(args))
	}
	args = append(args, limit)
	rows, err := q.QueryContext(ctx, `SELECT contact_id, timezone, variables, status, attempts, next_at, last_outcome, last_call_id FROM campaign_contacts
WHERE workspace_id = $1 AND campaign_id = $2 AND status = 'pending' AND next_at <= $3 AND timezone IN (`+strings.Join(in, ",")+`)
ORDER BY next_at, contact_id LIMIT $`+fmt.Sprint(len(args)), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []member
	for rows.Next() {
		m, err := scanMember(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

func scanMember(sc interface{ Scan(...any) error }) (member, error) {
	var m member
	var vars string
	if err := sc.Scan(&m.ContactID, &m.Timezone, &vars, &m.Status, &m.Attempts, (*db.Time)(&m.NextAt), &m.LastOutcome, &m.LastCallID); err != nil {
		return member{}, err
	}
	if err := json.Unmarshal([]byte(vars), &m.Variables); err != nil {
		return member{}, err
	}
	return m, nil
}

// claim moves a pending contact to its attempt-th attempt (compare and set on its attempts):
// false when another dialer took that attempt first. status is in_progress for a call, done
// for an attempt that places none.
func (store) claim(ctx context.Context, q db.Querier, wsID, campaignID, contactID string, attempt int, status, outcome, callID string) (bool, error) {
	res, err := q.ExecContext(ctx, `UPDATE campaign_contacts SET status = $5, attempts = $4, last_outcome = $6, last_call_id = $7
WHERE workspace_id = $1 AND campaign_id = $2 AND contact_id = $3 AND status = 'pending' AND attempts = $4 - 1`,
		wsID, campaignID, contactID, attempt, status, outcome, callID)
	return affected(res, err)
}

// DialAttempt is one try at a contact.
type DialAttempt struct {
	ID              string     `json:"id"`
	CampaignID      string     `json:"campaignId"`
	ContactID       string     `json:"contactId"`
	Attempt         int        `json:"attempt" doc:"1 for the first try."`
	CallID          string     `json:"callId,omitempty"`
	From            string     `json:"from,omitempty"`
	Outcome         string     `json:"outcome,omitempty" doc:"Empty while the call is live."`
	DurationSeconds int        `json:"durationSeconds"`
	CostMicros      int64      `json:"costMicros"`
	CreatedAt       time.Time  `json:"createdAt"`
	EndedAt         *time.Time `json:"endedAt,omitempty"`
}

func (store) insertAttempt(ctx context.Context, q db.Querier, wsID string, a DialAttempt) error {
	_, err := q.ExecContext(ctx, `INSERT INTO campaign_attempts (id, workspace_id, campaign_id, contact_id, attempt, call_id, from_number, outcome,
duration_seconds, cost_micros, created_at, ended_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)`,
		a.ID, wsID, a.CampaignID, a.ContactID, a.Attempt, a.CallID, a.From, a.Outcome, a.DurationSeconds, a.CostMicros, db.Time(a.CreatedAt), db.OptTime(a.EndedAt))
	return err
}

// endAttempt records the outcome of the attempt of a call, once: false when it has one already
// (or the call is no campaign's attempt).
func (store) endAttempt(ctx context.Context, q db.Querier, wsID, callID, outcome string, duration int, cost int64, at time.Time) (DialAttempt, bool, error) {
	var a DialAttempt
	err := q.QueryRowContext(ctx, `SELECT id, campaign_id, contact_id, attempt, outcome FROM campaign_attempts WHERE workspace_id = $1 AND call_id = $2`, wsID, callID).
		Scan(&a.ID, &a.CampaignID, &a.ContactID, &a.Attempt, &a.Outcome)
	if err == sql.ErrNoRows || (err == nil && a.Outcome != "") {
		return a, false, nil
	}
	if err != nil {
		return a, false, err
	}
	ok, err := affected(q.ExecContext(ctx, `UPDATE campaign_attempts SET outcome = $3, duration_seconds = $4, cost_micros = $5, ended_at = $6
WHERE workspace_id = $1 AND id = $2 AND outcome = ''`, wsID, a.ID, outcome, duration, cost, db.Time(at)))
	a.Outcome = outcome
	return a, ok, err
}

// settle moves a contact after an attempt's end: pending again at next (a retry) or done.
func (store) settle(ctx context.Context, q db.Querier, wsID, campaignID, contactID string, attempt int, status, outcome string, next time.Time) error {
	_, err := q.ExecContext(ctx, `UPDATE campaign_contacts SET status = $5, last_outcome = $6, next_at = $7
WHERE workspace_id = $1 AND campaign_id = $2 AND contact_id = $3 AND attempts = $4 AND status = 'in_progress'`,
		wsID, campaignID, contactID, attempt, status, outcome, db.Millis(next))
	return err
}

// nextDue is when the campaign's next pending contact is due (zero when none is pending).
func (store) nextDue(ctx context.Context, q db.Querier, wsID, campaignID string) (time.Time, error) {
	var t db.Time
	var n sql.NullInt64
	err := q.QueryRowContext(ctx, `SELECT MIN(next_at) FROM campaign_contacts WHERE workspace_id = $1 AND campaign_id = $2 AND status = 'pending'`,
		wsID, campaignID).Scan(&n)
	if err != nil || !n.Valid {
		return time.Time{}, err
	}
	t = db.Time(time.UnixMilli(n.Int64).UTC())
	return time.Time(t), nil
}

// remaining counts the campaign's contacts that are not done, and of those the ones pending.
func (store) remaining(ctx context.Context, q db.Querier, wsID, campaignID string) (notDone, pending int, err error) {
	err = q.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END), 0) FROM campaign_contacts
WHERE workspace_id = $1 AND campaign_id = $2 AND status <> 'done'`, wsID, campaignID).Scan(&notDone, &pending)
	return
}

// recentCarrier lists the outcomes of the campaign's last n ended calls, newest first.
func (store) recentOutcomes(ctx context.Context, q db.Querier, wsID, campaignID string, n int) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT outcome FROM campaign_attempts WHERE workspace_id = $1 AND campaign_id = $2 AND ended_at IS NOT NULL AND call_id <> ''
ORDER BY ended_at DESC LIMIT $3`, wsID, campaignID, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var o string
		if err := rows.Scan(&o); err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// CampaignStats are a campaign's progress.
type CampaignStats struct {
	Contacts    int            `json:"contacts" doc:"Contacts in the campaign (copied from the list when it started; 0 before)."`
	Pending     int            `json:"pending" doc:"Waiting for a first attempt or a retry."`
	InProgress  int            `json:"inProgress" doc:"With a live call."`
	Done        int            `json:"done"`
	Outcomes    map[string]int `json:"outcomes" doc:"Done contacts by their last outcome."`
	Attempts    int            `json:"attempts"`
	LiveCalls   int            `json:"liveCalls"`
	Spent       string         `json:"spent" doc:"Credits spent on the campaign's calls, a decimal string."`
	SpentMicros int64          `json:"spentMicros"`
	ETASeconds  *int64         `json:"etaSeconds,omitempty" doc:"Rough time to finish at the campaign's pace (absent when unknown)."`
}

func (store) stats(ctx context.Context, q db.Querier, wsID, campaignID string) (CampaignStats, error) {
	s := CampaignStats{Outcomes: map[string]int{}}
	rows, err := q.QueryContext(ctx, `SELECT status, last_outcome, COUNT(*) FROM campaign_contacts WHERE workspace_id = $1 AND campaign_id = $2 GROUP BY status, last_outcome`,
		wsID, campaignID)
	if err != nil {
		return s, err
	}
	defer rows.Close()
	for rows.Next() {
		var st, out string
		var n int
		if err := rows.Scan(&st, &out, &n); err != nil {
			return s, err
		}
		s.Contacts += n
		switch st {
		case contactPending:
			s.Pending += n
		case contactInProgress:
			s.InProgress += n
		case contactDone:
			s.Done += n
			s.Outcomes[out] += n
		}
	}
	if err := rows.Err(); err != nil {
		return s, err
	}
	err = q.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(cost_micros), 0), COALESCE(SUM(CASE WHEN call_id <> '' AND ended_at IS NULL THEN 1 ELSE 0 END), 0)
FROM campaign_attempts WHERE workspace_id = $1 AND campaign_id = $2`, wsID, campaignID).Scan(&s.Attempts, &s.SpentMicros, &s.LiveCalls)
	return s, err
}

// attempts lists a campaign's attempts, newest first.
func (store) attempts(ctx context.Context, q db.Querier, wsID, campaignID, contactID, beforeID string, limit int) ([]DialAttempt, error) {
	where, args := "workspace_id = $1 AND campaign_id = $2", []any{wsID, campaignID}
	if contactID != "" {
		args = append(args, contactID)
		where += fmt.Sprintf(" AND contact_id = $%d", len(args))
	}
	if beforeID != "" {
		args = append(args, beforeID)
		where += fmt.Sprintf(" AND id < $%d", len(args))
	}
	args = append(args, limit)
	rows, err := q.QueryContext(ctx, `SELECT id, campaign_id, contact_id, attempt, call_id, from_number, outcome, duration_seconds, cost_micros, created_at, ended_at
FROM campaign_attempts WHERE `+where+fmt.Sprintf(" ORDER BY id DESC LIMIT $%d", len(args)), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []DialAttempt
	for rows.Next() {
		var a DialAttempt
		var end db.Time
		if err := rows.Scan(&a.ID, &a.CampaignID, &a.ContactID, &a.Attempt, &a.CallID, &a.From, &a.Outcome, &a.DurationSeconds, &a.CostMicros,
			(*db.Time)(&a.CreatedAt), &end); err != nil {
			return nil, err
		}
		a.EndedAt = end.Ptr()
		out = append(out, a)
	}
	return out, rows.Err()
}

// result is one line of a campaign's results.
type result struct {
	ContactID   string
	Status      string
	Attempts    int
	LastOutcome string
	LastCallID  string
	Duration    int64
	Cost        int64
}

// results lists a campaign's contacts after afterID (by contact ID), with their attempts'
// total duration and cost.
func (store) results(ctx context.Context, q db.Querier, wsID, campaignID, afterID string, limit int) ([]result, error) {
	rows, err := q.QueryContext(ctx, `SELECT m.contact_id, m.status, m.attempts, m.last_outcome, m.last_call_id,
COALESCE((SELECT SUM(a.duration_seconds) FROM campaign_attempts a WHERE a.campaign_id = m.campaign_id AND a.contact_id = m.contact_id), 0),
COALESCE((SELECT SUM(a.cost_micros) FROM campaign_attempts a WHERE a.campaign_id = m.campaign_id AND a.contact_id = m.contact_id), 0)
FROM campaign_contacts m WHERE m.workspace_id = $1 AND m.campaign_id = $2 AND m.contact_id > $3 ORDER BY m.contact_id LIMIT $4`, wsID, campaignID, afterID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []result
	for rows.Next() {
		var r result
		if err := rows.Scan(&r.ContactID, &r.Status, &r.Attempts, &r.LastOutcome, &r.LastCallID, &r.Duration, &r.Cost); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
