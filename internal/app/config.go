package app

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// Config is every option of `parley`. Each is declared once, in options: flag, PARLEY_* variable,
// default and help; a flag beats the variable, the variable beats the default.
type Config struct {
	Addr              string
	DataDir           string
	DatabaseURL       string
	BaseURL           string
	LogFormat         string
	LogLevel          string
	SMTPURL           string
	Signup            string
	SQLiteSynchronous string
	SessionIdle       time.Duration
	SessionMaxAge     time.Duration
	JobWorkers        int
	JobFetchCooldown  time.Duration
	ShutdownTimeout   time.Duration
	// WelcomeCredits is what each new workspace receives, in micro-credits (0: nothing).
	WelcomeCredits int64
	// OperatorToken authenticates the operator API (/v1/operator/…, POST …/usage) as the
	// system principal; empty turns that API off.
	OperatorToken string
	// WebhookAllowPrivate lets webhook endpoints use http:// and private, loopback and link-local
	// addresses (development and tests only).
	WebhookAllowPrivate bool
	// WebhookRetention is how long webhook messages and attempts are kept before the hourly
	// prune job deletes them.
	WebhookRetention time.Duration
	// SimTimeScale runs the telephony simulator's time this many times faster than the clock.
	SimTimeScale float64
	// TelephonyAPIURLs replaces telephony providers' API base URLs (provider → URL), for
	// staging environments and tests that point Parley at a provider's fake.
	TelephonyAPIURLs map[string]string
}

type option struct {
	flag, env, def, help string
	data                 bool // shared by every command that touches data
	set                  func(c *Config, v string) error
}

func str(p func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *p(c) = v; return nil }
}

func dur(p func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return fmt.Errorf("not a duration (e.g. 30s, 1h): %q", v)
		}
		*p(c) = d
		return nil
	}
}

func num(p func(*Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		var n int
		if _, err := fmt.Sscan(v, &n); err != nil || n <= 0 {
			return fmt.Errorf("not a positive number: %q", v)
		}
		*p(c) = n
		return nil
	}
}

func oneOf(p func(*Config) *string, choices ...string) func(*Config, string) error {
	return func(c *Config, v string) error {
		for _, ch := range choices {
			if v == ch {
				*p(c) = v
				return nil
			}
		}
		return fmt.Errorf("must be one of %s, not %q", strings.Join(choices, ", "), v)
	}
}

