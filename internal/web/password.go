package web

import (
	"net/http"
)

// resetPage is what the forgot-password and reset-password templates get besides the form.
type resetPage struct {
	// Sent says the reset link was requested (the page then says to check the mail).
	Sent bool
	// Token is the reset token from the emailed link.
	Token string
}

var (
	forgotFields = []string{"email"}
	resetFields  = []string{"newPassword"}
)

// forgotForm shows the "forgot your password?" form.
func (h *Handler) forgotForm(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusOK, "forgot", &view{Form: newForm(nil, forgotFields...), Page: resetPage{}})
}

// forgot asks for a reset link. The answer is the same whether or not the account exists.
func (h *Handler) forgot(w http.ResponseWriter, r *http.Request) {
	if !h.parseForm(w, r) {
		return
	}
	f := newForm(r, forgotFields...)
	if err := h.d.Identity.RequestPasswordReset(r.Context(), r.PostFormValue("email")); err != nil {
		h.formError(w, r, "forgot", &view{Form: f, Page: resetPage{}}, err)
		return
	}
	h.render(w, r, http.StatusOK, "forgot", &view{Form: f, Page: resetPage{Sent: true}})
}

// resetForm shows the "choose a new password" form of an emailed link.
func (h *Handler) resetForm(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusOK, "reset", &view{Form: newForm(nil, resetFields...), Page: resetPage{Token: r.URL.Query().Get("token")}})
}

// reset sets the new password; every session of the account ends, so the person logs in again.
func (h *Handler) reset(w http.ResponseWriter, r *http.Request) {
	if !h.parseForm(w, r) {
		return
	}
	token := r.PostFormValue("token")
	f := newForm(r, resetFields...)
	f.Set("newPassword", "")
	if err := h.d.Identity.ResetPassword(r.Context(), token, r.PostFormValue("newPassword")); err != nil {
		h.formError(w, r, "reset", &view{Form: f, Page: resetPage{Token: token}}, err)
		return
	}
	c := h.d.Cookie.Clear()
	http.SetCookie(w, &c)
	redirect(w, r, "/login?reset=1")
}
