package integration

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moonrelay/moonrelay/host/servertest"
	"github.com/moonrelay/moonrelay/runtime/transporttest"
)

// sink is a loopback HTTP server that records notification bodies.
type sink struct {
	mu     sync.Mutex
	bodies []string
	srv    *http.Server
	ln     net.Listener
}

func startSink(t *testing.T, addr string) *sink {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &sink{ln: ln}
	s.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.bodies = append(s.bodies, string(b))
		s.mu.Unlock()
	})}
	go s.srv.Serve(ln)
	t.Cleanup(func() { s.srv.Close() })
	return s
}

func (s *sink) addr() string { return s.ln.Addr().String() }

func (s *sink) got() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.bodies...)
}

// waitBodies waits until the sink holds n bodies.
func (s *sink) waitBodies(t *testing.T, n int, d time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if b := s.got(); len(b) >= n {
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("sink got %d bodies %q, want %d within %v", len(s.got()), s.got(), n, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// echoGuests returns a folder holding the echo guest, whose echo:// URLs
// with http=yes post the body to the URL's host.
func echoGuests(t *testing.T) string {
	t.Helper()
	w := transporttest.Guest(t, "../guests/examples/echo")
	dir := t.TempDir()
	if err := os.Symlink(w, filepath.Join(dir, "echo.wasm")); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestNotifierEndToEnd(t *testing.T) {
	sk := startSink(t, "127.0.0.1:0")
	cfg := `
[notifier.phone]
url = "echo://` + sk.addr() + `/hook?http=yes"
events = ["started", "complete"]
body = "{event_name}: {event_args[1].filename}"
title = "Printer {event_name}"

[notifier.macro]
url = "echo://` + sk.addr() + `/macro?http=yes"
events = "gcode"
body = "macro says {event_message}"

[notifier.bad_event]
url = "echo://x/y"
events = ["completed"]

[notifier.bad_scheme]
url = "nope://x/y"
events = "*"
`
	srv := servertest.Start(t, cfg, servertest.Options{Simulate: true, GuestsDir: echoGuests(t)})
	waitReady(t, srv.URL)

	// Bad sections are reported and skipped; the others load.
	resp, _ := http.Get(srv.URL + "/server/info")
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`unknown event \"completed\"; did you mean \"complete\"?`, `no transport handles nope:// URLs; known schemes: echo`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("server.info warnings lack %s: %s", want, raw)
		}
	}
	resp, _ = http.Get(srv.URL + "/server/notifiers/list")
	raw, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	want := `{"result":{"notifiers":[{"name":"phone","url":"echo://` + sk.addr() + `/hook?http=yes","title":"Printer {event_name}","body":"{event_name}: {event_args[1].filename}","body_format":null,"events":["started","complete"],"attach":null},{"name":"macro","url":"echo://` + sk.addr() + `/macro?http=yes","title":null,"body":"macro says {event_message}","body_format":null,"events":["gcode"],"attach":null}]}}`
	if string(raw) != want {
		t.Errorf("notifiers list\n got %s\nwant %s", raw, want)
	}

	uploadFile(t, srv.URL, filepath.Join(corpus, "superslicer-2.3.56_klipper-crlf.gcode"), map[string]string{"print": "true"})
	bodies := sk.waitBodies(t, 2, 60*time.Second)
	got := map[string]bool{}
	for _, b := range bodies {
		got[b] = true
	}
	if !got["started: superslicer-2.3.56_klipper-crlf.gcode"] || !got["complete: superslicer-2.3.56_klipper-crlf.gcode"] {
		t.Errorf("sink got %q", bodies)
	}

	// A Klipper macro fires the macro-only notifier.
	if code, body := postJSON(t, srv.URL+"/printer/gcode/script", map[string]any{"script": `NOTIFY NAME=macro MESSAGE="filament runout"`}); code != 200 {
		t.Fatalf("NOTIFY: %d %v", code, body)
	}
	bodies = sk.waitBodies(t, 3, 10*time.Second)
	if bodies[2] != "macro says filament runout" {
		t.Errorf("macro notification %q", bodies[2])
	}

	// History records the deliveries.
	resp, _ = http.Get(srv.URL + "/server/notifiers/history?name=phone")
	var h struct {
		Result struct {
			History map[string][]struct{ Event, Result string }
		}
	}
	json.NewDecoder(resp.Body).Decode(&h)
	resp.Body.Close()
	if len(h.Result.History["phone"]) != 2 || h.Result.History["phone"][0].Result != "sent" {
		t.Errorf("history %+v", h.Result.History)
	}
	// Render previews without sending.
	code, body := postJSON(t, srv.URL+"/server/notifiers/render", map[string]any{"name": "phone", "event": "complete", "print_stats": map[string]any{"filename": "x.gcode"}})
	if code != 200 || mustString(body["result"]) == "" || !strings.Contains(mustString(body), `"body":"complete: x.gcode"`) {
		t.Errorf("render: %d %v", code, body)
	}
	if n := len(sk.got()); n != 3 {
		t.Errorf("render sent something: %d bodies", n)
	}
}
