package billing

import (
	"context"

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
