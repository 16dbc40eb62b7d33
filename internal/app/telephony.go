package app

import (
	"context"
	"net/url"
	"strings"

	"github.com/parleyhq/parley/internal/platform/apierr"
	"github.com/parleyhq/parley/internal/telephony"
	"github.com/parleyhq/parley/internal/telephony/exotel"
	"github.com/parleyhq/parley/internal/telephony/plivo"
	"github.com/parleyhq/parley/internal/telephony/sim"
	"github.com/parleyhq/parley/internal/telephony/telnyx"
	"github.com/parleyhq/parley/internal/telephony/twilio"
	"github.com/parleyhq/parley/internal/telephony/vonage"
)

// adapters is the registry of telephony providers: each name with its adapter's constructor.
func adapters(engine *sim.Engine) map[string]telephony.Constructor {
	return map[string]telephony.Constructor{
		telephony.Sim:    engine.Constructor(),
		telephony.Twilio: twilio.New,
		telephony.Plivo:  plivo.New,
		telephony.Telnyx: telnyx.New,
		telephony.Vonage: vonage.New,
		telephony.Exotel: exotel.New,
	}
}

// deliverSim hands a simulated provider request to the calls service, as the HTTP route
// /telephony/{workspaceId}/{provider}/{kind} would: the same code path as a real provider's.
func (s *Server) deliverSim(ctx context.Context, req telephony.Request) (telephony.Response, error) {
	u, err := url.Parse(req.URL)
	if err != nil {
		return telephony.Response{}, err
	}
	// /telephony/{workspaceId}/sim/{kind}
	parts := strings.Split(strings.TrimPrefix(u.Path, "/"), "/")
	if len(parts) != 4 || parts[0] != "telephony" {
		return telephony.Response{}, apierr.NotFoundf("page")
	}
	return s.Calls.HandleProvider(ctx, parts[1], parts[2], parts[3], req)
}
