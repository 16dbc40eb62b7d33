package billing

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/parleyhq/parley/internal/platform/apierr"
)

// Prices, rating and usage (docs/billing.md has worked examples):
//   - The platform price book is embedded (pricebook.json) and checked at start; each workspace may
//     have operator overrides (billing_price_overrides), which win over every platform entry.
//   - A price is int64 micro-credits per PriceUnits[kind] units. Lookup: provider/model, */model,
//     provider/*, * — overrides first, then the platform book; call_seconds is platform (also sim
//     and "") or byop, anything else is refused. The platform book has a * entry for every
//     provider-keyed kind, so an unknown provider or model falls back, never fails.
//   - Rating is one rule, per record: ceil(quantity × price / per), exact in 128 bits, refused
//     (rating_overflow) beyond MaxInt64. No floats.
//   - RecordUsage writes each record once per (workspace, id): its debit (key debit:usage:<id>,
//     through debitBatchTx) and its usage row, in one transaction. A replay with the same content
//     returns the first cost whatever the prices are now; a refused record writes nothing. The sum
//     of billing_usage.cost equals the sum of the debit:usage:* transfers.

// Usage kinds: what a usage record measures, and so which table of the price book rates it.
const (
	UsageCallSeconds     = "call_seconds"
	UsageSTTSeconds      = "stt_seconds"
	UsageTTSCharacters   = "tts_characters"
	UsageLLMInputTokens  = "llm_input_tokens"
	UsageLLMOutputTokens = "llm_output_tokens"
)

// UsageKinds lists the usage kinds in their documented order.
var UsageKinds = []string{UsageCallSeconds, UsageSTTSeconds, UsageTTSCharacters, UsageLLMInputTokens, UsageLLMOutputTokens}

// PriceUnits is how many units of each usage kind one price buys: a call price is per minute
// (60 seconds), an STT price per second, a TTS price per 1,000 characters, an LLM price per
// 1,000,000 tokens. The embedded book must say the same.
var PriceUnits = map[string]int64{
	UsageCallSeconds:     60,
	UsageSTTSeconds:      1,
	UsageTTSCharacters:   1_000,
	UsageLLMInputTokens:  1_000_000,
	UsageLLMOutputTokens: 1_000_000,
}

var unitNames = map[string]string{
	UsageCallSeconds:     "per minute",
	UsageSTTSeconds:      "per second",
	UsageTTSCharacters:   "per 1,000 characters",
	UsageLLMInputTokens:  "per 1,000,000 input tokens",
	UsageLLMOutputTokens: "per 1,000,000 output tokens",
}

// Telephony keys of call_seconds prices. The simulator (sim) is priced as platform.
const (
	TelephonyPlatform = "platform"
	TelephonyBYOP     = "byop"
	telephonySim      = "sim"
)

// Wildcard is the key segment that matches any provider or model; "*" alone is the fallback of
// a kind.
const Wildcard = "*"

// Limits of an override.
const (
	maxPriceKey      = 200
	MaxPriceOverride = 1000
)

//go:embed pricebook.json
var pricebookJSON []byte

// PriceBook is a set of prices: kind → key → micro-credits per PriceUnits[kind] units.
type PriceBook struct {
	Version string
	prices  map[string]map[string]int64
}

type pricebookFile struct {
	Version string `json:"version"`
	Note    string `json:"note"`
	Kinds   map[string]struct {
		Per    int64            `json:"per"`
		Prices map[string]int64 `json:"prices"`
	} `json:"kinds"`
}

// parsePriceBook reads and checks a price book file: every usage kind present with its unit,
// every key valid, every price ≥ 0.
func parsePriceBook(b []byte) (*PriceBook, error) {
	var f pricebookFile
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("price book: %w", err)
	}
	pb := &PriceBook{Version: f.Version, prices: map[string]map[string]int64{}}
	for kind, k := range f.Kinds {
		per, ok := PriceUnits[kind]
		if !ok {
			return nil, fmt.Errorf("price book: unknown kind %q", kind)
		}
		if k.Per != per {
			return nil, fmt.Errorf("price book: %s is priced per %d units, not %d", kind, per, k.Per)
		}
		m := map[string]int64{}
		for key, p := range k.Prices {
			if err := checkPriceKey(kind, key); err != nil {
				return nil, fmt.Errorf("price book: %w", err)
			}
			if p < 0 {
				return nil, fmt.Errorf("price book: %s %s: negative price", kind, key)
			}
			m[key] = p
		}
		pb.prices[kind] = m
	}
	for _, kind := range UsageKinds {
		if _, ok := pb.prices[kind]; !ok {
			return nil, fmt.Errorf("price book: kind %s missing", kind)
		}
	}
	for _, key := range []string{TelephonyPlatform, TelephonyBYOP} {
		if _, ok := pb.prices[UsageCallSeconds][key]; !ok {
			return nil, fmt.Errorf("price book: call_seconds %s missing", key)
		}
	}
	return pb, nil
}

