package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/moonrelay/moonrelay/host/server"
)

// testServer is a real server on a loopback port with test endpoints.
type testServer struct {
	*server.Server
	base string // http://127.0.0.1:port
	ws   string // ws://127.0.0.1:port/websocket
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// start runs a server with opts (Port forced to a free one) and the test
// endpoints; it shuts down in t.Cleanup.
func start(t testing.TB, opts server.Options) *testServer {
	t.Helper()
	opts.Port = -1
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
	}
	if opts.Logger == nil {
		opts.Logger = quietLogger()
	}
	s := server.New(opts)
	registerTestEndpoints(t, s)
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return &testServer{Server: s, base: "http://" + s.Addr(), ws: "ws://" + s.Addr() + "/websocket"}
}

func registerTestEndpoints(t testing.TB, s *server.Server) {
	eps := []server.Endpoint{
		{Path: "/test/echo", Methods: []string{"GET", "POST"}, Handler: func(_ context.Context, r *server.Request) (any, error) {
			return map[string]any{"method": r.Method, "args": r.Args}, nil
		}},
		{Path: "/test/typed", Methods: []string{"POST"}, Handler: func(_ context.Context, r *server.Request) (any, error) {
			n, err := r.Int("count")
			if err != nil {
				return nil, err
			}
			f, err := r.FloatOr("ratio", 0.5)
			if err != nil {
				return nil, err
			}
			b, err := r.BoolOr("flag", false)
			if err != nil {
				return nil, err
			}
			s, err := r.StringOr("name", "none")
			if err != nil {
				return nil, err
			}
			o, err := r.ObjectOr("extra", nil)
			if err != nil {
				return nil, err
			}
			id, err := r.NullableInt("id")
			if err != nil {
				return nil, err
			}
			return map[string]any{"count": n, "ratio": f, "flag": b, "name": s, "extra": o, "id": id}, nil
		}},
		{Path: "/test/notfound", Handler: func(context.Context, *server.Request) (any, error) {
			return nil, server.NotFound("Spool 7 not found")
		}},
		{Path: "/test/boom", Handler: func(context.Context, *server.Request) (any, error) {
			return nil, errors.New("disk on fire")
		}},
		{Path: "/test/panic", Handler: func(context.Context, *server.Request) (any, error) {
			panic("oops")
		}},
		{Path: "/test/small", Methods: []string{"POST"}, MaxBodySize: 1024, Handler: func(_ context.Context, r *server.Request) (any, error) {
			return len(r.Args), nil
		}},
		{Path: "/test/slow", Handler: func(ctx context.Context, r *server.Request) (any, error) {
			ms, _ := r.IntOr("ms", 100)
			select {
			case <-time.After(time.Duration(ms) * time.Millisecond):
			case <-ctx.Done():
			}
			return "done", nil
		}},
		{Path: "/debug/secret", Handler: func(context.Context, *server.Request) (any, error) { return "debug", nil }},
	}
	for _, e := range eps {
		if err := s.Register(e); err != nil {
			t.Fatal(err)
		}
	}
}

// httpDo sends a request and returns status, decoded body and headers.
func httpDo(t testing.TB, client *http.Client, method, url, ctype, body string, hdr ...string) (int, map[string]any, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("%s %s: body is not JSON: %q", method, url, raw)
		}
	}
	return resp.StatusCode, m, resp.Header
}

// clientFrom returns an HTTP client whose connections come from local IP.
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}, Timeout: 10 * time.Second}
}

// wsDial opens a websocket, optionally from a given local IP.
func wsDial(t testing.TB, url string, fromIP string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	if fromIP != "" {
		nd := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(fromIP)}}
		d.NetDialContext = nd.DialContext
	}
	c, resp, err := d.Dial(url, nil)
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, resp, err
}

// rpc sends one JSON-RPC request over ws and returns the reply with that id,
// skipping notifications.
func rpc(t testing.TB, c *websocket.Conn, req string) map[string]any {
	t.Helper()
	if err := c.WriteMessage(websocket.TextMessage, []byte(req)); err != nil {
		t.Fatal(err)
	}
	return readReply(t, c)
}

func readReply(t testing.TB, c *websocket.Conn) map[string]any {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, data, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("read reply: %v", err)
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatalf("reply is not JSON: %q", data)
		}
		if _, isNote := m["method"]; isNote {
			continue
		}
		return m
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
