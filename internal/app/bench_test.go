package app

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/parleyhq/parley/internal/platform/db"
	"github.com/parleyhq/parley/internal/platform/db/dbtest"
)

// benchEnv is a server on SQLite with one signed-in owner and a workspace.
func benchEnv(b *testing.B) (*env, *http.Cookie, string) {
	e := newEnv(b, testConfig(dbtest.Config(b, db.SQLite)))
	c := e.client()
	r := c.do("POST", "/v1/auth/signup", map[string]any{"email": "bench@example.com", "password": "bench passphrase 123"})
	var session *http.Cookie
	for _, ck := range (&http.Response{Header: r.Header}).Cookies() {
		session = ck
	}
	ws := c.must(201, "POST", "/v1/workspaces", map[string]any{"name": "Bench"})["id"].(string)
	return e, session, ws
}

// BenchmarkGetWorkspace is the in-process cost of an authenticated read through the whole
// handler stack (no network): session lookup, role lookup, workspace fetch, JSON.
func BenchmarkGetWorkspace(b *testing.B) {
	e, session, ws := benchEnv(b)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest("GET", "/v1/workspaces/"+ws, nil)
			req.AddCookie(session)
			w := httptest.NewRecorder()
			e.srv.Handler.ServeHTTP(w, req)
			if w.Code != 200 {
				b.Fatalf("status %d %s", w.Code, w.Body)
			}
		}
	})
}

// BenchmarkCreateWorkspace is the in-process cost of an authenticated create: a write
// transaction of four inserts (workspace, membership, audit entry, event).
func BenchmarkCreateWorkspace(b *testing.B) {
	e, session, _ := benchEnv(b)
	b.SetParallelism(16) // concurrent writers, as behind a load balancer: their commits are shared
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest("POST", "/v1/workspaces", strings.NewReader(`{"name":"Bench"}`))
			req.Header.Set("Content-Type", "application/json")
			req.AddCookie(session)
			w := httptest.NewRecorder()
			e.srv.Handler.ServeHTTP(w, req)
			if w.Code != 201 {
				b.Fatalf("status %d %s", w.Code, w.Body)
			}
		}
	})
}
