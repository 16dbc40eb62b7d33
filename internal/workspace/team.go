package workspace

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/mail"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/authz"
)

// invitationPrefix is the ID prefix of invitations (inv_…).
const invitationPrefix = "inv"

// InvitationTTL is how long an invitation link stays valid after it is (re)sent.
const InvitationTTL = 7 * 24 * time.Hour

// Invitation statuses. A pending invitation past its expiry is reported as expired.
const (
	InvitationPending  = "pending"
	InvitationAccepted = "accepted"
	InvitationDeclined = "declined"
	InvitationRevoked  = "revoked"
	InvitationExpired  = "expired"
)

// Invitation is an offer to join a workspace, sent by email. The token itself is never stored
// nor returned: it exists only in the mailed link.
type Invitation struct {
	ID          string     `json:"id" doc:"Invitation ID (inv_…)."`
	WorkspaceID string     `json:"workspaceId"`
	Email       string     `json:"email" doc:"The address the invitation was sent to."`
	Role        authz.Role `json:"role" enum:"admin,member" doc:"The role the invitee gets on accepting."`
	Status      string     `json:"status" enum:"pending,accepted,declined,revoked,expired"`
	InvitedBy   string     `json:"invitedBy" doc:"The user ID of whoever sent it."`
	SendCount   int        `json:"sendCount" doc:"How many times it was sent (1 + resends)."`
	CreatedAt   time.Time  `json:"createdAt"`
	SentAt      time.Time  `json:"sentAt" doc:"When the current link was sent."`
	ExpiresAt   time.Time  `json:"expiresAt" doc:"When the current link stops working (7 days after sending)."`

	emailKey string
}

// statusAt is the invitation's status at now: a pending invitation past its expiry is expired.
func (i Invitation) statusAt(now time.Time) string {
	if i.Status == InvitationPending && !now.Before(i.ExpiresAt) {
		return InvitationExpired
	}
	return i.Status
}

// live reports whether the invitation can still be accepted or declined at now.
func (i Invitation) live(now time.Time) bool { return i.statusAt(now) == InvitationPending }

// InvitationPreview is what the holder of an invitation link may see before answering it.
type InvitationPreview struct {
	WorkspaceName string     `json:"workspaceName"`
	InviterName   string     `json:"inviterName" doc:"The inviter's name, or their email when they have none."`
	Email         string     `json:"email" doc:"The invited address: accept signed in with it, or sign up with it."`
	Role          authz.Role `json:"role" enum:"admin,member"`
	ExpiresAt     time.Time  `json:"expiresAt"`
}

// invitationRecord is an invitation found by its token, with what the preview and the mail show.
type invitationRecord struct {
	Invitation
	workspaceName, inviterName, inviterEmail string
}

// Errors of the team rules. Codes are stable (docs/team-and-access.md lists them).
var (
	errInvitationInvalid = apierr.New(apierr.Gone, "invitation_invalid",
		"this invitation link is invalid, expired, already used, declined or revoked; ask for a new one")
	errEmailMismatch = apierr.New(apierr.Forbidden, "invitation_email_mismatch",
		"this invitation was sent to another email address; sign in with that address to answer it")
	errOwnerCannotLeave = apierr.New(apierr.Conflict, "owner_cannot_leave",
		"the owner cannot leave or be removed; transfer ownership first")
	errOwnerProtected = apierr.New(apierr.Forbidden, "owner_protected",
		"only the owner may act on the owner's membership, and only through an ownership transfer")
	errTransferRequired = apierr.New(apierr.Invalid, "ownership_transfer_required",
		"the owner role changes hands only through POST /v1/workspaces/{workspaceId}/transfer-ownership")
	errAlreadyMember = apierr.New(apierr.Conflict, "already_member", "this person is already a member of the workspace")
	errNotPending    = apierr.New(apierr.Conflict, "invitation_not_pending", "this invitation was already accepted, declined or revoked")
)

func memberNotFound() error     { return apierr.NotFoundf("member") }
func invitationNotFound() error { return apierr.NotFoundf("invitation") }

// normalizeEmail validates an address and returns it trimmed and its lower-cased key: the same
// rules and key as accounts (identity), so an invitation's key matches the account's.
func normalizeEmail(s string) (email, key string, err error) {
	email = strings.TrimSpace(s)
	a, perr := mail.ParseAddress(email)
	if perr != nil || a.Address != email || !strings.Contains(email[strings.LastIndexByte(email, '@')+1:], ".") || len(email) > 254 {
		return "", "", apierr.Validation(apierr.FieldError{Location: "body.email", Message: "not a valid email address", Value: s})
	}
	return email, strings.ToLower(email), nil
}

// invitableRole checks the role an invitation offers: admin or member, never owner.
func invitableRole(r authz.Role) error {
	if r == authz.Admin || r == authz.Member {
		return nil
	}
	return apierr.Validation(apierr.FieldError{Location: "body.role", Message: "role must be admin or member; ownership is transferred, never granted by invitation", Value: string(r)})
}

// newInvitationToken returns a fresh token (32 random bytes, base64url) and its SHA-256 hex hash.
func newInvitationToken() (token, hash string) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, hashInvitationToken(token)
}

// hashInvitationToken is the stored form of a token. Tokens are found by this hash (an indexed
// equality lookup), so no comparison of secret bytes ever depends on how much of a guess matches.
func hashInvitationToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// invitationMail is the subject and body of an invitation email.
func invitationMail(rec invitationRecord, link string) (subject, body string) {
	inviter := rec.inviterName
	if inviter == "" {
		inviter = rec.inviterEmail
	}
	role := "a member"
	if rec.Role == authz.Admin {
		role = "an admin"
	}
	subject = inviter + " invited you to " + rec.workspaceName + " on Parley"
	body = inviter + " (" + rec.inviterEmail + ") invited you to join the workspace \"" + rec.workspaceName + "\" on Parley as " + role + ".\n\n" +
		"To accept, open this link before " + rec.ExpiresAt.Format("2 January 2006 15:04 MST") + ":\n\n" + link + "\n\n" +
		"Sign in (or create your account) with " + rec.Email + ". If you did not expect this invitation, ignore this message: nothing happens unless you accept.\n"
	return subject, body
}
