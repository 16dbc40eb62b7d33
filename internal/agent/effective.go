package agent

import (
	"strings"

	"github.com/parleyhq/parley/internal/platform/apierr"
)

// Sources of an effective setting.
const (
	SourceAgent     = "agent"
	SourceWorkspace = "workspace"
	SourcePlatform  = "platform"
	// SourceCall marks a setting one call's overrides set (the chain's fourth level).
	SourceCall = "call"
)

// Setting is one effective setting: its value and where it comes from.
type Setting struct {
	Value  any    `json:"value"`
	Source string `json:"source" enum:"call,agent,workspace,platform" doc:"call: the call's overrides set it (a call's effective configuration only); agent: the agent sets it; workspace: inherited from the workspace's settings; platform: nobody sets it, the platform default applies."`
}

// Effective is an agent's resolved configuration.
type Effective struct {
	AgentID  string             `json:"agentId"`
	Version  int                `json:"version"`
	Settings map[string]Setting `json:"settings" doc:"Every setting by dotted path (llm.model, tts.voice, prompt…)."`
	Config   map[string]any     `json:"config" doc:"The same values as one nested object, as a call uses them."`
	Keys     map[string]KeyUse  `json:"keys" doc:"For llm, stt and tts: whose key a call uses (the workspace's provider key for the resolved provider when it has one, else the platform's)."`
}

// platformTree is PlatformSettings as a tree.
func platformTree() map[string]any {
	t, err := toTree(PlatformSettings())
	if err != nil {
		panic(err) // a constant value that always marshals
	}
	return t
}

// agentPathOf names the agent setting that inherits a workspace setting, if any.
func agentPathOf(wsPath string) (string, bool) {
	switch {
	case wsPath == "language":
		return "language", true
	case wsPath == "calls.maxDurationSeconds":
		return "maxDurationSeconds", true
	case strings.HasPrefix(wsPath, "llm."), strings.HasPrefix(wsPath, "stt."), strings.HasPrefix(wsPath, "tts."):
		return wsPath, true
	}
	return "", false
}

// resolve computes every setting of an agent whose own settings are doc, in a workspace whose
// overrides are ws: the agent's value if it sets one, else (for settings that inherit) the
// workspace's, else the platform's.
func resolve(ws, doc map[string]any) map[string]Setting {
	out := map[string]Setting{}
	for k, v := range agentDefaults() {
		out[k] = Setting{Value: v, Source: SourcePlatform}
	}
	for wsPath, v := range flatten("", platformTree(), nil) {
		path, ok := agentPathOf(wsPath)
		if !ok {
			continue
		}
		s := Setting{Value: v, Source: SourcePlatform}
		if w, ok := lookup(ws, wsPath); ok {
			s = Setting{Value: w, Source: SourceWorkspace}
		}
		out[path] = s
	}
	for path, v := range flatten("", doc, nil) {
		out[path] = Setting{Value: v, Source: SourceAgent}
	}
	return out
}

// config nests resolved settings into one object.
func config(settings map[string]Setting) map[string]any {
	out := map[string]any{}
	for path, s := range settings {
		set(out, path, s.Value)
	}
	return out
}

// resolvedServices returns the resolved llm, stt and tts of an agent.
func resolvedServices(ws, doc map[string]any) (Settings, error) {
	cfg := config(resolve(ws, doc))
	var s Settings
	err := decodeTree(map[string]any{"llm": cfg["llm"], "stt": cfg["stt"], "tts": cfg["tts"]}, &s, "body")
	return s, err
}

// checkAgent checks an agent's resolved provider, model, voice and language combinations.
func checkAgent(cat *Catalog, ws, doc map[string]any) []apierr.FieldError {
	s, err := resolvedServices(ws, doc)
	if err != nil {
		return []apierr.FieldError{{Location: "body", Message: err.Error()}}
	}
	var errs []apierr.FieldError
	errs = append(errs, cat.checkService("llm", "body.llm", deref(s.LLM.Provider), deref(s.LLM.Model), "", "")...)
	errs = append(errs, cat.checkService("stt", "body.stt", deref(s.STT.Provider), deref(s.STT.Model), "", deref(s.STT.Language))...)
	errs = append(errs, cat.checkService("tts", "body.tts", deref(s.TTS.Provider), deref(s.TTS.Model), deref(s.TTS.Voice), "")...)
	return errs
}

// WithCallOverrides lays a call's overrides over the agent's effective configuration: the
// fourth level of the chain platform → workspace → agent → call, with the same rules (a setting
// the call sets wins, and says so with source "call").
func (e Effective) WithCallOverrides(overrides map[string]any) Effective {
	if len(overrides) == 0 {
		return e
	}
	settings := make(map[string]Setting, len(e.Settings))
	for k, v := range e.Settings {
		settings[k] = v
	}
	for path, v := range flatten("", overrides, nil) {
		settings[path] = Setting{Value: v, Source: SourceCall}
	}
	e.Settings = settings
	e.Config = config(settings)
	return e
}
