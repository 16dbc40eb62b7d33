package workspace

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/audit"
	"github.com/parleyhq/parley/internal/platform/authz"
	"github.com/parleyhq/parley/internal/platform/db"
	"github.com/parleyhq/parley/internal/platform/events"
	"github.com/parleyhq/parley/internal/platform/id"
	"github.com/parleyhq/parley/internal/platform/mail"
	"github.com/parleyhq/parley/internal/platform/page"
)

// DefaultInvitationLimit is how many invitation emails a workspace may send per hour (per
// replica) unless WithInvitationLimit says otherwise.
const DefaultInvitationLimit = 20

// InviteInput is what inviting someone takes.
type InviteInput struct {
	Email string
	Role  authz.Role
}

func alreadyInvited(invID string) error {
	detail := "this address already has a pending invitation to this workspace; resend it instead"
	if invID != "" {
		detail = "this address already has a pending invitation to this workspace (" + invID + "); resend it instead"
	}
	return apierr.New(apierr.Conflict, "already_invited", detail)
}

// Invite sends an invitation to join the workspace as admin or member (owner, admin). The link
// ({baseURL}/invitations/{token}) leaves through the mail outbox in the same transaction and works
// for 7 days, once. Errors: Invalid (email, role), Conflict already_member / already_invited (a
// pending, unexpired invitation to the same address exists: resend it), RateLimited
// too_many_invitations (with RetryAfter), Forbidden insufficient_role, NotFound.
func (s *Service) Invite(ctx context.Context, wsID string, in InviteInput) (Invitation, error) {
	p, err := authz.Require(ctx, wsID, authz.MembersManage)
	if err != nil {
		return Invitation{}, err
	}
	if p.Kind != authz.KindUser {
		return Invitation{}, authz.ErrUnauthenticated
	}
	email, key, err := normalizeEmail(in.Email)
	if err != nil {
		return Invitation{}, err
	}
	if err := invitableRole(in.Role); err != nil {
		return Invitation{}, err
	}
	now := s.now()
	release, err := s.invites.reserve(wsID, now)
	if err != nil {
		return Invitation{}, err
	}
	token, tokenHash := newInvitationToken()
	inv := Invitation{ID: id.New(invitationPrefix), WorkspaceID: wsID, Email: email, emailKey: key, Role: in.Role, Status: InvitationPending,
		InvitedBy: p.UserID, SendCount: 1, CreatedAt: now, SentAt: now, ExpiresAt: now.Add(InvitationTTL)}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if member, err := s.st.memberByEmail(ctx, tx, wsID, key); err != nil || member {
			if err == nil {
				err = errAlreadyMember
			}
			return err
		}
		prev, err := s.st.pendingInvitationTo(ctx, tx, wsID, key)
		switch {
		case err == nil && prev.live(now):
			return alreadyInvited(prev.ID)
		case err == nil:
			// A lapsed invitation to the same address makes way for the new one.
			if _, err := s.st.closeInvitation(ctx, tx, wsID, prev.ID, InvitationExpired, "", now, time.Time{}); err != nil {
				return err
			}
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		ok, err := s.st.insertInvitation(ctx, tx, inv, tokenHash)
		if err != nil {
			return err
		}
		if !ok {
			return alreadyInvited("")
		}
		if err := s.sendInvitation(ctx, tx, wsID, inv.ID, token, now); err != nil {
			return err
		}
		if err := audit.Record(ctx, tx, now, audit.Entry{WorkspaceID: wsID, Action: "invitation.created", ResourceType: "invitation", ResourceID: inv.ID,
			Changes: []string{"email", "role"}}); err != nil {
			return err
		}
		_, err = events.Publish(ctx, tx, events.Event{WorkspaceID: wsID, Type: "member.invited", Data: map[string]any{"invitation": inv}, CreatedAt: now})
		return err
	})
	if err != nil {
		release()
		return Invitation{}, err
	}
	return inv, nil
}

