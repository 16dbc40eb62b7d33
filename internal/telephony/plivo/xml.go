package plivo

import (
	"context"
	"strings"

	"github.com/parleyhq/parley/internal/telephony"
)

const xmlType = "application/xml; charset=utf-8"

// Answer renders Plivo XML: <Speak> the greeting, then a bidirectional <Stream> of the call's
// audio to MediaURL (the call stays up while the stream is connected), or <Hangup/> when there
// is no media URL.
func (p *Provider) Answer(_ context.Context, _ telephony.Event, a telephony.Answer) (telephony.Response, error) {
	x := telephony.NewMarkup(xmlType)
	if a.Greeting != "" {
		x.Text("Speak", a.Greeting, "language", a.Language)
	}
	if a.MediaURL == "" {
		x.Empty("Hangup")
		return x.Response(), nil
	}
	x.Text("Stream", a.MediaURL, "bidirectional", "true", "keepCallAlive", "true",
		"contentType", "audio/x-mulaw;rate=8000")
	return x.Response(), nil
}

// Reject renders <Hangup reason="rejected"/> for an unknown number and reason "busy" for any
// other reason; as the first element it refuses the call without answering it.
func (p *Provider) Reject(_ context.Context, _ telephony.Event, reason string) (telephony.Response, error) {
	x := telephony.NewMarkup(xmlType)
	r := "busy"
	if strings.Contains(reason, "unknown") {
		r = "rejected"
	}
	x.Empty("Hangup", "reason", r)
	return x.Response(), nil
}
