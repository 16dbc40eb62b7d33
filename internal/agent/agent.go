package agent

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Tool is a function the agent may call, in OpenAI's function shape.
type Tool struct {
	Name        string         `json:"name" doc:"1 to 64 of a-z, A-Z, 0-9, _ and -; unique in the agent." example:"book_appointment"`
	Description string         `json:"description,omitempty" maxLength:"1024"`
	Parameters  map[string]any `json:"parameters,omitempty" doc:"A JSON Schema (draft 2020-12) of type object describing the arguments."`
}

// Variable is a declared {{variable}} of the prompt and greeting, with its default.
type Variable struct {
	Name        string  `json:"name" doc:"Letters, digits and _, starting with a letter or _." example:"company"`
	Default     *string `json:"default,omitempty" maxLength:"1000" doc:"Used when a call does not give the variable."`
	Description string  `json:"description,omitempty" maxLength:"1000"`
}

// AnalysisField is a value to extract from the transcript after a call.
type AnalysisField struct {
	Name        string `json:"name" example:"appointment_booked"`
	Type        string `json:"type" enum:"string,number,integer,boolean"`
	Description string `json:"description,omitempty" maxLength:"1000"`
}

// Document is an agent's own settings: what it overrides. Every field is optional; absent (or
// null in a patch) means "inherit" for language, llm, stt, tts and maxDurationSeconds (from the
// workspace, then the platform) and "the platform default" for the others. name is required on
// create and cannot be removed.
type Document struct {
	Name               *string         `json:"name,omitempty" maxLength:"100" doc:"Required on create." example:"Front desk"`
	Description        *string         `json:"description,omitempty" maxLength:"1000"`
	Prompt             *string         `json:"prompt,omitempty" maxLength:"32768" doc:"The system prompt, at most 32 KiB. {{variable}} placeholders must be declared in variables or built in." example:"You are the front desk of {{company}}. Greet {{contact.name}} and book appointments."`
	GreetingMessage    *string         `json:"greetingMessage,omitempty" maxLength:"4096" example:"Hello {{contact.name}}, this is {{agent.name}}."`
	Language           *string         `json:"language,omitempty" doc:"BCP 47; inherits the workspace's language."`
	LLM                *LLM            `json:"llm,omitempty"`
	STT                *STT            `json:"stt,omitempty"`
	TTS                *TTS            `json:"tts,omitempty"`
	AllowInterruptions *bool           `json:"allowInterruptions,omitempty" doc:"Whether the caller may talk over the agent (default true)."`
	MaxDurationSeconds *int            `json:"maxDurationSeconds,omitempty" minimum:"1" maximum:"14400" doc:"Inherits the workspace's calls.maxDurationSeconds."`
	EndCallPhrases     []string        `json:"endCallPhrases,omitempty" maxItems:"20" doc:"Phrases that end the call when the agent says them."`
	VoicemailAction    *string         `json:"voicemailAction,omitempty" enum:"hangup,leave_message" doc:"Default hangup."`
	VoicemailMessage   *string         `json:"voicemailMessage,omitempty" maxLength:"4096"`
	TransferNumber     *string         `json:"transferNumber,omitempty" doc:"E.164 number to transfer the call to." example:"+14155550100"`
	Tools              []Tool          `json:"tools,omitempty" maxItems:"64"`
	Variables          []Variable      `json:"variables,omitempty" maxItems:"100"`
	Analysis           []AnalysisField `json:"analysis,omitempty" maxItems:"50"`
	Status             *string         `json:"status,omitempty" enum:"active,paused,archived" doc:"Default active."`
}

// CopiedFrom records the agent an agent was copied from.
type CopiedFrom struct {
	WorkspaceID string `json:"workspaceId"`
	AgentID     string `json:"agentId"`
	Version     int    `json:"version"`
}

