package app

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/platform/db"
	"github.com/parleyhq/parley/internal/platform/db/dbtest"
)

func getenvFrom(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// run runs the CLI and returns its output.
func run(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := Run(context.Background(), args, getenvFrom(env), strings.NewReader(""), &out, &errb)
	return out.String() + errb.String(), err
}

// TestServeEndToEnd starts `parley serve` as main does, on each store, talks to it over real HTTP
// and stops it gracefully.
func TestServeEndToEnd(t *testing.T) {
	dbtest.EachConfig(t, func(t *testing.T, dbc db.Config) {
		env := map[string]string{"PARLEY_DATA_DIR": dbc.DataDir, "PARLEY_DATABASE_URL": dbc.URL, "PARLEY_LOG_LEVEL": "warn"}
		ctx, cancel := context.WithCancel(context.Background())
		pr, pw := io.Pipe()
		done := make(chan error, 1)
		go func() {
			done <- Run(ctx, []string{"serve", "--addr", "127.0.0.1:0"}, getenvFrom(env), strings.NewReader(""), pw, io.Discard)
			pw.Close()
		}()
		sc := bufio.NewScanner(pr)
		var base string
		for sc.Scan() {
			if _, after, ok := strings.Cut(sc.Text(), "listening on "); ok {
				base = after
				break
			}
		}
		go io.Copy(io.Discard, pr)
		if base == "" {
			cancel()
			t.Fatalf("server did not start: %v", <-done)
		}
		for _, path := range []string{"/healthz", "/readyz"} {
			res, err := http.Get(base + path)
			if err != nil || res.StatusCode != 200 {
				t.Fatalf("%s: %v %v", path, err, res)
			}
			res.Body.Close()
		}
		// The master key was generated once, private to its owner.
		if fi, err := os.Stat(filepath.Join(dbc.DataDir, "master.key")); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("master key: %v %v", fi, err)
		}
		// A slow in-flight request is finished by the graceful stop.
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("serve returned %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("serve did not stop")
		}
		if _, err := http.Get(base + "/healthz"); err == nil {
			t.Fatal("server still answers after stop")
		}
	})
}

func TestCLI(t *testing.T) {
	dbtest.EachConfig(t, func(t *testing.T, dbc db.Config) {
		env := map[string]string{"PARLEY_DATABASE_URL": dbc.URL, "PARLEY_LOG_LEVEL": "warn"}
		dd := []string{"--data-dir", dbc.DataDir}
		if out, err := run(t, env, "version"); err != nil || !strings.HasPrefix(out, "parley ") {
			t.Fatalf("version: %q %v", out, err)
		}
		if out, err := run(t, env, append([]string{"migrate"}, dd...)...); err != nil || !strings.Contains(out, "schema version") {
			t.Fatalf("migrate: %q %v", out, err)
		}
		out, err := run(t, env, append([]string{"users", "create", "--email", "ops@example.com", "--password", "operator passphrase", "--name", "Ops"}, dd...)...)
		if err != nil || !strings.Contains(out, "created user user_") {
			t.Fatalf("users create: %q %v", out, err)
		}
		if _, err := run(t, env, append([]string{"users", "create", "--email", "ops@example.com", "--password", "operator passphrase"}, dd...)...); err == nil || !strings.Contains(err.Error(), "already exists") {
			t.Fatalf("duplicate user: %v", err)
		}
		if _, err := run(t, env, append([]string{"users", "create", "--email", "x@example.com", "--password", "short"}, dd...)...); err == nil {
			t.Fatal("short password accepted")
		}

		// The user signs in to a server on the same data and creates a workspace; the operator sees it.
		cfg := testConfig(dbc)
		e := newEnv(t, cfg)
		c := e.client()
		c.must(200, "POST", "/v1/auth/login", map[string]any{"email": "ops@example.com", "password": "operator passphrase"})
		wsID := c.workspace("Support Desk")
		out, err = run(t, env, append([]string{"workspaces", "list"}, dd...)...)
		if err != nil || !strings.Contains(out, wsID) || !strings.Contains(out, "Support Desk") {
			t.Fatalf("workspaces list: %q %v", out, err)
		}
		if out, err := run(t, env, append([]string{"credits", "grant", "--workspace", wsID, "--amount", "2.5", "--reason", "support goodwill"}, dd...)...); err != nil {
			t.Fatalf("credits grant: %q %v", out, err)
		}
		out, err = run(t, env, append([]string{"workspaces", "show", wsID}, dd...)...)
		if err != nil || !strings.Contains(out, "Owner:") || !strings.Contains(out, "ops@example.com") || !strings.Contains(out, "owner") ||
			!strings.Contains(out, "Balance:") || !strings.Contains(out, "2.5 credits available, 0 held") {
			t.Fatalf("workspaces show: %q %v", out, err)
		}
		if _, err := run(t, env, append([]string{"workspaces", "show", "ws_01jq3v5x8kf9r1t6m2c4d7e8gh"}, dd...)...); err == nil {
			t.Fatal("show of a missing workspace succeeded")
		}
		if _, err := run(t, env, "serve", "--database-url", "mysql://nope", "--data-dir", dbc.DataDir); err == nil {
			t.Fatal("bad database URL accepted")
		}
		if _, err := run(t, env, "serve", "--signup", "sometimes"); err == nil || !strings.Contains(err.Error(), "--signup") {
			t.Fatalf("bad --signup: %v", err)
		}
		out, err = run(t, env, append([]string{"secrets", "rotate"}, dd...)...)
		if err != nil || !strings.Contains(out, "new primary master key") {
			t.Fatalf("secrets rotate: %q %v", out, err)
		}
	})
}

func TestMailList(t *testing.T) {
	dbc := dbtest.Config(t, db.SQLite)
	e := newEnv(t, testConfig(dbc))
	e.client().must(201, "POST", "/v1/auth/signup", map[string]any{"email": "lost@example.com", "password": "a sturdy passphrase"})
	e.client().must(202, "POST", "/v1/auth/password-reset", map[string]any{"email": "lost@example.com"})
	out, err := run(t, nil, "mail", "list", "--data-dir", dbc.DataDir)
	if err != nil || !strings.Contains(out, "lost@example.com") || !strings.Contains(out, "/reset-password?token=") {
		t.Fatalf("mail list: %q %v", out, err)
	}
	if n, err := e.srv.Mail.DeliverPending(context.Background()); err != nil || n != 1 {
		t.Fatalf("deliver: %d %v", n, err)
	}
	if n, _ := e.srv.Mail.DeliverPending(context.Background()); n != 0 {
		t.Fatalf("a message was sent twice")
	}
}
