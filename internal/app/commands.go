package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/parleyhq/parley/internal/billing"
	"github.com/parleyhq/parley/internal/identity"
	"github.com/parleyhq/parley/internal/platform/authz"
	"github.com/parleyhq/parley/internal/platform/db"
	"github.com/parleyhq/parley/internal/platform/jobs"
	"github.com/parleyhq/parley/internal/platform/mail"
	"github.com/parleyhq/parley/internal/platform/secret"
	"github.com/parleyhq/parley/internal/workspace"
)

// dataCommand makes a command that works on the store named by the data flags (the same as
// serve's, so it works on a running server's data). run gets the opened, migrated store.
func dataCommand(getenv func(string) string, stderr io.Writer, use, short string, args cobra.PositionalArgs,
	run func(ctx context.Context, cmd *cobra.Command, cfg Config, d *db.DB, logger *slog.Logger, args []string) error) *cobra.Command {
	cmd := &cobra.Command{Use: use, Short: short, Args: args}
	resolve := bindOptions(cmd.Flags(), getenv, true)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		cfg, err := resolve()
		if err != nil {
			return err
		}
		logger := newLogger(cfg, stderr)
		ctx := authz.WithPrincipal(cmd.Context(), authz.System())
		d, err := openStore(ctx, cfg, logger)
		if err != nil {
			return err
		}
		defer d.Close()
		return run(ctx, cmd, cfg, d, logger, args)
	}
	return cmd
}

func migrateCommand(getenv func(string) string, stdout, stderr io.Writer) *cobra.Command {
	return dataCommand(getenv, stderr, "migrate", "Apply database migrations (serve also does on start)", cobra.NoArgs,
		func(ctx context.Context, _ *cobra.Command, _ Config, d *db.DB, _ *slog.Logger, _ []string) error {
			cur, latest, err := d.MigrationStatus(ctx, jobs.Migrations(d.Dialect)...)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(stdout, "schema version %d of %d (%s)\n", cur, latest, d.Dialect)
			return err
		})
}

func usersCommand(getenv func(string) string, stdout, stderr io.Writer) *cobra.Command {
	users := &cobra.Command{Use: "users", Short: "Manage user accounts"}
	var email, password, name string
	create := dataCommand(getenv, stderr, "create", "Create a user (for scripted set-up)", cobra.NoArgs,
		func(ctx context.Context, _ *cobra.Command, _ Config, d *db.DB, logger *slog.Logger, _ []string) error {
			svc := identity.NewService(d, logger, identity.Options{})
			u, err := svc.CreateUser(ctx, identity.NewAccount{Email: email, Password: password, Name: name})
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(stdout, "created user %s <%s>\n", u.ID, u.Email)
			return err
		})
	create.Flags().StringVar(&email, "email", "", "email address (required)")
	create.Flags().StringVar(&password, "password", "", "password, at least 12 characters (required)")
	create.Flags().StringVar(&name, "name", "", "display name")
	_ = create.MarkFlagRequired("email")
	_ = create.MarkFlagRequired("password")
	users.AddCommand(create)
	return users
}

func workspacesCommand(getenv func(string) string, stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "workspaces", Short: "Inspect workspaces (operator)"}
	list := dataCommand(getenv, stderr, "list", "List every workspace", cobra.NoArgs,
		func(ctx context.Context, _ *cobra.Command, _ Config, d *db.DB, _ *slog.Logger, _ []string) error {
			all, err := workspace.NewService(d, time.Now).ListAll(ctx, 10000)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tSLUG\tTIMEZONE\tCREATED")
			for _, w := range all {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", w.ID, w.Name, w.Slug, w.Timezone, w.CreatedAt.Format(time.RFC3339))
			}
			return tw.Flush()
		})
	show := dataCommand(getenv, stderr, "show <workspace id>", "Show a workspace: name, owner, members, creation date", cobra.ExactArgs(1),
		func(ctx context.Context, _ *cobra.Command, _ Config, d *db.DB, _ *slog.Logger, args []string) error {
			w, err := workspace.NewService(d, time.Now).Show(ctx, args[0])
			if err != nil {
				return err
			}
			bal, err := billing.NewService(d, time.Now).Balance(ctx, w.ID)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "Workspace ID:\t%s\nName:\t%s\nSlug:\t%s\nTimezone:\t%s\nCreated:\t%s\nOwner:\t%s <%s>\nBalance:\t%s credits available, %s held\nMembers:\t%d\n",
				w.ID, w.Name, w.Slug, w.Timezone, w.CreatedAt.Format(time.RFC3339), w.Owner.Name, w.Owner.Email, bal.Available, bal.Held, len(w.Members))
			for _, m := range w.Members {
				fmt.Fprintf(tw, "  %s\t%s <%s>\t%s\tjoined %s\n", m.UserID, m.Name, m.Email, m.Role, m.JoinedAt.Format(time.RFC3339))
			}
			return tw.Flush()
		})
	cmd.AddCommand(list, show)
	return cmd
}

func mailCommand(getenv func(string) string, stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "mail", Short: "The outgoing mail outbox"}
	var limit int
	list := dataCommand(getenv, stderr, "list", "Show the newest outgoing messages (with their links), sent or not", cobra.NoArgs,
		func(ctx context.Context, _ *cobra.Command, _ Config, d *db.DB, _ *slog.Logger, _ []string) error {
			msgs, err := mail.List(ctx, d.Read, limit)
			if err != nil {
				return err
			}
			for _, m := range msgs {
				status := "pending"
				if !m.SentAt.IsZero() {
					status = "sent " + m.SentAt.Format(time.RFC3339)
				}
				fmt.Fprintf(stdout, "── %s  %s  to %s  (%s)\nSubject: %s\n\n%s\n", m.ID, m.CreatedAt.Format(time.RFC3339), m.To, status, m.Subject, m.Body)
			}
			return nil
		})
	list.Flags().IntVar(&limit, "limit", 20, "how many messages")
	cmd.AddCommand(list)
	return cmd
}

func secretsCommand(getenv func(string) string, stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "secrets", Short: "The master key that encrypts stored credentials"}
	rotate := &cobra.Command{Use: "rotate", Short: "Add a new master key to the data dir's keyring and make it primary (old keys still decrypt)", Args: cobra.NoArgs}
	resolve := bindOptions(rotate.Flags(), getenv, true)
	rotate.RunE = func(*cobra.Command, []string) error {
		cfg, err := resolve()
		if err != nil {
			return err
		}
		keyID, err := secret.Rotate(cfg.DataDir, getenv)
		if err != nil {
			return err
		}
		// No capability stores encrypted columns yet; when one does, its rows are re-sealed here.
		_, err = fmt.Fprintf(stdout, "new primary master key %s; restart every parley process to use it\n", keyID)
		return err
	}
	cmd.AddCommand(rotate)
	return cmd
}