// sendInvitation mails the invitation's current link through q (the caller's transaction).
func (s *Service) sendInvitation(ctx context.Context, q db.Querier, wsID, invID, token string, now time.Time) error {
	rec, err := s.st.invitationRecord(ctx, q, wsID, invID)
	if err != nil {
		return err
	}
	subject, body := invitationMail(rec, s.baseURL+"/invitations/"+token)
	_, err = mail.Enqueue(ctx, q, now, rec.Email, subject, body)
	return err
}

// ListInvitations returns a page of the workspace's pending invitations — not accepted,
// declined, revoked nor expired — newest first (owner, admin). Errors: NotFound, Forbidden.
func (s *Service) ListInvitations(ctx context.Context, wsID, cursor string, limit int) (page.Page[Invitation], error) {
	if _, err := authz.Require(ctx, wsID, authz.MembersManage); err != nil {
		return page.Page[Invitation]{}, err
	}
	return page.Fetch(cursor, limit, func(before string, n int) ([]Invitation, error) {
		return s.st.listPendingInvitations(ctx, s.db.Read, wsID, s.now(), before, n)
	}, func(i Invitation) string { return i.ID })
}

// ResendInvitation mails a pending invitation again with a new link valid for 7 days; the old link
// stops working at once. An invitation that lapsed without an answer may be resent too (owner,
// admin). Errors: NotFound, Conflict invitation_not_pending / already_member, RateLimited.
func (s *Service) ResendInvitation(ctx context.Context, wsID, invID string) (Invitation, error) {
	if _, err := authz.Require(ctx, wsID, authz.MembersManage); err != nil {
		return Invitation{}, err
	}
	now := s.now()
	release, err := s.invites.reserve(wsID, now)
	if err != nil {
		return Invitation{}, err
	}
	token, tokenHash := newInvitationToken()
	var inv Invitation
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		cur, err := s.st.invitation(ctx, tx, wsID, invID)
		if errors.Is(err, sql.ErrNoRows) {
			return invitationNotFound()
		}
		if err != nil {
			return err
		}
		if cur.Status != InvitationPending {
			return errNotPending
		}
		if member, err := s.st.memberByEmail(ctx, tx, wsID, cur.emailKey); err != nil || member {
			if err == nil {
				err = errAlreadyMember
			}
			return err
		}
		ok, err := s.st.resendInvitation(ctx, tx, wsID, invID, tokenHash, now, now.Add(InvitationTTL))
		if err != nil {
			return err
		}
		if !ok {
			return errNotPending
		}
		if inv, err = s.st.invitation(ctx, tx, wsID, invID); err != nil {
			return err
		}
		if err := s.sendInvitation(ctx, tx, wsID, invID, token, now); err != nil {
			return err
		}
		return audit.Record(ctx, tx, now, audit.Entry{WorkspaceID: wsID, Action: "invitation.resent", ResourceType: "invitation", ResourceID: invID,
			Changes: []string{"expires_at"}})
	})
	if err != nil {
		release()
		return Invitation{}, err
	}
	return inv, nil
}

// RevokeInvitation withdraws a pending invitation (owner, admin): its link stops working.
// Errors: NotFound, Conflict invitation_not_pending.
func (s *Service) RevokeInvitation(ctx context.Context, wsID, invID string) error {
	if _, err := authz.Require(ctx, wsID, authz.MembersManage); err != nil {
		return err
	}
	now := s.now()
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		cur, err := s.st.invitation(ctx, tx, wsID, invID)
		if errors.Is(err, sql.ErrNoRows) {
			return invitationNotFound()
		}
		if err != nil {
			return err
		}
		if cur.Status != InvitationPending {
			return errNotPending
		}
		ok, err := s.st.closeInvitation(ctx, tx, wsID, invID, InvitationRevoked, "", now, time.Time{})
		if err != nil {
			return err
		}
		if !ok {
			return errNotPending
		}
		return audit.Record(ctx, tx, now, audit.Entry{WorkspaceID: wsID, Action: "invitation.revoked", ResourceType: "invitation", ResourceID: invID,
			Changes: []string{"status"}})
	})
}

