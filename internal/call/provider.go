package call

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/id"
	"github.com/parleyhq/parley/internal/telephony"
)

// Kinds of provider request, by the URL they arrive at.
const (
	VoiceRequest  = "voice"
	StatusRequest = "status"
)

func tokenOf(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return ""
	}
	return p.Query().Get("token")
}

var errBadSignature = apierr.New(apierr.Forbidden, "bad_signature", "the request is not signed by the provider")

// HandleProvider answers a request of a telephony provider to
// /telephony/{workspaceId}/{provider}/{voice|status}: it verifies the request as the provider
// signs it (a bad signature is 403 and changes nothing), then moves the call it reports on
// forward, or — for a voice request without a Parley call ID — routes a new inbound call. It
// takes no principal: the signature is the authentication. The response is the provider's
// markup (voice) or an empty 200 (status).
func (s *Service) HandleProvider(ctx context.Context, wsID, provider, kind string, req telephony.Request) (telephony.Response, error) {
	u, err := url.Parse(req.URL)
	if err != nil {
		return telephony.Response{}, apierr.New(apierr.BadRequest, "bad_request", "unparsable URL")
	}
	callID := u.Query().Get("callId")
	if callID != "" {
		return s.handleKnown(ctx, wsID, provider, kind, callID, req)
	}
	if kind == VoiceRequest {
		return s.handleInbound(ctx, wsID, provider, req)
	}
	return s.handleInboundStatus(ctx, wsID, provider, req)
}

// handleKnown handles a request about a call Parley placed (its ID is in the URL).
func (s *Service) handleKnown(ctx context.Context, wsID, provider, kind, callID string, req telephony.Request) (telephony.Response, error) {
	c, err := s.get(ctx, s.db.Read, wsID, callID)
	if errors.Is(err, apierr.NotFound) {
		// Unknown call: the same 403 as a bad signature, so call IDs cannot be probed.
		return telephony.Response{}, errBadSignature
	}
	if err != nil {
		return telephony.Response{}, err
	}
	if c.Provider != provider {
		return telephony.Response{}, errBadSignature
	}
	prov, _, err := s.telephony.Adapter(ctx, wsID, c.CredentialID)
	if err != nil {
		return telephony.Response{}, err
	}
	ev, err := prov.Parse(req)
	if err != nil {
		return telephony.Response{}, parseErr(err)
	}
	if ev.CallID != "" && ev.CallID != callID {
		return telephony.Response{}, errBadSignature
	}
	return s.applyKnown(ctx, c, prov, kind, ev, req)
}

// applyKnown moves a known call by a verified provider request and answers it.
func (s *Service) applyKnown(ctx context.Context, c Call, prov telephony.Provider, kind string, ev telephony.Event, req telephony.Request) (telephony.Response, error) {
	wsID, callID := c.WorkspaceID, c.ID
	if st := statusOf(ev.Status); st != "" {
		if _, _, err := s.advance(ctx, wsID, callID, change{status: st, source: "provider", providerCallID: ev.ProviderCallID,
			duration: ev.DurationSeconds, providerReason: ev.Reason, at: ev.OccurredAt}); err != nil {
			return telephony.Response{}, err
		}
	}
	if kind != VoiceRequest {
		return telephony.Response{}, nil
	}
	if ev.Kind == telephony.Answered && ev.Status == "" {
		// A voice request is the provider telling us the call was answered.
		if _, _, err := s.advance(ctx, wsID, callID, change{status: InProgress, source: "provider", providerCallID: ev.ProviderCallID}); err != nil {
			return telephony.Response{}, err
		}
	}
	a, err := s.answerFor(ctx, c)
	if err != nil {
		return telephony.Response{}, err
	}
	_, statusURL := s.urls(c, tokenOf(req.URL))
	a.StatusURL = statusURL
	return prov.Answer(ctx, ev, a)
}

func parseErr(err error) error {
	switch {
	case errors.Is(err, telephony.ErrBadSignature):
		return errBadSignature
	case errors.Is(err, telephony.ErrMalformed):
		return apierr.New(apierr.BadRequest, "malformed_provider_request", err.Error())
	}
	return err
}

