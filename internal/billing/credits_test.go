package billing

import (
	"math"
	"testing"
)

func TestParseCredits(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
	}{{"0", 0}, {"1", 1_000_000}, {"12.5", 12_500_000}, {"0.000001", 1}, {"100", 100_000_000}, {"3.141592", 3_141_592},
		{"9223372036854.775807", math.MaxInt64}, {"10.000000", 10_000_000}} {
		got, err := ParseCredits(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseCredits(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", ".5", "5.", "-1", "+1", "1e3", "1.0000001", " 1", "1 ", "007", "1,5", "0x10", "NaN", "9223372036854.775808",
		"99999999999999999999", "1.2.3", "١"} {
		if got, err := ParseCredits(bad); err == nil {
			t.Errorf("ParseCredits(%q) = %d, want an error", bad, got)
		}
	}
}

func TestFormatCredits(t *testing.T) {
	for _, c := range []struct {
		in   int64
		want string
	}{{0, "0"}, {1, "0.000001"}, {12_500_000, "12.5"}, {750_000, "0.75"}, {-3_000_001, "-3.000001"}, {10_000_000, "10"},
		{math.MaxInt64, "9223372036854.775807"}, {math.MinInt64, "-9223372036854.775808"}} {
		if got := FormatCredits(c.in); got != c.want {
			t.Errorf("FormatCredits(%d) = %q, want %q", c.in, got, c.want)
		}
	}
	// Round trip over non-negative values.
	for _, m := range []int64{0, 1, 999_999, 1_000_000, 1_000_001, 123_456_789_012, math.MaxInt64} {
		if got, err := ParseCredits(FormatCredits(m)); err != nil || got != m {
			t.Errorf("round trip %d: %d %v", m, got, err)
		}
	}
}
