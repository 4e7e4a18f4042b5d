package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/moonrelay/moonrelay/guests/sdk"
)

// scriptedResolver answers each lookup with the next scripted answer and
// records the names it was asked.
type scriptedResolver struct {
	mu      sync.Mutex
	answers [][]netip.Addr
	asked   []string
}

func (r *scriptedResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.asked = append(r.asked, host)
	if len(r.answers) == 0 {
		return nil, fmt.Errorf("no such host %s", host)
	}
	a := r.answers[0]
	if len(r.answers) > 1 {
		r.answers = r.answers[1:]
	}
	return a, nil
}

// policyCall makes a call state for a guest with the given manifest hosts
// and user_host, as Send would.
func policyCall(t *testing.T, res Resolver, dialed *[]string, hosts []string, userHost bool, userURL string, lim Limits) *callState {
	t.Helper()
	e, err := New(context.Background(), Options{Resolver: res, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close(context.Background()) })
	if dialed != nil {
		e.dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			*dialed = append(*dialed, addr)
			host, _, _ := net.SplitHostPort(addr)
			if ip, _ := netip.ParseAddr(host); !ip.IsLoopback() {
				return nil, errors.New("test dialer: only loopback is dialed")
			}
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}
	}
	g := &guest{e: e, info: GuestInfo{Manifest: sdk.Manifest{Name: "t", Hosts: hosts, UserHost: userHost}}}
	cs := &callState{e: e, g: g, lim: lim.withDefaults(defaultLimits), logger: quietLogger()}
	cs.allowHosts(userURL, nil)
	t.Cleanup(cs.closeHTTP)
	return cs
}

func request(method, url string) []byte {
	b, _ := json.Marshal(sdk.HTTPRequest{Method: method, URL: url})
	return b
}

func TestNetworkPolicy(t *testing.T) {
	big := strings.Repeat("x", 2048)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			fmt.Fprint(w, "fine")
		case "/redirect-inside":
			http.Redirect(w, r, "/ok", http.StatusFound)
		case "/redirect-outside":
			http.Redirect(w, r, "http://evil.example/x", http.StatusFound)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		case "/big":
			fmt.Fprint(w, big)
		case "/slow":
			time.Sleep(time.Second)
		}
	}))
	defer srv.Close()
	base := srv.URL // http://127.0.0.1:port
	user := "echo://" + strings.TrimPrefix(base, "http://") + "/"
	lim := Limits{MaxResponseBody: 1024, RequestTimeout: 200 * time.Millisecond, MaxRequests: 20}

	tests := []struct {
		name     string
		url      string
		body     int
		wantCode int
		wantErr  string
	}{
		{"own loopback host", base + "/ok", 0, 200, ""},
		{"redirect within allowed hosts", base + "/redirect-inside", 0, 200, ""},
		{"redirect to a forbidden host", base + "/redirect-outside", 0, 601,
			"GET " + base + "/redirect-outside: redirect to http://evil.example/x refused: host evil.example is not allowed (allowed: 127.0.0.1)"},
		{"too many redirects", base + "/loop", 0, 601, "GET " + base + "/loop: more than 3 redirects"},
		{"host not allowed", "http://evil.example/", 0, 601, "GET http://evil.example/: host evil.example is not allowed (allowed: 127.0.0.1)"},
		{"scheme not allowed", "ftp://127.0.0.1/", 0, 601, `GET ftp://127.0.0.1/: scheme "ftp" is not allowed (only http and https)`},
		{"response over the cap", base + "/big", 0, 603, "GET " + base + "/big: response body over the 1024-byte limit"},
		{"request over the cap", base + "/ok", 11 << 20, 605, "request body over the 10485760-byte limit"},
		{"timeout", base + "/slow", 0, 602, "GET " + base + "/slow: no answer within 200ms"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cs := policyCall(t, nil, nil, nil, true, user, lim)
			resp, code := cs.doHTTP(context.Background(), request("GET", tc.url), make([]byte, tc.body))
			if code != tc.wantCode || cs.lastErr != tc.wantErr {
				t.Fatalf("code %d, error %q\nwant %d, %q", code, cs.lastErr, tc.wantCode, tc.wantErr)
			}
			if code == 200 && !strings.HasSuffix(string(resp), "fine") {
				t.Errorf("response = %q", resp)
			}
			if wantViolation := code == 601; (cs.violation != "") != wantViolation {
				t.Errorf("violation = %q, want one: %v", cs.violation, wantViolation)
			}
		})
	}

	t.Run("budget", func(t *testing.T) {
		cs := policyCall(t, nil, nil, nil, true, user, Limits{MaxRequests: 2})
		for i, want := range []int{200, 200, 606} {
			if _, code := cs.doHTTP(context.Background(), request("GET", base+"/ok"), nil); code != want {
				t.Fatalf("request %d: code %d, want %d (%s)", i+1, code, want, cs.lastErr)
			}
		}
		if cs.lastErr != "request budget of 2 requests per call exhausted" {
			t.Errorf("lastErr = %q", cs.lastErr)
		}
	})
}

