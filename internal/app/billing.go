package app

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
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
	var wsID, amount, reason, key, expires string
	grant := dataCommand(getenv, stderr, "grant", "Grant credits to a workspace (grants → available), e.g. --workspace ws_… --amount 100 --reason \"pilot\"", cobra.NoArgs,
		func(ctx context.Context, _ *cobra.Command, _ Config, d *db.DB, _ *slog.Logger, _ []string) error {
			micros, err := billing.ParseCredits(amount)
			if err != nil {
				return fmt.Errorf("--amount: %w", err)
			}
			var expiresAt time.Time
			if expires != "" {
				if expiresAt, err = parseExpiry(expires); err != nil {
					return fmt.Errorf("--expires: %w", err)
				}
			}
			if key == "" {
				key = id.New(id.Transfer) // one grant per invocation; pass --key to make retries safe
			}
			res, err := billing.NewService(d, time.Now).Grant(ctx, billing.GrantInput{WorkspaceID: wsID, Amount: micros, Key: key, Reason: reason, ExpiresAt: expiresAt})
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
			if err == nil && !expiresAt.IsZero() {
				_, err = fmt.Fprintf(stdout, "the credits expire at %s (what is left of them then is moved out)\n", expiresAt.Format(time.RFC3339))
			}
			return err
		})
	grant.Flags().StringVar(&wsID, "workspace", "", "workspace ID (required)")
	grant.Flags().StringVar(&amount, "amount", "", "credits, a decimal with at most 6 decimals (required)")
	grant.Flags().StringVar(&reason, "reason", "", "why, kept in the ledger and the audit log")
	grant.Flags().StringVar(&key, "key", "", "idempotency key: the same key and input grant once (default: a new key)")
	grant.Flags().StringVar(&expires, "expires", "", "when the credits expire: a date (2027-01-01, midnight UTC) or an RFC 3339 time (default: never)")
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

func pricesCommand(getenv func(string) string, stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "prices", Short: "The price book: platform prices and per-workspace overrides (operator)"}
	printList := func(l billing.PriceList) error {
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KIND\tKEY\tPRICE (credits)\tUNIT\tSOURCE")
		for _, p := range l.Prices {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.Kind, p.Key, p.Price, p.Unit, p.Source)
		}
		return tw.Flush()
	}
	var showWS string
	show := dataCommand(getenv, stderr, "show", "Show the platform price book, or a workspace's effective prices with --workspace", cobra.NoArgs,
		func(ctx context.Context, _ *cobra.Command, _ Config, d *db.DB, _ *slog.Logger, _ []string) error {
			if showWS == "" {
				fmt.Fprintf(stdout, "platform price book %s\n", billing.DefaultPriceBook.Version)
				return printList(billing.PlatformPrices())
			}
			l, err := billing.NewService(d, time.Now).Prices(ctx, showWS)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "prices of %s (platform book %s)\n", showWS, l.Version)
			return printList(l)
		})
	show.Flags().StringVar(&showWS, "workspace", "", "workspace ID (default: the platform book)")
	var setWS string
	var prices []string
	var clearAll bool
	set := dataCommand(getenv, stderr, "set", "Replace a workspace's price overrides, e.g. --workspace ws_… --price call_seconds:byop=0.004 --price 'stt_seconds:deepgram/*=0.00007'", cobra.NoArgs,
		func(ctx context.Context, _ *cobra.Command, _ Config, d *db.DB, _ *slog.Logger, _ []string) error {
			if len(prices) == 0 && !clearAll {
				return fmt.Errorf("give --price kind:key=price (repeatable), or --clear to return to the platform book")
			}
			if len(prices) > 0 && clearAll {
				return fmt.Errorf("--clear and --price do not go together")
			}
			overrides := []billing.PriceOverride{}
			for _, p := range prices {
				o, err := billing.ParsePriceFlag(p)
				if err != nil {
					return fmt.Errorf("--price: %w", err)
				}
				overrides = append(overrides, o)
			}
			l, err := billing.NewService(d, time.Now).SetPrices(ctx, setWS, overrides)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%s now has %d price override(s)\n", setWS, len(overrides))
			return printList(l)
		})
	set.Flags().StringVar(&setWS, "workspace", "", "workspace ID (required)")
	set.Flags().StringArrayVar(&prices, "price", nil, "an override kind:key=price in credits per unit (repeatable; the list replaces the previous overrides)")
	set.Flags().BoolVar(&clearAll, "clear", false, "remove every override of the workspace")
	_ = set.MarkFlagRequired("workspace")
	cmd.AddCommand(show, set)
	return cmd
}

// parseExpiry reads --expires: a date (midnight UTC) or an RFC 3339 time.
func parseExpiry(v string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t.UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("want a date (2027-01-01) or an RFC 3339 time: %q", v)
	}
	return t.UTC(), nil
}
