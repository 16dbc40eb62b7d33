package app

import (
	"strings"
	"testing"
	"time"
)

func TestSignupLoginLogoutMe(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		c := e.client()
		r := c.do("POST", "/v1/auth/signup", map[string]any{"email": "Ada@Example.com", "password": "analytical engine 1843", "name": "Ada"})
		if r.Status != 201 {
			t.Fatalf("signup: %d %s", r.Status, r.Body)
		}
		ck := r.Header.Get("Set-Cookie")
		for _, want := range []string{"parley_session=", "HttpOnly", "SameSite=Lax", "Path=/"} {
			if !strings.Contains(ck, want) {
				t.Errorf("cookie %q lacks %q", ck, want)
			}
		}
		me := c.must(200, "GET", "/v1/me", nil)
		if me["email"] != "Ada@Example.com" || !strings.HasPrefix(me["id"].(string), "user_") {
			t.Fatalf("me = %v", me)
		}

		// The same email in another case is taken.
		if r := e.client().do("POST", "/v1/auth/signup", map[string]any{"email": "ada@EXAMPLE.com", "password": "another long passphrase"}); r.Status != 409 || r.Code(t) != "email_taken" {
			t.Fatalf("duplicate email: %d %s", r.Status, r.Body)
		}

		c.must(204, "POST", "/v1/auth/logout", nil)
		if r := c.do("GET", "/v1/me", nil); r.Status != 401 {
			t.Fatalf("me after logout: %d", r.Status)
		}

		// Log in again, with the email in any case.
		c2 := e.client()
		c2.must(200, "POST", "/v1/auth/login", map[string]any{"email": "ADA@example.com", "password": "analytical engine 1843"})
		c2.must(200, "GET", "/v1/me", nil)
		if r := e.client().do("POST", "/v1/auth/login", map[string]any{"email": "ada@example.com", "password": "wrong password here"}); r.Status != 401 || r.Code(t) != "invalid_credentials" {
			t.Fatalf("wrong password: %d %s", r.Status, r.Body)
		}
		if r := e.client().do("POST", "/v1/auth/login", map[string]any{"email": "nobody@example.com", "password": "wrong password here"}); r.Status != 401 || r.Code(t) != "invalid_credentials" {
			t.Fatalf("unknown email: %d %s", r.Status, r.Body)
		}
	})
}

func TestBadInputGetsProblems(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		c := e.client()
		cases := []struct {
			name, body string
			status     int
			code       string
		}{
			{"malformed JSON", `{"email": "x@example.com", "password": `, 400, "bad_request"},
			{"unknown field", `{"email": "x@example.com", "password": "long enough password", "admin": true}`, 422, "validation_failed"},
			{"bad email", `{"email": "not-an-email", "password": "long enough password"}`, 422, "validation_failed"},
			{"short password", `{"email": "x@example.com", "password": "short"}`, 422, "validation_failed"},
			{"common password", `{"email": "x@example.com", "password": "Password1234"}`, 422, "validation_failed"},
			{"missing password", `{"email": "x@example.com"}`, 422, "validation_failed"},
			{"oversize body", `{"email": "x@example.com", "name": "` + strings.Repeat("a", 1<<20+10) + `"}`, 413, "body_too_large"},
		}
		for _, tc := range cases {
			r := c.do("POST", "/v1/auth/signup", tc.body)
			if r.Status != tc.status {
				t.Errorf("%s: status %d, want %d; %s", tc.name, r.Status, tc.status, r.Body)
				continue
			}
			if code := r.Code(t); code != tc.code {
				t.Errorf("%s: code %q, want %q", tc.name, code, tc.code)
			}
			if p := r.JSON(t); p["requestId"] == "" || p["requestId"] != r.Header.Get("X-Request-Id") {
				t.Errorf("%s: requestId %v vs header %q", tc.name, p["requestId"], r.Header.Get("X-Request-Id"))
			}
		}
		// Nothing half-written: no account exists for x@example.com.
		if r := c.do("POST", "/v1/auth/login", map[string]any{"email": "x@example.com", "password": "long enough password"}); r.Status != 401 {
			t.Fatalf("a rejected sign-up left an account: %d", r.Status)
		}
		if r := c.do("GET", "/v1/nowhere", nil); r.Status != 404 || r.Code(t) != "not_found" {
			t.Fatalf("unknown route: %d %s", r.Status, r.Body)
		}
		if r := c.do("DELETE", "/healthz", nil); r.Status != 405 || r.Code(t) != "method_not_allowed" {
			t.Fatalf("wrong method: %d %s", r.Status, r.Body)
		}
	})
}

func TestSessionExpiry(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		c := e.signup("sleepy")
		e.clock.Advance(59 * time.Minute)
		c.must(200, "GET", "/v1/me", nil) // refreshes the idle timer
		e.clock.Advance(59 * time.Minute)
		c.must(200, "GET", "/v1/me", nil)
		e.clock.Advance(61 * time.Minute)
		if r := c.do("GET", "/v1/me", nil); r.Status != 401 || r.Code(t) != "session_expired" {
			t.Fatalf("idle session: %d %s", r.Status, r.Body)
		}
		// Absolute expiry: active all along, still ends after 12 h.
		d := e.signup("busy")
		for range 13 {
			e.clock.Advance(59 * time.Minute)
			d.do("GET", "/v1/me", nil)
		}
		if r := d.do("GET", "/v1/me", nil); r.Status != 401 || r.Code(t) != "session_expired" {
			t.Fatalf("session past its absolute expiry: %d %s", r.Status, r.Body)
		}
	})
}

