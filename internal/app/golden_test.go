package app

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites it with -update, so any change of a
// contract (the CLI's help, the OpenAPI document) shows as a diff in review.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/app -run %s -update (package before flags))", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s changed; if intended, run go test ./internal/app -run %s -update (package before flags)\n--- got ---\n%s", name, t.Name(), got)
	}
}

func TestHelpGolden(t *testing.T) {
	var all bytes.Buffer
	for _, args := range [][]string{{"--help"}, {"serve", "--help"}, {"users", "create", "--help"}, {"workspaces", "--help"}, {"secrets", "rotate", "--help"}} {
		var out bytes.Buffer
		if err := Run(context.Background(), args, func(string) string { return "" }, strings.NewReader(""), &out, &out); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		all.WriteString("$ parley " + strings.Join(args, " ") + "\n")
		all.Write(out.Bytes())
		all.WriteString("\n")
	}
	golden(t, "help.golden", all.Bytes())
}

// TestOpenAPIGolden keeps the served OpenAPI document under review: any change of the API
// contract shows as a diff of testdata/openapi.json.
func TestOpenAPIGolden(t *testing.T) {
	e := newEnv(t, testConfig(dbtestSQLite(t)))
	r := e.client().do("GET", "/v1/openapi.json", nil)
	if r.Status != 200 {
		t.Fatalf("openapi.json: %d", r.Status)
	}
	var doc any
	if err := json.Unmarshal(r.Body, &doc); err != nil {
		t.Fatal(err)
	}
	// The server's own URL differs per run; the rest is the contract.
	if m, ok := doc.(map[string]any); ok {
		delete(m, "servers")
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "openapi.json", append(out, '\n'))
}
