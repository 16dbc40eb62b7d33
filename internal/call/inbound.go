package call

import (
	"context"
	"database/sql"
	"errors"

	"github.com/parleyhq/parley/internal/billing"
	"github.com/parleyhq/parley/internal/contact"
	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/platform/id"
	"github.com/parleyhq/parley/internal/telephony"
)

// Polite refusals an inbound caller hears.
const (
	sayUnavailable = "Sorry, this number cannot take your call right now. Goodbye."
	sayBusy        = "Sorry, all our lines are busy. Please call again later. Goodbye."
)

// handleInbound routes a new inbound call: the number's agent takes it when the agent is active
// and the workspace can reserve its first minutes and has a free line; otherwise the caller hears
// a polite refusal and a failed call records why.
func (s *Service) handleInbound(ctx context.Context, wsID, provider string, req telephony.Request) (telephony.Response, error) {
	prov, credID, ev, err := s.verifyAny(ctx, wsID, provider, req)
	if err != nil {
		return telephony.Response{}, err
	}
	if ev.CallID != "" {
		// A provider that fetches a fixed voice URL for the calls Parley places (Exotel's flow)
		// names the call in its signed request: it is that call, answered.
		c, err := s.get(ctx, s.db.Read, wsID, ev.CallID)
		if err != nil || c.Provider != provider {
			return telephony.Response{}, errBadSignature
		}
		return s.applyKnown(ctx, c, prov, VoiceRequest, ev, req)
	}
	if ev.ProviderCallID != "" {
		// A later request about a call already routed (a retry, or a provider that sends every
		// event to the voice URL): follow it as a known call.
		if c, err := s.st.byProviderID(ctx, s.db.Read, wsID, provider, ev.ProviderCallID); err == nil {
			if c.Status == Failed && c.Direction == Inbound && c.holdMicros == 0 {
				return prov.Reject(ctx, ev, sayUnavailable)
			}
			return s.applyKnown(ctx, c, prov, VoiceRequest, ev, req)
		} else if !errors.Is(err, sql.ErrNoRows) {
			return telephony.Response{}, err
		}
	}
	to, err := contact.NormalizePhone(ev.To, "")
	if err != nil {
		return s.refuse(ctx, prov, wsID, credID, provider, "", ev, "the called number is not a phone number: "+ev.To, sayUnavailable)
	}
	num, ok, err := s.telephony.NumberFor(ctx, wsID, to)
	if err != nil {
		return telephony.Response{}, err
	}
	if !ok {
		return s.refuse(ctx, prov, wsID, credID, provider, "", ev, "unknown number: "+to+" is not one of the workspace's numbers", sayUnavailable)
	}
	agentID, note := "", ""
	if num.InboundAgentID != nil {
		agentID = *num.InboundAgentID
	}
	var routed map[string]any
	if target, secret, ok, err := s.telephony.Routing(ctx, wsID, num.ID); err != nil {
		return telephony.Response{}, err
	} else if ok {
		a, err := s.route(ctx, target, secret, wsID, map[string]any{"from": ev.From, "to": to, "numberId": num.ID,
			"provider": provider, "providerCallId": ev.ProviderCallID, "agentId": agentID})
		switch {
		case err != nil:
			note = "routing webhook failed (" + err.Error() + "): the number's agent took the call"
		case a.Reject:
			why := "the routing webhook rejected the call"
			if a.Reason != "" {
				why += ": " + a.Reason
			}
			return s.refuse(ctx, prov, wsID, credID, provider, agentID, ev, why, sayUnavailable)
		case a.AgentID != "":
			agentID, routed, note = a.AgentID, a.Variables, "routed by the routing webhook"
		default:
			routed, note = a.Variables, "the routing webhook kept the number's agent"
		}
	}
	if agentID == "" {
		return s.refuse(ctx, prov, wsID, credID, provider, "", ev, "the number has no inbound agent", sayUnavailable)
	}
	sys := system(ctx)
	ag, err := s.agents.GetAgent(sys, wsID, agentID)
	if errors.Is(err, apierr.NotFound) {
		return s.refuse(ctx, prov, wsID, credID, provider, agentID, ev, "the number's agent no longer exists", sayUnavailable)
	}
	if err != nil {
		return telephony.Response{}, err
	}
	if st := deref(ag.Status, "active"); st != "active" {
		return s.refuse(ctx, prov, wsID, credID, provider, agentID, ev, "the number's agent is "+st, sayUnavailable)
	}
	settings, err := s.agents.GetSettings(sys, wsID)
	if err != nil {
		return telephony.Response{}, err
	}
	limit := 5
	if settings.Calls != nil && settings.Calls.MaxConcurrentCalls != nil {
		limit = *settings.Calls.MaxConcurrentCalls
	}
	vars, err := resolveVariables(ag.Variables, nil, routed)
	if err != nil && routed != nil {
		note += "; its variables were refused (" + err.Error() + ")"
		vars, err = resolveVariables(ag.Variables, nil, nil)
	}
	if err != nil {
		vars = map[string]any{} // an inbound call has no values for variables without defaults
	}
	reserve, err := s.billing.Rate(sys, wsID, billing.Usage{Kind: billing.UsageCallSeconds, Quantity: s.opts.ReserveSeconds, Provider: pricedAs(provider)})
	if err != nil {
		return telephony.Response{}, err
	}
	reserve = max(reserve, 1)
	now := s.now()
	from, _ := contact.NormalizePhone(ev.From, deref(settings.DefaultRegion, "US"))
	if from == "" {
		from = ev.From
	}
	c := Call{ID: id.New(id.Call), WorkspaceID: wsID, Direction: Inbound, Status: InProgress, AgentID: agentID, CredentialID: credID,
		Provider: provider, ProviderCallID: ev.ProviderCallID, From: from, To: to, Variables: vars, QueuedAt: now, InProgressAt: &now,
		UpdatedAt: now, Note: joinNote(note, NoRuntimeNote), holdMicros: reserve}
	var refusal string
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		refusal = ""
		ok, err := s.st.takeSlot(ctx, tx, wsID, limit)
		if err != nil {
			return err
		}
		if !ok {
			refusal = "the workspace is at its concurrent-call limit"
			return nil
		}
		if _, err := s.billing.ReserveTx(sys, tx, billing.ReserveInput{WorkspaceID: wsID, Reference: c.ID, Amount: reserve,
			TTL: StaleLive}); err != nil {
			return err
		}
		if err := s.st.insert(ctx, tx, c); err != nil {
			return err
		}
		if err := s.st.addEvent(ctx, tx, wsID, c.ID, TimelineEntry{ID: id.New(id.Event), Status: InProgress, Source: "provider", Applied: true,
			Detail: "inbound call answered by the number's agent", CreatedAt: now}); err != nil {
			return err
		}
		return publish(ctx, tx, "call.started", c)
	})
	if errors.Is(err, apierr.PaymentRequired) {
		return s.refuse(ctx, prov, wsID, credID, provider, agentID, ev, "insufficient credits to take the call", sayUnavailable)
	}
	if err != nil {
		return telephony.Response{}, err
	}
	if refusal != "" {
		return s.refuse(ctx, prov, wsID, credID, provider, agentID, ev, refusal, sayBusy)
	}
	a, err := s.answerFor(ctx, c)
	if err != nil {
		return telephony.Response{}, err
	}
	_, a.StatusURL = s.urls(c, tokenOf(req.URL))
	return prov.Answer(ctx, ev, a)
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + ". " + b
}