// options is the one table of options (README's configuration table mirrors it).
var options = []option{
	{"addr", "PARLEY_ADDR", ":8080", "address to listen on", false, str(func(c *Config) *string { return &c.Addr })},
	{"data-dir", "PARLEY_DATA_DIR", "./parley-data", "directory for the SQLite database and the master key", true, str(func(c *Config) *string { return &c.DataDir })},
	{"database-url", "PARLEY_DATABASE_URL", "", "postgres://… to use PostgreSQL; empty = SQLite in the data dir", true, str(func(c *Config) *string { return &c.DatabaseURL })},
	{"base-url", "PARLEY_BASE_URL", "http://localhost:8080", "public URL of this server, used in links, webhook and telephony URLs", false, str(func(c *Config) *string { return &c.BaseURL })},
	{"log-format", "PARLEY_LOG_FORMAT", "auto", "log format: auto (text on a terminal, JSON otherwise), text or json", true, oneOf(func(c *Config) *string { return &c.LogFormat }, "auto", "text", "json")},
	{"log-level", "PARLEY_LOG_LEVEL", "info", "log level: debug, info, warn or error", true, oneOf(func(c *Config) *string { return &c.LogLevel }, "debug", "info", "warn", "error")},
	{"smtp-url", "PARLEY_SMTP_URL", "", "smtp://user:pass@host:587?from=parley@example.com; empty = mail goes to the log and `parley mail list`", false, str(func(c *Config) *string { return &c.SMTPURL })},
	{"signup", "PARLEY_SIGNUP", "open", "who may sign up: open or invite-only", false, oneOf(func(c *Config) *string { return &c.Signup }, "open", "invite-only")},
	{"sqlite-synchronous", "PARLEY_SQLITE_SYNCHRONOUS", "normal", "SQLite synchronous mode: normal (fast; survives crashes, may lose the last commits on power loss) or full", true, oneOf(func(c *Config) *string { return &c.SQLiteSynchronous }, "normal", "full")},
	{"session-idle-timeout", "PARLEY_SESSION_IDLE_TIMEOUT", "1h", "a dashboard session ends after this long unused", false, dur(func(c *Config) *time.Duration { return &c.SessionIdle })},
	{"session-max-age", "PARLEY_SESSION_MAX_AGE", "12h", "a dashboard session ends this long after sign-in", false, dur(func(c *Config) *time.Duration { return &c.SessionMaxAge })},
	{"job-workers", "PARLEY_JOB_WORKERS", "100", "background jobs worked at once", false, num(func(c *Config) *int { return &c.JobWorkers })},
	{"job-fetch-cooldown", "PARLEY_JOB_FETCH_COOLDOWN", "100ms", "minimum pause between job fetches (workers ÷ cooldown caps jobs/s)", false, dur(func(c *Config) *time.Duration { return &c.JobFetchCooldown })},
	{"shutdown-timeout", "PARLEY_SHUTDOWN_TIMEOUT", "30s", "how long a graceful stop waits for in-flight requests", false, dur(func(c *Config) *time.Duration { return &c.ShutdownTimeout })},
	{"welcome-credits", "PARLEY_WELCOME_CREDITS", "10", "credits each new workspace receives through the ledger (decimal, e.g. 2.5); 0 turns it off", false, credits(func(c *Config) *int64 { return &c.WelcomeCredits })},
	{"operator-token", "PARLEY_OPERATOR_TOKEN", "", "secret (at least 32 characters) that authenticates the operator API: price overrides and usage from trusted runtimes; empty turns it off", false,
		func(c *Config, v string) error {
			if v != "" && len(v) < 32 {
				return fmt.Errorf("must be at least 32 characters (e.g. openssl rand -hex 32)")
			}
			c.OperatorToken = v
			return nil
		}},
	{"webhook-allow-private", "PARLEY_WEBHOOK_ALLOW_PRIVATE", "false", "let webhook endpoints use http:// and private, loopback or link-local addresses (development only: it disables the SSRF guard)", false,
		func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("must be true or false, not %q", v)
			}
			c.WebhookAllowPrivate = b
			return nil
		}},
	{"webhook-retention", "PARLEY_WEBHOOK_RETENTION", "720h", "how long webhook messages and delivery attempts are kept (at least 24h)", false,
		func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d < 24*time.Hour {
				return fmt.Errorf("must be a duration of at least 24h (e.g. 720h), not %q", v)
			}
			c.WebhookRetention = d
			return nil
		}},
	{"sim-time-scale", "PARLEY_SIM_TIME_SCALE", "1", "run the telephony simulator's time N times faster (e.g. 1000: a 3-minute simulated call ends in 180 ms)", false,
		func(c *Config, v string) error {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f <= 0 || f > 1e7 {
				return fmt.Errorf("must be a number above 0 and at most 10000000, not %q", v)
			}
			c.SimTimeScale = f
			return nil
		}},
	{"telephony-api-urls", "PARLEY_TELEPHONY_API_URLS", "", "replace providers' API base URLs, e.g. twilio=https://twilio-mock.internal (comma-separated; for staging and tests)", false,
		func(c *Config, v string) error {
			c.TelephonyAPIURLs = map[string]string{}
			for part := range strings.SplitSeq(v, ",") {
				if strings.TrimSpace(part) == "" {
					continue
				}
				k, u, ok := strings.Cut(strings.TrimSpace(part), "=")
				if !ok || k == "" || (!strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://")) {
					return fmt.Errorf("must be provider=http(s)://… pairs separated by commas, not %q", part)
				}
				c.TelephonyAPIURLs[k] = u
			}
			return nil
		}},
}

// flagSet registers the options on fs (only the data options when dataOnly) and returns a
// function that resolves them into a Config after parsing.
func bindOptions(fs *pflag.FlagSet, getenv func(string) string, dataOnly bool) func() (Config, error) {
	vals := map[string]*string{}
	for _, o := range options {
		if dataOnly && !o.data {
			continue
		}
		vals[o.flag] = fs.String(o.flag, o.def, o.help+" ["+o.env+"]")
	}
	return func() (Config, error) {
		var c Config
		for _, o := range options {
			v := o.def
			if p, ok := vals[o.flag]; ok {
				if fs.Changed(o.flag) {
					v = *p
				} else if e := getenv(o.env); e != "" {
					v = e
				}
			} else if e := getenv(o.env); e != "" {
				v = e
			}
			if err := o.set(&c, v); err != nil {
				return Config{}, fmt.Errorf("--%s: %w", o.flag, err)
			}
		}
		c.BaseURL = strings.TrimRight(c.BaseURL, "/")
		return c, nil
	}
}
