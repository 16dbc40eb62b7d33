package twilio

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/telephony"
)

// SignatureHeader carries Twilio's request signature.
const SignatureHeader = "X-Twilio-Signature"

// signatureSettingsHeader names another signing algorithm (shared-key HMAC-SHA256 webhook rules).
const signatureSettingsHeader = "X-Twilio-Webhooks-Signature-Settings"

// Signature computes X-Twilio-Signature for a request: base64(HMAC-SHA1(authToken, url +
// the POST parameters sorted by name, each name followed by its values sorted)). params is nil
// for a GET or a JSON body (whose hash travels in the URL's bodySHA256).
func Signature(authToken, rawURL string, params url.Values) string {
	var b strings.Builder
	b.WriteString(rawURL)
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		vals := slices.Clone(params[k])
		slices.Sort(vals)
		vals = slices.Compact(vals) // the official SDKs sign each distinct value once
		for _, v := range vals {
			b.WriteString(k)
			b.WriteString(v)
		}
	}
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

var urlAuthority = regexp.MustCompile(`^([a-zA-Z][a-zA-Z0-9+.-]*://)([^/?#]*)`)

// urlVariants returns the URL without its port and with the scheme's default port, as Twilio's
// SDKs try both (Twilio's back end is not consistent about the port it signs).
func urlVariants(raw string) []string {
	m := urlAuthority.FindStringSubmatchIndex(raw)
	if m == nil {
		return []string{raw}
	}
	scheme, authority, rest := raw[m[2]:m[3]], raw[m[4]:m[5]], raw[m[1]:]
	userInfo, hostPort := "", authority
	if i := strings.LastIndex(authority, "@"); i >= 0 {
		userInfo, hostPort = authority[:i+1], authority[i+1:]
	}
	host, port := hostPort, ""
	start := strings.LastIndex(hostPort, "]") + 1 // a port follows an IPv6 literal's bracket
	if i := strings.Index(hostPort[start:], ":"); i >= 0 {
		host, port = hostPort[:start+i], hostPort[start+i:]
	}
	without := scheme + userInfo + host + rest
	with := raw
	if port == "" {
		def := ":80"
		if strings.EqualFold(scheme, "https://") {
			def = ":443"
		}
		with = scheme + userInfo + host + def + rest
	}
	return []string{without, with}
}

// verify checks the request's signature and returns its parameters (the POST form, or the
// query for a GET / JSON request).
func (p *Provider) verify(r telephony.Request) (url.Values, *url.URL, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: twilio: "+format, append([]any{telephony.ErrBadSignature}, a...)...)
	}
	if p.authToken == "" {
		return nil, nil, bad("the credential has no authToken to check signatures with")
	}
	sig := r.Header.Get(SignatureHeader)
	if sig == "" {
		return nil, nil, bad("no %s header", SignatureHeader)
	}
	if s := r.Header.Get(signatureSettingsHeader); s != "" && !strings.Contains(strings.ToUpper(s), "HMAC_SHA1") {
		return nil, nil, bad("unsupported signature settings %q (only Auth Token HMAC-SHA1 signatures are checked)", s)
	}
	u, err := url.Parse(r.URL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, nil, bad("unusable request URL")
	}
	query := u.Query()
	var params url.Values
	if bodyHash := query.Get("bodySHA256"); bodyHash != "" {
		sum := sha256.Sum256(r.Body)
		if !hmac.Equal([]byte(strings.ToLower(bodyHash)), []byte(hex.EncodeToString(sum[:]))) {
			return nil, nil, bad("body does not match bodySHA256")
		}
	} else if !strings.EqualFold(r.Method, "GET") {
		params, err = url.ParseQuery(string(r.Body))
		if err != nil {
			return nil, nil, bad("unreadable form body")
		}
	}
	for _, candidate := range urlVariants(r.URL) {
		if hmac.Equal([]byte(sig), []byte(Signature(p.authToken, candidate, params))) {
			if params == nil {
				return query, u, nil
			}
			return params, u, nil
		}
	}
	return nil, nil, bad("signature does not match")
}

// Parse verifies and parses a voice request or status callback from Twilio.
func (p *Provider) Parse(r telephony.Request) (telephony.Event, error) {
	params, u, err := p.verify(r)
	if err != nil {
		return telephony.Event{}, err
	}
	malformed := func(format string, a ...any) error {
		return fmt.Errorf("%w: twilio: "+format, append([]any{telephony.ErrMalformed}, a...)...)
	}
	ev := telephony.Event{
		CallID:         u.Query().Get("callId"),
		ProviderCallID: params.Get("CallSid"),
		From:           params.Get("From"),
		To:             params.Get("To"),
		Sequence:       -1,
	}
	if ev.ProviderCallID == "" {
		return telephony.Event{}, malformed("no CallSid")
	}
	kind, ok := telephony.CallbackKind(strings.TrimRight(u.Path, "/"), ev.CallID)
	if !ok {
		return telephony.Event{}, malformed("unexpected path %q (want …/voice or …/status)", u.Path)
	}
	ev.Kind = kind
	raw := params.Get("CallStatus")
	answeredBy := params.Get("AnsweredBy")
	if raw != "" {
		st, ok := statuses[raw]
		if !ok {
			return telephony.Event{}, malformed("unknown CallStatus %q", raw)
		}
		if strings.HasPrefix(answeredBy, "machine") && (st == telephony.StatusCompleted || st == telephony.StatusInProgress) {
			st = telephony.StatusVoicemail
		}
		ev.Status = st
	} else if ev.Kind == telephony.Status {
		return telephony.Event{}, malformed("status callback without CallStatus")
	}
	if d := params.Get("CallDuration"); d != "" {
		n, err := strconv.Atoi(d)
		if err != nil || n < 0 {
			return telephony.Event{}, malformed("bad CallDuration %q", d)
		}
		ev.DurationSeconds = n
	}
	if s := params.Get("SequenceNumber"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n >= 0 {
			ev.Sequence = n
		}
	}
	if ts := params.Get("Timestamp"); ts != "" {
		if t, err := time.Parse(time.RFC1123Z, ts); err == nil {
			ev.OccurredAt = t.UTC()
		}
	}
	var reason []string
	if telephony.IsFinal(ev.Status) {
		reason = append(reason, raw)
	}
	if answeredBy != "" && answeredBy != "unknown" {
		reason = append(reason, "answeredBy="+answeredBy)
	}
	if c := params.Get("SipResponseCode"); c != "" && telephony.IsFinal(ev.Status) {
		reason = append(reason, "sip="+c)
	}
	if c := params.Get("ErrorCode"); c != "" {
		reason = append(reason, "error="+c)
	}
	ev.Reason = strings.Join(reason, " ")
	return ev, nil
}

// statuses maps Twilio's CallStatus values.
var statuses = map[string]telephony.CallStatus{
	"queued":      telephony.StatusInitiating,
	"initiated":   telephony.StatusInitiating,
	"ringing":     telephony.StatusRinging,
	"in-progress": telephony.StatusInProgress,
	"answered":    telephony.StatusInProgress,
	"completed":   telephony.StatusCompleted,
	"busy":        telephony.StatusBusy,
	"no-answer":   telephony.StatusNoAnswer,
	"failed":      telephony.StatusFailed,
	"canceled":    telephony.StatusCanceled,
}
