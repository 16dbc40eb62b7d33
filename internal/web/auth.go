package web

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/parleyhq/parley/internal/identity"
	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/authz"
)

// maxFormBytes bounds a posted form.
const maxFormBytes = 64 << 10

// defaultNext is where a person lands after signing in when no (valid) next was given.
const defaultNext = "/workspaces"

// authPage is what the log-in and sign-up templates get besides the form.
type authPage struct {
	// Next is where to go after signing in (a local path, or "").
	Next string
	// Ended says the browser's session has ended, so the person knows why they are here.
	Ended bool
	// Reset says the person just chose a new password.
	Reset bool
}

// signedIn reports whether a person is signed in on this request.
func signedIn(r *http.Request) bool {
	_, err := authz.CurrentUser(r.Context())
	return err == nil
}

// redirect answers with 303 See Other, so the browser follows with a GET.
func redirect(w http.ResponseWriter, r *http.Request, to string) {
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// toLogin sends the browser to the log-in page, coming back to this page (for a GET) afterwards.
func toLogin(w http.ResponseWriter, r *http.Request) {
	to := "/login"
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		if next := safeNext(r.URL.RequestURI()); next != "" && next != defaultNext && next != "/" {
			to += "?next=" + url.QueryEscape(next)
		}
	}
	redirect(w, r, to)
}

// safeNext returns next when it is a path on this server, and "" otherwise: it refuses absolute
// and scheme-relative URLs ("//evil.example", "/\evil.example", which browsers read as "//"), and
// control characters (browsers drop tabs and newlines, which could make "//" out of "/\t/").
func safeNext(next string) string {
	if next == "" || len(next) > 2048 || next[0] != '/' || strings.ContainsRune(next, '\\') {
		return ""
	}
	if len(next) > 1 && next[1] == '/' {
		return ""
	}
	for _, c := range next {
		if c < 0x20 || c == 0x7f {
			return ""
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return ""
	}
	return next
}

// parseForm reads a posted form of bounded size; ok is false when the answer was written.
func (h *Handler) parseForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		h.fail(w, r, nil, apierr.New(apierr.BadRequest, "bad_form", "the form could not be read; please try again"))
		return false
	}
	return true
}

// setSession gives the browser its session cookie and sends it on to next.
func (h *Handler) setSession(w http.ResponseWriter, r *http.Request, token, next string) {
	c := h.d.Cookie.New(token)
	http.SetCookie(w, &c)
	if next = safeNext(next); next == "" {
		next = defaultNext
	}
	redirect(w, r, next)
}

// sessionEnded reports whether the browser sent a session cookie that was not accepted.
func (h *Handler) sessionEnded(r *http.Request) bool {
	c, err := r.Cookie(h.d.Cookie.Name())
	return err == nil && c.Value != "" && !signedIn(r)
}

// authView is the view of the log-in and sign-up pages for this request's form.
func (h *Handler) authView(r *http.Request, f *form) *view {
	next := safeNext(r.FormValue("next"))
	return &view{Form: f, Page: authPage{Next: next, Ended: r.Method == http.MethodGet && h.sessionEnded(r), Reset: r.URL.Query().Get("reset") == "1"}}
}

// alreadyIn sends a signed-in person on from the log-in and sign-up pages.
func alreadyIn(w http.ResponseWriter, r *http.Request) bool {
	if !signedIn(r) {
		return false
	}
	next := safeNext(r.FormValue("next"))
	if next == "" {
		next = defaultNext
	}
	redirect(w, r, next)
	return true
}

var (
	signupFields = []string{"name", "email", "password"}
	loginFields  = []string{"email", "password"}
)

// signupForm shows the sign-up form.
func (h *Handler) signupForm(w http.ResponseWriter, r *http.Request) {
	if alreadyIn(w, r) {
		return
	}
	h.render(w, r, http.StatusOK, "signup", h.authView(r, newForm(nil, signupFields...)))
}

// signup creates the account, signs it in and goes on to next (the workspaces by default).
func (h *Handler) signup(w http.ResponseWriter, r *http.Request) {
	if !h.parseForm(w, r) {
		return
	}
	f := newForm(r, signupFields...)
	_, token, _, err := h.d.Identity.Signup(r.Context(), identity.NewAccount{
		Email: r.PostFormValue("email"), Password: r.PostFormValue("password"), Name: r.PostFormValue("name"),
	})
	if err != nil {
		h.formError(w, r, "signup", h.authView(r, f), err)
		return
	}
	h.setSession(w, r, token, r.PostFormValue("next"))
}

// loginForm shows the log-in form.
func (h *Handler) loginForm(w http.ResponseWriter, r *http.Request) {
	if alreadyIn(w, r) {
		return
	}
	v := h.authView(r, newForm(nil, loginFields...))
	if v.Page.(authPage).Ended {
		c := h.d.Cookie.Clear()
		http.SetCookie(w, &c)
	}
	h.render(w, r, http.StatusOK, "login", v)
}

// login checks the credentials, signs in and goes on to next.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	if !h.parseForm(w, r) {
		return
	}
	f := newForm(r, loginFields...)
	_, token, _, err := h.d.Identity.Login(r.Context(), r.PostFormValue("email"), r.PostFormValue("password"))
	if err != nil {
		h.formError(w, r, "login", h.authView(r, f), err)
		return
	}
	h.setSession(w, r, token, r.PostFormValue("next"))
}

// logout ends the session, clears the cookie and shows the log-in page, which leads on to next
// (a local path) when the form gave one.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	if !h.parseForm(w, r) {
		return
	}
	if signedIn(r) {
		if err := h.d.Identity.Logout(r.Context()); err != nil && !errors.Is(err, apierr.Unauthenticated) {
			h.fail(w, r, nil, err)
			return
		}
	}
	c := h.d.Cookie.Clear()
	http.SetCookie(w, &c)
	to := "/login"
	if next := safeNext(r.PostFormValue("next")); next != "" && next != defaultNext {
		to += "?next=" + url.QueryEscape(next)
	}
	redirect(w, r, to)
}
