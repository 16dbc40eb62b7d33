package plivo

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/telephony"
)

// Plivo's signature headers (V3).
const (
	SignatureHeader       = "X-Plivo-Signature-V3"
	MainSignatureHeader   = "X-Plivo-Signature-Ma-V3"
	SignatureNonceHeader  = "X-Plivo-Signature-V3-Nonce"
	plivoTimeLayout       = "2006-01-02 15:04:05"
	maxSignatureListItems = 8
)

// SignatureV3 computes Plivo's V3 signature of a request as Plivo's SDKs do:
// base64(HMAC-SHA256(authToken, signedURL + "." + nonce)), where signedURL is
// scheme://host/path, then "?" when there are parameters or a query, then for a POST the
// sorted query as "k=v&k=v" (raw, as received), "." and the sorted POST parameters as "kv…"
// (a trailing "." trimmed), or for a GET the query and parameters merged, sorted, "k=v&…".
func SignatureV3(authToken, rawURL, method, nonce string, params map[string]string) (string, error) {
	signed, err := signedURL(rawURL, method, params)
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, []byte(authToken))
	mac.Write([]byte(signed + "." + nonce))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}

func signedURL(rawURL, method string, params map[string]string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", err
	}
	s := u.Scheme + "://" + u.Host + u.Path
	if len(params) > 0 || u.RawQuery != "" {
		s += "?"
	}
	get := strings.EqualFold(method, "GET")
	if u.RawQuery != "" {
		query := rawQueryMap(u.RawQuery)
		if get {
			for k, v := range params {
				query[k] = v
			}
			s += sorted(query, true)
			s = strings.TrimRight(s, "&")
		} else {
			s += sorted(query, true) + "." + sorted(params, false)
			s = strings.TrimRight(s, ".")
		}
	} else {
		s += sorted(params, get)
	}
	return s, nil
}

// rawQueryMap splits a raw query into k=v pairs without decoding them, keeping only pairs with
// exactly one "=" (as the SDKs do).
func rawQueryMap(q string) map[string]string {
	m := map[string]string{}
	for _, pair := range strings.Split(q, "&") {
		kv := strings.Split(pair, "=")
		if len(kv) == 2 {
			m[kv[0]] = kv[1]
		}
	}
	return m
}

func sorted(m map[string]string, query bool) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for i, k := range keys {
		if query {
			if i > 0 {
				b.WriteString("&")
			}
			b.WriteString(k + "=" + m[k])
		} else {
			b.WriteString(k + m[k])
		}
	}
	return b.String()
}

// verify checks the V3 signature and returns the request's parameters (POST form, or query for
// a GET).
func (p *Provider) verify(r telephony.Request) (url.Values, *url.URL, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: plivo: "+format, append([]any{telephony.ErrBadSignature}, a...)...)
	}
	nonce := r.Header.Get(SignatureNonceHeader)
	if nonce == "" {
		return nil, nil, bad("no %s header", SignatureNonceHeader)
	}
	var candidates []string
	for _, h := range []string{SignatureHeader, MainSignatureHeader} {
		for _, s := range strings.Split(r.Header.Get(h), ",") {
			if s = strings.TrimSpace(s); s != "" && len(candidates) < maxSignatureListItems {
				candidates = append(candidates, s)
			}
		}
	}
	if len(candidates) == 0 {
		return nil, nil, bad("no %s header", SignatureHeader)
	}
	u, err := url.Parse(r.URL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, nil, bad("unusable request URL")
	}
	form := url.Values{}
	if !strings.EqualFold(r.Method, "GET") {
		form, err = url.ParseQuery(string(r.Body))
		if err != nil {
			return nil, nil, bad("unreadable form body")
		}
	}
	params := make(map[string]string, len(form))
	for k, v := range form {
		params[k] = v[0]
	}
	want, err := SignatureV3(p.authToken, r.URL, r.Method, nonce, params)
	if err != nil {
		return nil, nil, bad("unusable request URL")
	}
	for _, c := range candidates {
		if hmac.Equal([]byte(c), []byte(want)) {
			if strings.EqualFold(r.Method, "GET") {
				return u.Query(), u, nil
			}
			return form, u, nil
		}
	}
	return nil, nil, bad("signature does not match")
}

// Parse verifies and parses a request from Plivo.
func (p *Provider) Parse(r telephony.Request) (telephony.Event, error) {
	params, u, err := p.verify(r)
	if err != nil {
		return telephony.Event{}, err
	}
	malformed := func(format string, a ...any) error {
		return fmt.Errorf("%w: plivo: "+format, append([]any{telephony.ErrMalformed}, a...)...)
	}
	ev := telephony.Event{
		CallID:         u.Query().Get("callId"),
		ProviderCallID: params.Get("CallUUID"),
		From:           telephony.E164Plus(params.Get("From")),
		To:             telephony.E164Plus(params.Get("To")),
		Sequence:       -1,
	}
	if ev.ProviderCallID == "" {
		return telephony.Event{}, malformed("no CallUUID")
	}
	kind, ok := telephony.CallbackKind(strings.TrimRight(u.Path, "/"), ev.CallID)
	if !ok {
		return telephony.Event{}, malformed("unexpected path %q (want …/voice or …/status)", u.Path)
	}
	ev.Kind = kind
	event := params.Get("Event")
	raw := params.Get("CallStatus")
	switch {
	case event == "MachineDetection":
		ev.Status = telephony.StatusInProgress
		if strings.EqualFold(params.Get("Machine"), "true") {
			ev.Status = telephony.StatusVoicemail
			ev.Reason = "machine detected"
		}
	case raw != "":
		st, ok := statuses[raw]
		if !ok {
			return telephony.Event{}, malformed("unknown CallStatus %q", raw)
		}
		ev.Status = st
	case ev.Kind == telephony.Status:
		return telephony.Event{}, malformed("status callback without CallStatus")
	}
	for _, k := range []string{"Duration", "BillDuration"} {
		if d := params.Get(k); d != "" {
			n, err := strconv.Atoi(d)
			if err != nil || n < 0 {
				return telephony.Event{}, malformed("bad %s %q", k, d)
			}
			ev.DurationSeconds = n
			break
		}
	}
	if event == "Hangup" || telephony.IsFinal(ev.Status) {
		if t, err := time.Parse(plivoTimeLayout, params.Get("EndTime")); err == nil {
			ev.OccurredAt = t.UTC()
		}
	}
	if telephony.IsFinal(ev.Status) && ev.Reason == "" {
		parts := []string{raw}
		if c := params.Get("HangupCauseName"); c != "" {
			parts = append(parts, c)
		} else if c := params.Get("HangupCause"); c != "" {
			parts = append(parts, c)
		}
		if c := params.Get("HangupCauseCode"); c != "" {
			parts = append(parts, "code="+c)
		}
		if s := params.Get("HangupSource"); s != "" {
			parts = append(parts, "source="+s)
		}
		ev.Reason = strings.Join(parts, " ")
	}
	return ev, nil
}

// statuses maps Plivo's CallStatus values.
var statuses = map[string]telephony.CallStatus{
	"queued":      telephony.StatusInitiating,
	"ringing":     telephony.StatusRinging,
	"early-media": telephony.StatusRinging,
	"in-progress": telephony.StatusInProgress,
	"completed":   telephony.StatusCompleted,
	"busy":        telephony.StatusBusy,
	"no-answer":   telephony.StatusNoAnswer,
	"cancel":      telephony.StatusCanceled,
	"canceled":    telephony.StatusCanceled,
	"timeout":     telephony.StatusFailed,
	"failed":      telephony.StatusFailed,
}
