package web

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/parleyhq/parley/internal/agent"
	"github.com/parleyhq/parley/internal/platform/apierr"
)

// This file is the settings form machinery shared by the agent editor and the Settings page.
//
// A setting is a dotted path ("llm.model"); its form field is named and identified by the path
// with dashes ("llm-model"). A form carries, beside each field, the value it was rendered with
// (orig-<name>), so a save sends only what the person changed, as a JSON merge patch: a changed
// value sets the setting, a "Reset to default" button (reset=<name>) sends null (inherit again),
// and an "Override" checkbox (override=<name>) pins an inherited value to the agent even when it
// is not changed. Nothing else is sent, so a workspace default changed meanwhile still reaches
// the agent's untouched fields.

// Field kinds.
const (
	kindText     = "text"
	kindTextarea = "textarea"
	kindFloat    = "float"
	kindInt      = "int"
	kindBool     = "bool"
	kindSelect   = "select"
	kindProvider = "provider"
	kindModel    = "model"
	kindVoice    = "voice"
	kindLanguage = "language"
	kindDays     = "days"
	kindTime     = "time"
	// kindLines is a list of strings, one per line of a textarea.
	kindLines = "lines"
	// kindJSON is a structured value (tools, variables, analysis) edited as JSON in a textarea.
	kindJSON = "json"
)

// multiline reports whether a kind is edited in a textarea (and so is not trimmed).
func multiline(kind string) bool {
	return kind == kindTextarea || kind == kindLines || kind == kindJSON
}

// Multiline reports whether the field is a textarea.
func (f *fieldView) Multiline() bool { return multiline(f.Kind) }

// Rows is the textarea's height.
func (f *fieldView) Rows() int {
	switch {
	case f.Path == "prompt":
		return 10
	case f.Kind == kindJSON:
		return 6
	}
	return 3
}

// specValue writes a setting's value as the form value of its field.
func specValue(spec fieldSpec, v any) string {
	switch spec.Kind {
	case kindLines:
		if xs, ok := v.([]any); ok {
			parts := make([]string, len(xs))
			for i, x := range xs {
				parts[i] = valueString(x)
			}
			return strings.Join(parts, "\n")
		}
	case kindJSON:
		if v == nil {
			return ""
		}
		b, err := json.MarshalIndent(v, "", "  ")
		if err == nil {
			return string(b)
		}
	}
	return valueString(v)
}

// fieldSpec describes one setting of a form.
type fieldSpec struct {
	Path  string
	Label string
	Hint  string
	Kind  string
	// Service is llm, stt or tts for provider, model and voice fields.
	Service string
	// Inherits: the setting has a default from above (the workspace or the platform) that the
	// form shows and can return to; false for an agent's own fields (name, prompt…).
	Inherits bool
	// NoReset: the setting is always set (the workspace's time zone).
	NoReset bool
	// EmptyIsNull: an empty value removes the setting (optional text and numbers).
	EmptyIsNull    bool
	Min, Max, Step string
	Options        []option
}

// option is one choice of a select.
type option struct {
	Value, Label string
	Selected     bool
}

// optGroup is a group of choices (a provider's models).
type optGroup struct {
	Label   string
	Options []option
}

// fieldGroup is a fieldset of a form.
type fieldGroup struct {
	Legend string
	ID     string
	Fields []*fieldView
}

// fieldView is a field as a template shows it.
type fieldView struct {
	fieldSpec
	// Name is the form field's name and ID.
	Name string
	// Level is what the form edits: "agent" or "workspace".
	Level string
	// Value is the value in the input; Orig the value the form was rendered with.
	Value, Orig string
	// Set: the level being edited sets it (the agent overrides it, the workspace sets it).
	Set bool
	// Default is the value it has when not set, and DefaultSource where that comes from
	// ("workspace" or "platform").
	Default, DefaultSource string
	// Override ticks the Override checkbox (a re-rendered form).
	Override bool
	Err      string
	Groups   []optGroup
	Days     []dayOption
	// Display is the value for a person to read (read-only pages).
	Display string
}

// dayOption is one weekday checkbox.
type dayOption struct {
	Value, Label string
	Checked      bool
}

var weekdays = []option{{"mon", "Monday", false}, {"tue", "Tuesday", false}, {"wed", "Wednesday", false}, {"thu", "Thursday", false}, {"fri", "Friday", false}, {"sat", "Saturday", false}, {"sun", "Sunday", false}}

// fieldName is the form name of a setting's path.
func fieldName(path string) string { return strings.ReplaceAll(path, ".", "-") }