// NoRuntimeNote is the record of a call answered before the voice runtime exists: the provider
// speaks the greeting with its own voice and ends the call.
const NoRuntimeNote = "no voice runtime yet: the provider spoke the agent's greeting and ended the call"

// answerFor is what an answered call hears: the agent's greeting (its variables filled in) in
// its language.
func (s *Service) answerFor(ctx context.Context, c Call) (telephony.Answer, error) {
	eff, err := s.agents.Effective(system(ctx), c.WorkspaceID, c.AgentID)
	if err != nil {
		return telephony.Answer{}, err
	}
	cfg := eff.WithCallOverrides(c.Overrides).Config
	greeting, _ := cfg["greetingMessage"].(string)
	lang, _ := cfg["language"].(string)
	return telephony.Answer{CallID: c.ID, Greeting: fill(greeting, c.Variables), Language: lang}, nil
}

var placeholder = regexp.MustCompile(`\{\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}\}`)

// fill replaces {{name}} with the call's variables; unknown placeholders become empty.
func fill(s string, vars map[string]any) string {
	return placeholder.ReplaceAllStringFunc(s, func(m string) string {
		name := strings.TrimSpace(placeholder.FindStringSubmatch(m)[1])
		if v, ok := vars[name]; ok {
			return fmt.Sprint(v)
		}
		return ""
	})
}

// verifyAny finds which of the workspace's credentials of provider signed req (an inbound
// request names no call, so no credential).
func (s *Service) verifyAny(ctx context.Context, wsID, provider string, req telephony.Request) (telephony.Provider, string, telephony.Event, error) {
	if provider == telephony.Sim {
		prov, _, err := s.telephony.Adapter(ctx, wsID, "")
		if err != nil {
			return nil, "", telephony.Event{}, err
		}
		ev, err := prov.Parse(req)
		if err == nil {
			return prov, "", ev, nil
		}
	}
	provs, creds, err := s.telephony.AdaptersFor(ctx, wsID, provider)
	if err != nil {
		return nil, "", telephony.Event{}, err
	}
	for i, p := range provs {
		ev, err := p.Parse(req)
		if err == nil {
			return p, creds[i].ID, ev, nil
		}
		if !errors.Is(err, telephony.ErrBadSignature) {
			return nil, "", telephony.Event{}, parseErr(err)
		}
	}
	return nil, "", telephony.Event{}, errBadSignature
}

// handleInboundStatus handles a status callback of an inbound call (found by the provider's ID).
func (s *Service) handleInboundStatus(ctx context.Context, wsID, provider string, req telephony.Request) (telephony.Response, error) {
	_, _, ev, err := s.verifyAny(ctx, wsID, provider, req)
	if err != nil {
		return telephony.Response{}, err
	}
	c, err := s.st.byProviderID(ctx, s.db.Read, wsID, provider, ev.ProviderCallID)
	if errors.Is(err, sql.ErrNoRows) {
		return telephony.Response{}, nil // a call Parley refused: nothing to follow
	}
	if err != nil {
		return telephony.Response{}, err
	}
	if st := statusOf(ev.Status); st != "" {
		_, _, err = s.advance(ctx, wsID, c.ID, change{status: st, source: "provider", duration: ev.DurationSeconds, providerReason: ev.Reason, at: ev.OccurredAt})
	}
	return telephony.Response{}, err
}

// refusal is the record of an inbound call Parley did not take.
func (s *Service) refuse(ctx context.Context, prov telephony.Provider, wsID, credID, provider, agentID string, ev telephony.Event, why, say string) (telephony.Response, error) {
	now := s.now()
	c := Call{ID: id.New(id.Call), WorkspaceID: wsID, Direction: Inbound, Status: Failed, AgentID: agentID, CredentialID: credID, Provider: provider,
		ProviderCallID: ev.ProviderCallID, From: ev.From, To: ev.To, EndReason: why, QueuedAt: now, EndedAt: &now, UpdatedAt: now}
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := s.st.insert(ctx, tx, c); err != nil {
			return err
		}
		return s.st.addEvent(ctx, tx, wsID, c.ID, TimelineEntry{ID: id.New(id.Event), Status: Failed, Source: "provider", Applied: true, Detail: why, CreatedAt: now})
	})
	if err != nil {
		return telephony.Response{}, err
	}
	return prov.Reject(ctx, ev, say)
}