// TestDialPolicy checks the address dialed: resolved once, checked, and
// the checked address dialed, by host class. No test dials anything but
// loopback: the test dialer refuses other addresses after recording them.
func TestDialPolicy(t *testing.T) {
	addr := netip.MustParseAddr
	tests := []struct {
		name     string
		hosts    []string
		userURL  string
		url      string
		answers  [][]netip.Addr
		wantCode int
		wantErr  string
		wantDial string
	}{
		{name: "DNS answer changes between check and dial", hosts: []string{"svc.example"}, url: "http://svc.example/",
			answers:  [][]netip.Addr{{addr("203.0.113.7")}, {addr("127.0.0.1")}},
			wantCode: 604, wantErr: "GET http://svc.example/: test dialer: only loopback is dialed", wantDial: "203.0.113.7:80"},
		{name: "service host resolving to loopback", hosts: []string{"svc.example"}, url: "http://svc.example/",
			answers:  [][]netip.Addr{{addr("127.0.0.1")}},
			wantCode: 601, wantErr: "GET http://svc.example/: host svc.example resolves to 127.0.0.1 (loopback), not allowed for this host"},
		{name: "service host resolving to the LAN", hosts: []string{"svc.example"}, url: "http://svc.example/",
			answers:  [][]netip.Addr{{addr("192.168.1.5")}},
			wantCode: 601, wantErr: "GET http://svc.example/: host svc.example resolves to 192.168.1.5 (private), not allowed for this host"},
		{name: "user host on the LAN", userURL: "ntfy://printer.lan/topic", url: "http://printer.lan/topic",
			answers:  [][]netip.Addr{{addr("192.168.1.5")}},
			wantCode: 604, wantErr: "GET http://printer.lan/topic: test dialer: only loopback is dialed", wantDial: "192.168.1.5:80"},
		{name: "user host resolving to metadata", userURL: "ntfy://printer.lan/topic", url: "http://printer.lan/topic",
			answers:  [][]netip.Addr{{addr("169.254.169.254")}},
			wantCode: 601, wantErr: "GET http://printer.lan/topic: host printer.lan resolves to 169.254.169.254 (link-local), not allowed for this host"},
		{name: "user host name resolving to loopback", userURL: "ntfy://printer.lan/topic", url: "http://printer.lan/topic",
			answers:  [][]netip.Addr{{addr("127.0.0.1")}},
			wantCode: 601, wantErr: "GET http://printer.lan/topic: host printer.lan resolves to 127.0.0.1 (loopback), not allowed for this host"},
		{name: "skips a refused address for an allowed one", hosts: []string{"svc.example"}, url: "http://svc.example/",
			answers:  [][]netip.Addr{{addr("10.0.0.1"), addr("203.0.113.9")}},
			wantCode: 604, wantErr: "GET http://svc.example/: test dialer: only loopback is dialed", wantDial: "203.0.113.9:80"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := &scriptedResolver{answers: tc.answers}
			var dialed []string
			cs := policyCall(t, res, &dialed, tc.hosts, tc.userURL != "", tc.userURL, Limits{})
			_, code := cs.doHTTP(context.Background(), request("GET", tc.url), nil)
			if code != tc.wantCode || cs.lastErr != tc.wantErr {
				t.Fatalf("code %d, error %q\nwant %d, %q", code, cs.lastErr, tc.wantCode, tc.wantErr)
			}
			if got := strings.Join(dialed, ","); got != tc.wantDial {
				t.Errorf("dialed %q, want %q", got, tc.wantDial)
			}
			if len(res.asked) != 1 {
				t.Errorf("resolved %d times (%v), want once", len(res.asked), res.asked)
			}
		})
	}
}

// countingServer is a loopback HTTP server that counts the connections it
// accepted and those that were closed since.
type countingServer struct {
	*httptest.Server
	opened, closed atomic.Int64
}

func newCountingServer(t *testing.T) *countingServer {
	t.Helper()
	s := &countingServer{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		fmt.Fprint(w, "fine")
	}))
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			s.opened.Add(1)
		case http.StateClosed, http.StateHijacked:
			s.closed.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// port returns the server's port.
func (s *countingServer) port() string {
	_, p, _ := net.SplitHostPort(s.Listener.Addr().String())
	return p
}

