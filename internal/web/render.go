package web

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/parleyhq/parley/internal/identity"
	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/authz"
	"github.com/parleyhq/parley/internal/workspace"
)

//go:embed templates
var templateFS embed.FS

// pages holds one template set per page: the layout (layout.html) plus the page's file, which
// defines "title" and "content".
var pages = parsePages("login", "signup", "workspaces", "overview", "error", "forgot", "reset",
	"team", "transfer", "apikeys", "apikey-created", "audit", "invitation", "agents", "agent", "agent-versions", "settings",
	"contacts", "contact", "contact-lists", "contact-list", "contact-import", "dnc", "telephony", "calls", "call", "billing",
	"campaigns", "campaign")

var funcs = template.FuncMap{
	"asset": assetURL,
	"date":  func(t time.Time) string { return t.UTC().Format("2 January 2006") },
	"iso":   func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"role":  func(r authz.Role) string { return strings.TrimSuffix(sentence(string(r)), ".") },
	// idPart makes a value usable in an element ID ("agents:read" → "agents-read").
	"idPart": func(s string) string { return strings.NewReplacer(":", "-", ".", "-", " ", "-").Replace(s) },
	"stamp":  func(t time.Time) string { return t.UTC().Format("2 Jan 2006 15:04:05") },
	// short and datep are short dates for tables (datep of an optional time).
	"short": func(t time.Time) string { return t.UTC().Format("2 Jan 2006") },
	"datep": func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format("2 Jan 2006")
	},
	"isop": func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	},
}

func parsePages(names ...string) map[string]*template.Template {
	base := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/fields.html", "templates/contacts-nav.html"))
	m := map[string]*template.Template{}
	for _, n := range names {
		m[n] = template.Must(template.Must(base.Clone()).ParseFS(templateFS, "templates/"+n+".html"))
	}
	return m
}

// view is what every page template gets. The layout reads User, Workspaces, Current and Nav;
// the page reads Form and Page.
type view struct {
	// User is the signed-in person (nil on the log-in and sign-up pages).
	User *identity.User
	// Workspaces are the user's workspaces, for the switcher (the first page of them).
	Workspaces     []workspace.Membership
	MoreWorkspaces bool
	// Current is the workspace the page is about, if any; the workspace nav shows for it.
	Current *workspace.Membership
	Nav     []navLink
	// Form holds a form's values and errors.
	Form *form
	// Page is the page's own data.
	Page any
	// Status is the response status (error pages show it).
	Status int
	// RequestID identifies the request in the logs (error pages show it).
	RequestID string
	// Notice is a one-line confirmation of what the previous request did (?notice=<code>, see
	// notices); the layout shows it above the page.
	Notice string
}

// notices are the confirmations a redirect after a successful form can ask for with
// ?notice=<code>. Only these fixed texts are shown, so a crafted link cannot put words on a page.
var notices = map[string]string{
	"invited":              "Invitation sent.",
	"resent":               "Invitation sent again with a new link; the previous link no longer works.",
	"invitation-revoked":   "Invitation revoked; its link no longer works.",
	"role-changed":         "Role changed.",
	"removed":              "Member removed. They lost access to this workspace at once.",
	"transferred":          "Ownership transferred. You are now an admin of this workspace.",
	"left":                 "You left the workspace.",
	"joined":               "Welcome! You have joined this workspace.",
	"declined":             "Invitation declined.",
	"key-revoked":          "API key revoked. It stops working at once.",
	"agent-created":        "Agent created.",
	"agent-saved":          "Agent saved as a new version.",
	"agent-unchanged":      "Nothing changed, so no new version was made.",
	"agent-deleted":        "Agent deleted, with its versions.",
	"agent-restored":       "Version restored, as a new version.",
	"settings-saved":       "Settings saved. Agents that inherit them use the new values at once.",
	"provider-key-added":   "Provider key added. Calls to that provider use it from now on.",
	"provider-key-deleted": "Provider key deleted. Calls to that provider use the platform's key again.",
	"contact-created":      "Contact added.",
	"contact-saved":        "Contact saved.",
	"contact-deleted":      "Contact deleted. If its number was on the do-not-call list, it stays there.",
	"added-to-list":        "Added to the list.",
	"removed-from-list":    "Removed from the list.",
	"list-created":         "List created.",
	"list-renamed":         "List renamed.",
	"list-deleted":         "List deleted. Its contacts are kept.",
	"credential-added":     "Credential saved. Verify it, then paste its URLs into the provider's console.",
	"credential-verified":  "The provider accepted the credential.",
	"credential-failed":    "The provider refused the credential: see its reason below.",
	"credential-deleted":   "Credential deleted, with its phone numbers.",
	"number-added":         "Number added. Paste its voice and status URLs into the provider's console.",
	"number-deleted":       "Number deleted.",
	"call-hung-up":         "Hang-up sent.",
	"dnc-added":            "Number added to the do-not-call list. Parley will not call it.",
	"dnc-already":          "That number was already on the do-not-call list.",
	"dnc-removed":          "Number removed from the do-not-call list.",
	"threshold-saved":      "Low-balance threshold saved.",
	"credits-transferred":  "Credits moved. Both workspaces' ledgers show the transfer.",
}

