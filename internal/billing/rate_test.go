package billing

import (
	"math"
	"math/big"
	"math/rand"
	"reflect"
	"testing"
	"testing/quick"

	"github.com/parleyhq/parley/internal/platform/apierr"
)

// ceilBig is the rating rule computed with arbitrary precision: ceil(q × p / per).
func ceilBig(q, p, per int64) *big.Int {
	n := new(big.Int).Mul(big.NewInt(q), big.NewInt(p))
	d := big.NewInt(per)
	quo, rem := new(big.Int).QuoRem(n, d, new(big.Int))
	if rem.Sign() > 0 {
		quo.Add(quo, big.NewInt(1))
	}
	return quo
}

// rateArgs are inputs spread over every magnitude (quick's default int64s are mostly huge).
type rateArgs struct{ Q, P, Per int64 }

func (rateArgs) Generate(r *rand.Rand, _ int) reflect.Value {
	pick := func(min int64) int64 {
		switch r.Intn(5) {
		case 0:
			return min + r.Int63n(10)
		case 1:
			return min + r.Int63n(1_000_000)
		case 2:
			return min + r.Int63n(1<<40)
		case 3:
			return math.MaxInt64 - r.Int63n(1000)
		}
		return min + r.Int63()/2
	}
	pers := []int64{1, 60, 1_000, 1_000_000}
	per := pers[r.Intn(len(pers))]
	if r.Intn(4) == 0 {
		per = pick(1)
	}
	return reflect.ValueOf(rateArgs{Q: pick(0), P: pick(0), Per: per})
}

var quickCfg = &quick.Config{MaxCount: 20000}

// Property: RateAmount equals ceil(q×p/per) computed exactly whenever that fits in int64, and
// refuses with rating_overflow exactly when it does not.
func TestRateAmountIsExactCeiling(t *testing.T) {
	maxI := big.NewInt(math.MaxInt64)
	prop := func(a rateArgs) bool {
		got, err := RateAmount(a.Q, a.P, a.Per)
		want := ceilBig(a.Q, a.P, a.Per)
		if want.Cmp(maxI) > 0 {
			return err != nil && apierr.Status(err) == 422
		}
		return err == nil && got == want.Int64()
	}
	if err := quick.Check(prop, quickCfg); err != nil {
		t.Fatal(err)
	}
}

// Property: rounding up per record never undercharges, and overcharges by less than one
// micro-credit per record; splitting a record never costs less than the whole.
func TestRateAmountRoundsUpPerRecord(t *testing.T) {
	prop := func(q1, q2 uint32, p uint32, perIdx uint8) bool {
		per := []int64{1, 60, 1_000, 1_000_000}[perIdx%4]
		q1, q2, p = q1>>1, q2>>1, p>>2 // q1+q2 < 2^32, p < 2^30: no overflow
		c1, e1 := RateAmount(int64(q1), int64(p), per)
		c2, e2 := RateAmount(int64(q2), int64(p), per)
		c, e := RateAmount(int64(q1)+int64(q2), int64(p), per)
		if e1 != nil || e2 != nil || e != nil {
			return false
		}
		exact := new(big.Rat).SetFrac(new(big.Int).Mul(big.NewInt(int64(q1)), big.NewInt(int64(p))), big.NewInt(per))
		if new(big.Rat).SetInt64(c1).Cmp(exact) < 0 || new(big.Rat).Sub(new(big.Rat).SetInt64(c1), exact).Cmp(big.NewRat(1, 1)) >= 0 {
			return false
		}
		return c1+c2 >= c && c1+c2 <= c+1
	}
	if err := quick.Check(prop, quickCfg); err != nil {
		t.Fatal(err)
	}
}

// Property: cost is monotonic in quantity and price.
func TestRateAmountIsMonotonic(t *testing.T) {
	prop := func(q, dq, p, dp uint32) bool {
		a, e1 := RateAmount(int64(q), int64(p), 60)
		b, e2 := RateAmount(int64(q)+int64(dq), int64(p)+int64(dp), 60)
		return e1 == nil && e2 == nil && a <= b
	}
	if err := quick.Check(prop, quickCfg); err != nil {
		t.Fatal(err)
	}
}

func TestRateAmountExamples(t *testing.T) {
	for _, c := range []struct {
		q, p, per, want int64
		code            string
	}{
		{0, 15000, 60, 0, ""},
		{1, 15000, 60, 250, ""},
		{61, 15000, 60, 15250, ""},
		{7, 1, 60, 1, ""},                  // 7/60 of a micro-credit rounds up to 1
		{1234, 150000, 1_000_000, 186, ""}, // 185.1 → 186
		{1_000_000, 150000, 1_000_000, 150000, ""},
		{math.MaxInt64, 1, 1, math.MaxInt64, ""},
		{math.MaxInt64, 2, 1, 0, "rating_overflow"},
		{math.MaxInt64, math.MaxInt64, math.MaxInt64, math.MaxInt64, ""},
		{math.MaxInt64, math.MaxInt64, 1, 0, "rating_overflow"},
		{-1, 1, 1, 0, "validation_failed"},
		{1, -1, 1, 0, "validation_failed"},
		{1, 1, 0, 0, "validation_failed"},
	} {
		got, err := RateAmount(c.q, c.p, c.per)
		if code := ErrorCode(err); code != c.code || got != c.want {
			t.Errorf("RateAmount(%d, %d, %d) = %d, %q; want %d, %q", c.q, c.p, c.per, got, code, c.want, c.code)
		}
	}
}

