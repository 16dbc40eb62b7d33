// Package mail is the outbox for the messages Parley sends people (password resets,
// invitations). A message is written in the same transaction as its cause; a Deliverer sends
// unsent messages through SMTP when one is configured and otherwise writes them to the log, where
// an operator without SMTP finds them (and `parley mail list` shows them).
//
// Each message is claimed (sent_at stamped) before it is handed to SMTP, so several replicas never
// send one message twice; a message whose sending fails is released for a later try.
package mail

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/smtp"
	"net/url"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/parleyhq/parley/internal/platform/db"
	"github.com/parleyhq/parley/internal/platform/id"
)

// Message is one outgoing email.
type Message struct {
	ID        string
	To        string
	Subject   string
	Body      string
	CreatedAt time.Time
	SentAt    time.Time
	Attempts  int
	LastError string
}

// Enqueue writes the message to the outbox through q (the caller's transaction).
func Enqueue(ctx context.Context, q db.Querier, now time.Time, to, subject, body string) (string, error) {
	mid := id.New(id.Mail)
	_, err := q.ExecContext(ctx, `INSERT INTO mail_outbox (id, to_addr, subject, body, created_at) VALUES ($1, $2, $3, $4, $5)`,
		mid, to, subject, body, db.Time(now))
	if err != nil {
		return "", fmt.Errorf("enqueue mail: %w", err)
	}
	return mid, nil
}

// List returns the newest messages, newest first (for the operator's `parley mail list`).
func List(ctx context.Context, q db.Querier, limit int) ([]Message, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, to_addr, subject, body, created_at, sent_at, attempts, last_error FROM mail_outbox ORDER BY id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Message
	for rows.Next() {
		var m Message
		if err := rows.Scan(&m.ID, &m.To, &m.Subject, &m.Body, (*db.Time)(&m.CreatedAt), (*db.Time)(&m.SentAt), &m.Attempts, &m.LastError); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// Deliverer sends the outbox.
type Deliverer struct {
	DB     *db.DB
	Logger *slog.Logger
	// SMTPURL is smtp://user:pass@host:port?from=parley@example.com; empty = log only.
	SMTPURL string
	Now     func() time.Time
}

// DeliverPending sends every unsent message once and returns how many were sent.
func (d *Deliverer) DeliverPending(ctx context.Context) (int, error) {
	rows, err := d.DB.Read.QueryContext(ctx, `SELECT id FROM mail_outbox WHERE sent_at IS NULL AND attempts < 10 ORDER BY id LIMIT 100`)
	if err != nil {
		return 0, err
	}
	var ids []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return 0, err
		}
		ids = append(ids, s)
	}
	rows.Close()
	sent := 0
	for _, mid := range ids {
		var m Message
		now := d.Now()
		// Claim: only one replica stamps sent_at.
		err := d.DB.Write.QueryRowContext(ctx, `UPDATE mail_outbox SET sent_at = $2, attempts = attempts + 1 WHERE id = $1 AND sent_at IS NULL
RETURNING to_addr, subject, body`, mid, db.Time(now)).Scan(&m.To, &m.Subject, &m.Body)
		if err != nil {
			continue // claimed by another replica
		}
		if err := d.send(m); err != nil {
			_, _ = d.DB.Write.ExecContext(ctx, `UPDATE mail_outbox SET sent_at = NULL, last_error = $2 WHERE id = $1`, mid, err.Error())
			d.Logger.Warn("mail not sent", "id", mid, "err", err)
			continue
		}
		sent++
	}
	return sent, nil
}

func (d *Deliverer) send(m Message) error {
	if d.SMTPURL == "" {
		d.Logger.Info("mail (no SMTP configured; see `parley mail list`)", "to", m.To, "subject", m.Subject, "body", m.Body)
		return nil
	}
	u, err := url.Parse(d.SMTPURL)
	if err != nil {
		return fmt.Errorf("smtp url: %w", err)
	}
	host := u.Hostname()
	addr := net.JoinHostPort(host, portOr(u.Port(), "587"))
	from := u.Query().Get("from")
	if from == "" {
		from = "parley@" + host
	}
	var auth smtp.Auth
	if u.User != nil {
		pw, _ := u.User.Password()
		auth = smtp.PlainAuth("", u.User.Username(), pw, host)
	}
	msg := "From: " + from + "\r\nTo: " + m.To + "\r\nSubject: " + strings.ReplaceAll(m.Subject, "\n", " ") +
		"\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + m.Body
	return smtp.SendMail(addr, auth, from, []string{m.To}, []byte(msg))
}

func portOr(p, def string) string {
	if p == "" {
		return def
	}
	return p
}

// DeliverArgs is the periodic job that sends the outbox.
type DeliverArgs struct{}

// Kind implements river.JobArgs.
func (DeliverArgs) Kind() string { return "mail.deliver" }

// Worker is the River worker of DeliverArgs.
type Worker struct {
	river.WorkerDefaults[DeliverArgs]
	Deliverer *Deliverer
}

// Work sends every pending message.
func (w *Worker) Work(ctx context.Context, _ *river.Job[DeliverArgs]) error {
	_, err := w.Deliverer.DeliverPending(ctx)
	return err
}

// Periodic is the schedule of the outbox job.
func Periodic(every time.Duration) *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(every), func() (river.JobArgs, *river.InsertOpts) {
		return DeliverArgs{}, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: every}}
	}, &river.PeriodicJobOpts{RunOnStart: true})
}
