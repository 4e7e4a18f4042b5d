package app

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/moonrelay/moonrelay/host/server"
	"github.com/valyala/fasthttp"
)

// sinkKeep is how many received notifications the sink remembers, and
// sinkMaxBody how much of each it reads.
const (
	sinkKeep    = 50
	sinkMaxBody = 1 << 20
)

// notificationSink is the local notification sink of the demo (debug
// only): POST /debug/notifications records what a json:// or echo://
// notifier sends, GET lists it, and each arrival is logged, so a newcomer
// sees notifications without any outside service.
type notificationSink struct {
	log *slog.Logger
	mu  sync.Mutex
	got []sinkEntry
}

type sinkEntry struct {
	Time        time.Time `json:"time"`
	ContentType string    `json:"content_type"`
	Body        any       `json:"body"`
}

func (s *notificationSink) register(srv *server.Server) error {
	if err := srv.Register(server.Endpoint{Path: "/debug/notifications", Methods: []string{"POST"}, Raw: s.receive}); err != nil {
		return err
	}
	return srv.Register(server.Endpoint{Path: "/debug/notifications", Methods: []string{"GET"}, Handler: s.list, RPCNames: []string{"debug.notifications.list"}})
}

func (s *notificationSink) receive(ctx *fasthttp.RequestCtx) {
	var raw []byte
	if ctx.Request.IsBodyStream() {
		raw, _ = io.ReadAll(io.LimitReader(ctx.RequestBodyStream(), sinkMaxBody))
	} else {
		raw = append(raw, ctx.Request.Body()...)
	}
	e := sinkEntry{Time: time.Now(), ContentType: string(ctx.Request.Header.ContentType()), Body: string(raw)}
	var v any
	if json.Unmarshal(raw, &v) == nil {
		e.Body = v
	}
	s.mu.Lock()
	s.got = append(s.got, e)
	if len(s.got) > sinkKeep {
		s.got = s.got[len(s.got)-sinkKeep:]
	}
	s.mu.Unlock()
	s.log.Info("notification received by the local sink", "body", string(raw))
	server.WriteJSON(ctx, fasthttp.StatusOK, map[string]string{"status": "ok"})
}

func (s *notificationSink) list(context.Context, *server.Request) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return map[string]any{"notifications": append([]sinkEntry{}, s.got...)}, nil
}
