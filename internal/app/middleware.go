package app

import (
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/audit"
	"github.com/parleyhq/parley/internal/platform/authz"
	"github.com/parleyhq/parley/internal/platform/id"
)

// reqInfo is filled in as a request goes down the stack and read by the access log on its way up.
type reqInfo struct {
	route   string
	authErr error // why a presented credential was refused (expired session, bad key)
	// operator: the request carries the operator token (Authorization: Bearer <--operator-token>);
	// it authenticates operator routes only (see requireAuth). operatorOff: no token is configured.
	operator, operatorOff bool
}

type reqInfoKey struct{}

func infoOf(ctx context.Context) *reqInfo {
	i, _ := ctx.Value(reqInfoKey{}).(*reqInfo)
	if i == nil {
		return &reqInfo{}
	}
	return i
}

type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// redactPath hides the credential in paths that carry one (invitation links), so tokens never
// reach the logs.
func redactPath(p string) string {
	for _, prefix := range []string{"/v1/invitations/", "/invitations/"} {
		if rest, ok := strings.CutPrefix(p, prefix); ok {
			if i := strings.IndexByte(rest, '/'); i >= 0 {
				return prefix + "[token]" + rest[i:]
			}
			return prefix + "[token]"
		}
	}
	return p
}

func validRequestID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r == '-' || r == '_' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// observe gives every request an ID (X-Request-Id, kept from the client when sane), a logger
// that carries it, the client's address for the audit log, an access-log line and metrics.
func (s *Server) observe(next http.Handler) http.Handler {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "parley_http_requests_total", Help: "HTTP requests by route and status."}, []string{"route", "code"})
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "parley_http_request_duration_seconds", Help: "HTTP request latency by route.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}}, []string{"route"})
	s.metrics.MustRegister(requests, latency)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rid := r.Header.Get("X-Request-Id")
		if !validRequestID(rid) {
			rid = id.New(id.Request)
		}
		w.Header().Set("X-Request-Id", rid)
		logger := s.Logger.With("request_id", rid)
		info := &reqInfo{route: "other"}
		ctx := apierr.WithRequest(r.Context(), rid, logger)
		ctx = audit.WithClient(ctx, clientIP(r), r.UserAgent())
		ctx = context.WithValue(ctx, reqInfoKey{}, info)
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(ctx))
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		d := time.Since(start)
		requests.WithLabelValues(info.route, strconv.Itoa(sw.status)).Inc()
		latency.WithLabelValues(info.route).Observe(d.Seconds())
		level := slog.LevelDebug
		if sw.status >= 500 {
			level = slog.LevelError
		} else if !strings.HasPrefix(r.URL.Path, "/static/") && r.URL.Path != "/healthz" && r.URL.Path != "/metrics" {
			level = slog.LevelInfo
		}
		logger.Log(ctx, level, "request", "method", r.Method, "path", redactPath(r.URL.Path), "route", info.route, "status", sw.status, "bytes", sw.bytes, "duration_ms", float64(d.Microseconds())/1000)
	})
}

// authenticate turns an API key (Authorization: Bearer …) or a session cookie into a principal;
// the Authorization header, when present, wins. A refused credential leaves no principal and a
// reason, which protected routes report (401 session_expired, invalid_api_key, unknown_api_key,
// revoked_api_key, expired_api_key).
func (s *Server) authenticate(next http.Handler) http.Handler {
	cookie := s.cookie()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		infoOf(ctx).operatorOff = s.Config.OperatorToken == ""
		if h := r.Header.Get("Authorization"); h != "" && s.isOperatorToken(h) {
			infoOf(ctx).operator = true // no principal here: requireAuth admits it on operator routes only
		} else if h != "" {
			p, err := s.APIKeys.AuthenticateHeader(ctx, h)
			switch {
			case err == nil:
				ctx = authz.WithPrincipal(ctx, p)
			case errors.Is(err, apierr.Unauthenticated):
				infoOf(ctx).authErr = err
			default:
				apierr.Write(w, r, err)
				return
			}
		} else if c, err := r.Cookie(cookie.Name()); err == nil && c.Value != "" {
			p, err := s.Identity.Authenticate(ctx, c.Value)
			switch {
			case err == nil:
				ctx = authz.WithPrincipal(ctx, p)
			case errors.Is(err, apierr.Unauthenticated):
				infoOf(ctx).authErr = err
			default:
				apierr.Write(w, r, err)
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// requireAuth is the huma middleware that enforces each operation's Security requirement.
func requireAuth(api huma.API) func(huma.Context, func(huma.Context)) {
	return func(hctx huma.Context, next func(huma.Context)) {
		op := hctx.Operation()
		ctx := hctx.Context()
		infoOf(ctx).route = op.OperationID
		if isOperatorRoute(op) {
			info := infoOf(ctx)
			_, hasPrincipal := authz.FromContext(ctx)
			switch {
			case info.operatorOff:
				_ = huma.WriteErr(api, hctx, http.StatusForbidden, "", errOperatorOff)
			case info.operator:
				next(huma.WithContext(hctx, authz.WithPrincipal(ctx, authz.System())))
			case hasPrincipal:
				_ = huma.WriteErr(api, hctx, http.StatusForbidden, "", errOperatorOnly)
			default:
				_ = huma.WriteErr(api, hctx, http.StatusUnauthorized, "", errOperatorToken)
			}
			return
		}
		if len(op.Security) > 0 {
			if _, ok := authz.FromContext(ctx); !ok {
				err := infoOf(ctx).authErr
				if err == nil {
					err = authz.ErrUnauthenticated
				}
				_ = huma.WriteErr(api, hctx, http.StatusUnauthorized, "", err)
				return
			}
		}
		next(hctx)
	}
}

// The operator API: routes whose security scheme is "operator" are authenticated only by the
// operator token (--operator-token), as the system principal; a session or a workspace API key
// is refused there, and the token authenticates nothing else.
var (
	errOperatorOff   = apierr.New(apierr.Forbidden, "operator_api_disabled", "the operator API is off: start parley with --operator-token (PARLEY_OPERATOR_TOKEN)")
	errOperatorOnly  = apierr.New(apierr.Forbidden, "operator_token_required", "this route takes the operator token, never a session or a workspace API key")
	errOperatorToken = apierr.New(apierr.Unauthenticated, "operator_token_required", "send Authorization: Bearer <operator token>")
)

// isOperatorRoute reports whether the operation's security is the operator token.
func isOperatorRoute(op *huma.Operation) bool {
	for _, req := range op.Security {
		if _, ok := req["operator"]; ok {
			return true
		}
	}
	return false
}

// isOperatorToken reports whether the Authorization header carries the operator token
// (constant-time comparison); always false when no token is configured.
func (s *Server) isOperatorToken(header string) bool {
	if s.Config.OperatorToken == "" || len(header) < 7 || !strings.EqualFold(header[:7], "Bearer ") {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(header[7:])), []byte(s.Config.OperatorToken)) == 1
}
