package campaign

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/platform/apierr"
)

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	l, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestInWindowAcrossZonesAndDST(t *testing.T) {
	weekdays := CallingWindow{Days: []string{"mon", "tue", "wed", "thu", "fri"}, Start: "09:00", End: "17:00"}
	ny, berlin, kolkata, sydney := mustLoc(t, "America/New_York"), mustLoc(t, "Europe/Berlin"), mustLoc(t, "Asia/Kolkata"), mustLoc(t, "Australia/Sydney")
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		name string
		w    CallingWindow
		loc  *time.Location
		at   string
		want bool
	}{
		// The same UTC instant, different zones (Wednesday 2026-11-25 14:00 UTC).
		{"NY 09:00 EST opens", weekdays, ny, "2026-11-25T14:00:00Z", true},
		{"Berlin 15:00 CET", weekdays, berlin, "2026-11-25T14:00:00Z", true},
		{"Kolkata 19:30 IST closed", weekdays, kolkata, "2026-11-25T14:00:00Z", false},
		{"Sydney is already Thursday 01:00", weekdays, sydney, "2026-11-25T14:00:00Z", false},
		{"NY 08:59 EST closed", weekdays, ny, "2026-11-25T13:59:00Z", false},
		{"end is exclusive", weekdays, ny, "2026-11-25T22:00:00Z", false},
		{"last minute is in", weekdays, ny, "2026-11-25T21:59:00Z", true},
		// Local weekday, not UTC weekday: Friday 23:30 in NY is Saturday 04:30 UTC.
		{"NY Friday night by local day", CallingWindow{Days: []string{"fri"}, Start: "23:00", End: "24:00"}, ny, "2026-11-28T04:30:00Z", true},
		{"NY Saturday by UTC only", CallingWindow{Days: []string{"sat"}, Start: "00:00", End: "24:00"}, ny, "2026-11-28T04:30:00Z", false},
		// US daylight saving starts Sunday 2026-03-08: 13:30 UTC is 08:30 EST on Friday the 6th
		// (closed) and 09:30 EDT on Monday the 9th (open).
		{"NY before DST 13:30Z = 08:30 EST", weekdays, ny, "2026-03-06T13:30:00Z", false},
		{"NY after DST 13:30Z = 09:30 EDT", weekdays, ny, "2026-03-09T13:30:00Z", true},
		{"NY after DST 21:30Z = 17:30 EDT closed", weekdays, ny, "2026-03-09T21:30:00Z", false},
		{"NY before DST 21:30Z = 16:30 EST open", weekdays, ny, "2026-03-06T21:30:00Z", true},
		// On the change day itself, 02:30 local does not exist; 06:30Z is 01:30 EST, 07:30Z is 03:30 EDT.
		{"NY DST day 01:30 EST", CallingWindow{Days: []string{"sun"}, Start: "01:00", End: "02:00"}, ny, "2026-03-08T06:30:00Z", true},
		{"NY DST day 03:30 EDT", CallingWindow{Days: []string{"sun"}, Start: "01:00", End: "03:00"}, ny, "2026-03-08T07:30:00Z", false},
		// Europe ends summer time on 2026-10-25: 07:30Z is 09:30 CEST on the 23rd, 08:30 CET on the 26th.
		{"Berlin 07:30Z in summer time", weekdays, berlin, "2026-10-23T07:30:00Z", true},
		{"Berlin 07:30Z after the change", weekdays, berlin, "2026-10-26T07:30:00Z", false},
	} {
		if got := InWindow(tc.w, tc.loc, utc(tc.at)); got != tc.want {
			t.Errorf("%s: InWindow = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestApplyDefaultsAndValidation(t *testing.T) {
	name, agentID := "Renewals", "agent_1"
	c := Campaign{CallingWindow: DefaultWindow(), MaxConcurrentCalls: DefaultMaxConcurrent, CallsPerMinute: DefaultCallsPerMinute, Retry: DefaultRetry()}
	if err := apply(&c, CampaignInput{Name: &name, AgentID: &agentID, Audience: &CampaignAudience{ListID: "list_1"}}, true); err != nil {
		t.Fatal(err)
	}
	if c.MaxConcurrentCalls != 5 || c.CallsPerMinute != 60 || c.Retry.MaxAttempts != 3 || len(c.CallingWindow.Days) != 7 || c.CallingWindow.Start != "09:00" {
		t.Fatalf("defaults %+v", c)
	}

	zero, big := 0, 100000
	err := apply(&Campaign{}, CampaignInput{MaxConcurrentCalls: &zero, CallsPerMinute: &big,
		CallingWindow: &CallingWindow{Days: []string{"mon", "funday", "mon"}, Start: "18:00", End: "09:00"},
		Retry:         &RetryPolicy{On: []string{"busy", "completed"}, MaxAttempts: 11, DelaysMinutes: []float64{-1}},
		Variables:     map[string]string{"first": "{{contact.}}"}}, true)
	var ae *apierr.Error
	if !errors.As(err, &ae) || !errors.Is(err, apierr.Invalid) {
		t.Fatalf("err = %v", err)
	}
	var locs []string
	for _, f := range ae.Fields {
		locs = append(locs, f.Location)
	}
	got := strings.Join(locs, " ")
	for _, want := range []string{"body.name", "body.agentId", "body.audience", "body.callingWindow.days[1]", "body.callingWindow.days[2]", "body.callingWindow.end",
		"body.maxConcurrentCalls", "body.callsPerMinute", "body.retry.on[1]", "body.retry.maxAttempts", "body.retry.delaysMinutes[0]", "body.variables.first"} {
		if !strings.Contains(got+" ", want+" ") {
			t.Errorf("no field error at %s (got %s)", want, got)
		}
	}
}

func TestRetryPolicy(t *testing.T) {
	r := RetryPolicy{On: []string{OutcomeBusy}, MaxAttempts: 3, DelaysMinutes: []float64{30, 120}}
	if !r.retries(OutcomeBusy, 1) || !r.retries(OutcomeBusy, 2) || r.retries(OutcomeBusy, 3) || r.retries(OutcomeNoAnswer, 1) {
		t.Fatal("retries")
	}
	if r.retryDelay(1) != 30*time.Minute || r.retryDelay(2) != 120*time.Minute || r.retryDelay(5) != 120*time.Minute {
		t.Fatal("delays")
	}
}