// DefaultPriceBook is the platform's price book, embedded in the binary (pricebook.json).
var DefaultPriceBook = func() *PriceBook {
	pb, err := parsePriceBook(pricebookJSON)
	if err != nil {
		panic(err) // a build-time data error; TestDefaultPriceBook catches it first
	}
	return pb
}()

// checkPriceKey validates a price key of kind: platform or byop for call_seconds; for the other
// kinds "*" or provider/model where either side may be "*" (the model may itself contain "/").
func checkPriceKey(kind, key string) error {
	if key == "" || len(key) > maxPriceKey {
		return fmt.Errorf("%s key must be 1 to %d characters", kind, maxPriceKey)
	}
	if kind == UsageCallSeconds {
		if key != TelephonyPlatform && key != TelephonyBYOP {
			return fmt.Errorf("call_seconds key must be platform or byop, not %q", key)
		}
		return nil
	}
	if key == Wildcard {
		return nil
	}
	provider, model, ok := strings.Cut(key, "/")
	if !ok || provider == "" || model == "" || strings.ContainsAny(key, " \t\r\n") {
		return fmt.Errorf("%s key must be *, or provider/model (either may be *), not %q", kind, key)
	}
	return nil
}

// lookupKeys is the order in which a usage's price is looked up: the exact key, then the
// model's price whatever the provider, then the provider's default, then the kind's default.
// call_seconds has one key: platform (also for sim and an empty provider) or byop.
func lookupKeys(kind, provider, model string) ([]string, error) {
	if kind == UsageCallSeconds {
		switch provider {
		case TelephonyPlatform, telephonySim, "":
			return []string{TelephonyPlatform}, nil
		case TelephonyBYOP:
			return []string{TelephonyBYOP}, nil
		}
		return nil, apierr.Validation(apierr.FieldError{Location: "body.provider", Value: provider,
			Message: "call_seconds provider must be platform (Parley's telephony; sim is priced as platform) or byop"})
	}
	keys := make([]string, 0, 4)
	if provider != "" && model != "" {
		keys = append(keys, provider+"/"+model)
	}
	if model != "" {
		keys = append(keys, Wildcard+"/"+model)
	}
	if provider != "" {
		keys = append(keys, provider+"/"+Wildcard)
	}
	return append(keys, Wildcard), nil
}

var errNoPrice = apierr.New(apierr.Invalid, "no_price", "the price book has no price for this usage (no exact, provider or * entry)")

// price returns the price of a usage in the workspace's book and the key that matched: the
// workspace's overrides are searched first (in lookupKeys order), then the platform book, so any
// matching override wins over every platform entry (an override "*" prices the whole kind).
func price(base *PriceBook, overrides map[string]map[string]int64, kind, provider, model string) (int64, string, error) {
	keys, err := lookupKeys(kind, provider, model)
	if err != nil {
		return 0, "", err
	}
	for _, k := range keys {
		if p, ok := overrides[kind][k]; ok {
			return p, k, nil
		}
	}
	for _, k := range keys {
		if p, ok := base.prices[kind][k]; ok {
			return p, k, nil
		}
	}
	return 0, "", errNoPrice
}

// Price is one entry of a price book, as the API shows it.
type Price struct {
	Kind        string `json:"kind" enum:"call_seconds,stt_seconds,tts_characters,llm_input_tokens,llm_output_tokens"`
	Key         string `json:"key" example:"deepgram/nova-3" doc:"platform or byop for call_seconds; otherwise provider/model (TTS: provider/voice tier), either side may be *; * alone is the kind's fallback."`
	Price       string `json:"price" example:"0.000072" doc:"Credits per unit (decimal, at most 6 decimals)."`
	PriceMicros int64  `json:"priceMicros" example:"72"`
	Per         int64  `json:"per" example:"1" doc:"How many units of usage the price buys (60 seconds, 1 second, 1,000 characters, 1,000,000 tokens)."`
	Unit        string `json:"unit" example:"per second"`
	// Source is platform (the embedded book) or workspace (an operator's override).
	Source string `json:"source" enum:"platform,workspace"`
}

