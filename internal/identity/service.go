package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/audit"
	"github.com/parleyhq/parley/internal/platform/authz"
	"github.com/parleyhq/parley/internal/platform/db"
	"github.com/parleyhq/parley/internal/platform/id"
	"github.com/parleyhq/parley/internal/platform/mail"
)

// SignupMode is who may create an account.
type SignupMode string

const (
	SignupOpen       SignupMode = "open"
	SignupInviteOnly SignupMode = "invite-only"
)

// Options configure the service; zero values take the defaults.
type Options struct {
	Hash        HashParams
	IdleTimeout time.Duration // default 1 h
	MaxAge      time.Duration // default 12 h
	Signup      SignupMode    // default open
	// BaseURL is the public URL used in emailed links.
	BaseURL string
	// Roles answers "what is this user's role in that workspace" for the principals it makes.
	Roles authz.RoleLookup
	// Invitations lets sign-up redeem a workspace invitation (the workspace service implements
	// it); nil refuses sign-up with an invitation token as invitation_invalid.
	Invitations Invitations
	Now         func() time.Time
}

// Invitations is what sign-up needs from workspace invitations.
type Invitations interface {
	// InvitedEmail returns the address a live invitation token was sent to (Gone otherwise).
	InvitedEmail(ctx context.Context, token string) (string, error)
	// RedeemInvitation makes userID a member as the invitation says, inside tx (the transaction
	// that creates the account).
	RedeemInvitation(ctx context.Context, tx *sql.Tx, token, userID string) error
}

// Service is the accounts service.
type Service struct {
	db     *db.DB
	log    *slog.Logger
	opt    Options
	st     store
	hashes chan struct{}
	// log-in throttles: per account (10 attempts, then one per minute) and per IP (30, then one
	// every 2 s).
	perAccount, perIP *throttle
}

// NewService builds the service.
func NewService(d *db.DB, logger *slog.Logger, opt Options) *Service {
	if opt.Hash == (HashParams{}) {
		opt.Hash = DefaultHashParams
	}
	if opt.IdleTimeout == 0 {
		opt.IdleTimeout = time.Hour
	}
	if opt.MaxAge == 0 {
		opt.MaxAge = 12 * time.Hour
	}
	if opt.Signup == "" {
		opt.Signup = SignupOpen
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Service{
		db: d, log: logger, opt: opt,
		hashes:     make(chan struct{}, max(1, runtime.GOMAXPROCS(0))),
		perAccount: newThrottle(time.Minute, 10),
		perIP:      newThrottle(2*time.Second, 30),
	}
}

func (s *Service) now() time.Time { return s.opt.Now().UTC() }

func (s *Service) hash(pw string) (string, error) {
	s.hashes <- struct{}{}
	defer func() { <-s.hashes }()
	return hashPassword(pw, s.opt.Hash)
}

func (s *Service) verify(pw, phc string) (bool, error) {
	s.hashes <- struct{}{}
	defer func() { <-s.hashes }()
	return verifyPassword(pw, phc)
}

// NewAccount is what sign-up and `parley users create` take.
type NewAccount struct {
	Email    string
	Password string
	Name     string
}

// CreateUser creates an account without signing it in (the operator's CLI; sign-up uses it too).
// Errors: Invalid (email, password, name), Conflict email_taken.
func (s *Service) CreateUser(ctx context.Context, in NewAccount) (User, error) {
	return s.createUser(ctx, in, nil)
}

// createUser creates the account; then, when not nil, runs in the same transaction.
func (s *Service) createUser(ctx context.Context, in NewAccount, then func(tx *sql.Tx, u User) error) (User, error) {
	email, key, err := normalizeEmail(in.Email)
	if err != nil {
		return User{}, err
	}
	name, err := validName(in.Name)
	if err != nil {
		return User{}, err
	}
	if why := checkPassword(in.Password, email); why != "" {
		return User{}, apierr.Validation(apierr.Field("password", why))
	}
	hash, err := s.hash(in.Password)
	if err != nil {
		return User{}, err
	}
	u := User{ID: id.New(id.User), Email: email, Name: name, CreatedAt: s.now()}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		ok, err := s.st.insertUser(ctx, tx, u, key, hash)
		if err != nil {
			return err
		}
		if !ok {
			return apierr.New(apierr.Conflict, "email_taken", "an account with this email already exists")
		}
		if err := audit.Record(ctx, tx, u.CreatedAt, audit.Entry{Action: "user.created", ResourceType: "user", ResourceID: u.ID, Changes: []string{"email", "name", "password"}}); err != nil {
			return err
		}
		if then != nil {
			return then(tx, u)
		}
		return nil
	})
	return u, err
}

