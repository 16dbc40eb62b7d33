package web

import (
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/billing"
	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/authz"
	"github.com/parleyhq/parley/internal/platform/id"
	"github.com/parleyhq/parley/internal/workspace"
)

// ledgerPerPage is the page size of the ledger table.
const ledgerPerPage = 25

// usageDays is the period of the usage chart.
const usageDays = 30

// billingPage is the Billing page: balance, threshold, usage chart, ledger and prices.
type billingPage struct {
	Workspace workspace.Membership
	Balance   billing.Balance
	CanManage bool
	Ledger    []billing.LedgerEntry
	Older     string
	Newest    string
	Paged     bool
	Chart     usageChart
	Prices    billing.PriceList
	// Targets are the other workspaces the viewer owns (the transfer form shows when there are
	// any); TransferKey makes a resubmitted transfer form move the credits once.
	Targets     []workspace.Membership
	TransferKey string
	Transfer    *form
}

// usageChart is a stacked bar chart of the usage cost by day and kind, drawn as inline SVG on
// the server (no script; colours are SVG presentation attributes, which the CSP allows).
type usageChart struct {
	Width, Height int
	Bars          []chartBar
	Legend        []chartKey
	// Rows is the same data as a table, for screen readers and exact figures.
	Rows        []billing.UsageRow
	Total       string
	Max         string
	From, To    time.Time
	AxisY, Base int
}

type chartBar struct {
	Day       string
	Label     bool // whether the day is labelled under the axis
	X, LabelX int
	Segments  []chartSegment
	Title     string
}

type chartSegment struct {
	Y, Height int
	Fill      string
}

type chartKey struct {
	Kind, Fill string
}

// kindFills are the colours of the usage kinds (distinguishable, and with the table beside).
var kindFills = map[string]string{
	"call_seconds":      "#2563eb",
	"stt_seconds":       "#16a34a",
	"tts_characters":    "#d97706",
	"llm_input_tokens":  "#9333ea",
	"llm_output_tokens": "#db2777",
}

var (
	billingFields        = []string{"lowBalanceThreshold"}
	creditTransferFields = []string{"toWorkspaceId", "amount", "reason", "key"}
)

func (h *Handler) billingPage(w http.ResponseWriter, r *http.Request) {
	h.showBilling(w, r, http.StatusOK, nil, nil)
}

// showBilling renders the Billing page, with f (the threshold form after a failed post) or tf
// (the transfer form after a failed post) when not nil.
func (h *Handler) showBilling(w http.ResponseWriter, r *http.Request, status int, f, tf *form) {
	v, m, ok := h.workspaceView(w, r, "billing")
	if !ok {
		return
	}
	ctx := r.Context()
	bal, err := h.d.Billing.Balance(ctx, m.ID)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	cursor := r.URL.Query().Get("cursor")
	list, err := h.d.Billing.Ledger(ctx, m.ID, cursor, ledgerPerPage)
	if err != nil {
		if cursor != "" && errors.Is(err, apierr.Invalid) {
			redirect(w, r, billingURL(m.ID, "", ""))
			return
		}
		h.fail(w, r, v, err)
		return
	}
	to := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 1)
	from := to.AddDate(0, 0, -usageDays)
	rep, err := h.d.Billing.Usage(ctx, m.ID, from, to, billing.GroupByDay)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	prices, err := h.d.Billing.Prices(ctx, m.ID)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	p := billingPage{Workspace: m, Balance: bal, CanManage: can(m.Role, authz.BillingManage), Ledger: list.Data, Paged: cursor != "",
		Newest: billingURL(m.ID, "", ""), Chart: newUsageChart(rep, from, to), Prices: prices}
	if list.NextCursor != "" {
		p.Older = billingURL(m.ID, list.NextCursor, "")
	}
	if f == nil {
		f = newForm(nil, billingFields...)
		f.Set("lowBalanceThreshold", bal.LowBalanceThreshold)
	}
	if p.CanManage {
		for _, o := range v.Workspaces {
			if o.Role == authz.Owner && o.ID != m.ID {
				p.Targets = append(p.Targets, o)
			}
		}
		if tf == nil {
			tf = newForm(nil, creditTransferFields...)
			tf.Set("key", id.New(id.Transfer))
		}
		p.Transfer = tf
	}
	v.Form = f
	v.Page = p
	h.render(w, r, status, "billing", v)
}

// saveBillingSettings sets the low-balance threshold (owner).
func (h *Handler) saveBillingSettings(w http.ResponseWriter, r *http.Request) {
	wsID, ok := h.formAction(w, r, authz.BillingManage)
	if !ok {
		return
	}
	f := newForm(r, billingFields...)
	micros, err := billing.ParseCredits(strings.TrimSpace(f.Get("lowBalanceThreshold")))
	if err == nil {
		_, err = h.d.Billing.UpdateSettings(r.Context(), wsID, billing.SettingsInput{LowBalanceThreshold: &micros})
	} else {
		err = apierr.Validation(apierr.FieldError{Location: "body.lowBalanceThreshold", Message: "a number of credits, such as 5 or 2.5 (at most 6 decimals)"})
	}
	if err != nil {
		e, status, ok := actionError(err)
		if !ok || errors.Is(err, apierr.Forbidden) || errors.Is(err, apierr.NotFound) {
			h.fail(w, r, nil, err)
			return
		}
		f.setError(e)
		h.showBilling(w, r, status, f, nil)
		return
	}
	redirect(w, r, billingURL(wsID, "", "threshold-saved"))
}

