package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/moonrelay/moonrelay/host/server"
)

func TestRPCName(t *testing.T) {
	tests := []struct {
		path, method string
		multi        bool
		want         string
	}{
		{"/server/notifiers/list", "GET", false, "server.notifiers.list"},
		{"/server/spoolman/spool_id", "GET", true, "server.spoolman.get_spool_id"},
		{"/server/spoolman/spool_id", "POST", true, "server.spoolman.post_spool_id"},
		{"/debug/notifiers/test", "POST", false, "debug.notifiers.test"},
	}
	for _, tt := range tests {
		if got := server.RPCName(tt.path, tt.method, tt.multi); got != tt.want {
			t.Errorf("RPCName(%q, %q, %v) = %q, want %q", tt.path, tt.method, tt.multi, got, tt.want)
		}
	}
}

// TestSameResultEveryTransport checks that HTTP, websocket and HTTP JSON-RPC
// give the same result for the same call.
func TestSameResultEveryTransport(t *testing.T) {
	s := start(t, server.Options{Version: "v-test"})
	c, _, err := wsDial(t, s.ws, "")
	if err != nil {
		t.Fatal(err)
	}
	// The server registers the websocket just after the handshake; wait, so
	// that websocket_count is the same for every transport.
	waitFor(t, func() bool { return s.WebsocketCount() == 1 })
	cases := []struct {
		name, httpMethod, path, body, rpcMethod, params string
	}{
		{"info", "GET", "/server/info", "", "server.info", `{}`},
		{"typed post", "POST", "/test/typed", `{"count":"7","ratio":2,"flag":"TRUE","name":5,"extra":{"k":[1,2]},"id":null}`, "test.typed", `{"count":"7","ratio":2,"flag":"TRUE","name":5,"extra":{"k":[1,2]},"id":null}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body, _ := httpDo(t, nil, tc.httpMethod, s.base+tc.path, "application/json", tc.body)
			if status != 200 {
				t.Fatalf("HTTP status %d: %v", status, body)
			}
			ws := rpc(t, c, fmt.Sprintf(`{"jsonrpc":"2.0","method":%q,"params":%s,"id":42}`, tc.rpcMethod, tc.params))
			if ws["id"] != float64(42) {
				t.Fatalf("reply id = %v, want 42", ws["id"])
			}
			if !reflect.DeepEqual(body["result"], ws["result"]) {
				t.Errorf("HTTP result %v\nwebsocket result %v", body["result"], ws["result"])
			}
			status, rh, _ := httpDo(t, nil, "POST", s.base+"/server/jsonrpc", "application/json",
				fmt.Sprintf(`{"jsonrpc":"2.0","method":%q,"params":%s,"id":"x"}`, tc.rpcMethod, tc.params))
			if status != 200 || !reflect.DeepEqual(body["result"], rh["result"]) {
				t.Errorf("jsonrpc-http %d %v, want %v", status, rh, body["result"])
			}
		})
	}
}

func TestTypedArguments(t *testing.T) {
	s := start(t, server.Options{})
	tests := []struct {
		name   string
		body   string
		status int
		want   string // substring of result or error message
	}{
		{"ints from text", `{"count":"7"}`, 200, `"count":7`},
		{"float truncates to int", `{"count":2.5}`, 200, `"count":2`},
		{"true is 1", `{"count":true}`, 200, `"count":1`},
		{"missing required", `{}`, 400, `No data for argument: count`},
		{"not a number", `{"count":"abc"}`, 400, `Unable to convert argument [count] to int: value received: abc`},
		{"null int", `{"count":null}`, 400, `Unable to convert argument [count] to int: value received: null`},
		{"bool rejects 1", `{"count":1,"flag":1}`, 400, `Unable to convert argument [flag] to bool: value received: 1`},
		{"bool text", `{"count":1,"flag":"false"}`, 200, `"flag":false`},
		{"nullable null", `{"count":1,"id":null}`, 200, `"id":null`},
		{"nullable text", `{"count":1,"id":"12"}`, 200, `"id":12`},
		{"object wrong", `{"count":1,"extra":[1]}`, 400, `Unable to convert argument [extra] to object`},
		{"malformed JSON", `{"count":`, 400, `The request body is not valid JSON`},
		{"JSON not an object", `[1,2]`, 400, `The request body must be a JSON object`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, _ := httpDo(t, nil, "POST", s.base+"/test/typed", "application/json", tt.body)
			got := mustJSON(body)
			if status != tt.status || !strings.Contains(got, tt.want) {
				t.Errorf("status %d body %s, want %d containing %q", status, got, tt.status, tt.want)
			}
			if status != 200 {
				e, _ := body["error"].(map[string]any)
				if e == nil || e["code"] != float64(status) {
					t.Errorf("error envelope %s lacks code %d", got, status)
				}
			}
		})
	}
	t.Run("query string with type hints", func(t *testing.T) {
		status, body, _ := httpDo(t, nil, "POST", s.base+"/test/typed?count:int=4&flag:bool=true&ratio:float=0.25", "", "")
		got := mustJSON(body["result"])
		if status != 200 || !strings.Contains(got, `"count":4`) || !strings.Contains(got, `"flag":true`) || !strings.Contains(got, `"ratio":0.25`) {
			t.Errorf("status %d result %s", status, got)
		}
	})
	t.Run("form body", func(t *testing.T) {
		status, body, _ := httpDo(t, nil, "POST", s.base+"/test/typed", "application/x-www-form-urlencoded", "count=9&name=benchy")
		got := mustJSON(body["result"])
		if status != 200 || !strings.Contains(got, `"count":9`) || !strings.Contains(got, `"name":"benchy"`) {
			t.Errorf("status %d result %s", status, got)
		}
	})
	t.Run("body overrides query", func(t *testing.T) {
		_, body, _ := httpDo(t, nil, "POST", s.base+"/test/typed?count=1", "application/json", `{"count":2}`)
		if got := mustJSON(body["result"]); !strings.Contains(got, `"count":2`) {
			t.Errorf("result %s, want count 2", got)
		}
	})
}

func TestHTTPErrors(t *testing.T) {
	s := start(t, server.Options{})
	tests := []struct {
		name, method, path, ctype, body string
		status                          int
		msg                             string
	}{
		{"unknown path", "GET", "/server/nope", "", "", 404, "Not Found"},
		{"wrong method", "DELETE", "/server/info", "", "", 405, "Method Not Allowed"},
		{"resource not found", "GET", "/test/notfound", "", "", 404, "Spool 7 not found"},
		{"internal error", "GET", "/test/boom", "", "", 500, "Internal Server Error: disk on fire"},
		{"panic", "GET", "/test/panic", "", "", 500, "Internal Server Error"},
		{"too large", "POST", "/test/small", "application/json", `{"a":"` + strings.Repeat("x", 2<<20) + `"}`, 413, "Request body is larger than the 1 KiB this endpoint accepts"},
		{"debug off", "GET", "/debug/secret", "", "", 404, "Not Found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, hdr := httpDo(t, nil, tt.method, s.base+tt.path, tt.ctype, tt.body)
			e, _ := body["error"].(map[string]any)
			if status != tt.status || e == nil || e["code"] != float64(tt.status) || e["message"] != tt.msg {
				t.Fatalf("got %d %v, want %d %q", status, body, tt.status, tt.msg)
			}
			if hdr.Get("Etag") != "" {
				t.Errorf("error response carries an Etag")
			}
			if strings.Contains(mustJSON(body), "goroutine") {
				t.Errorf("stack trace leaked: %v", body)
			}
		})
	}
	// The server survives all of the above.
	if status, _, _ := httpDo(t, nil, "GET", s.base+"/server/info", "", ""); status != 200 {
		t.Fatalf("server/info after errors: %d", status)
	}
}

func TestTooLargeChunkedBody(t *testing.T) {
	s := start(t, server.Options{})
	// No Content-Length: the limit must hold on the stream too.
	pr, pw := io.Pipe()
	go func() {
		pw.Write([]byte(`{"a":"`))
		for i := 0; i < 64; i++ {
			pw.Write(bytes.Repeat([]byte("x"), 32<<10))
		}
		pw.Write([]byte(`"}`))
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", s.base+"/test/small", pr)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Fatalf("status %d, want 413", resp.StatusCode)
	}
}

func TestEtag(t *testing.T) {
	s := start(t, server.Options{})
	status, _, hdr := httpDo(t, nil, "GET", s.base+"/test/echo?x=1", "", "")
	tag := hdr.Get("Etag")
	if status != 200 || len(tag) != 42 {
		t.Fatalf("status %d etag %q", status, tag)
	}
	req, _ := http.NewRequest("GET", s.base+"/test/echo?x=1", nil)
	req.Header.Set("If-None-Match", tag)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 304 {
		t.Errorf("If-None-Match status %d, want 304", resp.StatusCode)
	}
}

func TestDebugEndpoints(t *testing.T) {
	s := start(t, server.Options{Debug: true})
	status, body, _ := httpDo(t, nil, "GET", s.base+"/debug/secret", "", "")
	if status != 200 || body["result"] != "debug" {
		t.Fatalf("debug endpoint: %d %v", status, body)
	}
}

func TestJSONRPCErrors(t *testing.T) {
	s := start(t, server.Options{})
	c, _, err := wsDial(t, s.ws, "")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, req string
		code      float64
		msg       string
		id        any
	}{
		{"parse error", `{"jsonrpc":"2.0",`, -32700, "Parse error", nil},
		{"no version", `{"method":"server.info","id":3}`, -32600, "Invalid Request", float64(3)},
		{"wrong version", `{"jsonrpc":"1.0","method":"server.info","id":4}`, -32600, "Invalid Request", float64(4)},
		{"not an object", `"hello"`, -32600, "Invalid Request", nil},
		{"unknown method", `{"jsonrpc":"2.0","method":"server.nope","id":5}`, -32601, "Method not found", float64(5)},
		{"params list", `{"jsonrpc":"2.0","method":"server.info","params":[1],"id":6}`, -32602, "Invalid params: params must be an object of named arguments", float64(6)},
		{"404 is -32601", `{"jsonrpc":"2.0","method":"test.notfound","id":7}`, -32601, "Spool 7 not found", float64(7)},
		{"400 stays", `{"jsonrpc":"2.0","method":"test.typed","params":{},"id":8}`, 400, "No data for argument: count", float64(8)},
		{"500 stays", `{"jsonrpc":"2.0","method":"test.boom","id":"s"}`, 500, "Internal Server Error: disk on fire", "s"},
		{"http-only raw route", `{"jsonrpc":"2.0","method":"server.jsonrpc","id":9}`, -32601, "Method not found", float64(9)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := rpc(t, c, tt.req)
			e, _ := m["error"].(map[string]any)
			if e == nil || e["code"] != tt.code || e["message"] != tt.msg || m["id"] != tt.id || m["jsonrpc"] != "2.0" {
				t.Errorf("reply %v, want code %v %q id %v", m, tt.code, tt.msg, tt.id)
			}
		})
	}
	t.Run("notification gets no reply", func(t *testing.T) {
		c.WriteMessage(websocket.TextMessage, []byte(`{"jsonrpc":"2.0","method":"server.info"}`))
		m := rpc(t, c, `{"jsonrpc":"2.0","method":"server.websocket.id","id":10}`)
		if m["id"] != float64(10) {
			t.Errorf("first reply after a notification is %v", m)
		}
	})
	t.Run("batch", func(t *testing.T) {
		c.WriteMessage(websocket.TextMessage, []byte(`[{"jsonrpc":"2.0","method":"server.info","id":1},{"jsonrpc":"2.0","method":"server.info"},{"jsonrpc":"2.0","method":"nope","id":2},{"bad":1}]`))
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, data, err := c.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		var replies []map[string]any
		if err := json.Unmarshal(data, &replies); err != nil {
			t.Fatalf("batch reply %q: %v", data, err)
		}
		if len(replies) != 3 || replies[0]["id"] != float64(1) || replies[0]["result"] == nil ||
			replies[1]["error"].(map[string]any)["code"] != float64(-32601) ||
			replies[2]["error"].(map[string]any)["code"] != float64(-32600) {
			t.Errorf("batch replies %s", data)
		}
	})
	t.Run("empty batch", func(t *testing.T) {
		m := rpc(t, c, `[]`)
		if m["error"].(map[string]any)["code"] != float64(-32600) {
			t.Errorf("empty batch reply %v", m)
		}
	})
	t.Run("http jsonrpc errors are status 200", func(t *testing.T) {
		status, body, _ := httpDo(t, nil, "POST", s.base+"/server/jsonrpc", "application/json", `{"jsonrpc":"2.0","method":"nope","id":1}`)
		if status != 200 || body["error"].(map[string]any)["code"] != float64(-32601) {
			t.Errorf("got %d %v", status, body)
		}
	})
}

func TestIdentify(t *testing.T) {
	s := start(t, server.Options{APIKey: "k"})
	c, _, err := wsDial(t, s.ws, "")
	if err != nil {
		t.Fatal(err)
	}
	bad := rpc(t, c, `{"jsonrpc":"2.0","method":"server.connection.identify","params":{"client_name":"x","version":"1","type":"toaster","url":"u"},"id":1}`)
	if bad["error"] == nil {
		t.Fatalf("bad type accepted: %v", bad)
	}
	m := rpc(t, c, `{"jsonrpc":"2.0","method":"server.connection.identify","params":{"client_name":"mainsail","version":"2.9","type":"web","url":"https://x"},"id":2}`)
	res, _ := m["result"].(map[string]any)
	if res == nil || res["connection_id"] == nil {
		t.Fatalf("identify: %v", m)
	}
	wsid := rpc(t, c, `{"jsonrpc":"2.0","method":"server.websocket.id","id":3}`)
	if wsid["result"].(map[string]any)["websocket_id"] != res["connection_id"] {
		t.Errorf("websocket id %v != connection id %v", wsid, res)
	}
	again := rpc(t, c, `{"jsonrpc":"2.0","method":"server.connection.identify","params":{"client_name":"mainsail","version":"2.9","type":"web","url":"https://x"},"id":4}`)
	if again["error"] == nil {
		t.Errorf("second identify accepted: %v", again)
	}
	status, body, _ := httpDo(t, nil, "POST", s.base+"/server/connection/identify", "application/json", `{"client_name":"a","version":"1","type":"web","url":"u"}`)
	if status != 400 {
		t.Errorf("identify over HTTP: %d %v", status, body)
	}
}

func TestBroadcastAndSlowClient(t *testing.T) {
	s := start(t, server.Options{WebsocketQueue: 64})
	// The slow client has a tiny receive buffer, as a phone on bad wifi
	// would, so that the kernel cannot hide that it never reads.
	sd := websocket.Dialer{NetDial: func(network, addr string) (net.Conn, error) {
		c, err := net.Dial(network, addr)
		if err == nil {
			_ = c.(*net.TCPConn).SetReadBuffer(4096)
		}
		return c, err
	}}
	slow, _, err := sd.Dial(s.ws, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	fast, _, err := wsDial(t, s.ws, "")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return s.WebsocketCount() == 2 })
	const n = 2000
	payload := strings.Repeat("p", 4<<10) // fills the slow client's socket buffers quickly
	var got []float64
	var received atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = fast.SetReadDeadline(time.Now().Add(20 * time.Second))
		for len(got) < n {
			_, data, err := fast.ReadMessage()
			if err != nil {
				return
			}
			var m struct {
				Method string
				Params []struct{ Seq float64 }
			}
			json.Unmarshal(data, &m)
			if m.Method == "notify_test" {
				got = append(got, m.Params[0].Seq)
				received.Add(1)
			}
		}
	}()
	start := time.Now()
	for i := 0; i < n; i++ {
		if err := s.Broadcast("notify_test", map[string]any{"seq": i, "pad": payload}); err != nil {
			t.Fatal(err)
		}
		// Pace on the fast reader (it reads as fast as it can) so that only the
		// client that never reads can fall behind.
		for int64(i)-received.Load() > 32 && time.Since(start) < 20*time.Second {
			time.Sleep(100 * time.Microsecond)
		}
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("broadcasting blocked for %v", d)
	}
	wg.Wait()
	if len(got) != n {
		t.Fatalf("fast client got %d of %d notifications", len(got), n)
	}
	for i, seq := range got {
		if seq != float64(i) {
			t.Fatalf("notification %d has seq %v: out of order", i, seq)
		}
	}
	// The slow client was dropped.
	waitFor(t, func() bool { return s.WebsocketCount() == 1 })
	_ = slow.SetReadDeadline(time.Now().Add(5 * time.Second))
	var closeErr error
	for closeErr == nil {
		_, _, closeErr = slow.ReadMessage()
	}
	// Its buffers are full, so the 1013 close frame may not reach it; the
	// connection must end either way.
	if closeErr == nil {
		t.Errorf("slow client still connected")
	}
}

