//go:build !race

package server

import (
	"io"
	"log/slog"
	"testing"

	"github.com/valyala/fasthttp"
)

func newQuiet() *Server {
	return New(Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

// serveInProcess runs GET path through the full handler chain (CORS, auth,
// router, args, handler, envelope) without a network.
func serveInProcess(s *Server, ctx *fasthttp.RequestCtx) {
	ctx.Response.Reset()
	s.serveHTTP(ctx)
}

func newCtx(path string) *fasthttp.RequestCtx {
	var ctx fasthttp.RequestCtx
	var req fasthttp.Request
	req.SetRequestURI(path)
	req.Header.SetMethod("GET")
	ctx.Init(&req, nil, nil)
	return &ctx
}

// TestEnvelopeAllocs guards the hot path: GET /server/info through the
// whole chain must stay within 10 allocations.
func TestEnvelopeAllocs(t *testing.T) {
	s := newQuiet()
	ctx := newCtx("/server/info")
	ctx.SetRemoteAddr(localTCP)
	serveInProcess(s, ctx)
	if ctx.Response.StatusCode() != 200 {
		t.Fatalf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
	allocs := testing.AllocsPerRun(200, func() { serveInProcess(s, ctx) })
	if allocs > 10 {
		t.Errorf("GET /server/info: %v allocs/op, want <= 10", allocs)
	}
}

// BenchmarkEnvelopeInProcess measures the handler chain alone.
func BenchmarkEnvelopeInProcess(b *testing.B) {
	s := newQuiet()
	ctx := newCtx("/server/info")
	ctx.SetRemoteAddr(localTCP)
	b.ReportAllocs()
	for b.Loop() {
		serveInProcess(s, ctx)
	}
}

// BenchmarkRPCInProcess measures JSON-RPC dispatch of server.info alone.
func BenchmarkRPCInProcess(b *testing.B) {
	s := newQuiet()
	msg := []byte(`{"jsonrpc":"2.0","method":"server.info","id":1}`)
	b.ReportAllocs()
	for b.Loop() {
		if s.handleRPC(msg, nil, TransportWebsocket, loopbackAddr) == nil {
			b.Fatal("no reply")
		}
	}
}
