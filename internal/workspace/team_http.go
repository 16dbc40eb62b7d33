package workspace

import (
	"context"

	"github.com/parleyhq/parley/internal/platform/authz"
	"github.com/parleyhq/parley/internal/platform/page"
)

// MemberPath names a member of a workspace in a path.
type MemberPath struct {
	WorkspacePath
	UserID string `path:"userId" maxLength:"64" doc:"The member's user ID (user_…)."`
}

// InvitationPath names an invitation of a workspace in a path.
type InvitationPath struct {
	WorkspacePath
	InvitationID string `path:"invitationId" maxLength:"64" doc:"The invitation ID (inv_…)."`
}

// TokenPath names an invitation by the token of its link.
type TokenPath struct {
	Token string `path:"token" maxLength:"200" doc:"The token from the invitation link."`
}

// ListPageRequest is a list of a workspace's team resources.
type ListPageRequest struct {
	WorkspacePath
	Limit  int    `query:"limit" minimum:"0" maximum:"100" doc:"Page size (default 50, at most 100)."`
	Cursor string `query:"cursor" maxLength:"200" doc:"The nextCursor of the previous page."`
}

// MembersOutput is a page of members.
type MembersOutput struct {
	Body page.Page[Member]
}

// ListMembers handles GET /v1/workspaces/{workspaceId}/members.
func (h *HTTP) ListMembers(ctx context.Context, in *ListPageRequest) (*MembersOutput, error) {
	p, err := h.Svc.ListMembers(ctx, in.WorkspaceID, in.Cursor, in.Limit)
	if err != nil {
		return nil, err
	}
	return &MembersOutput{Body: p}, nil
}

// MemberOutput is one member.
type MemberOutput struct {
	Body Member
}

// ChangeRoleRequest is PATCH /v1/workspaces/{workspaceId}/members/{userId}.
type ChangeRoleRequest struct {
	MemberPath
	Body struct {
		Role authz.Role `json:"role" enum:"owner,admin,member" doc:"admin or member. owner is refused: ownership moves only by transfer."`
	}
}

// ChangeRole handles PATCH /v1/workspaces/{workspaceId}/members/{userId}.
func (h *HTTP) ChangeRole(ctx context.Context, in *ChangeRoleRequest) (*MemberOutput, error) {
	m, err := h.Svc.ChangeRole(ctx, in.WorkspaceID, in.UserID, in.Body.Role)
	if err != nil {
		return nil, err
	}
	return &MemberOutput{Body: m}, nil
}

// RemoveMember handles DELETE /v1/workspaces/{workspaceId}/members/{userId}.
func (h *HTTP) RemoveMember(ctx context.Context, in *MemberPath) (*struct{}, error) {
	return nil, h.Svc.RemoveMember(ctx, in.WorkspaceID, in.UserID)
}

// Leave handles POST /v1/workspaces/{workspaceId}/leave.
func (h *HTTP) Leave(ctx context.Context, in *WorkspacePath) (*struct{}, error) {
	return nil, h.Svc.Leave(ctx, in.WorkspaceID)
}

// InviteRequest is POST /v1/workspaces/{workspaceId}/invitations.
type InviteRequest struct {
	WorkspacePath
	Body struct {
		Email string     `json:"email" maxLength:"254" example:"grace@example.com"`
		Role  authz.Role `json:"role" enum:"admin,member" doc:"The role on joining: admin or member."`
	}
}

// InvitationOutput is one invitation.
type InvitationOutput struct {
	Body Invitation
}

// Invite handles POST /v1/workspaces/{workspaceId}/invitations.
func (h *HTTP) Invite(ctx context.Context, in *InviteRequest) (*InvitationOutput, error) {
	inv, err := h.Svc.Invite(ctx, in.WorkspaceID, InviteInput{Email: in.Body.Email, Role: in.Body.Role})
	if err != nil {
		return nil, err
	}
	return &InvitationOutput{Body: inv}, nil
}

// InvitationsOutput is a page of invitations.
type InvitationsOutput struct {
	Body page.Page[Invitation]
}

// ListInvitations handles GET /v1/workspaces/{workspaceId}/invitations.
func (h *HTTP) ListInvitations(ctx context.Context, in *ListPageRequest) (*InvitationsOutput, error) {
	p, err := h.Svc.ListInvitations(ctx, in.WorkspaceID, in.Cursor, in.Limit)
	if err != nil {
		return nil, err
	}
	return &InvitationsOutput{Body: p}, nil
}

// ResendInvitation handles POST /v1/workspaces/{workspaceId}/invitations/{invitationId}/resend.
func (h *HTTP) ResendInvitation(ctx context.Context, in *InvitationPath) (*InvitationOutput, error) {
	inv, err := h.Svc.ResendInvitation(ctx, in.WorkspaceID, in.InvitationID)
	if err != nil {
		return nil, err
	}
	return &InvitationOutput{Body: inv}, nil
}

// RevokeInvitation handles DELETE /v1/workspaces/{workspaceId}/invitations/{invitationId}.
func (h *HTTP) RevokeInvitation(ctx context.Context, in *InvitationPath) (*struct{}, error) {
	return nil, h.Svc.RevokeInvitation(ctx, in.WorkspaceID, in.InvitationID)
}

// InvitationPreviewOutput is what an invitation link offers.
type InvitationPreviewOutput struct {
	Body InvitationPreview
}

// PreviewInvitation handles GET /v1/invitations/{token}.
func (h *HTTP) PreviewInvitation(ctx context.Context, in *TokenPath) (*InvitationPreviewOutput, error) {
	p, err := h.Svc.PreviewInvitation(ctx, in.Token)
	if err != nil {
		return nil, err
	}
	return &InvitationPreviewOutput{Body: p}, nil
}

// AcceptInvitation handles POST /v1/invitations/{token}/accept.
func (h *HTTP) AcceptInvitation(ctx context.Context, in *TokenPath) (*MembershipOutput, error) {
	m, err := h.Svc.AcceptInvitation(ctx, in.Token)
	if err != nil {
		return nil, err
	}
	return &MembershipOutput{Body: m}, nil
}

// DeclineInvitation handles POST /v1/invitations/{token}/decline.
func (h *HTTP) DeclineInvitation(ctx context.Context, in *TokenPath) (*struct{}, error) {
	return nil, h.Svc.DeclineInvitation(ctx, in.Token)
}

// TransferRequest is POST /v1/workspaces/{workspaceId}/transfer-ownership.
type TransferRequest struct {
	WorkspacePath
	Body struct {
		UserID string `json:"userId" maxLength:"64" doc:"The member who becomes the owner (user_…)."`
	}
}

// TransferOutput is the outcome of a transfer.
type TransferOutput struct {
	Body Transfer
}

// TransferOwnership handles POST /v1/workspaces/{workspaceId}/transfer-ownership.
func (h *HTTP) TransferOwnership(ctx context.Context, in *TransferRequest) (*TransferOutput, error) {
	t, err := h.Svc.TransferOwnership(ctx, in.WorkspaceID, in.Body.UserID)
	if err != nil {
		return nil, err
	}
	return &TransferOutput{Body: t}, nil
}