// Agent is an agent as the API shows it: its own settings (see GET …/effective for the resolved
// ones) and its metadata.
type Agent struct {
	ID          string `json:"id" doc:"The agent's ID (agent_…)."`
	WorkspaceID string `json:"workspaceId"`
	Document
	Version    int         `json:"version" doc:"The current version; also the ETag."`
	CreatedBy  string      `json:"createdBy"`
	CreatedAt  time.Time   `json:"createdAt"`
	UpdatedAt  time.Time   `json:"updatedAt"`
	CopiedFrom *CopiedFrom `json:"copiedFrom,omitempty" doc:"Where the agent was copied from, if it was."`
	Warnings   []string    `json:"warnings,omitempty" doc:"Problems that do not prevent saving, e.g. undeclared {{variables}}."`
}

// Builtins are the {{placeholders}} every call fills in.
var Builtins = []string{"contact.name", "contact.phone", "workspace.name", "agent.name", "now", "today"}

// MaxPromptBytes bounds the prompt.
const MaxPromptBytes = 32 << 10

var (
	toolNamePattern = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)
	varNamePattern  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)
	placeholder     = regexp.MustCompile(`\{\{\s*([^{}\s]*)\s*\}\}`)
	analysisTypes   = []string{"string", "number", "integer", "boolean"}
)

func (c *checker) text(loc string, v *string, max int, what string) {
	if v != nil && len(*v) > max {
		c.add(loc, "must be at most "+what, nil)
	}
}

// validateDocument checks the fields an agent sets (types are already checked by decoding).
func validateDocument(d Document) error {
	var c checker
	if d.Name != nil {
		name := strings.TrimSpace(*d.Name)
		n := utf8.RuneCountInString(name)
		if n == 0 || n > 100 || strings.ContainsFunc(name, unicode.IsControl) {
			c.add("body.name", "name must be 1 to 100 characters, without control characters", *d.Name)
		}
	}
	c.text("body.description", d.Description, 1000, "1000 bytes")
	c.text("body.prompt", d.Prompt, MaxPromptBytes, "32 KiB")
	c.text("body.greetingMessage", d.GreetingMessage, 4096, "4 KiB")
	c.text("body.voicemailMessage", d.VoicemailMessage, 4096, "4 KiB")
	c.pattern("body.language", d.Language, languagePattern, "a BCP 47 language tag, e.g. en or en-US")
	c.checkServices("body.", d.LLM, d.STT, d.TTS)
	c.int("body.maxDurationSeconds", d.MaxDurationSeconds, 1, 14400)
	if len(d.EndCallPhrases) > 20 {
		c.add("body.endCallPhrases", "at most 20 phrases", nil)
	}
	for i, p := range d.EndCallPhrases {
		if strings.TrimSpace(p) == "" || len(p) > 200 {
			c.add("body.endCallPhrases["+strconv.Itoa(i)+"]", "must be 1 to 200 characters", p)
		}
	}
	if d.VoicemailAction != nil && *d.VoicemailAction != "hangup" && *d.VoicemailAction != "leave_message" {
		c.add("body.voicemailAction", "must be hangup or leave_message", *d.VoicemailAction)
	}
	c.pattern("body.transferNumber", d.TransferNumber, e164Pattern, "an E.164 number, e.g. +14155550100")
	if d.Status != nil && !slices.Contains([]string{"active", "paused", "archived"}, *d.Status) {
		c.add("body.status", "must be active, paused or archived", *d.Status)
	}
	if len(d.Tools) > 64 {
		c.add("body.tools", "at most 64 tools", nil)
	}
	seen := map[string]bool{}
	for i, t := range d.Tools {
		loc := "body.tools[" + strconv.Itoa(i) + "]"
		if !toolNamePattern.MatchString(t.Name) || seen[t.Name] {
			c.add(loc+".name", "must be 1 to 64 of a-z, A-Z, 0-9, _ and -, unique in the agent", t.Name)
		}
		seen[t.Name] = true
		if len(t.Description) > 1024 {
			c.add(loc+".description", "must be at most 1024 characters", nil)
		}
		if t.Parameters != nil {
			if msg := checkSchema(t.Parameters); msg != "" {
				c.add(loc+".parameters", msg, nil)
			}
		}
	}
	if len(d.Variables) > 100 {
		c.add("body.variables", "at most 100 variables", nil)
	}
	seen = map[string]bool{}
	for i, v := range d.Variables {
		loc := "body.variables[" + strconv.Itoa(i) + "]"
		if !varNamePattern.MatchString(v.Name) || seen[v.Name] {
			c.add(loc+".name", "must be letters, digits and _ (starting with a letter or _), unique in the agent", v.Name)
		}
		seen[v.Name] = true
		c.text(loc+".default", v.Default, 1000, "1000 bytes")
		if len(v.Description) > 1000 {
			c.add(loc+".description", "must be at most 1000 characters", nil)
		}
	}
	if len(d.Analysis) > 50 {
		c.add("body.analysis", "at most 50 fields", nil)
	}
	seen = map[string]bool{}
	for i, a := range d.Analysis {
		loc := "body.analysis[" + strconv.Itoa(i) + "]"
		if !varNamePattern.MatchString(a.Name) || seen[a.Name] {
			c.add(loc+".name", "must be letters, digits and _ (starting with a letter or _), unique in the agent", a.Name)
		}
		seen[a.Name] = true
		if !slices.Contains(analysisTypes, a.Type) {
			c.add(loc+".type", "must be one of "+strings.Join(analysisTypes, ", "), a.Type)
		}
		if len(a.Description) > 1000 {
			c.add(loc+".description", "must be at most 1000 characters", nil)
		}
	}
	return c.err()
}