// Signup creates an account and signs it in, returning the session token.
// Errors: as CreateUser; Forbidden signup_closed when sign-up is invite-only; RateLimited.
func (s *Service) Signup(ctx context.Context, in NewAccount) (User, string, Session, error) {
	if s.opt.Signup == SignupInviteOnly {
		return User{}, "", Session{}, apierr.New(apierr.Forbidden, "signup_closed", "sign-up is by invitation only on this server")
	}
	if err := s.checkThrottle(ctx, ""); err != nil {
		return User{}, "", Session{}, err
	}
	ip, _ := audit.Client(ctx)
	s.perIP.hit("ip:"+ip, s.now())
	u, err := s.CreateUser(ctx, in)
	if err != nil {
		return User{}, "", Session{}, err
	}
	token, sess, err := s.newSession(ctx, u.ID)
	return u, token, sess, err
}

// SignupWithInvitation creates an account from an invitation link and signs it in: the account
// takes the invited address (in.Email may be empty; if given it must be that address) and joins
// the invitation's workspace in the same transaction. It works when sign-up is invite-only: the
// token, mailed to that address, is the invitation. Errors: as Signup except signup_closed; Gone
// invitation_invalid; Forbidden invitation_email_mismatch.
func (s *Service) SignupWithInvitation(ctx context.Context, token string, in NewAccount) (User, string, Session, error) {
	if s.opt.Invitations == nil {
		return User{}, "", Session{}, apierr.New(apierr.Gone, "invitation_invalid", "this invitation link is invalid")
	}
	if err := s.checkThrottle(ctx, ""); err != nil {
		return User{}, "", Session{}, err
	}
	ip, _ := audit.Client(ctx)
	s.perIP.hit("ip:"+ip, s.now())
	invited, err := s.opt.Invitations.InvitedEmail(ctx, token)
	if err != nil {
		return User{}, "", Session{}, err
	}
	if in.Email != "" && !strings.EqualFold(strings.TrimSpace(in.Email), invited) {
		return User{}, "", Session{}, apierr.New(apierr.Forbidden, "invitation_email_mismatch",
			"this invitation was sent to another email address; sign up with that address")
	}
	in.Email = invited
	u, err := s.createUser(ctx, in, func(tx *sql.Tx, u User) error {
		return s.opt.Invitations.RedeemInvitation(authz.WithPrincipal(ctx, authz.NewUser(u.ID, "", nil)), tx, token, u.ID)
	})
	if err != nil {
		return User{}, "", Session{}, err
	}
	sessionToken, sess, err := s.newSession(ctx, u.ID)
	return u, sessionToken, sess, err
}

func (s *Service) checkThrottle(ctx context.Context, emailKey string) error {
	ip, _ := audit.Client(ctx)
	now := s.now()
	wait := s.perIP.wait("ip:"+ip, now)
	if emailKey != "" {
		wait = max(wait, s.perAccount.wait("acct:"+emailKey, now))
	}
	if wait > 0 {
		e := apierr.New(apierr.RateLimited, "too_many_attempts", "too many attempts; try again later")
		e.RetryAfter = wait
		return e
	}
	return nil
}

var errBadCredentials = apierr.New(apierr.Unauthenticated, "invalid_credentials", "email or password is incorrect")

// dummyHash is verified against when the email is unknown, so both cases take the same time.
var dummyHash, _ = hashPassword("not a real password at all", DefaultHashParams)

