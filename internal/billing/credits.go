package billing

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// MicrosPerCredit is the number of micro-credits in one credit.
const MicrosPerCredit = 1_000_000

// Account kinds.
const (
	Available = "available"
	Held      = "held"
	Grants    = "grants"
	Revenue   = "revenue"
)

// accountOrder is the one order in which an operation updates accounts (no deadlocks).
var accountOrder = []string{Available, Held, Grants, Revenue}

// mayGoNegative reports whether the account kind is a platform account, which may.
func mayGoNegative(kind string) bool { return kind == Grants || kind == Revenue }

// Transfer kinds.
const (
	KindGrant   = "grant"
	KindWelcome = "welcome"
	KindDebit   = "debit"
	KindReserve = "reserve"
	KindExtend  = "extend"
	KindSettle  = "settle"
	KindRelease = "release"
	KindExpire  = "expire"
	// KindTransferOut and KindTransferIn are the two legs of a transfer between workspaces (see
	// Transfer): available → grants in the source, grants → available in the target.
	KindTransferOut = "transfer_out"
	KindTransferIn  = "transfer_in"
)

// ParseCredits reads a decimal string of credits ("12.5", "0.000001", "100") into micro-credits.
// Strict: digits, optionally a point and 1 to 6 digits; no sign, exponent, spaces, or leading
// zeros ("007"); at most MaxInt64 micro-credits.
func ParseCredits(s string) (int64, error) {
	intPart, frac, hasPoint := strings.Cut(s, ".")
	if intPart == "" || !digits(intPart) || (len(intPart) > 1 && intPart[0] == '0') {
		return 0, fmt.Errorf("not a decimal number of credits: %q", s)
	}
	if hasPoint && (frac == "" || len(frac) > 6 || !digits(frac)) {
		return 0, fmt.Errorf("at most 6 decimals, as in 12.5 or 0.000001: %q", s)
	}
	whole, err := strconv.ParseInt(intPart, 10, 64)
	if err != nil || whole > math.MaxInt64/MicrosPerCredit {
		return 0, fmt.Errorf("too large: %q", s)
	}
	frac += strings.Repeat("0", 6-len(frac))
	f, _ := strconv.ParseInt(frac, 10, 64)
	m := whole * MicrosPerCredit
	if m > math.MaxInt64-f {
		return 0, fmt.Errorf("too large: %q", s)
	}
	return m + f, nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// FormatCredits writes micro-credits as a decimal string of credits with no trailing zeros
// ("12.5", "0", "-3.000001").
func FormatCredits(micros int64) string {
	sign := ""
	u := uint64(micros)
	if micros < 0 {
		sign, u = "-", uint64(-(micros+1))+1 // MinInt64 safe
	}
	whole, frac := u/MicrosPerCredit, u%MicrosPerCredit
	if frac == 0 {
		return sign + strconv.FormatUint(whole, 10)
	}
	f := strings.TrimRight(fmt.Sprintf("%06d", frac), "0")
	return sign + strconv.FormatUint(whole, 10) + "." + f
}

// Balance is a workspace's credits.
type Balance struct {
	WorkspaceID     string `json:"workspaceId"`
	Available       string `json:"available" example:"12.5" doc:"Credits the workspace may spend (decimal, at most 6 decimals)."`
	AvailableMicros int64  `json:"availableMicros" example:"12500000" doc:"The same in micro-credits."`
	Held            string `json:"held" example:"0.75" doc:"Credits reserved by calls in progress."`
	HeldMicros      int64  `json:"heldMicros" example:"750000"`
	// LowBalanceThreshold is the owner's threshold of credits.low ("0": off).
	LowBalanceThreshold       string `json:"lowBalanceThreshold" example:"5" doc:"credits.low fires when available falls below this; 0 = off."`
	LowBalanceThresholdMicros int64  `json:"lowBalanceThresholdMicros" example:"5000000"`
	// Low is true when available is below the threshold (or zero).
	Low bool `json:"low" doc:"Whether available is below the low-balance threshold, or zero."`
	// Expiring is the part of available that carries an expiry (spent first; see the lots).
	Expiring       string    `json:"expiring" example:"2" doc:"The part of available that expires unless spent first (credits granted with an expiry)."`
	ExpiringMicros int64     `json:"expiringMicros" example:"2000000"`
	AsOf           time.Time `json:"asOf"`
}

func newBalance(wsID string, a availableAcct, held int64, now time.Time) Balance {
	return Balance{WorkspaceID: wsID, Available: FormatCredits(a.balance), AvailableMicros: a.balance,
		Held: FormatCredits(held), HeldMicros: held, LowBalanceThreshold: FormatCredits(a.threshold), LowBalanceThresholdMicros: a.threshold,
		Low: a.balance == 0 || a.balance < a.threshold, Expiring: FormatCredits(a.expiring), ExpiringMicros: a.expiring, AsOf: now}
}

// LedgerEntry is one transfer (one leg) of the ledger: amount moved from one account of the workspace to another.
type LedgerEntry struct {
	ID             string    `json:"id" example:"xfer_01jq3v5x8kf9r1t6m2c4d7e8gh"`
	WorkspaceID    string    `json:"workspaceId"`
	Kind           string    `json:"kind" enum:"grant,welcome,debit,reserve,extend,settle,release,expire,transfer_out,transfer_in"`
	From           string    `json:"from" enum:"available,held,grants,revenue" doc:"The account debited."`
	To             string    `json:"to" enum:"available,held,grants,revenue" doc:"The account credited."`
	Amount         string    `json:"amount" example:"1.25"`
	AmountMicros   int64     `json:"amountMicros" example:"1250000"`
	HoldID         string    `json:"holdId,omitempty"`
	Reference      string    `json:"reference,omitempty" doc:"What the movement is for (a call ID, a usage record ID)."`
	Reason         string    `json:"reason,omitempty"`
	IdempotencyKey string    `json:"idempotencyKey"`
	Actor          string    `json:"actor" doc:"Who moved the credits: system, or the operator."`
	CreatedAt      time.Time `json:"createdAt"`
}

// Hold is a two-phase reservation of credits.
type Hold struct {
	ID          string `json:"id"`
	WorkspaceID string `json:"workspaceId"`
	Reference   string `json:"reference"`
	// AmountMicros is what the hold holds now (0 once resolved).
	AmountMicros int64 `json:"amountMicros"`
	// ReservedMicros is everything ever reserved under the hold (reserve plus extensions).
	ReservedMicros int64 `json:"reservedMicros"`
	// SettledMicros is what a settle debited.
	SettledMicros int64     `json:"settledMicros"`
	Status        string    `json:"status" enum:"active,settled,released,expired"`
	ExpiresAt     time.Time `json:"expiresAt"`
	CreatedAt     time.Time `json:"createdAt"`
	UpdatedAt     time.Time `json:"updatedAt"`
}

// Hold statuses.
const (
	HoldActive   = "active"
	HoldSettled  = "settled"
	HoldReleased = "released"
	HoldExpired  = "expired"
)

// Result is the outcome of an operation that moves credits.
type Result struct {
	// Transfers are the legs written (or, when Replayed, those written the first time).
	Transfers []LedgerEntry
	// Replayed is true when the idempotency key had already been used with the same input.
	Replayed bool
}