// liveInvitation finds the invitation a token belongs to, if it may still be answered.
// Errors: Gone invitation_invalid (unknown, expired, accepted, declined or revoked — one answer).
func (s *Service) liveInvitation(ctx context.Context, q db.Querier, token string, now time.Time) (invitationRecord, error) {
	if token == "" || len(token) > 200 {
		return invitationRecord{}, errInvitationInvalid
	}
	rec, err := s.st.invitationByTokenHash(ctx, q, hashInvitationToken(token))
	if errors.Is(err, sql.ErrNoRows) {
		return invitationRecord{}, errInvitationInvalid
	}
	if err != nil {
		return invitationRecord{}, err
	}
	if !rec.live(now) {
		return invitationRecord{}, errInvitationInvalid
	}
	return rec, nil
}

// PreviewInvitation shows the holder of an invitation link what it offers, so the dashboard can
// offer to accept, decline or sign up. Anyone with the link may call it (the token is the
// credential). Errors: Gone invitation_invalid.
func (s *Service) PreviewInvitation(ctx context.Context, token string) (InvitationPreview, error) {
	rec, err := s.liveInvitation(ctx, s.db.Read, token, s.now())
	if err != nil {
		return InvitationPreview{}, err
	}
	inviter := rec.inviterName
	if inviter == "" {
		inviter = rec.inviterEmail
	}
	return InvitationPreview{WorkspaceName: rec.workspaceName, InviterName: inviter, Email: rec.Email, Role: rec.Role, ExpiresAt: rec.ExpiresAt}, nil
}

// AcceptInvitation makes the signed-in user a member of the invitation's workspace with the
// invitation's role and returns the workspace as they now see it. The user's email must be the
// invited address (compared case-insensitively). Errors: Unauthenticated, Gone invitation_invalid,
// Forbidden invitation_email_mismatch, Conflict already_member.
func (s *Service) AcceptInvitation(ctx context.Context, token string) (Membership, error) {
	p, err := authz.CurrentUser(ctx)
	if err != nil {
		return Membership{}, err
	}
	var inv Invitation
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		var err error
		inv, err = s.redeem(ctx, tx, token, p.UserID)
		return err
	})
	if err != nil {
		return Membership{}, err
	}
	p.Forget(inv.WorkspaceID)
	return s.Get(ctx, inv.WorkspaceID)
}

// DeclineInvitation turns an invitation down; its link stops working. The signed-in user's email
// must be the invited address. Errors: as AcceptInvitation, without already_member.
func (s *Service) DeclineInvitation(ctx context.Context, token string) error {
	p, err := authz.CurrentUser(ctx)
	if err != nil {
		return err
	}
	now := s.now()
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		rec, err := s.answerable(ctx, tx, token, p.UserID, now)
		if err != nil {
			return err
		}
		ok, err := s.st.closeInvitation(ctx, tx, rec.WorkspaceID, rec.ID, InvitationDeclined, "", now, now)
		if err != nil {
			return err
		}
		if !ok {
			return errInvitationInvalid
		}
		return audit.Record(ctx, tx, now, audit.Entry{WorkspaceID: rec.WorkspaceID, Action: "invitation.declined", ResourceType: "invitation", ResourceID: rec.ID,
			Changes: []string{"status"}})
	})
}

// InvitedEmail returns the address a live invitation token was sent to, for signing up from the
// link (identity calls it). Errors: Gone invitation_invalid.
func (s *Service) InvitedEmail(ctx context.Context, token string) (string, error) {
	rec, err := s.liveInvitation(ctx, s.db.Read, token, s.now())
	return rec.Email, err
}

// RedeemInvitation accepts the invitation for userID inside tx — the transaction that creates the
// account when someone signs up from an invitation link (identity calls it), so the account and
// the membership exist together or not at all. Errors: as AcceptInvitation.
func (s *Service) RedeemInvitation(ctx context.Context, tx *sql.Tx, token, userID string) error {
	if _, ok := authz.FromContext(ctx); !ok {
		ctx = authz.WithPrincipal(ctx, authz.NewUser(userID, "", nil))
	}
	_, err := s.redeem(ctx, tx, token, userID)
	return err
}