// PriceList is a workspace's effective prices.
type PriceList struct {
	WorkspaceID string  `json:"workspaceId"`
	Version     string  `json:"version" doc:"The version of the platform price book."`
	Prices      []Price `json:"prices"`
}

func newPrice(kind, key string, micros int64, source string) Price {
	return Price{Kind: kind, Key: key, Price: FormatCredits(micros), PriceMicros: micros, Per: PriceUnits[kind], Unit: unitNames[kind], Source: source}
}

// effective merges overrides over base, sorted by kind (documented order) then key.
func effective(wsID string, base *PriceBook, overrides map[string]map[string]int64) PriceList {
	out := PriceList{WorkspaceID: wsID, Version: base.Version, Prices: []Price{}}
	for _, kind := range UsageKinds {
		keys := map[string]bool{}
		for k := range base.prices[kind] {
			keys[k] = true
		}
		for k := range overrides[kind] {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			if p, ok := overrides[kind][k]; ok {
				out.Prices = append(out.Prices, newPrice(kind, k, p, "workspace"))
			} else {
				out.Prices = append(out.Prices, newPrice(kind, k, base.prices[kind][k], "platform"))
			}
		}
	}
	return out
}

// PriceOverride is one override of a workspace's price book.
type PriceOverride struct {
	Kind  string `json:"kind" enum:"call_seconds,stt_seconds,tts_characters,llm_input_tokens,llm_output_tokens"`
	Key   string `json:"key" minLength:"1" maxLength:"200" example:"openai/gpt-4o-mini" doc:"platform or byop for call_seconds; otherwise provider/model, either side may be *, or * alone."`
	Price string `json:"price" maxLength:"30" example:"0.12" doc:"Credits per unit of the kind (decimal string, at most 6 decimals; 0 is free)."`
}

// parseOverrides validates overrides (kind, key, price, no duplicate kind+key) into a map.
func parseOverrides(in []PriceOverride) (map[string]map[string]int64, error) {
	if len(in) > MaxPriceOverride {
		return nil, apierr.Validation(apierr.FieldError{Location: "body.prices", Message: "at most " + strconv.Itoa(MaxPriceOverride) + " overrides"})
	}
	var errs []apierr.FieldError
	out := map[string]map[string]int64{}
	for i, o := range in {
		loc := "body.prices[" + strconv.Itoa(i) + "]"
		if _, ok := PriceUnits[o.Kind]; !ok {
			errs = append(errs, apierr.FieldError{Location: loc + ".kind", Message: "unknown usage kind", Value: o.Kind})
			continue
		}
		if err := checkPriceKey(o.Kind, o.Key); err != nil {
			errs = append(errs, apierr.FieldError{Location: loc + ".key", Message: err.Error(), Value: o.Key})
			continue
		}
		micros, err := ParseCredits(o.Price)
		if err != nil {
			errs = append(errs, apierr.FieldError{Location: loc + ".price", Message: err.Error(), Value: o.Price})
			continue
		}
		if out[o.Kind] == nil {
			out[o.Kind] = map[string]int64{}
		}
		if _, dup := out[o.Kind][o.Key]; dup {
			errs = append(errs, apierr.FieldError{Location: loc + ".key", Message: "this kind and key are given twice", Value: o.Key})
			continue
		}
		out[o.Kind][o.Key] = micros
	}
	if len(errs) > 0 {
		return nil, apierr.Validation(errs...)
	}
	return out, nil
}

// PlatformPrices lists the platform price book (no workspace overrides).
func PlatformPrices() PriceList { return effective("", DefaultPriceBook, nil) }

// ParsePriceFlag reads an override written as kind:key=price ("stt_seconds:deepgram/*=0.00007",
// "call_seconds:byop=0"), as the CLI takes it. The values are checked by SetPrices.
func ParsePriceFlag(s string) (PriceOverride, error) {
	kind, rest, ok := strings.Cut(s, ":")
	i := strings.LastIndexByte(rest, '=')
	if !ok || i < 0 {
		return PriceOverride{}, fmt.Errorf("want kind:key=price (e.g. call_seconds:byop=0.005), not %q", s)
	}
	return PriceOverride{Kind: kind, Key: rest[:i], Price: rest[i+1:]}, nil
}