// waitClosed waits until the server saw want connections closed.
func (s *countingServer) waitClosed(t *testing.T, want int64) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); s.closed.Load() < want; {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d connections closed", s.closed.Load(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestConnectionReuse sends with the echo guest (http=yes POSTs to the
// notifier URL's host) to one loopback server and counts the connections
// it accepted: calls with the same policy share one, calls with another
// policy never use it, and a call whose policy refuses the address is
// refused even though a connection to it is pooled.
func TestConnectionReuse(t *testing.T) {
	type step struct {
		host    string   // the notifier URL's host
		extra   []string // Call.ExtraHosts
		wantErr string   // in Send's error; empty: delivered
	}
	loopbackRefused := "policy violation: POST http://printer.test:PORT/hook: host printer.test resolves to 127.0.0.1 (loopback), not allowed for this host"
	tests := []struct {
		name      string
		steps     []step
		wantConns int64
	}{
		{"same notifier twice shares one connection",
			[]step{{host: "127.0.0.1"}, {host: "127.0.0.1"}}, 1},
		{"same notifier five times shares one connection",
			[]step{{host: "127.0.0.1"}, {host: "127.0.0.1"}, {host: "127.0.0.1"}, {host: "127.0.0.1"}, {host: "127.0.0.1"}}, 1},
		{"same host under another policy gets its own connection",
			[]step{{host: "127.0.0.1"}, {host: "127.0.0.1", extra: []string{"other.test"}}, {host: "127.0.0.1"}, {host: "127.0.0.1", extra: []string{"other.test"}}}, 2},
		{"host pooled as an extra host is refused as the user's host",
			[]step{{host: "printer.test", extra: []string{"printer.test"}}, {host: "printer.test", wantErr: loopbackRefused}, {host: "printer.test", extra: []string{"printer.test"}}}, 1},
		{"refused first, then allowed as an extra host",
			[]step{{host: "printer.test", wantErr: loopbackRefused}, {host: "printer.test", extra: []string{"printer.test"}}, {host: "printer.test", wantErr: loopbackRefused}}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newCountingServer(t)
			res := &scriptedResolver{answers: [][]netip.Addr{{netip.MustParseAddr("127.0.0.1")}}}
			e := newEngine(t, Options{Resolver: res}, map[string]string{"echo": guestWasm(t, echoDir)})
			for i, s := range tc.steps {
				req := sdk.SendRequest{URL: "echo://" + net.JoinHostPort(s.host, srv.port()) + "/hook?http=yes", Title: "t", Body: "b"}
				r, err := e.Send(context.Background(), "echo", req, Call{Scope: "s", ExtraHosts: s.extra})
				wantErr := strings.ReplaceAll(s.wantErr, "PORT", srv.port())
				switch {
				case wantErr == "" && err != nil:
					t.Fatalf("call %d: %v", i+1, err)
				case wantErr == "" && !strings.Contains(r.Info, `"http_body":"fine"`):
					t.Fatalf("call %d: result %+v", i+1, r)
				case wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)):
					t.Fatalf("call %d: error %v\nwant one with %q", i+1, err, wantErr)
				}
			}
			if got := srv.opened.Load(); got != tc.wantConns {
				t.Errorf("server accepted %d connections, want %d", got, tc.wantConns)
			}
			if err := e.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			srv.waitClosed(t, srv.opened.Load()) // Close dropped the pooled connections
		})
	}
}

// TestPooledConnectionPolicy checks at the call level that a manifest
// (service) host, pooled to loopback by a call that had it as an extra
// host, is still refused by a call that has it as a service host, and
// reported as a policy violation.
func TestPooledConnectionPolicy(t *testing.T) {
	tests := []struct {
		name      string
		extra     []string
		wantCode  int
		wantErr   string
		wantConns int64
	}{
		{name: "extra host: dialed and pooled", extra: []string{"svc.example"}, wantCode: 200, wantConns: 1},
		{name: "service host: refused despite the pooled connection", wantCode: 601, wantConns: 1,
			wantErr: "GET http://svc.example:PORT/ok: host svc.example resolves to 127.0.0.1 (loopback), not allowed for this host"},
		{name: "extra host again: the pooled connection reused", extra: []string{"svc.example"}, wantCode: 200, wantConns: 1},
	}
	srv := newCountingServer(t)
	res := &scriptedResolver{answers: [][]netip.Addr{{netip.MustParseAddr("127.0.0.1")}}}
	e, err := New(context.Background(), Options{Resolver: res, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close(context.Background()) })
	g := &guest{e: e, info: GuestInfo{Manifest: sdk.Manifest{Name: "t", Hosts: []string{"svc.example"}}}}
	url := "http://" + net.JoinHostPort("svc.example", srv.port()) + "/ok"
	for _, tc := range tests { // in order: each call sees the pool the earlier ones left
		cs := &callState{e: e, g: g, lim: defaultLimits, logger: quietLogger()}
		cs.allowHosts("", tc.extra)
		_, code := cs.doHTTP(context.Background(), request("GET", url), nil)
		cs.closeHTTP()
		wantErr := strings.ReplaceAll(tc.wantErr, "PORT", srv.port())
		if code != tc.wantCode || cs.lastErr != wantErr || cs.violation != wantErr {
			t.Fatalf("%s: code %d, error %q, violation %q\nwant %d, %q", tc.name, code, cs.lastErr, cs.violation, tc.wantCode, wantErr)
		}
		if got := srv.opened.Load(); got != tc.wantConns {
			t.Errorf("%s: server accepted %d connections, want %d", tc.name, got, tc.wantConns)
		}
	}
}

