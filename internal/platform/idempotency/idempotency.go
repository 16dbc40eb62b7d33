// Package idempotency makes POST requests safe to retry: a request that carries an
// Idempotency-Key header is performed once per principal and key; repeating it with the same
// body returns the first response (with Idempotency-Replayed: true), with another body it is
// refused (409 idempotency_key_reused), and while the first is still running a repeat gets 409
// idempotency_in_progress. Keys live 24 hours. Responses of 5xx are not kept, so a failed request
// can be retried with its key. Only authenticated requests take part (the key is scoped to the
// principal, so two principals never see each other's responses).
package idempotency

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/authz"
	"github.com/parleyhq/parley/internal/platform/db"
)

// TTL is how long a key is remembered.
const TTL = 24 * time.Hour

// Middleware returns the idempotency middleware. maxBody bounds the bodies it buffers (larger
// requests get 413, as they would from the handler).
func Middleware(d *db.DB, now func() time.Time, maxBody int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			key := r.Header.Get("Idempotency-Key")
			p, authed := authz.FromContext(r.Context())
			if r.Method != http.MethodPost || key == "" || !authed {
				next.ServeHTTP(w, r)
				return
			}
			if len(key) > 255 {
				apierr.Write(w, r, apierr.Validation(apierr.FieldError{Location: "header.Idempotency-Key", Message: "at most 255 characters"}))
				return
			}
			body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
			if err != nil {
				apierr.WriteStatus(w, r, http.StatusBadRequest, "could not read the request body", nil)
				return
			}
			if int64(len(body)) > maxBody {
				apierr.WriteStatus(w, r, http.StatusRequestEntityTooLarge, "request body is too large", nil)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			sum := sha256.New()
			sum.Write([]byte(r.Method + " " + r.URL.RequestURI() + "\n"))
			sum.Write(body)
			hash := hex.EncodeToString(sum.Sum(nil))
			scope := string(p.Kind) + ":" + p.ActorID()
			ctx := r.Context()
			t := now()

			claimed, err := claim(r, d, scope, key, hash, t)
			if err != nil {
				apierr.Write(w, r, err)
				return
			}
			if !claimed {
				var storedHash, ctype string
				var status int
				var resp []byte
				err := d.Read.QueryRowContext(ctx, `SELECT request_hash, status, content_type, response_body FROM idempotency_keys WHERE principal = $1 AND key = $2`,
					scope, key).Scan(&storedHash, &status, &ctype, &resp)
				switch {
				case errors.Is(err, sql.ErrNoRows):
					apierr.Write(w, r, apierr.New(apierr.Conflict, "idempotency_in_progress", "a request with this Idempotency-Key is in progress; retry shortly"))
				case err != nil:
					apierr.Write(w, r, err)
				case storedHash != hash:
					apierr.Write(w, r, apierr.New(apierr.Conflict, "idempotency_key_reused", "this Idempotency-Key was used with another request"))
				case status == 0:
					apierr.Write(w, r, apierr.New(apierr.Conflict, "idempotency_in_progress", "a request with this Idempotency-Key is in progress; retry shortly"))
				default:
					if ctype != "" {
						w.Header().Set("Content-Type", ctype)
					}
					w.Header().Set("Idempotency-Replayed", "true")
					w.WriteHeader(status)
					_, _ = w.Write(resp)
				}
				return
			}

			rec := &recorder{ResponseWriter: w}
			completed := false
			defer func() {
				// Keep 2xx–4xx answers; forget 5xx (and panics) so the client may retry.
				bg := context.WithoutCancel(ctx)
				if completed && rec.status < 500 {
					_, _ = d.Write.ExecContext(bg, `UPDATE idempotency_keys SET status = $3, content_type = $4, response_body = $5 WHERE principal = $1 AND key = $2`,
						scope, key, rec.status, rec.Header().Get("Content-Type"), rec.buf.Bytes())
				} else {
					_, _ = d.Write.ExecContext(bg, `DELETE FROM idempotency_keys WHERE principal = $1 AND key = $2`, scope, key)
				}
			}()
			next.ServeHTTP(rec, r)
			if rec.status == 0 {
				rec.status = http.StatusOK
			}
			completed = true
		})
	}
}

// claim records the key as in progress; false when it already exists (and is not expired).
func claim(r *http.Request, d *db.DB, scope, key, hash string, t time.Time) (bool, error) {
	ctx := r.Context()
	claimed := false
	err := d.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE principal = $1 AND key = $2 AND created_at < $3`,
			scope, key, db.Millis(t.Add(-TTL))); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO idempotency_keys (principal, key, request_hash, created_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (principal, key) DO NOTHING`, scope, key, hash, db.Time(t))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		claimed = n == 1
		return err
	})
	return claimed, err
}

// recorder passes the response through and keeps a copy.
type recorder struct {
	http.ResponseWriter
	status int
	buf    bytes.Buffer
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	r.buf.Write(b)
	return r.ResponseWriter.Write(b)
}
