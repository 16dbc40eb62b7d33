package apikey

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/parleyhq/parley/internal/platform/apierr"
)

func TestTokenFormat(t *testing.T) {
	seen := map[string]bool{}
	for _, mode := range []Mode{Live, Test} {
		for range 200 {
			tok := newToken(mode)
			if seen[tok] {
				t.Fatalf("duplicate token %s", tok)
			}
			seen[tok] = true
			if len(tok) != TokenLen || !strings.HasPrefix(tok, "parley_"+string(mode)+"_") {
				t.Fatalf("token %q: wrong length or prefix", tok)
			}
			for _, c := range tok[len("parley_live_"):] {
				if !strings.ContainsRune(base62, c) {
					t.Fatalf("token %q: %q is not base62", tok, c)
				}
			}
			got, err := parseToken(tok)
			if err != nil || got != mode {
				t.Fatalf("parseToken(%q) = %q, %v", tok, got, err)
			}
		}
	}
	if bits := float64(randomLen) * math.Log2(62); bits < 128 {
		t.Fatalf("random part has %.1f bits, want ≥ 128", bits)
	}
	if TokenLen != 50 {
		t.Fatalf("TokenLen = %d; the documented length is 50", TokenLen)
	}
}

// The random part is uniform over base62: a biased generator would show here.
func TestRandomIsSpreadOverTheAlphabet(t *testing.T) {
	counts := map[rune]int{}
	const n = 2000
	for range n {
		for _, c := range randomBase62(randomLen) {
			counts[c]++
		}
	}
	if len(counts) != 62 {
		t.Fatalf("%d distinct characters, want 62", len(counts))
	}
	want := float64(n*randomLen) / 62
	for c, k := range counts {
		if math.Abs(float64(k)-want) > want*0.2 {
			t.Errorf("%q appears %d times, want ≈ %.0f", c, k, want)
		}
	}
}

func TestChecksumDetectsEveryOneCharacterChange(t *testing.T) {
	tok := newToken(Live)
	body := len("parley_live_")
	for i := body; i < len(tok); i++ {
		for _, c := range []byte(base62) {
			if c == tok[i] {
				continue
			}
			bad := tok[:i] + string(c) + tok[i+1:]
			if _, err := parseToken(bad); !errors.Is(err, ErrInvalidKey) {
				t.Fatalf("flipped position %d to %q: accepted (%v)", i, c, err)
			}
		}
	}
	// Two adjacent characters swapped.
	for i := body; i+1 < len(tok); i++ {
		if tok[i] == tok[i+1] {
			continue
		}
		bad := tok[:i] + string(tok[i+1]) + string(tok[i]) + tok[i+2:]
		if _, err := parseToken(bad); err == nil {
			t.Fatalf("swap at %d accepted", i)
		}
	}
}

func TestParseRejectsMalformed(t *testing.T) {
	good := newToken(Test)
	for _, bad := range []string{
		"",
		"parley_live_nope",
		strings.Replace(good, "parley_test_", "parley_prod_", 1),
		strings.Replace(good, "parley_test_", "parley-test_", 1),
		strings.Replace(good, "parley_", "parlay_", 1),
		good + "A",
		good[:len(good)-1],
		good[:20] + "_" + good[21:],
		good[:20] + "é" + good[22:],
		strings.ToUpper(good),
		"ghp_" + good[len("parley_test_"):],
	} {
		if _, err := parseToken(bad); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("parseToken(%q) = %v, want invalid_api_key", bad, err)
		}
	}
	// The checksum covers the random part only (as GitHub's does): a test key relabelled as live
	// passes the offline check and is then unknown to the store.
	if _, err := parseToken(strings.Replace(good, "_test_", "_live_", 1)); err != nil {
		t.Fatalf("relabelled key: %v", err)
	}
}

func TestChecksumIsZeroPadded(t *testing.T) {
	for _, s := range []string{"", "a", strings.Repeat("Z", randomLen)} {
		if c := checksum(s); len(c) != checksumLen {
			t.Fatalf("checksum(%q) = %q", s, c)
		}
	}
	if checksum("") != "000000" { // CRC32 of nothing is 0
		t.Fatalf("checksum(\"\") = %q", checksum(""))
	}
}

func TestBearer(t *testing.T) {
	for in, want := range map[string]string{
		"Bearer abc":      "abc",
		"bearer abc":      "abc",
		"BEARER   abc  ":  "abc",
		"  Bearer abc":    "abc",
		"Bearer":          "",
		"Bearer ":         "",
		"Basic dXNlcjpw":  "",
		"parley_live_abc": "",
	} {
		got, err := Bearer(in)
		if want == "" {
			if !errors.Is(err, ErrInvalidKey) {
				t.Errorf("Bearer(%q) = %q, %v; want invalid_api_key", in, got, err)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("Bearer(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestDisplayParts(t *testing.T) {
	tok := newToken(Live)
	if p := displayPrefix(tok); len(p) != len("parley_live_")+4 || !strings.HasPrefix(tok, p) {
		t.Fatalf("prefix %q of %q", p, tok)
	}
	if l := lastFour(tok); len(l) != 4 || !strings.HasSuffix(tok, l) {
		t.Fatalf("last four %q of %q", l, tok)
	}
}

func TestValidScopes(t *testing.T) {
	got, err := validScopes([]string{"usage:read", "agents:read", "usage:read"})
	if err != nil || strings.Join(got, " ") != "agents:read usage:read" {
		t.Fatalf("validScopes = %v, %v", got, err)
	}
	for _, bad := range [][]string{nil, {}, {"agents:admin"}, {"agents:read", "billing:manage"}} {
		_, err := validScopes(bad)
		var e *apierr.Error
		if !errors.As(err, &e) || !errors.Is(err, apierr.Invalid) {
			t.Fatalf("validScopes(%v) = %v, want Invalid", bad, err)
		}
		if !strings.Contains(e.Detail+fieldMessages(e), "webhooks:write") {
			t.Fatalf("validScopes(%v): %q does not list the valid scopes", bad, e.Detail)
		}
	}
}

func fieldMessages(e *apierr.Error) string {
	var b strings.Builder
	for _, f := range e.Fields {
		b.WriteString(f.Message)
	}
	return b.String()
}

// The OpenAPI enum of the create request must be exactly Scopes.
func TestCreateRequestEnumListsScopes(t *testing.T) {
	f, ok := reflect.TypeFor[CreateAPIKeyRequest]().FieldByName("Body")
	if !ok {
		t.Fatal("no Body")
	}
	sf, _ := f.Type.FieldByName("Scopes")
	if got := sf.Tag.Get("enum"); got != strings.Join(Scopes, ",") {
		t.Fatalf("enum tag %q\nwant       %q", got, strings.Join(Scopes, ","))
	}
}