func TestWebsocketMessageTooBig(t *testing.T) {
	s := start(t, server.Options{MaxWebsocketMessage: 1024})
	c, _, err := wsDial(t, s.ws, "")
	if err != nil {
		t.Fatal(err)
	}
	c.WriteMessage(websocket.TextMessage, []byte(`{"jsonrpc":"2.0","method":"server.info","params":{"x":"`+strings.Repeat("a", 4096)+`"},"id":1}`))
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err = c.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
		t.Fatalf("err = %v, want close 1009", err)
	}
	// Other clients are unaffected.
	c2, _, err := wsDial(t, s.ws, "")
	if err != nil {
		t.Fatal(err)
	}
	if m := rpc(t, c2, `{"jsonrpc":"2.0","method":"server.info","id":1}`); m["result"] == nil {
		t.Fatalf("after 1009: %v", m)
	}
}

func TestClientThatNeverReads(t *testing.T) {
	s := start(t, server.Options{WebsocketQueue: 16, WriteTimeout: 500 * time.Millisecond})
	c, _, err := wsDial(t, s.ws, "")
	if err != nil {
		t.Fatal(err)
	}
	// Pipeline many requests with big replies and never read.
	req := []byte(`{"jsonrpc":"2.0","method":"test.echo.get_echo","params":{"pad":"` + strings.Repeat("z", 64<<10) + `"},"id":1}`)
	_ = req
	msg := []byte(`{"jsonrpc":"2.0","method":"test.get_echo","params":{"pad":"` + strings.Repeat("z", 32<<10) + `"},"id":1}`)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		for i := 0; i < 2000; i++ {
			if c.WriteMessage(websocket.TextMessage, msg) != nil {
				return
			}
		}
	}()
	<-done
	// The server keeps serving others promptly.
	t0 := time.Now()
	if status, _, _ := httpDo(t, nil, "GET", s.base+"/server/info", "", ""); status != 200 {
		t.Fatalf("server/info: %d", status)
	}
	if d := time.Since(t0); d > time.Second {
		t.Errorf("server/info took %v while a client refused to read", d)
	}
	c.Close()
	waitFor(t, func() bool { return s.WebsocketCount() == 0 })
}

