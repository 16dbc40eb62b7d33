package billing

import (
	"context"
	"fmt"
	"sort"
)

// Difference is one broken invariant found by Verify.
type Difference struct {
	WorkspaceID string `json:"workspaceId"`
	Account     string `json:"account"`
	// Stored is the balance kept in the accounts table; Computed what the transfers (or, for
	// "held vs holds", the active holds) add up to.
	Stored   int64  `json:"stored"`
	Computed int64  `json:"computed"`
	Problem  string `json:"problem"`
}

func (d Difference) String() string {
	return fmt.Sprintf("%s %s: %s (stored %s, computed %s)", d.WorkspaceID, d.Account, d.Problem, FormatCredits(d.Stored), FormatCredits(d.Computed))
}

// Report is the outcome of Verify.
type Report struct {
	Accounts    int
	Transfers   int64
	Differences []Difference
	// Total is the sum of every balance: zero in a double-entry ledger.
	Total int64
}

// Verify recomputes every balance from the transfers and reports each difference: a balance
// that is not the sum of its transfers, an available or held balance below zero, a held
// balance that is not the sum of the workspace's active holds, an expiring sum that is not the
// sum of the active lots or is more than available, a transfer between workspaces whose other
// leg is missing or differs, and a ledger whose balances do not sum to zero (trusted callers only: the operator's `parley credits verify`).
func (s *Service) Verify(ctx context.Context) (Report, error) {
	if _, err := requireTrusted(ctx); err != nil {
		return Report{}, err
	}
	stored, computed, holds, transfers, err := s.st.ledgerSums(ctx, s.db.Read)
	if err != nil {
		return Report{}, err
	}
	r := Report{Accounts: len(stored), Transfers: transfers}
	keys := map[accountKey]bool{}
	for k := range stored {
		keys[k] = true
	}
	for k := range computed {
		keys[k] = true
	}
	for ws := range holds {
		keys[accountKey{ws, Held}] = true
	}
	sorted := make([]accountKey, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Slice(sorted, func(i, j int) bool {
		if sorted[i].ws != sorted[j].ws {
			return sorted[i].ws < sorted[j].ws
		}
		return sorted[i].kind < sorted[j].kind
	})
	for _, k := range sorted {
		st, c := stored[k], computed[k]
		r.Total += st
		if st != c {
			r.Differences = append(r.Differences, Difference{k.ws, k.kind, st, c, "balance is not the sum of its transfers"})
		}
		if st < 0 && !mayGoNegative(k.kind) {
			r.Differences = append(r.Differences, Difference{k.ws, k.kind, st, 0, "balance below zero"})
		}
		if k.kind == Held && st != holds[k.ws] {
			r.Differences = append(r.Differences, Difference{k.ws, k.kind, st, holds[k.ws], "held is not the sum of active holds"})
		}
	}
	kept, lots, err := s.st.lotSums(ctx, s.db.Read)
	if err != nil {
		return Report{}, err
	}
	for _, ws := range sortedKeys(kept, lots) {
		if kept[ws] != lots[ws] {
			r.Differences = append(r.Differences, Difference{ws, "expiring", kept[ws], lots[ws], "expiring is not the sum of active lots"})
		}
		if kept[ws] > stored[accountKey{ws, Available}] {
			r.Differences = append(r.Differences, Difference{ws, "expiring", kept[ws], stored[accountKey{ws, Available}], "expiring is more than available"})
		}
	}
	unpaired, err := s.st.unpairedTransfers(ctx, s.db.Read)
	if err != nil {
		return Report{}, err
	}
	for _, t := range unpaired {
		r.Differences = append(r.Differences, Difference{t.WorkspaceID, t.Kind, t.AmountMicros, 0,
			"transfer " + t.IdempotencyKey + " has no matching leg in " + t.Reference})
	}
	if r.Total != 0 {
		r.Differences = append(r.Differences, Difference{"", "all", r.Total, 0, "balances do not sum to zero"})
	}
	return r, nil
}

func sortedKeys(ms ...map[string]int64) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range ms {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	return out
}