// TestTransportKey checks that the key of the transport cache tells apart
// every pair of policies that dial differently, so they never share a
// connection, and only those.
func TestTransportKey(t *testing.T) {
	type policy struct {
		guest string
		allow map[string]hostClass
	}
	tests := []struct {
		name string
		a, b policy
		same bool
	}{
		{"same guest and policy", policy{"g", map[string]hostClass{"a.example": classService, "b.lan": classUser}},
			policy{"g", map[string]hostClass{"b.lan": classUser, "a.example": classService}}, true},
		{"user host in one, service host in the other", policy{"g", map[string]hostClass{"h.example": classUser}},
			policy{"g", map[string]hostClass{"h.example": classService}}, false},
		{"loopback user host in one, extra host in the other", policy{"g", map[string]hostClass{"localhost": classUserLoopback}},
			policy{"g", map[string]hostClass{"localhost": classExtra}}, false},
		{"one more extra host", policy{"g", map[string]hostClass{"h.example": classService}},
			policy{"g", map[string]hostClass{"h.example": classService, "test.lan": classExtra}}, false},
		{"redirect target allowed in one", policy{"g", map[string]hostClass{"api.example": classService}},
			policy{"g", map[string]hostClass{"api.example": classService, "127.0.0.1": classExtra}}, false},
		{"other guest, same policy", policy{"g1", map[string]hostClass{"h.example": classService}},
			policy{"g2", map[string]hostClass{"h.example": classService}}, false},
		{"no hosts", policy{"g", map[string]hostClass{}}, policy{"g", nil}, true},
		{"host name imitating two entries", policy{"g", map[string]hostClass{"a": classExtra, "b": classExtra}},
			policy{"g", map[string]hostClass{`a"=3 "b`: classExtra}}, false},
		{"guest name imitating a host", policy{"g", map[string]hostClass{"a": classExtra}},
			policy{`g" "a"=3`, map[string]hostClass{}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ka, kb := transportKey(tc.a.guest, tc.a.allow), transportKey(tc.b.guest, tc.b.allow)
			if (ka == kb) != tc.same {
				t.Errorf("keys %s and %s: equal %v, want %v", ka, kb, ka == kb, tc.same)
			}
		})
	}
}

// TestTransportCache checks the bounds: the least recently used transport
// beyond the cap is dropped and its idle connections closed, also one a
// call returned after the drop, and the engine's Close closes the rest.
func TestTransportCache(t *testing.T) {
	srv := newCountingServer(t)
	e, err := New(context.Background(), Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close(context.Background()) })
	c := newTransportCache(2)
	p := &dialPolicy{e: e, allow: map[string]hostClass{"127.0.0.1": classUserLoopback}}
	get := func(key string) *sharedTransport {
		return c.get(key, func() *http.Transport { return newTransport(p) })
	}
	fetch := func(st *sharedTransport) *http.Response {
		t.Helper()
		resp, err := (&http.Client{Transport: st.tr}).Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	done := func(resp *http.Response) {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}

	a := get("a")
	done(fetch(a)) // a's connection is idle in its pool
	if get("a") != a {
		t.Fatal("same key, another transport")
	}
	b := get("b")
	inFlight := fetch(b) // b's connection is busy while b is dropped
	get("c")             // drops a, the least recently used
	srv.waitClosed(t, 1)
	get("b")
	get("d") // drops c; then b, with its response still open
	get("e")
	if n := c.len(); n != 2 {
		t.Fatalf("%d transports cached, want 2", n)
	}
	if !a.dropped || !b.dropped {
		t.Fatalf("dropped: a %v, b %v", a.dropped, b.dropped)
	}
	done(inFlight) // b's connection goes idle in a dropped transport …
	c.release(b)   // … and the call's release closes it
	srv.waitClosed(t, 2)

	c.close()
	if c.len() != 0 {
		t.Fatalf("%d transports cached after close", c.len())
	}
	if st := get("a"); !st.dropped || c.len() != 0 {
		t.Fatal("a transport got after close is kept")
	}
}