func TestLoginThrottle(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		e.signup("victim")
		c := e.client()
		var last response
		for i := 0; i < 12; i++ {
			last = c.do("POST", "/v1/auth/login", map[string]any{"email": "victim-x@example.com", "password": "guess number " + strings.Repeat("x", i)})
			if last.Status == 429 {
				break
			}
		}
		if last.Status != 429 || last.Code(t) != "too_many_attempts" || last.Header.Get("Retry-After") == "" {
			t.Fatalf("after many failures: %d %s (Retry-After %q)", last.Status, last.Body, last.Header.Get("Retry-After"))
		}
		e.clock.Advance(2 * time.Minute)
		if r := c.do("POST", "/v1/auth/login", map[string]any{"email": "victim-x@example.com", "password": "guess again please"}); r.Status != 401 {
			t.Fatalf("after waiting: %d %s", r.Status, r.Body)
		}
	})
}

func TestPasswordChangeEndsEverySession(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		a := e.client()
		a.must(201, "POST", "/v1/auth/signup", map[string]any{"email": "pw@example.com", "password": "first long passphrase"})
		b := e.client()
		b.must(200, "POST", "/v1/auth/login", map[string]any{"email": "pw@example.com", "password": "first long passphrase"})
		if r := a.do("POST", "/v1/me/password", map[string]any{"currentPassword": "wrong current pass", "newPassword": "second long passphrase"}); r.Status != 422 {
			t.Fatalf("wrong current password: %d %s", r.Status, r.Body)
		}
		a.must(200, "POST", "/v1/me/password", map[string]any{"currentPassword": "first long passphrase", "newPassword": "second long passphrase"})
		a.must(200, "GET", "/v1/me", nil) // the new session
		if r := b.do("GET", "/v1/me", nil); r.Status != 401 {
			t.Fatalf("other session survived a password change: %d", r.Status)
		}
		e.client().must(200, "POST", "/v1/auth/login", map[string]any{"email": "pw@example.com", "password": "second long passphrase"})
	})
}

func TestPasswordReset(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		a := e.client()
		a.must(201, "POST", "/v1/auth/signup", map[string]any{"email": "forgetful@example.com", "password": "first long passphrase"})
		anon := e.client()
		anon.must(202, "POST", "/v1/auth/password-reset", map[string]any{"email": "forgetful@example.com"})
		anon.must(202, "POST", "/v1/auth/password-reset", map[string]any{"email": "stranger@example.com"}) // same answer
		var body string
		if err := e.srv.DB.Read.QueryRow(`SELECT body FROM mail_outbox WHERE to_addr = 'forgetful@example.com'`).Scan(&body); err != nil {
			t.Fatalf("no reset mail: %v", err)
		}
		var n int
		_ = e.srv.DB.Read.QueryRow(`SELECT COUNT(*) FROM mail_outbox`).Scan(&n)
		if n != 1 {
			t.Fatalf("%d mails, want 1 (none for an unknown address)", n)
		}
		i := strings.Index(body, "token=")
		if i < 0 {
			t.Fatalf("no token in %q", body)
		}
		token := strings.Fields(body[i+len("token="):])[0]
		if r := anon.do("POST", "/v1/auth/password-reset/confirm", map[string]any{"token": token, "newPassword": "short"}); r.Status != 422 {
			t.Fatalf("short new password: %d", r.Status)
		}
		anon.must(204, "POST", "/v1/auth/password-reset/confirm", map[string]any{"token": token, "newPassword": "brand new passphrase"})
		if r := anon.do("POST", "/v1/auth/password-reset/confirm", map[string]any{"token": token, "newPassword": "another new passphrase"}); r.Status != 410 || r.Code(t) != "reset_token_invalid" {
			t.Fatalf("reused token: %d %s", r.Status, r.Body)
		}
		if r := a.do("GET", "/v1/me", nil); r.Status != 401 {
			t.Fatalf("session survived a reset: %d", r.Status)
		}
		e.client().must(200, "POST", "/v1/auth/login", map[string]any{"email": "forgetful@example.com", "password": "brand new passphrase"})
		// Expired tokens are refused.
		anon.must(202, "POST", "/v1/auth/password-reset", map[string]any{"email": "forgetful@example.com"})
		_ = e.srv.DB.Read.QueryRow(`SELECT body FROM mail_outbox WHERE to_addr = 'forgetful@example.com' ORDER BY id DESC LIMIT 1`).Scan(&body)
		token = strings.Fields(body[strings.Index(body, "token=")+len("token="):])[0]
		e.clock.Advance(61 * time.Minute)
		if r := anon.do("POST", "/v1/auth/password-reset/confirm", map[string]any{"token": token, "newPassword": "late new passphrase"}); r.Status != 410 {
			t.Fatalf("expired token: %d", r.Status)
		}
	})
}

func TestInviteOnlySignup(t *testing.T) {
	cfg := testConfig(dbtestSQLite(t))
	cfg.Signup = "invite-only"
	e := newEnv(t, cfg)
	if r := e.client().do("POST", "/v1/auth/signup", map[string]any{"email": "a@example.com", "password": "a sturdy passphrase"}); r.Status != 403 || r.Code(t) != "signup_closed" {
		t.Fatalf("invite-only signup: %d %s", r.Status, r.Body)
	}
}

func TestRedactPath(t *testing.T) {
	for in, want := range map[string]string{
		"/v1/invitations/abc123/accept": "/v1/invitations/[token]/accept",
		"/v1/invitations/abc123":        "/v1/invitations/[token]",
		"/invitations/abc123":           "/invitations/[token]",
		"/v1/workspaces/ws_1":           "/v1/workspaces/ws_1",
	} {
		if got := redactPath(in); got != want {
			t.Errorf("redactPath(%q) = %q, want %q", in, got, want)
		}
	}
}