// Login checks the credentials and opens a session. Errors: Unauthenticated invalid_credentials,
// RateLimited too_many_attempts (with RetryAfter).
func (s *Service) Login(ctx context.Context, email, password string) (User, string, Session, error) {
	_, key, err := normalizeEmail(email)
	if err != nil {
		return User{}, "", Session{}, errBadCredentials
	}
	if err := s.checkThrottle(ctx, key); err != nil {
		s.log.WarnContext(ctx, "login throttled", "request_id", apierr.RequestID(ctx))
		return User{}, "", Session{}, err
	}
	u, hash, err := s.st.userByEmail(ctx, s.db.Read, key)
	known := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return User{}, "", Session{}, err
	}
	if !known {
		hash = dummyHash
	}
	ok, err := s.verify(password, hash)
	if err != nil {
		return User{}, "", Session{}, err
	}
	if !ok || !known {
		now := s.now()
		ip, _ := audit.Client(ctx)
		s.perIP.hit("ip:"+ip, now)
		s.perAccount.hit("acct:"+key, now)
		s.log.WarnContext(ctx, "login failed", "request_id", apierr.RequestID(ctx), "ip", ip)
		return User{}, "", Session{}, errBadCredentials
	}
	token, sess, err := s.newSession(ctx, u.ID)
	return u, token, sess, err
}

func newToken() (token, hash string) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, hashToken(token)
}

func hashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

func (s *Service) newSession(ctx context.Context, userID string) (string, Session, error) {
	token, th := newToken()
	now := s.now()
	sess := Session{ID: id.New(id.Session), UserID: userID, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(s.opt.MaxAge)}
	ip, ua := audit.Client(ctx)
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := s.st.insertSession(ctx, tx, sess, th, ip, ua); err != nil {
			return err
		}
		return audit.Record(authz.WithPrincipal(ctx, authz.NewUser(userID, sess.ID, nil)), tx, now,
			audit.Entry{Action: "session.created", ResourceType: "session", ResourceID: sess.ID})
	})
	if err != nil {
		return "", Session{}, fmt.Errorf("create session: %w", err)
	}
	return token, sess, nil
}

// ErrSessionExpired is the answer to an expired, revoked or unknown session cookie.
var ErrSessionExpired = apierr.New(apierr.Unauthenticated, "session_expired", "your session has ended; sign in again")

// Authenticate turns a session token into a user principal. It refreshes the session's idle
// timer at most once a minute, so reads stay reads.
func (s *Service) Authenticate(ctx context.Context, token string) (*authz.Principal, error) {
	if token == "" {
		return nil, ErrSessionExpired
	}
	sess, err := s.st.sessionByTokenHash(ctx, s.db.Read, hashToken(token))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrSessionExpired
	}
	if err != nil {
		return nil, err
	}
	now := s.now()
	if !now.Before(sess.ExpiresAt) || now.Sub(sess.LastSeenAt) >= s.opt.IdleTimeout {
		return nil, ErrSessionExpired
	}
	if now.Sub(sess.LastSeenAt) >= time.Minute {
		if err := s.st.touchSession(ctx, s.db.Write, sess.ID, now); err != nil {
			return nil, err
		}
	}
	return authz.NewUser(sess.UserID, sess.ID, s.opt.Roles), nil
}

// Logout ends the caller's session.
func (s *Service) Logout(ctx context.Context) error {
	p, err := authz.CurrentUser(ctx)
	if err != nil {
		return err
	}
	now := s.now()
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := s.st.revokeSession(ctx, tx, p.UserID, p.SessionID, now); err != nil {
			return err
		}
		return audit.Record(ctx, tx, now, audit.Entry{Action: "session.revoked", ResourceType: "session", ResourceID: p.SessionID})
	})
}

// Me returns the signed-in user.
func (s *Service) Me(ctx context.Context) (User, error) {
	p, err := authz.CurrentUser(ctx)
	if err != nil {
		return User{}, err
	}
	u, _, err := s.st.userByID(ctx, s.db.Read, p.UserID)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, ErrSessionExpired
	}
	return u, err
}