// checkSchema compiles a tool's parameters as a JSON Schema (draft 2020-12, validated against
// the meta-schema) and returns what is wrong, or "". References outside the schema are refused:
// no loader is installed, so nothing is fetched or read.
func checkSchema(params map[string]any) string {
	if t, _ := params["type"].(string); t != "object" {
		return `must be a JSON Schema with "type": "object"`
	}
	raw, err := json.Marshal(params)
	if err != nil {
		return "must be a JSON object"
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return "must be a JSON object"
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.UseLoader(jsonschema.SchemeURLLoader{})
	const loc = "urn:parley:tool-parameters"
	if err := c.AddResource(loc, doc); err != nil {
		return "is not a valid JSON Schema"
	}
	if _, err := c.Compile(loc); err != nil {
		msg := err.Error()
		if len(msg) > 300 {
			msg = msg[:300] + "…"
		}
		return "is not a valid JSON Schema: " + msg
	}
	return ""
}

// warnings lists the {{placeholders}} of the prompt, greeting and voicemail message that are
// neither declared nor built in.
func warnings(d Document) []string {
	declared := map[string]bool{}
	for _, b := range Builtins {
		declared[b] = true
	}
	for _, v := range d.Variables {
		declared[v.Name] = true
	}
	var out []string
	for _, f := range []struct {
		name string
		text *string
	}{{"prompt", d.Prompt}, {"greetingMessage", d.GreetingMessage}, {"voicemailMessage", d.VoicemailMessage}} {
		if f.text == nil {
			continue
		}
		seen := map[string]bool{}
		for _, m := range placeholder.FindAllStringSubmatch(*f.text, -1) {
			if name := m[1]; !declared[name] && !seen[name] {
				seen[name] = true
				out = append(out, f.name+": {{"+name+"}} is neither declared in variables nor built in ("+strings.Join(Builtins, ", ")+")")
			}
		}
	}
	return out
}

// agentDefaults are the platform defaults of the settings only agents have.
func agentDefaults() map[string]any {
	return map[string]any{
		"description": "", "prompt": "", "greetingMessage": "", "allowInterruptions": true,
		"endCallPhrases": []any{}, "voicemailAction": "hangup", "voicemailMessage": "", "transferNumber": nil,
		"tools": []any{}, "variables": []any{}, "analysis": []any{}, "status": "active",
	}
}
