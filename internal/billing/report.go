package billing

import (
	"bytes"
	"context"
	"encoding/csv"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/authz"
	"github.com/parleyhq/parley/internal/platform/db"
)

// Usage report groupings.
const (
	GroupByDay   = "day"
	GroupByAgent = "agent"
	GroupByKind  = "kind"
)

// MaxReportRange bounds the period of a usage report.
const MaxReportRange = 366 * 24 * time.Hour

// UsageRow is one line of a usage report: the usage of one kind in one group.
type UsageRow struct {
	// Group is the day (YYYY-MM-DD, UTC), the agent ID ("" for usage without an agent) or the kind.
	Group      string `json:"group" example:"2026-11-27"`
	Kind       string `json:"kind" enum:"call_seconds,stt_seconds,tts_characters,llm_input_tokens,llm_output_tokens"`
	Quantity   int64  `json:"quantity" doc:"Seconds, characters or tokens, by kind."`
	Records    int64  `json:"records"`
	Cost       string `json:"cost" example:"1.25"`
	CostMicros int64  `json:"costMicros" example:"1250000"`
}

// UsageReport is the workspace's rated usage over [From, To), grouped.
type UsageReport struct {
	WorkspaceID string     `json:"workspaceId"`
	From        time.Time  `json:"from"`
	To          time.Time  `json:"to"`
	GroupBy     string     `json:"groupBy" enum:"day,agent,kind"`
	Rows        []UsageRow `json:"rows"`
	// Total is the sum of the rows' costs: it equals the usage debits of the ledger for the
	// records that occurred in the period.
	Total       string `json:"total"`
	TotalMicros int64  `json:"totalMicros"`
}

// Usage returns the workspace's usage that occurred in [from, to) (by the records' occurredAt),
// grouped by day (UTC), agent or kind and then by kind, with the credits each cost (every role;
// API keys with usage:read). A zero to is now; a zero from is 30 days before to. Errors:
// NotFound, Forbidden, Invalid (from after to, a period over 366 days, an unknown grouping).
func (s *Service) Usage(ctx context.Context, wsID string, from, to time.Time, groupBy string) (UsageReport, error) {
	if _, err := authz.Require(ctx, wsID, authz.BillingView); err != nil {
		return UsageReport{}, err
	}
	if groupBy == "" {
		groupBy = GroupByDay
	}
	if groupBy != GroupByDay && groupBy != GroupByAgent && groupBy != GroupByKind {
		return UsageReport{}, apierr.Validation(apierr.FieldError{Location: "query.groupBy", Message: "groupBy must be day, agent or kind", Value: groupBy})
	}
	if to.IsZero() {
		to = s.now()
	}
	if from.IsZero() {
		from = to.Add(-30 * 24 * time.Hour)
	}
	from, to = from.UTC().Truncate(time.Millisecond), to.UTC().Truncate(time.Millisecond)
	if !from.Before(to) || to.Sub(from) > MaxReportRange {
		return UsageReport{}, apierr.Validation(apierr.FieldError{Location: "query.from", Message: "from must be before to, at most 366 days apart"})
	}
	rows, err := s.st.usageReport(ctx, s.db.Read, wsID, from, to, groupBy)
	if err != nil {
		return UsageReport{}, err
	}
	r := UsageReport{WorkspaceID: wsID, From: from, To: to, GroupBy: groupBy, Rows: rows}
	for _, row := range rows {
		r.TotalMicros += row.CostMicros
	}
	r.Total = FormatCredits(r.TotalMicros)
	return r, nil
}

const dayMillis = 24 * 60 * 60 * 1000