func TestAuthorization(t *testing.T) {
	loop := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	s := start(t, server.Options{
		APIKey:         "secret-key",
		Loopback:       loop, // so that 127.0.0.2 counts as another machine
		TrustedClients: []netip.Prefix{netip.MustParsePrefix("127.0.0.3/32")},
	})
	remote := clientFrom("127.0.0.2")
	trusted := clientFrom("127.0.0.3")
	tests := []struct {
		name   string
		client *http.Client
		path   string
		hdr    []string
		status int
	}{
		{"loopback", nil, "/server/info", nil, 200},
		{"remote without key", remote, "/server/info", nil, 401},
		{"remote with wrong key", remote, "/server/info", []string{"X-Api-Key", "nope"}, 401},
		{"remote with key", remote, "/server/info", []string{"X-Api-Key", "secret-key"}, 200},
		{"remote access_token", remote, "/server/info?access_token=secret-key", nil, 200},
		{"trusted client", trusted, "/server/info", nil, 200},
		{"unknown path still 401", remote, "/nope", nil, 401},
		{"api key endpoint", remote, "/access/api_key", []string{"X-Api-Key", "secret-key"}, 200},
		{"api key endpoint refused", remote, "/access/api_key", nil, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, _ := httpDo(t, tt.client, "GET", s.base+tt.path, "", "", tt.hdr...)
			if status != tt.status {
				t.Fatalf("status %d %v, want %d", status, body, tt.status)
			}
			if status == 401 && !strings.Contains(mustJSON(body), "trusted_clients") {
				t.Errorf("401 message does not say how to fix it: %v", body)
			}
		})
	}
	_, body, _ := httpDo(t, remote, "GET", s.base+"/access/api_key", "", "", "X-Api-Key", "secret-key")
	if body["result"] != "secret-key" {
		t.Errorf("api_key = %v", body)
	}
	t.Run("websocket upgrade", func(t *testing.T) {
		if _, resp, err := wsDial(t, s.ws, "127.0.0.2"); err == nil || resp == nil || resp.StatusCode != 401 {
			t.Errorf("unauthorized upgrade: err %v resp %v", err, resp)
		}
		c, _, err := wsDial(t, s.ws+"?access_token=secret-key", "127.0.0.2")
		if err != nil {
			t.Fatalf("upgrade with access_token: %v", err)
		}
		if m := rpc(t, c, `{"jsonrpc":"2.0","method":"server.info","id":1}`); m["result"] == nil {
			t.Errorf("rpc after auth: %v", m)
		}
	})
	t.Run("oneshot token", func(t *testing.T) {
		_, body, _ := httpDo(t, remote, "GET", s.base+"/access/oneshot_token", "", "", "X-Api-Key", "secret-key")
		tok, _ := body["result"].(string)
		if len(tok) != 32 {
			t.Fatalf("token %v", body)
		}
		if _, _, err := wsDial(t, s.ws+"?token="+tok, "127.0.0.2"); err != nil {
			t.Fatalf("upgrade with oneshot token: %v", err)
		}
		if _, resp, err := wsDial(t, s.ws+"?token="+tok, "127.0.0.2"); err == nil || resp.StatusCode != 401 {
			t.Errorf("oneshot token worked twice")
		}
	})
}

