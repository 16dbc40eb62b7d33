package agent

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/platform/apierr"
)

// LLM configures the language model. Every field is optional where it is an override: absent
// (or null in a patch) inherits.
type LLM struct {
	Provider    *string  `json:"provider,omitempty" doc:"A provider of GET /v1/catalog (llm)." example:"openai"`
	Model       *string  `json:"model,omitempty" doc:"A model of the provider." example:"gpt-4o-mini"`
	Temperature *float64 `json:"temperature,omitempty" minimum:"0" maximum:"2" doc:"0 to 2."`
	MaxTokens   *int     `json:"maxTokens,omitempty" minimum:"1" maximum:"128000" doc:"Longest reply, in tokens."`
}

// STT configures speech-to-text.
type STT struct {
	Provider      *string `json:"provider,omitempty" doc:"A provider of GET /v1/catalog (stt)." example:"deepgram"`
	Model         *string `json:"model,omitempty" example:"nova-3"`
	Language      *string `json:"language,omitempty" doc:"One of the provider's languages." example:"en"`
	EndpointingMs *int    `json:"endpointingMs,omitempty" minimum:"1" maximum:"10000" doc:"Silence, in milliseconds, that ends the caller's turn."`
}

// TTS configures text-to-speech.
type TTS struct {
	Provider *string  `json:"provider,omitempty" doc:"A provider of GET /v1/catalog (tts)." example:"openai"`
	Voice    *string  `json:"voice,omitempty" doc:"One of the provider's voices, or a voice ID where the provider has no fixed list." example:"alloy"`
	Model    *string  `json:"model,omitempty" example:"gpt-4o-mini-tts"`
	Speed    *float64 `json:"speed,omitempty" minimum:"0.5" maximum:"2" doc:"0.5 to 2."`
}

// Telephony holds the workspace's telephony defaults.
type Telephony struct {
	DefaultCredentialID *string `json:"defaultCredentialId,omitempty" maxLength:"64" doc:"The telephony credential used when a call names none."`
	DefaultFromNumber   *string `json:"defaultFromNumber,omitempty" maxLength:"16" doc:"E.164 caller ID used when a call names none." example:"+14155550100"`
}

// Calls holds the workspace's call limits.
type Calls struct {
	MaxDurationSeconds *int  `json:"maxDurationSeconds,omitempty" minimum:"1" maximum:"14400" doc:"Longest call, in seconds (agents may override)."`
	MaxConcurrentCalls *int  `json:"maxConcurrentCalls,omitempty" minimum:"1" maximum:"1000"`
	RecordCalls        *bool `json:"recordCalls,omitempty"`
}

// CallingHours is when outbound calls may be placed, in the workspace's time zone.
type CallingHours struct {
	Days  []string `json:"days,omitempty" doc:"Days of the week: mon, tue, wed, thu, fri, sat, sun." example:"[\"mon\",\"tue\",\"wed\",\"thu\",\"fri\"]"`
	Start *string  `json:"start,omitempty" doc:"HH:MM, 24-hour." example:"09:00"`
	End   *string  `json:"end,omitempty" doc:"HH:MM, 24-hour, after start." example:"18:00"`
}

// Privacy holds the workspace's privacy settings.
type Privacy struct {
	MaskPhoneNumbersForMembers *bool `json:"maskPhoneNumbersForMembers,omitempty" doc:"Members (not owners or admins) see phone numbers masked."`
}

// Settings are a workspace's settings. Stored, they are the workspace's overrides only; read,
// every field is filled (platform defaults where the workspace sets nothing), except the
// telephony defaults, which have none.
type Settings struct {
	LLM           *LLM          `json:"llm,omitempty"`
	STT           *STT          `json:"stt,omitempty"`
	TTS           *TTS          `json:"tts,omitempty"`
	Language      *string       `json:"language,omitempty" doc:"Default language of agents (BCP 47)." example:"en"`
	Timezone      *string       `json:"timezone,omitempty" doc:"IANA time zone: the workspace's own (PATCH here or on the workspace changes the same value)." example:"Europe/Berlin"`
	DefaultRegion *string       `json:"defaultRegion,omitempty" doc:"ISO 3166-1 alpha-2 region for phone numbers written without a country code." example:"US"`
	Telephony     *Telephony    `json:"telephony,omitempty"`
	Calls         *Calls        `json:"calls,omitempty"`
	CallingHours  *CallingHours `json:"callingHours,omitempty"`
	Privacy       *Privacy      `json:"privacy,omitempty"`
}

// SettingsView is GET /v1/workspaces/{id}/settings: every setting, resolved.
type SettingsView struct {
	Settings
	PlatformDefaults []string   `json:"platformDefaults" doc:"Settings (dotted paths) the workspace does not set: they have the platform's default value."`
	Version          int        `json:"version" doc:"Increases with every change; also the ETag."`
	UpdatedAt        *time.Time `json:"updatedAt,omitempty"`
}

func ptr[T any](v T) *T { return &v }

// PlatformSettings are the platform defaults of every workspace setting. timezone is the
// workspace's own and comes from the workspace.
func PlatformSettings() Settings {
	return Settings{
		LLM:           &LLM{Provider: ptr("openai"), Model: ptr("gpt-4o-mini"), Temperature: ptr(0.7), MaxTokens: ptr(1024)},
		STT:           &STT{Provider: ptr("deepgram"), Model: ptr("nova-3"), Language: ptr("en"), EndpointingMs: ptr(300)},
		TTS:           &TTS{Provider: ptr("openai"), Voice: ptr("alloy"), Model: ptr("gpt-4o-mini-tts"), Speed: ptr(1.0)},
		Language:      ptr("en"),
		DefaultRegion: ptr("US"),
		Calls:         &Calls{MaxDurationSeconds: ptr(1800), MaxConcurrentCalls: ptr(5), RecordCalls: ptr(false)},
		CallingHours:  &CallingHours{Days: []string{"mon", "tue", "wed", "thu", "fri"}, Start: ptr("09:00"), End: ptr("18:00")},
		Privacy:       &Privacy{MaskPhoneNumbersForMembers: ptr(false)},
	}
}

