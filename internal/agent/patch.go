package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/parleyhq/parley/internal/platform/apierr"
)

// The JSON documents of this package (workspace settings, agents) are kept and combined as
// decoded JSON trees (map[string]any, []any, json.Number, string, bool) so that RFC 7396 merge
// patches, inheritance and "which fields changed" work alike on every field; typed structs are
// used to check types and ranges and to describe the API.

// parseObject decodes a request body that must be a JSON object. Errors: BadRequest.
func parseObject(raw []byte) (map[string]any, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return map[string]any{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, apierr.New(apierr.BadRequest, "malformed_json", "the body is not valid JSON: "+err.Error())
	}
	if dec.More() {
		return nil, apierr.New(apierr.BadRequest, "malformed_json", "the body holds more than one JSON value")
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, apierr.Validation(apierr.FieldError{Location: "body", Message: "the body must be a JSON object (a merge patch)"})
	}
	return m, nil
}

// mergePatch applies an RFC 7396 JSON merge patch to target and returns the result; neither
// argument is modified. A null member of the patch removes the member; an object merges
// recursively; anything else (arrays included) replaces.
func mergePatch(target, patch any) any {
	pm, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	tm, ok := target.(map[string]any)
	if ok {
		tm = maps.Clone(tm)
	} else {
		tm = map[string]any{}
	}
	for k, v := range pm {
		if v == nil {
			delete(tm, k)
			continue
		}
		tm[k] = mergePatch(tm[k], v)
	}
	return tm
}

// prune removes empty objects (left behind when a patch nulls every member), so that an empty
// "llm" is the same as an absent one: inherit everything.
func prune(m map[string]any) map[string]any {
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			if len(prune(sub)) == 0 {
				delete(m, k)
			}
		}
		if v == nil {
			delete(m, k)
		}
	}
	return m
}

// flatten lists the leaves of a tree by dotted path ("llm.model"); arrays are leaves.
func flatten(prefix string, v any, out map[string]any) map[string]any {
	if out == nil {
		out = map[string]any{}
	}
	m, ok := v.(map[string]any)
	if !ok {
		out[prefix] = v
		return out
	}
	for k, sub := range m {
		p := k
		if prefix != "" {
			p = prefix + "." + k
		}
		flatten(p, sub, out)
	}
	return out
}

// lookup returns the value at a dotted path of a tree.
func lookup(m map[string]any, path string) (any, bool) {
	var cur any = m
	for part := range strings.SplitSeq(path, ".") {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = obj[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// set puts a value at a dotted path, making objects on the way.
func set(m map[string]any, path string, v any) {
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

// changedPaths lists the leaf paths whose values differ between two trees, sorted.
func changedPaths(before, after map[string]any) []string {
	a, b := flatten("", before, nil), flatten("", after, nil)
	var out []string
	for k, v := range a {
		if w, ok := b[k]; !ok || !jsonEqual(v, w) {
			out = append(out, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

func jsonEqual(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}

// toTree turns a typed value into a decoded JSON tree.
func toTree(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}

// decodeTree decodes a tree into out (a pointer to a struct), reporting unknown fields and wrong
// types as 422 errors located under loc ("body").
func decodeTree(tree map[string]any, out any, loc string) error {
	if errs := unknownFields(tree, reflect.TypeOf(out), loc); len(errs) > 0 {
		return apierr.Validation(errs...)
	}
	b, err := json.Marshal(tree)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, out); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			where := loc
			if te.Field != "" {
				where += "." + te.Field
			}
			return apierr.Validation(apierr.FieldError{Location: where, Message: "expected " + jsonKind(te.Type) + ", got " + te.Value})
		}
		return apierr.Validation(apierr.FieldError{Location: loc, Message: err.Error()})
	}
	return nil
}

func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "an integer"
	case reflect.Float64, reflect.Float32:
		return "a number"
	case reflect.Slice:
		return "an array"
	}
	return "an object"
}

var rawMessageType = reflect.TypeFor[json.RawMessage]()

// unknownFields walks a tree along a struct type and reports members the type does not have.
func unknownFields(v any, t reflect.Type, loc string) []apierr.FieldError {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == rawMessageType {
		return nil
	}
	var errs []apierr.FieldError
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return nil // a type error, which decoding reports
		}
		fields := map[string]reflect.Type{}
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name != "" && name != "-" {
				fields[name] = f.Type
			}
		}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			ft, ok := fields[k]
			if !ok {
				errs = append(errs, apierr.FieldError{Location: loc + "." + k, Message: "unknown field " + strconv.Quote(k)})
				continue
			}
			errs = append(errs, unknownFields(m[k], ft, loc+"."+k)...)
		}
	case reflect.Slice:
		arr, ok := v.([]any)
		if !ok {
			return nil
		}
		for i, sub := range arr {
			errs = append(errs, unknownFields(sub, t.Elem(), loc+"["+strconv.Itoa(i)+"]")...)
		}
	}
	return errs
}