// navLink is one entry of the workspace navigation.
type navLink struct {
	Label  string
	Href   string
	Active bool
}

// workspaceSections are the pages of a workspace, in nav order. Later pages (Agents…) add a row
// here and a route in Register. A section shows only to the roles whose permission-matrix row
// allows its action (the services still enforce it).
var workspaceSections = []struct {
	key, label, suffix string
	action             authz.Action
}{
	{"overview", "Overview", "", authz.WorkspaceView},
	{"agents", "Agents", "/agents", authz.AgentsRead},
	{"contacts", "Contacts", "/contacts", authz.ContactsRead},
	{"calls", "Calls", "/calls", authz.CallsRead},
	{"campaigns", "Campaigns", "/campaigns", authz.CampaignsRead},
	{"telephony", "Telephony", "/telephony", authz.TelephonyRead},
	{"team", "Team", "/team", authz.MembersView},
	{"api-keys", "API keys", "/api-keys", authz.APIKeysManage},
	{"webhooks", "Webhooks", "/webhooks", authz.WebhooksRead},
	{"billing", "Billing", "/billing", authz.BillingView},
	{"audit", "Audit log", "/audit", authz.AuditRead},
	{"settings", "Settings", "/settings", authz.SettingsRead},
}

// inWorkspace sets the current workspace and its navigation, with active marking the section.
func (v *view) inWorkspace(m workspace.Membership, active string) {
	v.Current = &m
	v.Nav = nil
	for _, s := range workspaceSections {
		if can(m.Role, s.action) {
			v.Nav = append(v.Nav, navLink{Label: s.label, Href: "/w/" + m.ID + s.suffix, Active: s.key == active})
		}
	}
}

// can reports whether the permission matrix lets role perform action. The dashboard uses it only
// to decide which controls to show; the services decide what is allowed.
func can(role authz.Role, action authz.Action) bool {
	rule, ok := authz.Matrix[action]
	if !ok {
		return false
	}
	switch role {
	case authz.Owner:
		return rule.Owner
	case authz.Admin:
		return rule.Admin
	case authz.Member:
		return rule.Member
	}
	return false
}

// form is a submitted (or empty) form: the values typed and the errors to show by field.
type form struct {
	fields []string
	values map[string]string
	errs   map[string]string
	// Message is an error that belongs to no one field.
	Message string
}

// fieldError is a field's error for the error summary, which links to the field.
type fieldError struct {
	Field, Message string
}

// newForm reads the named fields from the posted form. Password fields are never sent back.
func newForm(r *http.Request, fields ...string) *form {
	f := &form{fields: fields, values: map[string]string{}, errs: map[string]string{}}
	if r != nil {
		for _, k := range fields {
			if !strings.Contains(k, "password") {
				f.values[k] = r.PostFormValue(k)
			}
		}
	}
	return f
}

// Get returns a field's value.
func (f *form) Get(name string) string { return f.values[name] }

// Set sets a field's value.
func (f *form) Set(name, value string) { f.values[name] = value }

// Err returns a field's error message, or "".
func (f *form) Err(name string) string { return f.errs[name] }

// HasErrors reports whether the form has anything to correct.
func (f *form) HasErrors() bool { return f.Message != "" || len(f.errs) > 0 }

// Errors lists the field errors in the form's order.
func (f *form) Errors() []fieldError {
	var out []fieldError
	for _, k := range f.fields {
		if m, ok := f.errs[k]; ok {
			out = append(out, fieldError{Field: k, Message: m})
		}
	}
	return out
}

// setError shows e on the form: each field error beside its field, anything else as the message.
func (f *form) setError(e *apierr.Error) {
	placed := false
	for _, fe := range e.Fields {
		name := fe.Location
		if i := strings.IndexByte(name, '.'); i >= 0 {
			name = name[i+1:]
		}
		if i := strings.IndexByte(name, '['); i >= 0 {
			name = name[:i] // body.scopes[2] is the scopes field
		}
		known := false
		for _, k := range f.fields {
			known = known || k == name
		}
		if !known {
			continue
		}
		if _, dup := f.errs[name]; !dup {
			f.errs[name] = sentence(fe.Message)
		}
		placed = true
	}
	if !placed {
		f.Message = sentence(e.Detail)
	}
}

