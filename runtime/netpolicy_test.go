package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
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
