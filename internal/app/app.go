// Package app is the composition root: it reads the configuration, opens the store, builds the
// services, wires the routes and runs the commands of the `parley` binary. It is the only package
// that knows every other one.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"
)

// Version is set at build time with -ldflags "-X github.com/parleyhq/parley/internal/app.Version=…".
var Version = "dev"

// Run runs the parley command line with args (without the program name). It returns when the
// command ends; for serve, when ctx is cancelled (SIGINT/SIGTERM in main) and in-flight requests
// have finished.
func Run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	root := rootCommand(getenv, stdin, stdout, stderr)
	root.SetArgs(args)
	return root.ExecuteContext(ctx)
}

func newLogger(cfg Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	format := cfg.LogFormat
	if format == "auto" {
		format = "json"
		if f, ok := w.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
			format = "text"
		}
	}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// serve runs the HTTP server until ctx ends, then stops gracefully.
func serve(ctx context.Context, cfg Config, logger *slog.Logger, stdout io.Writer, ov Overrides) error {
	s, err := NewServer(ctx, cfg, logger, ov)
	if err != nil {
		return err
	}
	defer s.Close()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	srv := &http.Server{
		Handler:           s.Handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	if err := s.StartWorkers(workCtx); err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	logger.Info("parley listening", "addr", ln.Addr().String(), "base_url", cfg.BaseURL, "store", string(s.DB.Dialect), "version", Version)
	fmt.Fprintf(stdout, "parley listening on http://%s\n", ln.Addr())

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down: finishing in-flight requests", "timeout", cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	err = srv.Shutdown(sctx)
	stopWork()
	s.StopWorkers(sctx)
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("graceful stop: %w", err)
	}
	logger.Info("stopped")
	return nil
}

// rootCommand builds the CLI.
func rootCommand(getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "parley",
		Short:         "Parley: a self-hostable workspace platform for voice-AI agents",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(serveCommand(getenv, stdout, stderr), migrateCommand(getenv, stdout, stderr), versionCommand(stdout),
		usersCommand(getenv, stdout, stderr), workspacesCommand(getenv, stdout, stderr), mailCommand(getenv, stdout, stderr),
		secretsCommand(getenv, stdout), creditsCommand(getenv, stdout, stderr))
	root.AddCommand(pricesCommand(getenv, stdout, stderr))
	return root
}

func serveCommand(getenv func(string) string, stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "serve", Short: "Run the server (API, dashboard, background jobs)", Args: cobra.NoArgs}
	resolve := bindOptions(cmd.Flags(), getenv, false)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		cfg, err := resolve()
		if err != nil {
			return err
		}
		return serve(cmd.Context(), cfg, newLogger(cfg, stderr), stdout, Overrides{Getenv: getenv})
	}
	return cmd
}

func versionCommand(stdout io.Writer) *cobra.Command {
	return &cobra.Command{Use: "version", Short: "Print the version", Args: cobra.NoArgs, RunE: func(*cobra.Command, []string) error {
		_, err := fmt.Fprintln(stdout, "parley", Version)
		return err
	}}
}