// sentence turns a service message into a sentence ("not a valid email address" → "Not a valid
// email address.").
func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	s = string(unicode.ToUpper(r)) + s[n:]
	if !strings.ContainsAny(s[len(s)-1:], ".!?") {
		s += "."
	}
	return s
}

// render writes a page. The page is rendered to a buffer first, so a template error becomes a
// clean 500 rather than half a page.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name string, v *view) {
	if v.Form == nil {
		v.Form = newForm(nil)
	}
	v.Status = status
	v.RequestID = apierr.RequestID(r.Context())
	if v.Notice == "" && status < 300 && r.Method == http.MethodGet {
		v.Notice = notices[r.URL.Query().Get("notice")]
	}
	var buf bytes.Buffer
	if err := pages[name].ExecuteTemplate(&buf, "layout", v); err != nil {
		h.logger(r.Context()).ErrorContext(r.Context(), "render page", "page", name, "err", err, "request_id", v.RequestID)
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// formError re-renders a form page with err shown on it, when err is a client error; anything
// else is the generic error page.
func (h *Handler) formError(w http.ResponseWriter, r *http.Request, name string, v *view, err error) {
	e, status, ok := clientError(err)
	if !ok {
		h.fail(w, r, v, err)
		return
	}
	retryAfter(w, e)
	v.Form.setError(e)
	h.render(w, r, status, name, v)
}

// errorPage is what the error template shows.
type errorPage struct {
	Heading, Message string
}

// fail answers a request that went wrong with the error page: 404 for anything missing or not
// yours, the service's message for other client errors, and a generic 500 (the error logged in
// full) for the rest. An ended session goes back to the log-in page.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, v *view, err error) {
	if v == nil {
		v = &view{}
	}
	v.Current, v.Nav, v.Form = nil, nil, nil
	status := apierr.Status(err)
	var e *apierr.Error
	switch {
	case errors.Is(err, apierr.Unauthenticated):
		toLogin(w, r)
		return
	case errors.Is(err, apierr.NotFound):
		v.Page = errorPage{"Page not found", "There is nothing here, or it is not yours to see. Check the address, or pick a workspace."}
	case errors.Is(err, apierr.Forbidden) && errors.As(err, &e):
		v.Page = errorPage{"You cannot open this page", sentence(e.Detail) + " If you need it, ask the workspace's owner."}
	case status < 500 && errors.As(err, &e):
		v.Page = errorPage{http.StatusText(status), sentence(e.Detail)}
	default:
		status = http.StatusInternalServerError
		h.logger(r.Context()).ErrorContext(r.Context(), "dashboard error", "method", r.Method, "path", redactPath(r.URL.Path), "err", err, "request_id", apierr.RequestID(r.Context()))
		v.Page = errorPage{"Something went wrong", "An internal error occurred. Please try again; if it keeps happening, quote the request ID below when reporting it."}
	}
	h.render(w, r, status, "error", v)
}

// redactPath hides the token of an invitation link, which is a credential, so it never reaches
// the logs.
func redactPath(p string) string {
	if rest, ok := strings.CutPrefix(p, "/invitations/"); ok {
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			return "/invitations/[token]" + rest[i:]
		}
		return "/invitations/[token]"
	}
	return p
}

// clientError returns err's problem and status when it is a client error to show on the page
// (server errors are not: fail answers those).
func clientError(err error) (*apierr.Error, int, bool) {
	var e *apierr.Error
	status := apierr.Status(err)
	if !errors.As(err, &e) || status >= 500 {
		return nil, 0, false
	}
	return e, status, true
}

// actionError is clientError for a signed-in person's action: an ended session is not shown on
// the page either (fail sends the browser to log in).
func actionError(err error) (*apierr.Error, int, bool) {
	if errors.Is(err, apierr.Unauthenticated) {
		return nil, 0, false
	}
	return clientError(err)
}

// retryAfter sets Retry-After for a rate-limited answer.
func retryAfter(w http.ResponseWriter, e *apierr.Error) {
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((e.RetryAfter+time.Second-1)/time.Second)))
	}
}

// logger is the request's logger, or the dashboard's when the request carries none.
func (h *Handler) logger(ctx context.Context) *slog.Logger {
	if apierr.RequestID(ctx) == "" {
		return h.d.Logger
	}
	return apierr.Logger(ctx)
}
