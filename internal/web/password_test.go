package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestForgotAndResetPassword(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	b.signup("reset@example.com")

	anon := e.browser(t)
	if res := anon.get("/login"); !strings.Contains(res.body, `href="/forgot-password"`) {
		t.Fatal("the log-in page does not offer a password reset")
	}
	res := anon.post("/forgot-password", url.Values{"email": {"reset@example.com"}})
	if res.StatusCode != 200 || !strings.Contains(res.body, "If an account exists") {
		t.Fatalf("forgot: %d\n%s", res.StatusCode, res.body)
	}
	// An unknown address gets the very same page.
	if other := anon.post("/forgot-password", url.Values{"email": {"nobody@example.com"}}); other.body != res.body {
		t.Fatal("the answer tells whether an account exists")
	}
	var body string
	if err := e.db.Read.QueryRow(`SELECT body FROM mail_outbox WHERE to_addr = 'reset@example.com'`).Scan(&body); err != nil {
		t.Fatal(err)
	}
	link := strings.Fields(body[strings.Index(body, "http"):])[0]
	u, err := url.Parse(link)
	if err != nil || u.Path != "/reset-password" {
		t.Fatalf("link %q", link)
	}
	token := u.Query().Get("token")
	page := anon.get("/reset-password?token=" + url.QueryEscape(token))
	if page.StatusCode != 200 || !strings.Contains(page.body, `name="token" value="`+token+`"`) {
		t.Fatalf("reset page: %d\n%s", page.StatusCode, page.body)
	}
	if bad := anon.post("/reset-password", url.Values{"token": {token}, "newPassword": {"short"}}); bad.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(bad.body, "at least 12") {
		t.Fatalf("short password: %d\n%s", bad.StatusCode, bad.body)
	}
	ok := anon.post("/reset-password", url.Values{"token": {token}, "newPassword": {"a brand new passphrase"}})
	if ok.StatusCode != http.StatusSeeOther || ok.Header.Get("Location") != "/login?reset=1" {
		t.Fatalf("reset: %d %s", ok.StatusCode, ok.Header.Get("Location"))
	}
	if again := anon.post("/reset-password", url.Values{"token": {token}, "newPassword": {"another new passphrase"}}); again.StatusCode != http.StatusGone {
		t.Fatalf("reused link: %d", again.StatusCode)
	}
	// The old session is over; the new password works.
	if res := b.get("/workspaces"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("old session still works: %d", res.StatusCode)
	}
	if in := anon.post("/login", url.Values{"email": {"reset@example.com"}, "password": {"a brand new passphrase"}}); in.StatusCode != http.StatusSeeOther {
		t.Fatalf("log in with the new password: %d\n%s", in.StatusCode, in.body)
	}
}