// UpdateMe changes the signed-in user's name.
func (s *Service) UpdateMe(ctx context.Context, name string) (User, error) {
	p, err := authz.CurrentUser(ctx)
	if err != nil {
		return User{}, err
	}
	if name, err = validName(name); err != nil {
		return User{}, err
	}
	now := s.now()
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := s.st.updateName(ctx, tx, p.UserID, name, now); err != nil {
			return err
		}
		return audit.Record(ctx, tx, now, audit.Entry{Action: "user.updated", ResourceType: "user", ResourceID: p.UserID, Changes: []string{"name"}})
	})
	if err != nil {
		return User{}, err
	}
	return s.Me(ctx)
}

// ChangePassword checks the current password, sets the new one, ends every session of the user
// and returns a fresh session for the caller.
func (s *Service) ChangePassword(ctx context.Context, current, next string) (string, Session, error) {
	p, err := authz.CurrentUser(ctx)
	if err != nil {
		return "", Session{}, err
	}
	u, hash, err := s.st.userByID(ctx, s.db.Read, p.UserID)
	if err != nil {
		return "", Session{}, err
	}
	ok, err := s.verify(current, hash)
	if err != nil {
		return "", Session{}, err
	}
	if !ok {
		return "", Session{}, apierr.Validation(apierr.Field("currentPassword", "current password is incorrect"))
	}
	if err := s.setPassword(ctx, u, next); err != nil {
		return "", Session{}, err
	}
	return s.newSession(ctx, u.ID)
}

func (s *Service) setPassword(ctx context.Context, u User, next string) error {
	if why := checkPassword(next, u.Email); why != "" {
		return apierr.Validation(apierr.Field("newPassword", why))
	}
	nh, err := s.hash(next)
	if err != nil {
		return err
	}
	now := s.now()
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := s.st.setPassword(ctx, tx, u.ID, nh, now); err != nil {
			return err
		}
		if err := s.st.revokeAllSessions(ctx, tx, u.ID, now); err != nil {
			return err
		}
		return audit.Record(ctx, tx, now, audit.Entry{Action: "user.password_changed", ResourceType: "user", ResourceID: u.ID, Changes: []string{"password"}})
	})
}

// RequestPasswordReset mails a single-use reset link when the account exists; it answers the
// same either way.
func (s *Service) RequestPasswordReset(ctx context.Context, email string) error {
	_, key, err := normalizeEmail(email)
	if err != nil {
		return err
	}
	if err := s.checkThrottle(ctx, key); err != nil {
		return err
	}
	now := s.now()
	ip, _ := audit.Client(ctx)
	s.perIP.hit("ip:"+ip, now)
	s.perAccount.hit("acct:"+key, now)
	u, _, err := s.st.userByEmail(ctx, s.db.Read, key)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	token, th := newToken()
	link := s.opt.BaseURL + "/reset-password?token=" + token
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := s.st.insertReset(ctx, tx, th, u.ID, now, now.Add(time.Hour)); err != nil {
			return err
		}
		_, err := mail.Enqueue(ctx, tx, now, u.Email, "Reset your Parley password",
			"Someone asked to reset the password of your Parley account.\n\nTo choose a new password, open this link within one hour:\n\n"+link+
				"\n\nIf it was not you, ignore this message; your password stays as it is.\n")
		return err
	})
}

// ResetPassword sets a new password with a reset token and ends every session of the user.
// Errors: Gone reset_token_invalid for an unknown, used or expired token; Invalid for the password.
func (s *Service) ResetPassword(ctx context.Context, token, next string) error {
	now := s.now()
	var u User
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		userID, err := s.st.useReset(ctx, tx, hashToken(token), now)
		if errors.Is(err, errNoRows) {
			return apierr.New(apierr.Gone, "reset_token_invalid", "this reset link is invalid, used or expired; ask for a new one")
		}
		if err != nil {
			return err
		}
		u, _, err = s.st.userByID(ctx, tx, userID)
		if err != nil {
			return err
		}
		if why := checkPassword(next, u.Email); why != "" {
			return apierr.Validation(apierr.Field("newPassword", why))
		}
		return nil
	})
	if err != nil {
		return err
	}
	return s.setPassword(authz.WithPrincipal(ctx, authz.NewUser(u.ID, "", nil)), u, next)
}

func (s *Service) userByID(ctx context.Context, userID string) (User, error) {
	u, _, err := s.st.userByID(ctx, s.db.Read, userID)
	return u, err
}
