package app

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/parleyhq/parley/internal/platform/clock"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/identity"
	"github.com/parleyhq/parley/internal/platform/db"
	"github.com/parleyhq/parley/internal/platform/db/dbtest"
)

// testHash keeps password hashing cheap in tests; the real parameters are tested in identity.
var testHash = identity.HashParams{Memory: 64, Time: 1, Threads: 1}

type env struct {
	t     testing.TB
	srv   *Server
	http  *httptest.Server
	clock *clock.Fake
}

func testConfig(dbc db.Config) Config {
	return Config{
		Addr: "127.0.0.1:0", DataDir: dbc.DataDir, DatabaseURL: dbc.URL, BaseURL: "http://localhost", LogFormat: "text", LogLevel: "error",
		Signup: "open", SQLiteSynchronous: "normal", SessionIdle: time.Hour, SessionMaxAge: 12 * time.Hour,
		JobWorkers: 10, JobFetchCooldown: 100 * time.Millisecond, ShutdownTimeout: 5 * time.Second,
		WebhookAllowPrivate: true,
	}
}

// eachEnv runs fn against a full server on every store.
func eachEnv(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Helper()
	dbtest.EachConfig(t, func(t *testing.T, dbc db.Config) {
		fn(t, newEnv(t, testConfig(dbc)))
	})
}

func newEnv(t testing.TB, cfg Config) *env {
	t.Helper()
	ck := clock.NewFake(time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC))
	srv, err := NewServer(context.Background(), cfg, slog.New(slog.DiscardHandler), Overrides{Now: ck.Now, Hash: testHash})
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	hs := httptest.NewServer(srv.Handler)
	t.Cleanup(func() {
		hs.Close()
		srv.Close()
	})
	return &env{t: t, srv: srv, http: hs, clock: ck}
}

// client is one browser-like caller with its own cookies.
type client struct {
	e   *env
	c   *http.Client
	hdr http.Header
}

func (e *env) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{e: e, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}, hdr: http.Header{}}
}

type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v\n%s", err, r.Body)
	}
	return m
}

// Code is the problem code of an error response.
func (r response) Code(t testing.TB) string {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Fatalf("error content type %q, want application/problem+json; body %s", ct, r.Body)
	}
	code, _ := r.JSON(t)["code"].(string)
	return code
}

func (c *client) do(method, path string, body any, hdr ...string) response {
	c.e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			c.e.t.Fatal(err)
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, c.e.http.URL+path, rd)
	if err != nil {
		c.e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range c.hdr {
		req.Header[k] = v
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := c.c.Do(req)
	if err != nil {
		c.e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{Status: res.StatusCode, Header: res.Header, Body: b}
}

func (c *client) must(status int, method, path string, body any, hdr ...string) map[string]any {
	c.e.t.Helper()
	r := c.do(method, path, body, hdr...)
	if r.Status != status {
		c.e.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, r.Status, status, r.Body)
	}
	if len(r.Body) == 0 {
		return nil
	}
	return r.JSON(c.e.t)
}

var emailSeq = struct {
	sync.Mutex
	n int
}{}

// signup makes a new user and returns their signed-in client.
func (e *env) signup(name string) *client {
	e.t.Helper()
	emailSeq.Lock()
	emailSeq.n++
	n := emailSeq.n
	emailSeq.Unlock()
	c := e.client()
	c.must(201, "POST", "/v1/auth/signup", map[string]any{"email": name + "-" + strconv.Itoa(n) + "@example.com", "password": "a sturdy passphrase", "name": name})
	return c
}

// workspace creates a workspace as c and returns its ID.
func (c *client) workspace(name string) string {
	c.e.t.Helper()
	m := c.must(201, "POST", "/v1/workspaces", map[string]any{"name": name})
	return m["id"].(string)
}

func dbtestSQLite(t *testing.T) db.Config { return dbtest.Config(t, db.SQLite) }