func (store) usageReport(ctx context.Context, q db.Querier, wsID string, from, to time.Time, groupBy string) ([]UsageRow, error) {
	// The group is a fixed expression per grouping (never caller text): a UTC day number, the
	// agent, or the kind.
	group := map[string]string{GroupByDay: `CAST(occurred_at / ` + strconv.Itoa(dayMillis) + ` AS TEXT)`, GroupByAgent: `agent_id`, GroupByKind: `kind`}[groupBy]
	rows, err := q.QueryContext(ctx, `SELECT `+group+` AS g, kind, SUM(quantity), COUNT(*), SUM(cost) FROM billing_usage
WHERE workspace_id = $1 AND occurred_at >= $2 AND occurred_at < $3
GROUP BY g, kind ORDER BY g, kind`, wsID, db.Time(from), db.Time(to))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []UsageRow{}
	for rows.Next() {
		var r UsageRow
		if err := rows.Scan(&r.Group, &r.Kind, &r.Quantity, &r.Records, &r.CostMicros); err != nil {
			return nil, err
		}
		if groupBy == GroupByDay {
			d, err := strconv.ParseInt(r.Group, 10, 64)
			if err != nil {
				return nil, err
			}
			r.Group = time.UnixMilli(d * dayMillis).UTC().Format(time.DateOnly)
		}
		r.Cost = FormatCredits(r.CostMicros)
		out = append(out, r)
	}
	return out, rows.Err()
}

// UsageReportRequest is GET /v1/workspaces/{workspaceId}/billing/usage (and usage.csv).
type UsageReportRequest struct {
	WorkspacePath
	From    time.Time `query:"from" doc:"Start (inclusive, RFC 3339); default: 30 days before to."`
	To      time.Time `query:"to" doc:"End (exclusive, RFC 3339); default: now."`
	GroupBy string    `query:"groupBy" enum:"day,agent,kind" default:"day"`
}

// UsageReportOutput is a usage report.
type UsageReportOutput struct {
	Body UsageReport
}

// GetUsage handles GET /v1/workspaces/{workspaceId}/billing/usage.
func (h *HTTP) GetUsage(ctx context.Context, in *UsageReportRequest) (*UsageReportOutput, error) {
	r, err := h.Svc.Usage(ctx, in.WorkspaceID, in.From, in.To, in.GroupBy)
	if err != nil {
		return nil, err
	}
	return &UsageReportOutput{Body: r}, nil
}

// UsageCSVOutput is a usage report as CSV.
type UsageCSVOutput struct {
	ContentType        string `header:"Content-Type"`
	ContentDisposition string `header:"Content-Disposition"`
	Body               []byte
}

// UsageCSVColumns are the columns of the CSV report.
var UsageCSVColumns = []string{"group", "kind", "quantity", "records", "cost", "cost_micros"}

// UsageCSVResponses documents the CSV body in the OpenAPI document.
var UsageCSVResponses = map[string]*huma.Response{
	"200": {Description: "The usage report as CSV: a header line " + `"group,kind,quantity,records,cost,cost_micros"` + ", one line per row, then a total line.",
		Content: map[string]*huma.MediaType{"text/csv": {Schema: &huma.Schema{Type: "string"}}}},
}

// GetUsageCSV handles GET /v1/workspaces/{workspaceId}/billing/usage.csv.
func (h *HTTP) GetUsageCSV(ctx context.Context, in *UsageReportRequest) (*UsageCSVOutput, error) {
	r, err := h.Svc.Usage(ctx, in.WorkspaceID, in.From, in.To, in.GroupBy)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write(UsageCSVColumns)
	for _, row := range r.Rows {
		_ = w.Write([]string{csvSafe(row.Group), row.Kind, strconv.FormatInt(row.Quantity, 10), strconv.FormatInt(row.Records, 10), row.Cost, strconv.FormatInt(row.CostMicros, 10)})
	}
	_ = w.Write([]string{"total", "", "", "", r.Total, strconv.FormatInt(r.TotalMicros, 10)})
	w.Flush()
	return &UsageCSVOutput{ContentType: "text/csv; charset=utf-8", ContentDisposition: `attachment; filename="usage.csv"`, Body: b.Bytes()}, nil
}

// csvSafe keeps a spreadsheet from reading a value (an agent ID sent by a runtime) as a formula.
func csvSafe(s string) string {
	if s != "" && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' || s[0] == '\r') {
		return "'" + s
	}
	return s
}