// valueString writes a setting's value as a form value.
func valueString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case int:
		return strconv.Itoa(x)
	case bool:
		return strconv.FormatBool(x)
	case []any:
		parts := make([]string, len(x))
		for i, p := range x {
			parts[i] = valueString(p)
		}
		return strings.Join(parts, ",")
	case []string:
		return strings.Join(x, ",")
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// display writes a form value of a kind for a person to read.
func display(kind, s string) string {
	switch {
	case kind == kindBool && s == "true":
		return "Yes"
	case kind == kindBool && s == "false":
		return "No"
	case kind == kindDays:
		return strings.ReplaceAll(s, ",", ", ")
	case s == "":
		return "(none)"
	}
	return s
}

// Shown is the value as the page shows it.
func (f *fieldView) Shown() string { return display(f.Kind, f.Value) }

// DefaultShown is the default value as the page shows it.
func (f *fieldView) DefaultShown() string { return display(f.Kind, f.Default) }

// HasSource reports whether the field says where its value comes from.
func (f *fieldView) HasSource() bool {
	if f.Level == "agent" {
		return f.Inherits
	}
	return !f.NoReset
}

// DescribedBy lists the IDs of the field's hint, source line and error.
func (f *fieldView) DescribedBy() string {
	var ids []string
	if f.Hint != "" {
		ids = append(ids, f.Name+"-hint")
	}
	if f.HasSource() {
		ids = append(ids, f.Name+"-source")
	}
	if f.Err != "" {
		ids = append(ids, f.Name+"-error")
	}
	return strings.Join(ids, " ")
}

// OverrideBox is the ID of the field's Override checkbox ("" when it has none).
func (f *fieldView) OverrideBox() string {
	if f.Level == "agent" && f.Inherits && !f.Set {
		return f.Name + "-override"
	}
	return ""
}

// flattenTree lists a JSON tree's leaves by dotted path (arrays are leaves).
func flattenTree(prefix string, v any, out map[string]any) {
	m, ok := v.(map[string]any)
	if !ok {
		out[prefix] = v
		return
	}
	for k, sub := range m {
		p := k
		if prefix != "" {
			p = prefix + "." + k
		}
		flattenTree(p, sub, out)
	}
}

// treeOf flattens a value through its JSON form.
func treeOf(v any) map[string]any {
	out := map[string]any{}
	b, err := json.Marshal(v)
	if err != nil {
		return out
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return out
	}
	flattenTree("", m, out)
	return out
}

// setPath sets a dotted path in a nested patch.
func setPath(m map[string]any, path string, v any) {
	parts := strings.Split(path, ".")
	for _, p := range parts[:len(parts)-1] {
		sub, ok := m[p].(map[string]any)
		if !ok {
			sub = map[string]any{}
			m[p] = sub
		}
		m = sub
	}
	m[parts[len(parts)-1]] = v
}

// choices fills a field's select options from the catalog; provider is the value of the
// service's provider field (a model is selected in that provider's group).
func (f *fieldView) choices(cat *agent.Catalog, provider string) {
	var provs []agent.Provider
	switch f.Service {
	case "llm":
		provs = cat.LLM
	case "stt":
		provs = cat.STT
	case "tts":
		provs = cat.TTS
	}
	found := f.Value == ""
	switch f.Kind {
	case kindProvider:
		for _, p := range provs {
			f.Options = append(f.Options, option{p.ID, p.Name, p.ID == f.Value})
			found = found || p.ID == f.Value
		}
		if !found {
			f.Options = append(f.Options, option{f.Value, f.Value, true})
		}
	case kindModel:
		// Select the model in its provider's group, else in the first group that has it.
		done := false
		for pass := 0; pass < 2; pass++ {
			for _, p := range provs {
				if done || (pass == 0 && p.ID != provider) {
					continue
				}
				for _, m := range p.Models {
					if m.ID == f.Value {
						provider, done = p.ID, true
						break
					}
				}
			}
		}
		for _, p := range provs {
			g := optGroup{Label: p.Name}
			for _, m := range p.Models {
				g.Options = append(g.Options, option{m.ID, m.ID, m.ID == f.Value && p.ID == provider})
				found = found || m.ID == f.Value
			}
			if len(g.Options) > 0 {
				f.Groups = append(f.Groups, g)
			}
		}
		if !found {
			f.Groups = append(f.Groups, optGroup{Label: "Other", Options: []option{{f.Value, f.Value, true}}})
		}
	}
}

// catalogLists are the suggestions of the voice and language inputs.
type catalogLists struct {
	Voices    []option
	Languages []string
}

func newCatalogLists(cat *agent.Catalog) catalogLists {
	var l catalogLists
	for _, p := range cat.TTS {
		for _, v := range p.Voices {
			l.Voices = append(l.Voices, option{v, p.Name, false})
		}
	}
	for _, p := range cat.STT {
		for _, lang := range p.Languages {
			if !slices.Contains(l.Languages, lang) {
				l.Languages = append(l.Languages, lang)
			}
		}
	}
	return l
}

