package server_test

import (
	"encoding/json"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/moonrelay/moonrelay/host/server"
	"github.com/valyala/fasthttp"
)

// benchConns is the number of keep-alive connections the HTTP benchmarks use.
const benchConns = 32

// loadHTTP drives GET url from benchConns keep-alive connections and
// reports requests per second.
func loadHTTP(b *testing.B, addr, path string) {
	client := &fasthttp.HostClient{Addr: addr, MaxConns: benchConns}
	b.SetParallelism((benchConns + 1) / 2) // GOMAXPROCS is 2 here: 32 goroutines
	b.ReportAllocs()
	b.ResetTimer()
	t0 := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		req := fasthttp.AcquireRequest()
		resp := fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.SetRequestURI("http://" + addr + path)
		for pb.Next() {
			if err := client.Do(req, resp); err != nil || resp.StatusCode() != 200 {
				b.Errorf("GET %s: %v %d", path, err, resp.StatusCode())
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(t0).Seconds(), "req/s")
}

// BenchmarkHTTPServerInfo measures GET /server/info over 32 keep-alive
// connections against the real server on loopback.
func BenchmarkHTTPServerInfo(b *testing.B) {
	s := start(b, server.Options{Version: "bench"})
	loadHTTP(b, s.Addr(), "/server/info")
}

// BenchmarkHTTPBaselineNetHTTP serves the same server.info JSON from a
// net/http server with encoding/json: the baseline for the ratio.
func BenchmarkHTTPBaselineNetHTTP(b *testing.B) {
	s := server.New(server.Options{Version: "bench", Logger: quietLogger()})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := s.Info()
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		_ = json.NewEncoder(w).Encode(map[string]any{"result": &info})
	})}
	go hs.Serve(ln)
	b.Cleanup(func() { hs.Close() })
	loadHTTP(b, ln.Addr().String(), "/server/info")
}

// BenchmarkWebsocketPipelined sends server.info requests on one websocket
// without waiting for replies, and reports messages per second.
func BenchmarkWebsocketPipelined(b *testing.B) {
	s := start(b, server.Options{Version: "bench", WebsocketQueue: 4096})
	c, _, err := websocket.DefaultDialer.Dial(s.ws, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	msg := []byte(`{"jsonrpc":"2.0","method":"server.info","id":1}`)
	b.ReportAllocs()
	b.ResetTimer()
	t0 := time.Now()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < b.N; i++ {
			if err := c.WriteMessage(websocket.TextMessage, msg); err != nil {
				b.Error(err)
				return
			}
		}
	}()
	for i := 0; i < b.N; i++ {
		if _, _, err := c.ReadMessage(); err != nil {
			b.Fatal(err)
		}
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(t0).Seconds(), "msg/s")
}
