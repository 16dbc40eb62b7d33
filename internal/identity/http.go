package identity

import (
	"context"
	"net/http"
	"time"
)

// Cookie says how the session cookie is set. Secure cookies (https base URL) take the __Host-
// prefix, which pins them to this host and path /.
type Cookie struct {
	Secure bool
}

// Name is the session cookie's name.
func (c Cookie) Name() string {
	if c.Secure {
		return "__Host-parley_session"
	}
	return "parley_session"
}

// New returns the cookie that carries token: HttpOnly, SameSite=Lax, a session cookie (no
// Expires: the server enforces idle and absolute expiry).
func (c Cookie) New(token string) http.Cookie {
	return http.Cookie{Name: c.Name(), Value: token, Path: "/", HttpOnly: true, Secure: c.Secure, SameSite: http.SameSiteLaxMode}
}

// Clear returns a cookie that deletes the session cookie.
func (c Cookie) Clear() http.Cookie {
	ck := c.New("")
	ck.MaxAge = -1
	ck.Expires = time.Unix(0, 0)
	return ck
}

// HTTP holds the handlers of the account routes.
type HTTP struct {
	Svc    *Service
	Cookie Cookie
}

// SignupInput is the body of POST /v1/auth/signup.
type SignupInput struct {
	Body struct {
		Email    string `json:"email,omitempty" maxLength:"254" doc:"Your email address; you sign in with it. Required, except with invitationToken (then it is the invited address)." example:"ada@example.com"`
		Password string `json:"password" minLength:"1" maxLength:"256" doc:"At least 12 characters, not a common password."`
		Name     string `json:"name,omitempty" maxLength:"100" example:"Ada Lovelace"`
		// InvitationToken signs up from a workspace invitation link: the account takes the
		// invited address and joins the workspace, even when sign-up is invite-only.
		InvitationToken string `json:"invitationToken,omitempty" maxLength:"200" doc:"The token of a workspace invitation link: the account takes the invited email and joins the workspace. Works when sign-up is invite-only."`
	}
}

// SessionOutput answers sign-up and log-in: the user, and the session cookie.
type SessionOutput struct {
	SetCookie http.Cookie `header:"Set-Cookie"`
	Body      struct {
		User      User      `json:"user"`
		ExpiresAt time.Time `json:"expiresAt" doc:"The session's absolute expiry; it also ends after an hour without use."`
	}
}

func (h *HTTP) sessionOutput(u User, token string, s Session) *SessionOutput {
	out := &SessionOutput{SetCookie: h.Cookie.New(token)}
	out.Body.User = u
	out.Body.ExpiresAt = s.ExpiresAt
	return out
}

// Signup handles POST /v1/auth/signup.
func (h *HTTP) Signup(ctx context.Context, in *SignupInput) (*SessionOutput, error) {
	signup := h.Svc.Signup
	if in.Body.InvitationToken != "" {
		signup = func(ctx context.Context, a NewAccount) (User, string, Session, error) {
			return h.Svc.SignupWithInvitation(ctx, in.Body.InvitationToken, a)
		}
	}
	u, token, s, err := signup(ctx, NewAccount{Email: in.Body.Email, Password: in.Body.Password, Name: in.Body.Name})
	if err != nil {
		return nil, err
	}
	return h.sessionOutput(u, token, s), nil
}

// LoginInput is the body of POST /v1/auth/login.
type LoginInput struct {
	Body struct {
		Email    string `json:"email" maxLength:"254"`
		Password string `json:"password" maxLength:"256"`
	}
}

// Login handles POST /v1/auth/login.
func (h *HTTP) Login(ctx context.Context, in *LoginInput) (*SessionOutput, error) {
	u, token, s, err := h.Svc.Login(ctx, in.Body.Email, in.Body.Password)
	if err != nil {
		return nil, err
	}
	return h.sessionOutput(u, token, s), nil
}

// ClearCookieOutput answers log-out.
type ClearCookieOutput struct {
	SetCookie http.Cookie `header:"Set-Cookie"`
}

// Logout handles POST /v1/auth/logout.
func (h *HTTP) Logout(ctx context.Context, _ *struct{}) (*ClearCookieOutput, error) {
	if err := h.Svc.Logout(ctx); err != nil {
		return nil, err
	}
	return &ClearCookieOutput{SetCookie: h.Cookie.Clear()}, nil
}

// UserOutput is a user.
type UserOutput struct {
	Body User
}

// Me handles GET /v1/me.
func (h *HTTP) Me(ctx context.Context, _ *struct{}) (*UserOutput, error) {
	u, err := h.Svc.Me(ctx)
	if err != nil {
		return nil, err
	}
	return &UserOutput{Body: u}, nil
}

// UpdateMeInput is the body of PATCH /v1/me.
type UpdateMeInput struct {
	Body struct {
		Name string `json:"name" maxLength:"100"`
	}
}

// UpdateMe handles PATCH /v1/me.
func (h *HTTP) UpdateMe(ctx context.Context, in *UpdateMeInput) (*UserOutput, error) {
	u, err := h.Svc.UpdateMe(ctx, in.Body.Name)
	if err != nil {
		return nil, err
	}
	return &UserOutput{Body: u}, nil
}

// ChangePasswordInput is the body of POST /v1/me/password.
type ChangePasswordInput struct {
	Body struct {
		CurrentPassword string `json:"currentPassword" maxLength:"256"`
		NewPassword     string `json:"newPassword" maxLength:"256"`
	}
}

// ChangePassword handles POST /v1/me/password: every session ends, the caller gets a new one.
func (h *HTTP) ChangePassword(ctx context.Context, in *ChangePasswordInput) (*SessionOutput, error) {
	token, s, err := h.Svc.ChangePassword(ctx, in.Body.CurrentPassword, in.Body.NewPassword)
	if err != nil {
		return nil, err
	}
	u, err := h.Svc.userByID(ctx, s.UserID)
	if err != nil {
		return nil, err
	}
	return h.sessionOutput(u, token, s), nil
}

// ResetRequestInput is the body of POST /v1/auth/password-reset.
type ResetRequestInput struct {
	Body struct {
		Email string `json:"email" maxLength:"254"`
	}
}

// AcceptedOutput is an empty 202.
type AcceptedOutput struct{}

// RequestReset handles POST /v1/auth/password-reset (202 whether or not the account exists).
func (h *HTTP) RequestReset(ctx context.Context, in *ResetRequestInput) (*AcceptedOutput, error) {
	if err := h.Svc.RequestPasswordReset(ctx, in.Body.Email); err != nil {
		return nil, err
	}
	return &AcceptedOutput{}, nil
}

// ResetConfirmInput is the body of POST /v1/auth/password-reset/confirm.
type ResetConfirmInput struct {
	Body struct {
		Token       string `json:"token" maxLength:"200"`
		NewPassword string `json:"newPassword" maxLength:"256"`
	}
}

// ConfirmReset handles POST /v1/auth/password-reset/confirm.
func (h *HTTP) ConfirmReset(ctx context.Context, in *ResetConfirmInput) (*struct{}, error) {
	return nil, h.Svc.ResetPassword(ctx, in.Body.Token, in.Body.NewPassword)
}
