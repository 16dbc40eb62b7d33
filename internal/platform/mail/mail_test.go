package mail_test

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/parleyhq/parley/internal/platform/db"
	"github.com/parleyhq/parley/internal/platform/db/dbtest"
	"github.com/parleyhq/parley/internal/platform/mail"
)

// inbox is a real SMTP server on loopback that keeps what it receives.
type inbox struct {
	mu   sync.Mutex
	msgs []received
}

type received struct{ from, to, data string }

type session struct {
	in       *inbox
	from, to string
}

func (in *inbox) NewSession(*smtp.Conn) (smtp.Session, error)  { return &session{in: in}, nil }
func (s *session) Reset()                                      {}
func (s *session) Logout() error                               { return nil }
func (s *session) Mail(from string, _ *smtp.MailOptions) error { s.from = from; return nil }
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error   { s.to = to; return nil }
func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.in.mu.Lock()
	s.in.msgs = append(s.in.msgs, received{s.from, s.to, string(b)})
	s.in.mu.Unlock()
	return nil
}

func startSMTP(t *testing.T) (*inbox, string) {
	t.Helper()
	in := &inbox{}
	srv := smtp.NewServer(in)
	srv.Domain = "localhost"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return in, ln.Addr().String()
}

func enqueue(t *testing.T, d *db.DB, to, subject, body string) string {
	t.Helper()
	var mid string
	err := d.Tx(context.Background(), func(tx *sql.Tx) error {
		var err error
		mid, err = mail.Enqueue(context.Background(), tx, time.Now(), to, subject, body)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return mid
}

func TestDeliverThroughSMTPExactlyOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		in, addr := startSMTP(t)
		del := &mail.Deliverer{DB: d, Logger: slog.New(slog.DiscardHandler), SMTPURL: "smtp://" + addr + "?from=parley@example.com", Now: time.Now}
		enqueue(t, d, "ada@example.com", "Reset your password", "Open https://parley.test/reset-password?token=abc\n")
		// Rolled back: never sent.
		_ = d.Tx(context.Background(), func(tx *sql.Tx) error {
			if _, err := mail.Enqueue(context.Background(), tx, time.Now(), "ghost@example.com", "no", "no"); err != nil {
				return err
			}
			return io.EOF
		})
		n, err := del.DeliverPending(context.Background())
		if err != nil || n != 1 {
			t.Fatalf("delivered %d, %v", n, err)
		}
		if n, _ := del.DeliverPending(context.Background()); n != 0 {
			t.Fatalf("second run delivered %d", n)
		}
		in.mu.Lock()
		defer in.mu.Unlock()
		if len(in.msgs) != 1 {
			t.Fatalf("%d messages received", len(in.msgs))
		}
		m := in.msgs[0]
		if m.from != "parley@example.com" || m.to != "ada@example.com" || !strings.Contains(m.data, "Subject: Reset your password") || !strings.Contains(m.data, "token=abc") {
			t.Fatalf("received %+v", m)
		}
		msgs, err := mail.List(context.Background(), d.Read, 10)
		if err != nil || len(msgs) != 1 || msgs[0].SentAt.IsZero() || msgs[0].Attempts != 1 {
			t.Fatalf("outbox %+v %v", msgs, err)
		}
	})
}

func TestFailedSendIsRetried(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		// Nothing listens on this port: the send fails and the message waits for the next run.
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		dead := ln.Addr().String()
		ln.Close()
		del := &mail.Deliverer{DB: d, Logger: slog.New(slog.DiscardHandler), SMTPURL: "smtp://" + dead, Now: time.Now}
		enqueue(t, d, "bob@example.com", "Hello", "Body")
		if n, _ := del.DeliverPending(context.Background()); n != 0 {
			t.Fatalf("delivered %d through a dead server", n)
		}
		msgs, _ := mail.List(context.Background(), d.Read, 10)
		if len(msgs) != 1 || !msgs[0].SentAt.IsZero() || msgs[0].Attempts != 1 || msgs[0].LastError == "" {
			t.Fatalf("after a failure %+v", msgs)
		}
		in, addr := startSMTP(t)
		del.SMTPURL = "smtp://" + addr
		if n, err := del.DeliverPending(context.Background()); n != 1 || err != nil {
			t.Fatalf("retry delivered %d, %v", n, err)
		}
		in.mu.Lock()
		defer in.mu.Unlock()
		if len(in.msgs) != 1 || in.msgs[0].to != "bob@example.com" {
			t.Fatalf("received %+v", in.msgs)
		}
	})
}