// answerable finds the live invitation of token and checks that userID is the invited person.
func (s *Service) answerable(ctx context.Context, q db.Querier, token, userID string, now time.Time) (invitationRecord, error) {
	rec, err := s.liveInvitation(ctx, q, token, now)
	if err != nil {
		return invitationRecord{}, err
	}
	key, err := s.st.userEmailKey(ctx, q, userID)
	if errors.Is(err, sql.ErrNoRows) {
		return invitationRecord{}, authz.ErrUnauthenticated
	}
	if err != nil {
		return invitationRecord{}, err
	}
	if key != rec.emailKey {
		return invitationRecord{}, errEmailMismatch
	}
	return rec, nil
}

// redeem accepts the invitation of token for userID through q: closes it, adds the membership,
// audits and publishes member.joined. It returns the invitation.
func (s *Service) redeem(ctx context.Context, q db.Querier, token, userID string) (Invitation, error) {
	now := s.now()
	rec, err := s.answerable(ctx, q, token, userID, now)
	if err != nil {
		return Invitation{}, err
	}
	wsID := rec.WorkspaceID
	if _, member, err := s.st.role(ctx, q, wsID, userID); err != nil || member {
		if err == nil {
			err = errAlreadyMember
		}
		return Invitation{}, err
	}
	ok, err := s.st.closeInvitation(ctx, q, wsID, rec.ID, InvitationAccepted, userID, now, now)
	if err != nil {
		return Invitation{}, err
	}
	if !ok {
		return Invitation{}, errInvitationInvalid
	}
	if err := s.st.addMember(ctx, q, wsID, userID, rec.Role, now); err != nil {
		return Invitation{}, err
	}
	m, err := s.st.member(ctx, q, wsID, userID)
	if err != nil {
		return Invitation{}, err
	}
	if err := audit.Record(ctx, q, now, audit.Entry{WorkspaceID: wsID, Action: "invitation.accepted", ResourceType: "invitation", ResourceID: rec.ID,
		Changes: []string{"status"}}); err != nil {
		return Invitation{}, err
	}
	_, err = events.Publish(ctx, q, events.Event{WorkspaceID: wsID, Type: "member.joined", CreatedAt: now,
		Data: map[string]any{"member": m, "invitationId": rec.ID}})
	rec.Status = InvitationAccepted
	return rec.Invitation, err
}

// sendLimiter is a token bucket per workspace for invitation emails. It lives in this process's
// memory: each replica enforces it on its own (N replicas allow up to N times the rate).
type sendLimiter struct {
	mu      sync.Mutex
	burst   int
	every   time.Duration
	buckets map[string]*rate.Limiter
	swept   time.Time
}

func newSendLimiter(n int, per time.Duration) *sendLimiter {
	n = max(n, 1)
	return &sendLimiter{burst: n, every: per / time.Duration(n), buckets: map[string]*rate.Limiter{}}
}

// reserve takes one send from the workspace's bucket. It returns a release function that gives
// the send back (when the invitation was not sent after all), or RateLimited too_many_invitations
// with the wait in RetryAfter.
func (l *sendLimiter) reserve(key string, now time.Time) (release func(), err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > 10*time.Minute {
		l.swept = now
		for k, b := range l.buckets {
			if b.TokensAt(now) >= float64(l.burst) {
				delete(l.buckets, k)
			}
		}
	}
	b, ok := l.buckets[key]
	if !ok {
		b = rate.NewLimiter(rate.Every(l.every), l.burst)
		l.buckets[key] = b
	}
	r := b.ReserveN(now, 1)
	if wait := r.DelayFrom(now); !r.OK() || wait > 0 {
		r.CancelAt(now)
		e := apierr.New(apierr.RateLimited, "too_many_invitations", "this workspace has sent too many invitations recently; try again later")
		e.RetryAfter = max(wait, time.Second)
		return nil, e
	}
	return func() { r.CancelAt(now) }, nil
}
