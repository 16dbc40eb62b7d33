package app

import (
	"net/http"

	"github.com/parleyhq/parley/internal/web"
)

func (s *Server) webRoutes(mux *http.ServeMux) {
	web.New(web.Deps{Identity: s.Identity, Workspaces: s.Workspaces, Cookie: s.cookie(), Logger: s.Logger}).Register(mux)
}
