package apierr

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/danielgtaylor/huma/v2"
)

// Problem is the RFC 9457 body of every error response.
type Problem struct {
	Type      string        `json:"type,omitempty" doc:"A URI reference naming the problem type."`
	Title     string        `json:"title,omitempty" doc:"A short summary of the problem type."`
	Status    int           `json:"status,omitempty" doc:"The HTTP status code."`
	Detail    string        `json:"detail,omitempty" doc:"What went wrong this time, for a person."`
	Code      string        `json:"code" doc:"A stable machine-readable code, e.g. validation_failed, not_found."`
	RequestID string        `json:"requestId,omitempty" doc:"The request ID, also in the X-Request-Id header and the server log."`
	Errors    []*FieldError `json:"errors,omitempty" doc:"Per-field problems."`

	retryAfter int
}

// Error implements error.
func (p *Problem) Error() string { return p.Code + ": " + p.Detail }

// GetStatus implements huma.StatusError.
func (p *Problem) GetStatus() int { return p.Status }

// ContentType implements huma.ContentTypeFilter: errors are application/problem+json.
func (p *Problem) ContentType(string) string { return "application/problem+json" }

// GetHeaders implements huma.HeadersError (Retry-After on 429).
func (p *Problem) GetHeaders() http.Header {
	if p.retryAfter > 0 {
		return http.Header{"Retry-After": []string{strconv.Itoa(p.retryAfter)}}
	}
	return nil
}

type ctxKey int

const (
	requestIDKey ctxKey = iota
	loggerKey
)

// WithRequest stores the request ID and the request's logger in ctx; the HTTP middleware calls it.
func WithRequest(ctx context.Context, requestID string, logger *slog.Logger) context.Context {
	ctx = context.WithValue(ctx, requestIDKey, requestID)
	return context.WithValue(ctx, loggerKey, logger)
}

// RequestID returns the request ID stored by WithRequest, or "".
func RequestID(ctx context.Context) string {
	s, _ := ctx.Value(requestIDKey).(string)
	return s
}

// Logger returns the request's logger, or slog.Default().
func Logger(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey).(*slog.Logger); ok && l != nil {
		return l
	}
	return slog.Default()
}

// ToProblem turns any error into the problem the client sees. fallbackStatus is used for an error
// with no category (huma's own validation errors carry their status that way); an unknown error
// with a 5xx status is logged in full and answered with a generic message.
func ToProblem(ctx context.Context, fallbackStatus int, msg string, errs ...error) *Problem {
	var e *Error
	for _, err := range errs {
		if err != nil && errors.As(err, &e) {
			break
		}
	}
	p := &Problem{RequestID: RequestID(ctx)}
	if e != nil {
		p.Status = Status(e)
		p.Code = e.Code
		p.Detail = e.Detail
		for i := range e.Fields {
			p.Errors = append(p.Errors, &e.Fields[i])
		}
		p.retryAfter = int((e.RetryAfter + 999_999_999) / 1_000_000_000)
	} else {
		p.Status = fallbackStatus
		p.Code = DefaultCode(fallbackStatus)
		p.Detail = msg
		if fallbackStatus >= 500 {
			Logger(ctx).ErrorContext(ctx, "internal error", "err", errors.Join(errs...), "msg", msg, "request_id", p.RequestID)
			p.Detail = "an internal error occurred; quote the request ID when reporting it"
		} else {
			for _, err := range errs {
				if err == nil {
					continue
				}
				var d huma.ErrorDetailer
				if errors.As(err, &d) {
					hd := d.ErrorDetail()
					p.Errors = append(p.Errors, &FieldError{Location: hd.Location, Message: hd.Message, Value: hd.Value})
				} else {
					p.Errors = append(p.Errors, &FieldError{Message: err.Error()})
				}
			}
		}
	}
	p.Title = http.StatusText(p.Status)
	p.Type = "https://parley.dev/problems/" + p.Code
	return p
}

// InstallHuma makes huma produce Problems. huma's hook is process-wide by design; the logger and
// the request ID come from each request's context, so one installation serves every server.
func InstallHuma() {
	huma.NewErrorWithContext = func(hctx huma.Context, status int, msg string, errs ...error) huma.StatusError {
		ctx := context.Background()
		if hctx != nil {
			ctx = hctx.Context()
		}
		return ToProblem(ctx, status, msg, errs...)
	}
	huma.NewError = func(status int, msg string, errs ...error) huma.StatusError {
		return ToProblem(context.Background(), status, msg, errs...)
	}
}

// Write writes err as problem+json, for handlers outside huma (middleware, the router's own 404).
func Write(w http.ResponseWriter, r *http.Request, err error) {
	WriteStatus(w, r, http.StatusInternalServerError, "", err)
}

// WriteStatus writes a problem for a bare status (with msg) or, when err has a category, for err.
func WriteStatus(w http.ResponseWriter, r *http.Request, status int, msg string, err error) {
	p := ToProblem(r.Context(), status, msg, err)
	for k, v := range p.GetHeaders() {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}