func TestCORS(t *testing.T) {
	s := start(t, server.Options{CorsDomains: []string{"*.local", "http://my.printer:*"}})
	tests := []struct {
		origin string
		allow  bool
	}{
		{"http://voron.local", true},
		{"https://voron.local", true},
		{"http://my.printer:8080", true},
		{"http://evil.example", false},
	}
	for _, tt := range tests {
		_, _, hdr := httpDo(t, nil, "GET", s.base+"/server/info", "", "", "Origin", tt.origin)
		if got := hdr.Get("Access-Control-Allow-Origin") == tt.origin; got != tt.allow {
			t.Errorf("origin %s allowed=%v, want %v", tt.origin, got, tt.allow)
		}
	}
	req, _ := http.NewRequest("OPTIONS", s.base+"/server/spoolman/spool_id", nil)
	req.Header.Set("Origin", "http://voron.local")
	req.Header.Set("Access-Control-Request-Method", "POST")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 || !strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "POST") {
		t.Errorf("preflight %d %v", resp.StatusCode, resp.Header)
	}
}

func TestShutdownClosesWebsockets(t *testing.T) {
	s := start(t, server.Options{})
	c, _, err := wsDial(t, s.ws, "")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return s.WebsocketCount() == 1 })
	t0 := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Errorf("shutdown took %v", d)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err = c.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Errorf("close = %v, want 1001", err)
	}
}

func TestServerInfoFields(t *testing.T) {
	s := start(t, server.Options{Version: "v0.1.0"})
	s.AddComponent("notifier")
	s.FailComponent("spoolman", "[spoolman] server: missing")
	s.AddDirectory("gcodes")
	s.SetKlippyStatus(func() (bool, string) { return true, "ready" })
	_, body, _ := httpDo(t, nil, "GET", s.base+"/server/info", "", "")
	res := body["result"].(map[string]any)
	for _, k := range []string{"klippy_connected", "klippy_state", "components", "failed_components", "registered_directories", "warnings", "websocket_count", "moonraker_version", "api_version", "api_version_string"} {
		if _, ok := res[k]; !ok {
			t.Errorf("server.info lacks %s", k)
		}
	}
	if res["klippy_state"] != "ready" || res["moonraker_version"] != "v0.1.0" || res["api_version_string"] != "1.5.0" {
		t.Errorf("server.info = %v", res)
	}
	if mustJSON(res["failed_components"]) != `["spoolman"]` || mustJSON(res["warnings"]) != `["[spoolman] server: missing"]` {
		t.Errorf("failed/warnings = %v %v", res["failed_components"], res["warnings"])
	}
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
