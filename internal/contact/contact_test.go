package contact

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalizePhone(t *testing.T) {
	for _, c := range []struct {
		raw, region, want, reason string
	}{
		{"+14155550101", "US", "+14155550101", ""},
		{"(415) 555-0123", "US", "+14155550123", ""},
		{"+91 98765 43210", "US", "+919876543210", ""},
		{"098765 43210", "IN", "+919876543210", ""},
		{"98765 43210", "IN", "+919876543210", ""},
		{"020 7946 0958", "GB", "+442079460958", ""},
		{"0044 20 7946 0958", "DE", "+442079460958", ""}, // IDD of the region
		{"", "US", "", "phone is required"},
		{"hello", "US", "", "not a phone number"},
		{"+999 1234567", "US", "", "unknown country code"},
		{"+1 415 555", "US", "", "too short"},
		{"12", "US", "", "too short"},
		{"+1415555012345678", "US", "", "too long"},
		{"555 0123", "US", "", "local number"},
		{"+1 011 555 0123", "US", "", "not a valid number in US"},
		{"0123 456", "ZZ", "", "no country code"},
	} {
		got, err := NormalizePhone(c.raw, c.region)
		var pe *PhoneError
		switch {
		case c.reason == "" && (err != nil || got != c.want):
			t.Errorf("NormalizePhone(%q, %s) = %q, %v; want %q", c.raw, c.region, got, err, c.want)
		case c.reason != "" && (!errors.As(err, &pe) || !strings.Contains(pe.Reason, c.reason)):
			t.Errorf("NormalizePhone(%q, %s) = %q, %v; want the reason %q", c.raw, c.region, got, err, c.reason)
		}
	}
}

func TestTimezoneOfAndMask(t *testing.T) {
	for _, c := range []struct{ e164, tz, masked string }{
		{"+919876543210", "Asia/Kolkata", "+91 98*****210"}, // the plan's Asia/Calcutta, current name
		{"+14155550101", "America/Los_Angeles", "+1 41*****101"},
		{"+442079460958", "Europe/London", "+44 20*****958"},
		{"+4930901820", "Europe/Berlin", "+49 30***820"},
	} {
		if got := TimezoneOf(c.e164); got != c.tz {
			t.Errorf("TimezoneOf(%s) = %q, want %q", c.e164, got, c.tz)
		}
		if got := Mask(c.e164); got != c.masked {
			t.Errorf("Mask(%s) = %q, want %q", c.e164, got, c.masked)
		}
	}
	// A country with several zones and no finer data: none is guessed.
	if got := TimezoneOf("+79161234567"); got != "" && !strings.HasPrefix(got, "Europe/") {
		t.Errorf("TimezoneOf(Russian mobile) = %q", got)
	}
	if Mask("nonsense") != "***" {
		t.Error("a non-number is masked whole")
	}
}

func TestMergeAttributes(t *testing.T) {
	got, err := mergeAttributes(map[string]any{"a": "x", "b": 1.0}, map[string]any{"b": nil, "c": true, "d": 2.5}, true)
	if err != nil || len(got) != 3 || got["a"] != "x" || got["c"] != true || got["d"] != 2.5 {
		t.Fatalf("merge = %v, %v", got, err)
	}
	for name, patch := range map[string]map[string]any{
		"nested object":  {"a": map[string]any{"b": 1.0}},
		"list":           {"a": []any{"x"}},
		"null on create": {"a": nil},
		"bad name":       {"1a": "x"},
		"long value":     {"a": strings.Repeat("x", MaxAttributeValue+1)},
	} {
		if _, err := mergeAttributes(nil, patch, false); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if valueText(3.0) != "3" || valueText(2.5) != "2.5" || valueText(true) != "true" || valueText("gold") != "gold" {
		t.Error("valueText")
	}
}

func TestValidTags(t *testing.T) {
	got, err := validTags("body.tags", []string{" vip", "b", "vip", "a"})
	if err != nil || strings.Join(got, "|") != "a|b|vip" {
		t.Fatalf("tags = %v, %v", got, err)
	}
	for _, bad := range [][]string{{""}, {"a,b"}, {strings.Repeat("x", MaxTagLen+1)}} {
		if _, err := validTags("body.tags", bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestCellDefusesFormulas(t *testing.T) {
	for in, want := range map[string]string{"=1+1": "'=1+1", "@SUM(A1)": "'@SUM(A1)", "+14155550101": "+14155550101", "-3": "-3", "Ada": "Ada", "": ""} {
		if got := cell(in); got != want {
			t.Errorf("cell(%q) = %q, want %q", in, got, want)
		}
	}
}
