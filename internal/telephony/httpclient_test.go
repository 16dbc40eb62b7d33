package telephony_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/telephony"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 400_000_000, time.UTC)
	for h, want := range map[string]time.Duration{
		"":     0,
		"7":    7 * time.Second,
		" 0":   0,
		"-3":   0,
		"soon": 0,
		now.Add(90 * time.Second).UTC().Format(http.TimeFormat):  90 * time.Second, // the date has no sub-second part
		now.Add(-90 * time.Second).UTC().Format(http.TimeFormat): 0,
	} {
		if got := telephony.RetryAfter(h, now); got != want {
			t.Errorf("RetryAfter(%q) = %v, want %v", h, got, want)
		}
	}
}

// API sends the body as form or JSON, maps non-2xx answers with the provider's decoder, and
// reports a cancelled context as such.
func TestAPI(t *testing.T) {
	var gotCT, gotAuth, gotBody string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		gotCT, gotAuth, gotBody = r.Header.Get("Content-Type"), r.Header.Get("Authorization"), string(b)
		switch r.URL.Path {
		case "/ok":
			_, _ = w.Write([]byte(`{"id":"c1"}`))
		case "/bad":
			_, _ = w.Write([]byte(`not json`))
		case "/busy":
			w.Header().Set("Retry-After", "3")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"code":"slow_down","message":"too fast"}`))
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()
	api := telephony.API{
		Provider: "acme",
		Auth:     func(r *http.Request) error { r.Header.Set("Authorization", "Bearer k"); return nil },
		DecodeError: func(pe *telephony.ProviderError, body []byte) {
			if string(body) != "" {
				pe.Code, pe.Message = "slow_down", "too fast"
			}
		},
	}
	ctx := t.Context()

	var out struct{ ID string }
	if err := api.DoJSON(ctx, http.MethodPost, srv.URL+"/ok", map[string]string{"a": "b"}, &out); err != nil || out.ID != "c1" {
		t.Fatalf("DoJSON = %v, %+v", err, out)
	}
	if gotCT != "application/json" || gotAuth != "Bearer k" || gotBody != `{"a":"b"}` {
		t.Errorf("JSON request: Content-Type %q, Authorization %q, body %q", gotCT, gotAuth, gotBody)
	}
	if _, err := api.Do(ctx, http.MethodPost, srv.URL+"/ok", url.Values{"x": {"1 2"}}); err != nil {
		t.Fatal(err)
	}
	if gotCT != "application/x-www-form-urlencoded" || gotBody != "x=1+2" {
		t.Errorf("form request: Content-Type %q, body %q", gotCT, gotBody)
	}
	if _, err := api.Do(ctx, http.MethodGet, srv.URL+"/ok", url.Values(nil)); err != nil || gotCT != "" || gotBody != "" {
		t.Errorf("nil form: err %v, Content-Type %q, body %q", err, gotCT, gotBody)
	}

	var pe *telephony.ProviderError
	err := api.DoJSON(ctx, http.MethodGet, srv.URL+"/bad", nil, &out)
	if !errors.As(err, &pe) || pe.Retryable || pe.HTTPStatus != http.StatusOK || pe.Provider != "acme" {
		t.Errorf("malformed answer = %#v", err)
	}
	_, err = api.Do(ctx, http.MethodGet, srv.URL+"/busy", nil)
	if !errors.As(err, &pe) || !pe.Retryable || pe.RetryAfter != 3*time.Second || pe.Code != "slow_down" || pe.Message != "too fast" {
		t.Errorf("429 = %#v", err)
	}
	_, err = api.Do(ctx, http.MethodGet, srv.URL+"/missing", nil)
	if !errors.As(err, &pe) || pe.Retryable || pe.HTTPStatus != http.StatusNotFound || pe.Message != "Not Found" {
		t.Errorf("404 without a body = %#v", err)
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := api.Do(cancelled, http.MethodGet, srv.URL+"/ok", nil); !errors.Is(err, context.Canceled) || errors.As(err, &pe) {
		t.Errorf("cancelled context = %#v, want context.Canceled (not a ProviderError)", err)
	}
	srv.Close()
	_, err = api.Do(ctx, http.MethodGet, srv.URL+"/ok", nil)
	if !errors.As(err, &pe) || !pe.Retryable || pe.HTTPStatus != 0 {
		t.Errorf("unreachable = %#v", err)
	}
}

func TestCallbackKind(t *testing.T) {
	cases := []struct {
		path, callID string
		kind         telephony.EventKind
		ok           bool
	}{
		{"/telephony/ws_1/twilio/status", "call_1", telephony.Status, true},
		{"/telephony/ws_1/twilio/status", "", telephony.Status, true},
		{"/telephony/ws_1/twilio/voice", "call_1", telephony.Answered, true},
		{"/telephony/ws_1/twilio/voice", "", telephony.Inbound, true},
		{"/telephony/ws_1/twilio/voice/", "", "", false},
		{"/elsewhere", "call_1", "", false},
	}
	for _, c := range cases {
		if kind, ok := telephony.CallbackKind(c.path, c.callID); kind != c.kind || ok != c.ok {
			t.Errorf("CallbackKind(%q, %q) = %q, %v; want %q, %v", c.path, c.callID, kind, ok, c.kind, c.ok)
		}
	}
}

func TestE164(t *testing.T) {
	for in, want := range map[string]string{" +14155550100 ": "14155550100", "14155550100": "14155550100", "": ""} {
		if got := telephony.E164Digits(in); got != want {
			t.Errorf("E164Digits(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"14155550100": "+14155550100", "+14155550100": "+14155550100",
		"sip:alice@example.com": "sip:alice@example.com", "": ""} {
		if got := telephony.E164Plus(in); got != want {
			t.Errorf("E164Plus(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMarkup(t *testing.T) {
	m := telephony.NewMarkup("text/xml")
	m.Text("Say", `a <b> & "c"`, "language", "en", "voice", "")
	m.Empty("Hangup")
	resp := m.Response()
	want := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<Response><Say language="en">a &lt;b&gt; &amp; &#34;c&#34;</Say><Hangup/></Response>`
	if string(resp.Body) != want || resp.ContentType != "text/xml" {
		t.Fatalf("markup %s (%s), want %s", resp.Body, resp.ContentType, want)
	}
}
