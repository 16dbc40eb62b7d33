package agent

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/parleyhq/parley/internal/platform/apierr"
)

//go:embed catalog.json
var catalogJSON []byte

// Model is one model of a provider. Prices are integers in micro-credits per the unit their
// name says; a model has the prices of its kind only.
type Model struct {
	ID                string `json:"id"`
	InputPer1kTokens  int64  `json:"inputPer1kTokens,omitempty" doc:"LLM: micro-credits per 1,000 input tokens."`
	OutputPer1kTokens int64  `json:"outputPer1kTokens,omitempty" doc:"LLM: micro-credits per 1,000 output tokens."`
	PerMinute         int64  `json:"perMinute,omitempty" doc:"STT: micro-credits per minute of audio."`
	Per1kChars        int64  `json:"per1kChars,omitempty" doc:"TTS: micro-credits per 1,000 characters spoken."`
}

// Provider is one LLM, STT or TTS provider of the catalog.
type Provider struct {
	ID              string   `json:"id"`
	Name            string   `json:"name"`
	Models          []Model  `json:"models"`
	AnyModel        bool     `json:"anyModel,omitempty" doc:"Any model name is accepted (OpenAI-compatible endpoints)."`
	RequiresBaseURL bool     `json:"requiresBaseUrl,omitempty" doc:"Calls need a provider key with a baseUrl."`
	Languages       []string `json:"languages,omitempty" doc:"Languages the provider supports (BCP 47)."`
	Voices          []string `json:"voices,omitempty" doc:"TTS: the voices, where the provider has a fixed list."`
	AnyVoice        bool     `json:"anyVoice,omitempty" doc:"TTS: voices are account-specific IDs; any is accepted."`
}

// Catalog is every provider Parley supports, by kind.
type Catalog struct {
	PriceUnitNote string     `json:"priceUnitNote"`
	LLM           []Provider `json:"llm"`
	STT           []Provider `json:"stt"`
	TTS           []Provider `json:"tts"`
}

// LoadCatalog parses the embedded catalog. It fails only if the embedded file is broken, which a
// test catches.
func LoadCatalog() (*Catalog, error) {
	var c Catalog
	dec := json.NewDecoder(bytes.NewReader(catalogJSON))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("provider catalog: %w", err)
	}
	return &c, nil
}

func (c *Catalog) kind(k string) []Provider {
	switch k {
	case "llm":
		return c.LLM
	case "stt":
		return c.STT
	case "tts":
		return c.TTS
	}
	return nil
}

// provider finds a provider of a kind ("llm", "stt", "tts").
func (c *Catalog) provider(kind, id string) (Provider, bool) {
	for _, p := range c.kind(kind) {
		if p.ID == id {
			return p, true
		}
	}
	return Provider{}, false
}

// ProviderIDs lists the providers of a kind.
func (c *Catalog) ProviderIDs(kind string) []string {
	var out []string
	for _, p := range c.kind(kind) {
		out = append(out, p.ID)
	}
	return out
}

func (p Provider) modelIDs() []string {
	out := make([]string, 0, len(p.Models))
	for _, m := range p.Models {
		out = append(out, m.ID)
	}
	return out
}

// checkService validates the provider, model, voice and language of one resolved service
// (llm, stt or tts) against the catalog; loc is the field location prefix ("body.llm").
func (c *Catalog) checkService(kind, loc string, provider, model, voice, language string) []apierr.FieldError {
	p, ok := c.provider(kind, provider)
	if !ok {
		return []apierr.FieldError{{Location: loc + ".provider", Value: provider,
			Message: "unknown " + strings.ToUpper(kind) + " provider " + strconv.Quote(provider) + "; valid providers: " + strings.Join(c.ProviderIDs(kind), ", ")}}
	}
	var errs []apierr.FieldError
	if !p.AnyModel && !slices.Contains(p.modelIDs(), model) {
		errs = append(errs, apierr.FieldError{Location: loc + ".model", Value: model,
			Message: "unknown model " + strconv.Quote(model) + " for " + provider + "; valid models: " + strings.Join(p.modelIDs(), ", ")})
	}
	if p.AnyModel && (model == "" || len(model) > 200) {
		errs = append(errs, apierr.FieldError{Location: loc + ".model", Value: model, Message: "model must be 1 to 200 characters"})
	}
	if kind == "tts" {
		switch {
		case len(p.Voices) > 0 && !slices.Contains(p.Voices, voice):
			errs = append(errs, apierr.FieldError{Location: loc + ".voice", Value: voice,
				Message: "unknown voice " + strconv.Quote(voice) + " for " + provider + "; valid voices: " + strings.Join(p.Voices, ", ")})
		case voice == "" || len(voice) > 200:
			errs = append(errs, apierr.FieldError{Location: loc + ".voice", Value: voice, Message: "voice must be 1 to 200 characters"})
		}
	}
	if kind == "stt" && len(p.Languages) > 0 && !slices.Contains(p.Languages, language) {
		errs = append(errs, apierr.FieldError{Location: loc + ".language", Value: language,
			Message: "language " + strconv.Quote(language) + " is not supported by " + provider + "; valid languages: " + strings.Join(p.Languages, ", ")})
	}
	return errs
}
