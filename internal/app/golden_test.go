package app

import (
	"bytes"
	"context"
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