// transferCredits moves credits to another workspace the owner owns.
func (h *Handler) transferCredits(w http.ResponseWriter, r *http.Request) {
	wsID, ok := h.formAction(w, r, authz.BillingManage)
	if !ok {
		return
	}
	f := newForm(r, creditTransferFields...)
	micros, err := billing.ParseCredits(strings.TrimSpace(f.Get("amount")))
	if err == nil {
		_, err = h.d.Billing.Transfer(r.Context(), wsID, billing.TransferInput{ToWorkspaceID: f.Get("toWorkspaceId"), Amount: micros,
			Reason: strings.TrimSpace(f.Get("reason")), Key: f.Get("key")})
	} else {
		err = apierr.Validation(apierr.FieldError{Location: "body.amount", Message: "a number of credits, such as 5 or 2.5 (at most 6 decimals)"})
	}
	if err != nil {
		e, status, ok := actionError(err)
		if !ok || errors.Is(err, apierr.Forbidden) {
			h.fail(w, r, nil, err)
			return
		}
		if errors.Is(err, apierr.NotFound) {
			e = apierr.Validation(apierr.FieldError{Location: "body.toWorkspaceId", Message: "choose a workspace you own"})
			status = http.StatusUnprocessableEntity
		}
		f.setError(e)
		h.showBilling(w, r, status, nil, f)
		return
	}
	redirect(w, r, billingURL(wsID, "", "credits-transferred"))
}

// billingURL is the address of the Billing page (a ledger page, a notice).
func billingURL(wsID, cursor, notice string) string {
	q := url.Values{}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	if notice != "" {
		q.Set("notice", notice)
	}
	u := "/w/" + url.PathEscape(wsID) + "/billing"
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// Chart geometry (SVG user units).
const (
	chartW, chartH   = 720, 240
	chartLeft        = 56
	chartTop         = 12
	chartBottom      = 28
	chartBarGap      = 4
	chartLabelEveryN = 5
)

// newUsageChart lays out one stacked bar per day of [from, to) from a report grouped by day.
func newUsageChart(rep billing.UsageReport, from, to time.Time) usageChart {
	c := usageChart{Width: chartW, Height: chartH, Rows: rep.Rows, Total: rep.Total, From: from, To: to,
		AxisY: chartH - chartBottom, Base: chartLeft}
	byDay := map[string]map[string]int64{}
	kinds := map[string]bool{}
	for _, row := range rep.Rows {
		if byDay[row.Group] == nil {
			byDay[row.Group] = map[string]int64{}
		}
		byDay[row.Group][row.Kind] += row.CostMicros
		kinds[row.Kind] = true
	}
	var max int64
	for _, m := range byDay {
		var t int64
		for _, v := range m {
			t += v
		}
		max = maxInt64(max, t)
	}
	c.Max = billing.FormatCredits(max)
	for _, k := range billing.UsageKinds {
		if kinds[k] {
			c.Legend = append(c.Legend, chartKey{Kind: k, Fill: kindFills[k]})
		}
	}
	days := int(to.Sub(from) / (24 * time.Hour))
	if days <= 0 {
		return c
	}
	plotH := chartH - chartTop - chartBottom
	slot := (chartW - chartLeft) / days
	for i := 0; i < days; i++ {
		day := from.AddDate(0, 0, i).Format(time.DateOnly)
		b := chartBar{Day: day, X: chartLeft + i*slot + chartBarGap/2, LabelX: chartLeft + i*slot + slot/2, Label: i%chartLabelEveryN == 0 || i == days-1}
		y := chartH - chartBottom
		var total int64
		var parts []string
		kindsOfDay := make([]string, 0, len(byDay[day]))
		for k := range byDay[day] {
			kindsOfDay = append(kindsOfDay, k)
		}
		sort.Slice(kindsOfDay, func(a, b int) bool { return kindOrder(kindsOfDay[a]) < kindOrder(kindsOfDay[b]) })
		for _, k := range kindsOfDay {
			v := byDay[day][k]
			total += v
			parts = append(parts, k+" "+billing.FormatCredits(v))
			if max == 0 || v == 0 {
				continue
			}
			hgt := int(v * int64(plotH) / max)
			if hgt < 1 {
				hgt = 1 // a cost too small to see still shows
			}
			y -= hgt
			b.Segments = append(b.Segments, chartSegment{Y: y, Height: hgt, Fill: kindFills[k]})
		}
		b.Title = day + ": " + billing.FormatCredits(total) + " credits"
		if len(parts) > 0 {
			b.Title += " (" + strings.Join(parts, ", ") + ")"
		}
		c.Bars = append(c.Bars, b)
	}
	return c
}

func kindOrder(k string) int {
	for i, x := range billing.UsageKinds {
		if x == k {
			return i
		}
	}
	return len(billing.UsageKinds)
}

func maxInt64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// BarWidth is the width of each day's bar.
func (c usageChart) BarWidth() int {
	if len(c.Bars) == 0 {
		return 0
	}
	return (chartW-chartLeft)/len(c.Bars) - chartBarGap
}

// LabelY is the baseline of the day labels.
func (c usageChart) LabelY() int { return chartH - 8 }

// TopY is the y of the highest bar's top.
func (c usageChart) TopY() int { return chartTop }

// RightX is the right end of the axis.
func (c usageChart) RightX() int { return chartW }

// ShortDay is a day label ("27 Nov").
func (b chartBar) ShortDay() string {
	t, err := time.Parse(time.DateOnly, b.Day)
	if err != nil {
		return b.Day
	}
	return strconv.Itoa(t.Day()) + " " + t.Month().String()[:3]
}