var (
	languagePattern = regexp.MustCompile(`^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$`)
	regionPattern   = regexp.MustCompile(`^[A-Z]{2}$`)
	e164Pattern     = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	clockPattern    = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)
	idPattern       = regexp.MustCompile(`^[a-z]+_[0-9a-z]{1,60}$`)
	weekdays        = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
)

type checker struct{ errs []apierr.FieldError }

func (c *checker) add(loc, msg string, v any) {
	c.errs = append(c.errs, apierr.FieldError{Location: loc, Message: msg, Value: v})
}

func (c *checker) float(loc string, v *float64, lo, hi float64) {
	if v != nil && (*v < lo || *v > hi) {
		c.add(loc, "must be between "+strconv.FormatFloat(lo, 'f', -1, 64)+" and "+strconv.FormatFloat(hi, 'f', -1, 64), *v)
	}
}

func (c *checker) int(loc string, v *int, lo, hi int) {
	if v != nil && (*v < lo || *v > hi) {
		c.add(loc, "must be between "+strconv.Itoa(lo)+" and "+strconv.Itoa(hi), *v)
	}
}

func (c *checker) pattern(loc string, v *string, re *regexp.Regexp, what string) {
	if v != nil && !re.MatchString(*v) {
		c.add(loc, "must be "+what, *v)
	}
}

func (c *checker) err() error {
	if len(c.errs) == 0 {
		return nil
	}
	return apierr.Validation(c.errs...)
}

// checkServices checks the ranges of llm, stt and tts fields that are set (provider and model
// combinations are checked on the resolved values, by checkResolved).
func (c *checker) checkServices(loc string, llm *LLM, stt *STT, tts *TTS) {
	if llm != nil {
		c.float(loc+"llm.temperature", llm.Temperature, 0, 2)
		c.int(loc+"llm.maxTokens", llm.MaxTokens, 1, 128000)
	}
	if stt != nil {
		c.int(loc+"stt.endpointingMs", stt.EndpointingMs, 1, 10000)
	}
	if tts != nil {
		c.float(loc+"tts.speed", tts.Speed, 0.5, 2)
	}
}

// validate checks the ranges and formats of the fields a workspace sets.
func validateSettings(s Settings) error {
	var c checker
	c.checkServices("body.", s.LLM, s.STT, s.TTS)
	c.pattern("body.language", s.Language, languagePattern, "a BCP 47 language tag, e.g. en or en-US")
	c.pattern("body.defaultRegion", s.DefaultRegion, regionPattern, "an ISO 3166-1 alpha-2 region, e.g. US")
	if s.Timezone != nil {
		if _, err := time.LoadLocation(*s.Timezone); err != nil || *s.Timezone == "" || *s.Timezone == "Local" || strings.HasPrefix(*s.Timezone, "/") {
			c.add("body.timezone", "must be an IANA time zone name, e.g. Europe/Berlin", *s.Timezone)
		}
	}
	if t := s.Telephony; t != nil {
		c.pattern("body.telephony.defaultCredentialId", t.DefaultCredentialID, idPattern, "a credential ID")
		c.pattern("body.telephony.defaultFromNumber", t.DefaultFromNumber, e164Pattern, "an E.164 number, e.g. +14155550100")
	}
	if k := s.Calls; k != nil {
		c.int("body.calls.maxDurationSeconds", k.MaxDurationSeconds, 1, 14400)
		c.int("body.calls.maxConcurrentCalls", k.MaxConcurrentCalls, 1, 1000)
	}
	if h := s.CallingHours; h != nil {
		if h.Days != nil && len(h.Days) == 0 {
			c.add("body.callingHours.days", "give at least one day", nil)
		}
		seen := map[string]bool{}
		for i, d := range h.Days {
			if !slices.Contains(weekdays, d) || seen[d] {
				c.add("body.callingHours.days["+strconv.Itoa(i)+"]", "must be one of "+strings.Join(weekdays, ", ")+", each once", d)
			}
			seen[d] = true
		}
		c.pattern("body.callingHours.start", h.Start, clockPattern, "HH:MM (24-hour)")
		c.pattern("body.callingHours.end", h.End, clockPattern, "HH:MM (24-hour)")
	}
	return c.err()
}

// checkResolved checks what only the resolved settings can show: provider, model, voice and
// language combinations against the catalog, and calling hours that end after they start.
func checkResolvedSettings(s Settings, cat *Catalog) error {
	var c checker
	c.errs = append(c.errs, cat.checkService("llm", "body.llm", deref(s.LLM.Provider), deref(s.LLM.Model), "", "")...)
	c.errs = append(c.errs, cat.checkService("stt", "body.stt", deref(s.STT.Provider), deref(s.STT.Model), "", deref(s.STT.Language))...)
	c.errs = append(c.errs, cat.checkService("tts", "body.tts", deref(s.TTS.Provider), deref(s.TTS.Model), deref(s.TTS.Voice), "")...)
	if h := s.CallingHours; h != nil && deref(h.Start) >= deref(h.End) {
		c.add("body.callingHours.end", "must be after start ("+deref(h.Start)+")", deref(h.End))
	}
	return c.err()
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
