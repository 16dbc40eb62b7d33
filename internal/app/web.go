package app

import (
	"net/http"

	"github.com/parleyhq/parley/internal/platform/audit"
	"github.com/parleyhq/parley/internal/web"
)

func (s *Server) webRoutes(mux *http.ServeMux) {
	web.New(web.Deps{
		Identity: s.Identity, Workspaces: s.Workspaces, APIKeys: s.APIKeys, Agents: s.Agents, Contacts: s.Contacts, Webhooks: s.Webhooks, Telephony: s.Telephony, Calls: s.Calls, Campaigns: s.Campaigns, Billing: s.Billing, Audit: &audit.Reader{DB: s.DB},
		Cookie: s.cookie(), Logger: s.Logger,
	}).Register(mux)
}