// postedValue reads a field's submitted value (days: the ticked days, in week order).
func postedValue(r *http.Request, spec fieldSpec) string {
	name := fieldName(spec.Path)
	if spec.Kind == kindDays {
		var days []string
		for _, d := range weekdays {
			if slices.Contains(r.PostForm[name], d.Value) {
				days = append(days, d.Value)
			}
		}
		return strings.Join(days, ",")
	}
	v := r.PostFormValue(name)
	if !multiline(spec.Kind) {
		v = strings.TrimSpace(v)
	}
	return v
}

// parseValue turns a submitted value into the setting's JSON value.
func parseValue(spec fieldSpec, s string) (any, string) {
	if s == "" && spec.EmptyIsNull {
		return nil, ""
	}
	switch spec.Kind {
	case kindFloat:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, "Enter a number, for example " + spec.Min + "."
		}
		return f, ""
	case kindInt:
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, "Enter a whole number."
		}
		return n, ""
	case kindBool:
		switch s {
		case "true":
			return true, ""
		case "false":
			return false, ""
		}
		return nil, "Choose yes or no."
	case kindDays:
		if s == "" {
			return []string{}, "" // the service says to give at least one day
		}
		return strings.Split(s, ","), ""
	case kindLines:
		lines := []string{}
		for _, l := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				lines = append(lines, l)
			}
		}
		return lines, ""
	case kindJSON:
		var v any
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			return nil, "Enter valid JSON (" + err.Error() + ")."
		}
		return v, ""
	}
	return s, ""
}

// readPatch builds a JSON merge patch from a posted settings form: only what changed, null for a
// reset. Values that cannot be read are errors on f (by field name).
func readPatch(r *http.Request, specs []fieldSpec, f *form) map[string]any {
	patch := map[string]any{}
	resets := r.PostForm["reset"]
	overrides := r.PostForm["override"]
	for _, spec := range specs {
		name := fieldName(spec.Path)
		if slices.Contains(resets, name) && !spec.NoReset {
			setPath(patch, spec.Path, nil)
			continue
		}
		cur, orig := postedValue(r, spec), r.PostFormValue("orig-"+name)
		if !multiline(spec.Kind) {
			orig = strings.TrimSpace(orig)
		}
		if cur == orig && !(spec.Inherits && slices.Contains(overrides, name)) {
			continue
		}
		v, msg := parseValue(spec, cur)
		if msg != "" {
			f.errs[name] = msg
			continue
		}
		setPath(patch, spec.Path, v)
	}
	return patch
}

// postedFields fills fields with what was submitted (a form shown again after an error).
func postedFields(r *http.Request, fields []*fieldView) {
	overrides := r.PostForm["override"]
	for _, fv := range fields {
		fv.Value = postedValue(r, fv.fieldSpec)
		fv.Orig = r.PostFormValue("orig-" + fv.Name)
		fv.Override = slices.Contains(overrides, fv.Name)
	}
}

// placeErrors shows a problem on a form whose fields are named by fieldName: each field error
// beside its field, the rest in the summary.
func placeErrors(f *form, e *apierr.Error) {
	var rest []string
	for _, fe := range e.Fields {
		loc := strings.TrimPrefix(fe.Location, "body.")
		if i := strings.IndexByte(loc, '['); i >= 0 {
			loc = loc[:i]
		}
		name := fieldName(loc)
		if slices.Contains(f.fields, name) {
			if _, dup := f.errs[name]; !dup {
				f.errs[name] = sentence(fe.Message)
			}
			continue
		}
		rest = append(rest, sentence(fe.Message))
	}
	if len(rest) > 0 || len(e.Fields) == 0 {
		f.Message = strings.TrimSpace(sentence(e.Detail) + " " + strings.Join(rest, " "))
	}
}

// finish names a form's fields and puts its errors beside them.
func finish(f *form, groups []fieldGroup) {
	for _, g := range groups {
		for _, fv := range g.Fields {
			fv.Err = f.errs[fv.Name]
		}
	}
}

// formFor is an empty form over the fields of groups (for the error summary's order).
func formFor(groups []fieldGroup) *form {
	f := newForm(nil)
	for _, g := range groups {
		for _, fv := range g.Fields {
			f.fields = append(f.fields, fv.Name)
		}
	}
	return f
}

// allFields lists the fields of groups.
func allFields(groups []fieldGroup) []*fieldView {
	var out []*fieldView
	for _, g := range groups {
		out = append(out, g.Fields...)
	}
	return out
}
