package web

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/parleyhq/parley/internal/agent"
	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/authz"
	"github.com/parleyhq/parley/internal/telephony"
)

// telephonyPage is the Telephony page: credentials (with the URLs to paste into each provider's
// console), the add-credential form for one provider, and the phone numbers.
type telephonyPage struct {
	Workspace   any
	WorkspaceID string
	Credentials []telephony.Credential
	Numbers     []telephony.Number
	Agents      []agent.Agent
	Providers   []string
	// Adding is the provider whose add form is shown ("" shows the provider picker).
	Adding    string
	AddFields []telephony.Field
	CanManage bool
	Problem   *form
	NumForm   *form
}

func credentialFields(provider string) []string {
	out := []string{"provider", "name"}
	for _, f := range telephony.Fields[provider] {
		out = append(out, "fields."+f.Name)
	}
	return out
}

var numberFields = []string{"e164", "credentialId", "inboundAgentId", "label"}

func (h *Handler) telephony(w http.ResponseWriter, r *http.Request) {
	adding := r.URL.Query().Get("add")
	h.showTelephony(w, r, http.StatusOK, adding, newForm(nil, credentialFields(adding)...), newForm(nil, numberFields...), nil)
}

func (h *Handler) showTelephony(w http.ResponseWriter, r *http.Request, status int, adding string, f, nf *form, problem *apierr.Error) {
	v, m, ok := h.workspaceView(w, r, "telephony")
	if !ok {
		return
	}
	ctx := r.Context()
	creds, err := h.d.Telephony.ListCredentials(ctx, m.ID)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	nums, err := h.d.Telephony.ListNumbers(ctx, m.ID, "", 100)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	p := telephonyPage{Workspace: m, WorkspaceID: m.ID, Credentials: creds, Numbers: nums.Data, Providers: telephony.Providers(),
		CanManage: can(m.Role, authz.TelephonyManage), Problem: newForm(nil), NumForm: nf}
	if _, known := telephony.Fields[adding]; known {
		p.Adding, p.AddFields = adding, telephony.Fields[adding]
	}
	if p.CanManage {
		if ags, err := h.d.Agents.ListAgents(ctx, m.ID, "", "", 100); err == nil {
			p.Agents = ags.Data
		}
	}
	if problem != nil {
		p.Problem.setError(problem)
	}
	v.Form = f
	v.Page = p
	h.render(w, r, status, "telephony", v)
}

// formAction checks the form post of a workspace action (parsed, signed in, allowed to do
// action) and returns the workspace ID; when it returns false the answer is written.
func (h *Handler) formAction(w http.ResponseWriter, r *http.Request, action authz.Action) (string, bool) {
	if !h.parseForm(w, r) {
		return "", false
	}
	if !signedIn(r) {
		toLogin(w, r)
		return "", false
	}
	wsID := r.PathValue("workspaceId")
	if _, err := authz.Require(r.Context(), wsID, action); err != nil {
		h.fail(w, r, nil, err)
		return "", false
	}
	return wsID, true
}

// telephonyManage checks the form post of a telephony action and returns the workspace ID.
func (h *Handler) telephonyManage(w http.ResponseWriter, r *http.Request) (string, bool) {
	return h.formAction(w, r, authz.TelephonyManage)
}

func telephonyURL(wsID, notice string) string {
	return "/w/" + url.PathEscape(wsID) + "/telephony?notice=" + notice
}

// addCredential stores a credential from the provider's form.
func (h *Handler) addCredential(w http.ResponseWriter, r *http.Request) {
	wsID, ok := h.telephonyManage(w, r)
	if !ok {
		return
	}
	provider := r.PostFormValue("provider")
	f := newForm(r, credentialFields(provider)...)
	in := telephony.CredentialInput{Provider: provider, Name: f.Get("name"), Fields: map[string]string{}}
	for _, fd := range telephony.Fields[provider] {
		if v := f.Get("fields." + fd.Name); v != "" {
			in.Fields[fd.Name] = v
		}
	}
	if _, err := h.d.Telephony.CreateCredential(r.Context(), wsID, in); err != nil {
		e, status, ok := actionError(err)
		if !ok || errors.Is(err, apierr.Forbidden) || errors.Is(err, apierr.NotFound) {
			h.fail(w, r, nil, err)
			return
		}
		for _, fd := range telephony.Fields[provider] {
			if fd.Secret {
				f.Set("fields."+fd.Name, "") // never echo a secret back into the page
			}
		}
		f.setError(e)
		h.showTelephony(w, r, status, provider, f, newForm(nil, numberFields...), nil)
		return
	}
	redirect(w, r, telephonyURL(wsID, "credential-added"))
}

// credentialAction verifies or deletes a credential.
func (h *Handler) credentialAction(w http.ResponseWriter, r *http.Request) {
	wsID, ok := h.telephonyManage(w, r)
	if !ok {
		return
	}
	id := r.PathValue("credentialId")
	var err error
	notice := ""
	switch r.PathValue("action") {
	case "verify":
		var c telephony.Credential
		c, err = h.d.Telephony.VerifyCredential(r.Context(), wsID, id)
		notice = "credential-verified"
		if err == nil && c.Verify.Status != telephony.VerifyOK {
			notice = "credential-failed"
		}
	case "delete":
		err = h.d.Telephony.DeleteCredential(r.Context(), wsID, id)
		notice = "credential-deleted"
	default:
		h.fail(w, r, nil, apierr.NotFoundf("page"))
		return
	}
	if err != nil {
		h.telephonyProblem(w, r, err)
		return
	}
	redirect(w, r, telephonyURL(wsID, notice))
}

func (h *Handler) telephonyProblem(w http.ResponseWriter, r *http.Request, err error) {
	e, status, ok := actionError(err)
	if !ok || errors.Is(err, apierr.Forbidden) {
		h.fail(w, r, nil, err)
		return
	}
	h.showTelephony(w, r, status, "", newForm(nil), newForm(nil, numberFields...), e)
}

// addNumber adds a phone number from the form.
func (h *Handler) addNumber(w http.ResponseWriter, r *http.Request) {
	wsID, ok := h.telephonyManage(w, r)
	if !ok {
		return
	}
	nf := newForm(r, numberFields...)
	in := telephony.NumberInput{E164: nf.Get("e164"), CredentialID: nf.Get("credentialId")}
	if l := nf.Get("label"); l != "" {
		in.Label = &l
	}
	if a := nf.Get("inboundAgentId"); a != "" {
		in.InboundAgentID = &a
	}
	if _, err := h.d.Telephony.CreateNumber(r.Context(), wsID, in); err != nil {
		e, status, ok := actionError(err)
		if !ok || errors.Is(err, apierr.Forbidden) {
			h.fail(w, r, nil, err)
			return
		}
		if errors.Is(err, apierr.NotFound) {
			e = apierr.Validation(apierr.FieldError{Location: "body.credentialId", Message: "choose a credential and an agent of this workspace"})
			status = http.StatusUnprocessableEntity
		}
		nf.setError(e)
		h.showTelephony(w, r, status, "", newForm(nil), nf, nil)
		return
	}
	redirect(w, r, telephonyURL(wsID, "number-added"))
}

// deleteNumber removes a phone number.
func (h *Handler) deleteNumber(w http.ResponseWriter, r *http.Request) {
	wsID, ok := h.telephonyManage(w, r)
	if !ok {
		return
	}
	if err := h.d.Telephony.DeleteNumber(r.Context(), wsID, r.PathValue("numberId")); err != nil {
		h.telephonyProblem(w, r, err)
		return
	}
	redirect(w, r, telephonyURL(wsID, "number-deleted"))
}
