package billing

import (
	"context"
	"time"
)

// PricesOutput is a workspace's effective price book.
type PricesOutput struct {
	Body PriceList
}

// GetPrices handles GET /v1/workspaces/{workspaceId}/prices.
func (h *HTTP) GetPrices(ctx context.Context, in *WorkspacePath) (*PricesOutput, error) {
	l, err := h.Svc.Prices(ctx, in.WorkspaceID)
	if err != nil {
		return nil, err
	}
	return &PricesOutput{Body: l}, nil
}

// SetPricesRequest is PUT /v1/operator/workspaces/{workspaceId}/prices.
type SetPricesRequest struct {
	WorkspacePath
	Body struct {
		Prices []PriceOverride `json:"prices" maxItems:"1000" doc:"Every override of the workspace (this list replaces the previous one; [] returns to the platform book)."`
	}
}

// SetPrices handles PUT /v1/operator/workspaces/{workspaceId}/prices.
func (h *HTTP) SetPrices(ctx context.Context, in *SetPricesRequest) (*PricesOutput, error) {
	l, err := h.Svc.SetPrices(ctx, in.WorkspaceID, in.Body.Prices)
	if err != nil {
		return nil, err
	}
	return &PricesOutput{Body: l}, nil
}

// UsageRecordInput is one usage record of POST /v1/workspaces/{workspaceId}/usage.
type UsageRecordInput struct {
	ID         string    `json:"id" minLength:"1" maxLength:"200" example:"call_01jq…:stt:1" doc:"Unique per workspace: the record is debited once per id."`
	CallID     string    `json:"callId,omitempty" maxLength:"200"`
	AgentID    string    `json:"agentId,omitempty" maxLength:"200"`
	Kind       string    `json:"kind" enum:"call_seconds,stt_seconds,tts_characters,llm_input_tokens,llm_output_tokens"`
	Quantity   int64     `json:"quantity" minimum:"0" example:"61"`
	Provider   string    `json:"provider,omitempty" maxLength:"200" example:"platform" doc:"call_seconds: platform, byop or sim (priced as platform). Otherwise the STT, TTS or LLM provider."`
	Model      string    `json:"model,omitempty" maxLength:"200" doc:"The model (TTS: the voice tier)."`
	OccurredAt time.Time `json:"occurredAt"`
}

// RecordUsageRequest is POST /v1/workspaces/{workspaceId}/usage.
type RecordUsageRequest struct {
	WorkspacePath
	Body struct {
		Records []UsageRecordInput `json:"records" minItems:"1" maxItems:"500"`
	}
}

// UsageRecordResult is the outcome of one record.
type UsageRecordResult struct {
	ID string `json:"id"`
	// Status: debited (a new debit), free (rated 0: recorded, nothing debited), replayed (the id
	// was recorded before with the same content), refused (insufficient_credits: nothing written,
	// send it again after a top-up) or conflict (idempotency_conflict: the id was used with other
	// content).
	Status     string `json:"status" enum:"debited,free,replayed,refused,conflict"`
	Cost       string `json:"cost" example:"0.01525"`
	CostMicros int64  `json:"costMicros" example:"15250"`
	TransferID string `json:"transferId,omitempty"`
	Code       string `json:"code,omitempty" doc:"Why the record was refused: insufficient_credits or idempotency_conflict."`
}

// RecordUsageOutput is the outcome of a batch.
type RecordUsageOutput struct {
	Body struct {
		Records []UsageRecordResult `json:"records"`
	}
}

// RecordUsage handles POST /v1/workspaces/{workspaceId}/usage.
func (h *HTTP) RecordUsage(ctx context.Context, in *RecordUsageRequest) (*RecordUsageOutput, error) {
	recs := make([]Usage, len(in.Body.Records))
	for i, r := range in.Body.Records {
		recs[i] = Usage(r)
	}
	res, err := h.Svc.RecordUsage(ctx, in.WorkspaceID, recs)
	if err != nil {
		return nil, err
	}
	out := &RecordUsageOutput{}
	out.Body.Records = make([]UsageRecordResult, len(res))
	for i, r := range res {
		o := UsageRecordResult{ID: r.ID, Cost: FormatCredits(r.Cost), CostMicros: r.Cost, TransferID: r.Transfer.ID, Code: ErrorCode(r.Err)}
		switch {
		case o.Code == "idempotency_conflict":
			o.Status = "conflict"
		case r.Err != nil:
			o.Status = "refused"
		case r.Replayed:
			o.Status = "replayed"
		case r.Cost == 0:
			o.Status = "free"
		default:
			o.Status = "debited"
		}
		out.Body.Records[i] = o
	}
	return out, nil
}
