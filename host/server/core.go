package server

import (
	"context"
	"fmt"
	"slices"

	"github.com/valyala/fasthttp"
)

// Info is the server.info result. Field names are Moonraker's: slicers and
// frontends read them (PrusaSlicer moonraker_version, Orca klippy_state).
type Info struct {
	KlippyConnected       bool     `json:"klippy_connected"`
	KlippyState           string   `json:"klippy_state"`
	Components            []string `json:"components"`
	FailedComponents      []string `json:"failed_components"`
	RegisteredDirectories []string `json:"registered_directories"`
	Warnings              []string `json:"warnings"`
	WebsocketCount        int      `json:"websocket_count"`
	MoonrakerVersion      string   `json:"moonraker_version"`
	MissingKlippyReqs     []string `json:"missing_klippy_requirements"`
	APIVersion            [3]int   `json:"api_version"`
	APIVersionString      string   `json:"api_version_string"`
}

var clientTypes = []string{"web", "mobile", "desktop", "display", "bot", "agent", "other"}

// Info returns the current server.info.
func (s *Server) Info() Info {
	s.infoMu.RLock()
	defer s.infoMu.RUnlock()
	connected, state := s.klippy()
	return Info{
		KlippyConnected:       connected,
		KlippyState:           state,
		Components:            nonNil(s.components),
		FailedComponents:      nonNil(s.failed),
		RegisteredDirectories: nonNil(s.directories),
		Warnings:              nonNil(s.warnings),
		WebsocketCount:        s.WebsocketCount(),
		MoonrakerVersion:      s.opts.Version,
		MissingKlippyReqs:     []string{},
		APIVersion:            apiVersion,
		APIVersionString:      fmt.Sprintf("%d.%d.%d", apiVersion[0], apiVersion[1], apiVersion[2]),
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// registerCore registers the endpoints every moonrelay has.
func (s *Server) registerCore() {
	s.router.GET("/websocket", s.serveWebsocket)
	s.MustRegister(Endpoint{Path: "/server/jsonrpc", Methods: []string{"POST"}, Raw: s.serveRPCHTTP})
	s.MustRegister(Endpoint{Path: "/server/info", Handler: func(context.Context, *Request) (any, error) {
		info := s.Info()
		return &info, nil
	}})
	s.MustRegister(Endpoint{Path: "/server/config", Handler: func(context.Context, *Request) (any, error) {
		s.infoMu.RLock()
		view := s.configView
		s.infoMu.RUnlock()
		var cfg any = map[string]any{}
		if view != nil {
			cfg = view()
		}
		return map[string]any{"config": cfg}, nil
	}})
	s.MustRegister(Endpoint{Path: "/server/connection/identify", Methods: []string{"POST"}, Handler: s.identify})
	s.MustRegister(Endpoint{Path: "/server/websocket/id", Handler: func(_ context.Context, r *Request) (any, error) {
		if r.Conn == nil {
			return nil, BadRequest("server.websocket.id is only available over the websocket")
		}
		return map[string]int64{"websocket_id": r.Conn.ID}, nil
	}})
	s.MustRegister(Endpoint{Path: "/access/api_key", Handler: func(context.Context, *Request) (any, error) {
		return s.opts.APIKey, nil
	}})
	s.MustRegister(Endpoint{Path: "/access/oneshot_token", Handler: func(context.Context, *Request) (any, error) {
		return s.auth.newOneshot(), nil
	}})
}

// identify serves server.connection.identify.
func (s *Server) identify(_ context.Context, r *Request) (any, error) {
	if r.Conn == nil {
		return nil, BadRequest("server.connection.identify is only available over the websocket")
	}
	var info ClientInfo
	var err error
	if info.Name, err = r.String("client_name"); err != nil {
		return nil, err
	}
	if info.Version, err = r.String("version"); err != nil {
		return nil, err
	}
	if info.Type, err = r.String("type"); err != nil {
		return nil, err
	}
	if info.URL, err = r.String("url"); err != nil {
		return nil, err
	}
	if !slices.Contains(clientTypes, info.Type) {
		return nil, BadRequest("Invalid client type %q: use one of %v", info.Type, clientTypes)
	}
	if key, _ := r.StringOr("api_key", ""); key != "" && !s.auth.keyOK([]byte(key)) {
		return nil, Errorf(fasthttp.StatusUnauthorized, "Invalid API key")
	}
	c := r.Conn
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.identified {
		return nil, BadRequest("Connection already identified")
	}
	c.identified, c.info = true, info
	s.log.Info("client identified", "conn", c.ID, "client", info.Name, "version", info.Version, "type", info.Type)
	return map[string]int64{"connection_id": c.ID}, nil
}

// serveRPCHTTP serves POST /server/jsonrpc: JSON-RPC over plain HTTP. Errors
// travel inside the JSON-RPC reply with HTTP status 200, as in Moonraker.
func (s *Server) serveRPCHTTP(ctx *fasthttp.RequestCtx) {
	body, err := readBody(ctx, s.opts.MaxBodySize)
	if err != nil {
		writeError(ctx, err)
		return
	}
	out := s.handleRPC(body, nil, TransportRPCHTTP, remoteAddr(ctx))
	if out == nil {
		ctx.SetStatusCode(fasthttp.StatusNoContent)
		return
	}
	ctx.SetContentType(contentTypeJSON)
	ctx.SetBody(out)
}
