package app

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/parleyhq/parley/internal/billing"
	"github.com/parleyhq/parley/internal/platform/db"
	"github.com/parleyhq/parley/internal/platform/id"
	"github.com/parleyhq/parley/internal/workspace"
)

// credits is an option setter for an amount of credits ("10", "2.5": at most 6 decimals), stored
// in micro-credits; 0 is allowed.
func credits(p func(*Config) *int64) func(*Config, string) error {
	return func(c *Config, v string) error {
		m, err := billing.ParseCredits(v)
		if err != nil {
			return err
		}
		*p(c) = m
		return nil
	}
}

// welcomeCredits is the workspace creation hook that grants each new workspace its welcome
// credits, in the creating transaction (idempotent by workspace ID).
func welcomeCredits(b *billing.Service, micros int64) workspace.CreateHook {
	return func(ctx context.Context, tx *sql.Tx, wsID string, now time.Time) error {
		if err := b.GrantWelcomeTx(ctx, tx, wsID, micros, now); err != nil {
			return fmt.Errorf("welcome credits: %w", err)
		}
		return nil
	}
}

func creditsCommand(getenv func(string) string, stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "credits", Short: "The credit ledger (operator)"}
	var wsID, amount, reason, key string
	grant := dataCommand(getenv, stderr, "grant", "Grant credits to a workspace (grants → available), e.g. --workspace ws_… --amount 100 --reason \"pilot\"", cobra.NoArgs,
		func(ctx context.Context, _ *cobra.Command, _ Config, d *db.DB, _ *slog.Logger, _ []string) error {
			micros, err := billing.ParseCredits(amount)
			if err != nil {
				return fmt.Errorf("--amount: %w", err)
			}
			if key == "" {
				key = id.New(id.Transfer) // one grant per invocation; pass --key to make retries safe
			}
			res, err := billing.NewService(d, time.Now).Grant(ctx, billing.GrantInput{WorkspaceID: wsID, Amount: micros, Key: key, Reason: reason})
			if err != nil {
				return err
			}
			bal, err := billing.NewService(d, time.Now).Balance(ctx, wsID)
			if err != nil {
				return err
			}
			verb := "granted"
			if res.Replayed {
				verb = "already granted (same --key)"
			}
			_, err = fmt.Fprintf(stdout, "%s %s credits to %s (transfer %s, key %s); available now %s\n", verb, billing.FormatCredits(micros), wsID, res.Transfers[0].ID, key, bal.Available)
			return err
		})
	grant.Flags().StringVar(&wsID, "workspace", "", "workspace ID (required)")
	grant.Flags().StringVar(&amount, "amount", "", "credits, a decimal with at most 6 decimals (required)")
	grant.Flags().StringVar(&reason, "reason", "", "why, kept in the ledger and the audit log")
	grant.Flags().StringVar(&key, "key", "", "idempotency key: the same key and input grant once (default: a new key)")
	_ = grant.MarkFlagRequired("workspace")
	_ = grant.MarkFlagRequired("amount")
	verify := dataCommand(getenv, stderr, "verify", "Recompute every balance from the ledger's transfers and report any difference", cobra.NoArgs,
		func(ctx context.Context, _ *cobra.Command, _ Config, d *db.DB, _ *slog.Logger, _ []string) error {
			r, err := billing.NewService(d, time.Now).Verify(ctx)
			if err != nil {
				return err
			}
			for _, diff := range r.Differences {
				fmt.Fprintln(stdout, diff.String())
			}
			if len(r.Differences) > 0 {
				return fmt.Errorf("ledger does not verify: %d difference(s)", len(r.Differences))
			}
			_, err = fmt.Fprintf(stdout, "ledger verified: %d accounts, %d transfers, no differences\n", r.Accounts, r.Transfers)
			return err
		})
	cmd.AddCommand(grant, verify)
	return cmd
}
