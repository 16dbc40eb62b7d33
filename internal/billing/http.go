package billing

import (
	"context"
	"time"

	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/page"
)

// HTTP holds the handlers of the billing routes.
type HTTP struct {
	Svc *Service
}

// WorkspacePath names a workspace in a path.
type WorkspacePath struct {
	WorkspaceID string `path:"workspaceId" maxLength:"64" doc:"The Workspace ID (ws_…)."`
}

// BalanceOutput is a workspace's balance.
type BalanceOutput struct {
	Body Balance
}

// GetBalance handles GET /v1/workspaces/{workspaceId}/billing/balance.
func (h *HTTP) GetBalance(ctx context.Context, in *WorkspacePath) (*BalanceOutput, error) {
	b, err := h.Svc.Balance(ctx, in.WorkspaceID)
	if err != nil {
		return nil, err
	}
	return &BalanceOutput{Body: b}, nil
}

// LedgerRequest is GET /v1/workspaces/{workspaceId}/billing/ledger.
type LedgerRequest struct {
	WorkspacePath
	Limit  int    `query:"limit" minimum:"0" maximum:"100" doc:"Page size (default 50, at most 100)."`
	Cursor string `query:"cursor" maxLength:"200" doc:"The nextCursor of the previous page."`
}

// LedgerOutput is a page of transfers.
type LedgerOutput struct {
	Body page.Page[LedgerEntry]
}

// GetLedger handles GET /v1/workspaces/{workspaceId}/billing/ledger.
func (h *HTTP) GetLedger(ctx context.Context, in *LedgerRequest) (*LedgerOutput, error) {
	p, err := h.Svc.Ledger(ctx, in.WorkspaceID, in.Cursor, in.Limit)
	if err != nil {
		return nil, err
	}
	return &LedgerOutput{Body: p}, nil
}

// BillingSettingsOutput is a workspace's billing settings.
type BillingSettingsOutput struct {
	Body BillingSettings
}

// GetSettings handles GET /v1/workspaces/{workspaceId}/billing/settings.
func (h *HTTP) GetSettings(ctx context.Context, in *WorkspacePath) (*BillingSettingsOutput, error) {
	st, err := h.Svc.Settings(ctx, in.WorkspaceID)
	if err != nil {
		return nil, err
	}
	return &BillingSettingsOutput{Body: st}, nil
}

// UpdateBillingSettingsRequest is PATCH /v1/workspaces/{workspaceId}/billing/settings.
type UpdateBillingSettingsRequest struct {
	WorkspacePath
	Body struct {
		LowBalanceThreshold *string `json:"lowBalanceThreshold,omitempty" maxLength:"30" example:"5" doc:"credits.low fires when available falls below this (decimal credits, at most 6 decimals); \"0\" turns it off."`
	}
}

// UpdateSettings handles PATCH /v1/workspaces/{workspaceId}/billing/settings.
func (h *HTTP) UpdateSettings(ctx context.Context, in *UpdateBillingSettingsRequest) (*BillingSettingsOutput, error) {
	var si SettingsInput
	if in.Body.LowBalanceThreshold != nil {
		m, err := parseField("body.lowBalanceThreshold", *in.Body.LowBalanceThreshold)
		if err != nil {
			return nil, err
		}
		si.LowBalanceThreshold = &m
	}
	st, err := h.Svc.UpdateSettings(ctx, in.WorkspaceID, si)
	if err != nil {
		return nil, err
	}
	return &BillingSettingsOutput{Body: st}, nil
}

// parseField parses a decimal amount of credits from a request field (422 when malformed).
func parseField(loc, v string) (int64, error) {
	m, err := ParseCredits(v)
	if err != nil {
		return 0, apierr.Validation(apierr.FieldError{Location: loc, Message: err.Error(), Value: v})
	}
	return m, nil
}

// CreditTransferRequest is POST /v1/workspaces/{workspaceId}/billing/transfers.
type CreditTransferRequest struct {
	WorkspacePath
	IdempotencyKey string `header:"Idempotency-Key" maxLength:"255" doc:"Makes the transfer safe to retry: the same key and body move the credits once."`
	Body           struct {
		ToWorkspaceID string `json:"toWorkspaceId" minLength:"1" maxLength:"64" doc:"Another workspace you own."`
		Amount        string `json:"amount" minLength:"1" maxLength:"30" example:"25" doc:"Credits to move (decimal, at most 6 decimals)."`
		Reason        string `json:"reason,omitempty" maxLength:"500"`
	}
}

// CreditTransferOutput is a transfer between workspaces.
type CreditTransferOutput struct {
	Body WorkspaceTransfer
}

// CreateTransfer handles POST /v1/workspaces/{workspaceId}/billing/transfers.
func (h *HTTP) CreateTransfer(ctx context.Context, in *CreditTransferRequest) (*CreditTransferOutput, error) {
	m, err := parseField("body.amount", in.Body.Amount)
	if err != nil {
		return nil, err
	}
	t, err := h.Svc.Transfer(ctx, in.WorkspaceID, TransferInput{ToWorkspaceID: in.Body.ToWorkspaceID, Amount: m, Reason: in.Body.Reason, Key: in.IdempotencyKey})
	if err != nil {
		return nil, err
	}
	return &CreditTransferOutput{Body: t}, nil
}

// GrantCreditsRequest is POST /v1/operator/workspaces/{workspaceId}/credits/grants.
type GrantCreditsRequest struct {
	WorkspacePath
	Body struct {
		Amount    string    `json:"amount" minLength:"1" maxLength:"30" example:"100" doc:"Credits to grant (decimal, at most 6 decimals)."`
		Reason    string    `json:"reason,omitempty" maxLength:"500"`
		Key       string    `json:"key" minLength:"1" maxLength:"200" doc:"Idempotency key: the same key and input grant once."`
		ExpiresAt time.Time `json:"expiresAt,omitempty" doc:"When the credits expire (RFC 3339, in the future); what is left of them then is moved out. Omit for credits that do not expire."`
	}
}

// GrantCreditsOutput is a grant.
type GrantCreditsOutput struct {
	Body struct {
		Transfer LedgerEntry `json:"transfer"`
		Replayed bool        `json:"replayed"`
	}
}

// Grant handles POST /v1/operator/workspaces/{workspaceId}/credits/grants.
func (h *HTTP) Grant(ctx context.Context, in *GrantCreditsRequest) (*GrantCreditsOutput, error) {
	m, err := parseField("body.amount", in.Body.Amount)
	if err != nil {
		return nil, err
	}
	res, err := h.Svc.Grant(ctx, GrantInput{WorkspaceID: in.WorkspaceID, Amount: m, Key: in.Body.Key, Reason: in.Body.Reason, ExpiresAt: in.Body.ExpiresAt})
	if err != nil {
		return nil, err
	}
	out := &GrantCreditsOutput{}
	out.Body.Transfer, out.Body.Replayed = res.Transfers[0], res.Replayed
	return out, nil
}