func TestDefaultPriceBook(t *testing.T) {
	pb, err := parsePriceBook(pricebookJSON)
	if err != nil {
		t.Fatal(err)
	}
	if pb.Version == "" {
		t.Fatal("no version")
	}
	for _, kind := range UsageKinds[1:] {
		if _, ok := pb.prices[kind][Wildcard]; !ok {
			t.Errorf("%s has no * fallback", kind)
		}
	}
	for _, bad := range []string{
		`{"version":"x","kinds":{"call_seconds":{"per":1,"prices":{"platform":1,"byop":1}}}}`,
		`{"version":"x","kinds":{"bogus":{"per":1,"prices":{}}}}`,
		`{"version":"x","kinds":{"call_seconds":{"per":60,"prices":{"platform":1}}}}`,
		`{"version":"x","kinds":{"call_seconds":{"per":60,"prices":{"platform":-1,"byop":1}}}}`,
		`{"version":"x","extra":1}`,
	} {
		if _, err := parsePriceBook([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

func TestPriceLookup(t *testing.T) {
	over := map[string]map[string]int64{
		UsageSTTSeconds:      {"deepgram/nova-3": 1, "deepgram/*": 2},
		UsageLLMInputTokens:  {"*/gpt-4o-mini": 3},
		UsageCallSeconds:     {TelephonyBYOP: 0},
		UsageTTSCharacters:   {Wildcard: 4},
		UsageLLMOutputTokens: {},
	}
	base := DefaultPriceBook.prices
	for _, c := range []struct {
		kind, provider, model string
		want                  int64
		key                   string
	}{
		{UsageCallSeconds, "platform", "", base[UsageCallSeconds]["platform"], "platform"},
		{UsageCallSeconds, "sim", "", base[UsageCallSeconds]["platform"], "platform"},
		{UsageCallSeconds, "", "", base[UsageCallSeconds]["platform"], "platform"},
		{UsageCallSeconds, "byop", "", 0, "byop"},
		{UsageSTTSeconds, "deepgram", "nova-3", 1, "deepgram/nova-3"},
		{UsageSTTSeconds, "deepgram", "nova-9", 2, "deepgram/*"},
		{UsageSTTSeconds, "assemblyai", "universal-streaming", base[UsageSTTSeconds]["assemblyai/universal-streaming"], "assemblyai/universal-streaming"},
		{UsageSTTSeconds, "acme", "x", base[UsageSTTSeconds]["*"], "*"},
		{UsageSTTSeconds, "sim", "anything", 0, "sim/*"},
		{UsageLLMInputTokens, "azure-openai", "gpt-4o-mini", 3, "*/gpt-4o-mini"}, // an override beats the platform's exact entry
		{UsageLLMInputTokens, "azure-openai", "gpt-4o", base[UsageLLMInputTokens]["azure-openai/gpt-4o"], "azure-openai/gpt-4o"},
		{UsageLLMInputTokens, "openai-compatible", "gpt-4o-mini", 3, "*/gpt-4o-mini"},
		{UsageLLMInputTokens, "", "gpt-4o-mini", 3, "*/gpt-4o-mini"},
		{UsageTTSCharacters, "nobody", "", 4, "*"},
		{UsageLLMOutputTokens, "groq", "openai/gpt-oss-120b", base[UsageLLMOutputTokens]["groq/openai/gpt-oss-120b"], "groq/openai/gpt-oss-120b"},
	} {
		p, key, err := price(DefaultPriceBook, over, c.kind, c.provider, c.model)
		if err != nil || p != c.want || key != c.key {
			t.Errorf("%s %s/%s = %d %q %v; want %d %q", c.kind, c.provider, c.model, p, key, err, c.want, c.key)
		}
	}
	if _, _, err := price(DefaultPriceBook, nil, UsageCallSeconds, "twilio", ""); apierr.Status(err) != 422 {
		t.Errorf("unknown telephony: %v", err)
	}
	if _, _, err := price(&PriceBook{prices: map[string]map[string]int64{}}, nil, UsageSTTSeconds, "a", "b"); ErrorCode(err) != "no_price" {
		t.Errorf("empty book: %v", err)
	}
}

func TestParseOverrides(t *testing.T) {
	got, err := parseOverrides([]PriceOverride{{UsageCallSeconds, "byop", "0"}, {UsageSTTSeconds, "deepgram/*", "0.000072"}, {UsageLLMInputTokens, "*", "2.5"}})
	if err != nil || got[UsageCallSeconds]["byop"] != 0 || got[UsageSTTSeconds]["deepgram/*"] != 72 || got[UsageLLMInputTokens]["*"] != 2_500_000 {
		t.Fatalf("%v %v", got, err)
	}
	for _, bad := range [][]PriceOverride{
		{{"minutes", "platform", "1"}},
		{{UsageCallSeconds, "twilio", "1"}},
		{{UsageSTTSeconds, "deepgram", "1"}},
		{{UsageSTTSeconds, "/x", "1"}},
		{{UsageSTTSeconds, "*", "-1"}},
		{{UsageSTTSeconds, "*", "0.0000001"}},
		{{UsageSTTSeconds, "*", "1"}, {UsageSTTSeconds, "*", "2"}},
	} {
		if _, err := parseOverrides(bad); apierr.Status(err) != 422 {
			t.Errorf("accepted %v: %v", bad, err)
		}
	}
}
