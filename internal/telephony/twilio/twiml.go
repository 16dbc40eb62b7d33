package twilio

import (
	"context"
	"strings"

	"github.com/parleyhq/parley/internal/telephony"
)

const twimlType = "text/xml; charset=utf-8"

// Answer renders TwiML: the greeting with <Say>, then the call's audio streamed to MediaURL
// (<Connect><Stream>), or <Hangup/> when there is no media URL.
func (p *Provider) Answer(_ context.Context, _ telephony.Event, a telephony.Answer) (telephony.Response, error) {
	t := telephony.NewMarkup(twimlType)
	if a.Greeting != "" {
		t.Text("Say", a.Greeting, "language", a.Language)
	}
	if a.MediaURL == "" {
		t.Empty("Hangup")
		return t.Response(), nil
	}
	t.Raw("<Connect>")
	t.Open("Stream", "url", a.MediaURL)
	t.Raw(">")
	if a.CallID != "" {
		t.Empty("Parameter", "name", "callId", "value", a.CallID)
	}
	t.Raw("</Stream></Connect>")
	return t.Response(), nil
}

// Reject renders <Reject>: "rejected" (not in service) for an unknown number, "busy" for any
// other reason. The call is never answered, so it costs nothing.
func (p *Provider) Reject(_ context.Context, _ telephony.Event, reason string) (telephony.Response, error) {
	t := telephony.NewMarkup(twimlType)
	r := "busy"
	if strings.Contains(reason, "unknown") {
		r = "rejected"
	}
	t.Empty("Reject", "reason", r)
	return t.Response(), nil
}
