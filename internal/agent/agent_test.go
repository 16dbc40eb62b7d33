package agent

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func tree(t *testing.T, s string) map[string]any {
	t.Helper()
	m, err := parseObject([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func asJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The test cases of RFC 7396, appendix A (object targets).
func TestMergePatchRFC7396(t *testing.T) {
	for _, c := range []struct{ target, patch, want string }{
		{`{"a":"b"}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"b"}`, `{"b":"c"}`, `{"a":"b","b":"c"}`},
		{`{"a":"b"}`, `{"a":null}`, `{}`},
		{`{"a":"b","b":"c"}`, `{"a":null}`, `{"b":"c"}`},
		{`{"a":["b"]}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"c"}`, `{"a":["b"]}`, `{"a":["b"]}`},
		{`{"a":{"b":"c"}}`, `{"a":{"b":"d","c":null}}`, `{"a":{"b":"d"}}`},
		{`{"a":[{"b":"c"}]}`, `{"a":[1]}`, `{"a":[1]}`},
		{`{"e":null}`, `{"a":1}`, `{"a":1,"e":null}`},
		{`{}`, `{"a":{"bb":{"ccc":null}}}`, `{"a":{"bb":{}}}`},
	} {
		target := tree(t, c.target)
		got := asJSON(t, mergePatch(target, tree(t, c.patch)))
		if got != c.want {
			t.Errorf("merge %s with %s = %s, want %s", c.target, c.patch, got, c.want)
		}
		if asJSON(t, target) != asJSON(t, tree(t, c.target)) {
			t.Errorf("target modified")
		}
	}
	// prune removes what a patch emptied.
	if got := asJSON(t, prune(mergePatch(tree(t, `{"llm":{"model":"x"},"a":1}`), tree(t, `{"llm":{"model":null}}`)).(map[string]any))); got != `{"a":1}` {
		t.Errorf("prune: %s", got)
	}
}

func TestChangedPaths(t *testing.T) {
	got := changedPaths(tree(t, `{"llm":{"model":"a","temperature":0.5},"name":"x","tools":[1]}`), tree(t, `{"llm":{"model":"b"},"name":"x","tools":[1,2],"status":"paused"}`))
	if want := []string{"llm.model", "llm.temperature", "status", "tools"}; !slices.Equal(got, want) {
		t.Fatalf("%v, want %v", got, want)
	}
}

func TestCatalogLoads(t *testing.T) {
	c, err := LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"llm", "stt", "tts"} {
		seen := map[string]bool{}
		for _, p := range c.kind(kind) {
			if seen[p.ID] || p.Name == "" || (len(p.Models) == 0 && !p.AnyModel) {
				t.Errorf("%s provider %+v", kind, p)
			}
			seen[p.ID] = true
			for _, m := range p.Models {
				price := map[string]bool{"llm": m.InputPer1kTokens > 0 && m.OutputPer1kTokens > 0, "stt": m.PerMinute > 0, "tts": m.Per1kChars > 0}[kind]
				if !price {
					t.Errorf("%s %s %s has no price of its kind", kind, p.ID, m.ID)
				}
			}
		}
	}
	// The platform defaults are valid choices.
	var s Settings
	if err := decodeTree(platformTree(), &s, "body"); err != nil {
		t.Fatal(err)
	}
	if err := validateSettings(s); err != nil {
		t.Fatal(err)
	}
	if err := checkResolvedSettings(s, c); err != nil {
		t.Fatal(err)
	}
	errs := c.checkService("llm", "body.llm", "openai", "claude-haiku-4-5", "", "")
	if len(errs) != 1 || errs[0].Location != "body.llm.model" || !strings.Contains(errs[0].Message, "gpt-4o-mini") {
		t.Fatalf("%+v", errs)
	}
	if errs := c.checkService("llm", "body.llm", "openai-compatible", "my-own-model", "", ""); len(errs) != 0 {
		t.Fatalf("any model: %+v", errs)
	}
}

// TestResolve is the inheritance table: each setting's value and source for a combination of
// workspace and agent settings.
func TestResolve(t *testing.T) {
	type want struct {
		value  string // JSON
		source string
	}
	for _, c := range []struct {
		name   string
		ws     string
		agent  string
		expect map[string]want
	}{
		{"platform only", `{}`, `{"name":"A"}`, map[string]want{
			"llm.model": {`"gpt-4o-mini"`, SourcePlatform}, "language": {`"en"`, SourcePlatform},
			"maxDurationSeconds": {`1800`, SourcePlatform}, "status": {`"active"`, SourcePlatform}, "name": {`"A"`, SourceAgent},
			"transferNumber": {`null`, SourcePlatform}, "tools": {`[]`, SourcePlatform}}},
		{"workspace sets", `{"llm":{"model":"gpt-4.1"},"language":"de","calls":{"maxDurationSeconds":60}}`, `{"name":"A"}`, map[string]want{
			"llm.model": {`"gpt-4.1"`, SourceWorkspace}, "llm.provider": {`"openai"`, SourcePlatform}, "language": {`"de"`, SourceWorkspace},
			"maxDurationSeconds": {`60`, SourceWorkspace}}},
		{"agent overrides", `{"llm":{"model":"gpt-4.1"},"tts":{"voice":"coral"}}`, `{"name":"A","llm":{"model":"gpt-4o"},"maxDurationSeconds":30}`, map[string]want{
			"llm.model": {`"gpt-4o"`, SourceAgent}, "tts.voice": {`"coral"`, SourceWorkspace}, "maxDurationSeconds": {`30`, SourceAgent}}},
		{"workspace-only settings do not reach agents", `{"calls":{"recordCalls":true},"privacy":{"maskPhoneNumbersForMembers":true}}`, `{"name":"A"}`, map[string]want{
			"calls.recordCalls": {``, ""}, "privacy.maskPhoneNumbersForMembers": {``, ""}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := resolve(tree(t, c.ws), tree(t, c.agent))
			for path, w := range c.expect {
				s, ok := got[path]
				if w.source == "" {
					if ok {
						t.Errorf("%s resolved: %+v", path, s)
					}
					continue
				}
				if !ok || s.Source != w.source || asJSON(t, s.Value) != w.value {
					t.Errorf("%s = %+v, want %s from %s", path, s, w.value, w.source)
				}
			}
			if cfg := config(got); asJSON(t, cfg["llm"].(map[string]any)["provider"]) == "" {
				t.Errorf("config %v", cfg)
			}
		})
	}
}

func TestWarnings(t *testing.T) {
	p := "Hello {{ contact.name }}, {{company}} and {{ unknown }} and {{unknown}}"
	w := warnings(Document{Prompt: &p, Variables: []Variable{{Name: "company"}}})
	if len(w) != 1 || !strings.Contains(w[0], "{{unknown}}") {
		t.Fatalf("%v", w)
	}
}
