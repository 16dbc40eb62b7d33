package telephony

import (
	"context"

	"github.com/parleyhq/parley/internal/platform/page"
)

// HTTP holds the handlers of the telephony routes.
type HTTP struct{ Svc *Service }

// WorkspacePath names a workspace in a path.
type WorkspacePath struct {
	WorkspaceID string `path:"workspaceId" maxLength:"64" doc:"The Workspace ID (ws_…)."`
}

// CredentialPath names one of a workspace's telephony credentials.
type CredentialPath struct {
	WorkspacePath
	CredentialID string `path:"credentialId" maxLength:"64" doc:"The credential's ID (tcred_…)."`
}

// NumberPath names one of a workspace's phone numbers.
type NumberPath struct {
	WorkspacePath
	NumberID string `path:"numberId" maxLength:"64" doc:"The number's ID (num_…)."`
}

// ProvidersOutput is GET /v1/telephony/providers.
type ProvidersOutput struct {
	Body struct {
		Providers map[string][]Field `json:"providers" doc:"Each provider's credential fields."`
	}
}

// Providers handles GET /v1/telephony/providers.
func (h *HTTP) Providers(ctx context.Context, _ *struct{}) (*ProvidersOutput, error) {
	out := &ProvidersOutput{}
	out.Body.Providers = h.Svc.ProviderFields()
	return out, nil
}

// CreateCredentialRequest is POST …/telephony/credentials.
type CreateCredentialRequest struct {
	WorkspacePath
	Body CredentialInput
}

// CredentialOutput is one credential.
type CredentialOutput struct{ Body Credential }

// CredentialsOutput is the workspace's credentials.
type CredentialsOutput struct {
	Body struct {
		Data []Credential `json:"data"`
	}
}

// CreateCredential handles POST …/telephony/credentials.
func (h *HTTP) CreateCredential(ctx context.Context, in *CreateCredentialRequest) (*CredentialOutput, error) {
	c, err := h.Svc.CreateCredential(ctx, in.WorkspaceID, in.Body)
	if err != nil {
		return nil, err
	}
	return &CredentialOutput{Body: c}, nil
}

// ListCredentials handles GET …/telephony/credentials.
func (h *HTTP) ListCredentials(ctx context.Context, in *WorkspacePath) (*CredentialsOutput, error) {
	cs, err := h.Svc.ListCredentials(ctx, in.WorkspaceID)
	if err != nil {
		return nil, err
	}
	out := &CredentialsOutput{}
	out.Body.Data = cs
	if out.Body.Data == nil {
		out.Body.Data = []Credential{}
	}
	return out, nil
}

// GetCredential handles GET …/telephony/credentials/{credentialId}.
func (h *HTTP) GetCredential(ctx context.Context, in *CredentialPath) (*CredentialOutput, error) {
	c, err := h.Svc.GetCredential(ctx, in.WorkspaceID, in.CredentialID)
	if err != nil {
		return nil, err
	}
	return &CredentialOutput{Body: c}, nil
}

// UpdateCredentialRequest is PATCH …/telephony/credentials/{credentialId}.
type UpdateCredentialRequest struct {
	CredentialPath
	Body CredentialInput
}

// UpdateCredential handles PATCH …/telephony/credentials/{credentialId}.
func (h *HTTP) UpdateCredential(ctx context.Context, in *UpdateCredentialRequest) (*CredentialOutput, error) {
	c, err := h.Svc.UpdateCredential(ctx, in.WorkspaceID, in.CredentialID, in.Body)
	if err != nil {
		return nil, err
	}
	return &CredentialOutput{Body: c}, nil
}

// DeleteCredential handles DELETE …/telephony/credentials/{credentialId}.
func (h *HTTP) DeleteCredential(ctx context.Context, in *CredentialPath) (*struct{}, error) {
	return nil, h.Svc.DeleteCredential(ctx, in.WorkspaceID, in.CredentialID)
}

// VerifyCredential handles POST …/telephony/credentials/{credentialId}/verify.
func (h *HTTP) VerifyCredential(ctx context.Context, in *CredentialPath) (*CredentialOutput, error) {
	c, err := h.Svc.VerifyCredential(ctx, in.WorkspaceID, in.CredentialID)
	if err != nil {
		return nil, err
	}
	return &CredentialOutput{Body: c}, nil
}

// CreateNumberRequest is POST …/telephony/numbers.
type CreateNumberRequest struct {
	WorkspacePath
	Body NumberInput
}

// NumberOutput is one phone number.
type NumberOutput struct{ Body Number }

// CreateNumber handles POST …/telephony/numbers.
func (h *HTTP) CreateNumber(ctx context.Context, in *CreateNumberRequest) (*NumberOutput, error) {
	n, err := h.Svc.CreateNumber(ctx, in.WorkspaceID, in.Body)
	if err != nil {
		return nil, err
	}
	return &NumberOutput{Body: n}, nil
}

// ListNumbersRequest is GET …/telephony/numbers.
type ListNumbersRequest struct {
	WorkspacePath
	Limit  int    `query:"limit" minimum:"0" maximum:"100" doc:"Page size (default 50, at most 100)."`
	Cursor string `query:"cursor" maxLength:"200" doc:"The nextCursor of the previous page."`
}

// NumbersOutput is a page of numbers.
type NumbersOutput struct{ Body page.Page[Number] }

// ListNumbers handles GET …/telephony/numbers.
func (h *HTTP) ListNumbers(ctx context.Context, in *ListNumbersRequest) (*NumbersOutput, error) {
	p, err := h.Svc.ListNumbers(ctx, in.WorkspaceID, in.Cursor, in.Limit)
	if err != nil {
		return nil, err
	}
	return &NumbersOutput{Body: p}, nil
}

// GetNumber handles GET …/telephony/numbers/{numberId}.
func (h *HTTP) GetNumber(ctx context.Context, in *NumberPath) (*NumberOutput, error) {
	n, err := h.Svc.GetNumber(ctx, in.WorkspaceID, in.NumberID)
	if err != nil {
		return nil, err
	}
	return &NumberOutput{Body: n}, nil
}

// UpdateNumberRequest is PATCH …/telephony/numbers/{numberId}.
type UpdateNumberRequest struct {
	NumberPath
	Body NumberInput
}

// UpdateNumber handles PATCH …/telephony/numbers/{numberId}.
func (h *HTTP) UpdateNumber(ctx context.Context, in *UpdateNumberRequest) (*NumberOutput, error) {
	n, err := h.Svc.UpdateNumber(ctx, in.WorkspaceID, in.NumberID, in.Body)
	if err != nil {
		return nil, err
	}
	return &NumberOutput{Body: n}, nil
}

// DeleteNumber handles DELETE …/telephony/numbers/{numberId}.
func (h *HTTP) DeleteNumber(ctx context.Context, in *NumberPath) (*struct{}, error) {
	return nil, h.Svc.DeleteNumber(ctx, in.WorkspaceID, in.NumberID)
}
