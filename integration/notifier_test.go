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
func echoGuests(t testing.TB) string {
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
		resp, _ := http.Get(srv.URL + "/server/info")
		info, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("notifiers list\n got %s\nwant %s\nserver.info: %s", raw, want, info)
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

// reservePort returns a loopback address nothing listens on (yet).
func reservePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestNotifierOutage: the service is down for 30 s, then up; the
// notification arrives exactly once and the history shows the retries.
func TestNotifierOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: -short skips the 30 s outage")
	}
	addr := reservePort(t)
	cfg := "[notifier.phone]\nurl = \"echo://" + addr + "/hook?http=yes\"\nevents = \"*\"\nbody = \"{event_name}: {event_args[1].filename}\"\n"
	srv := servertest.Start(t, cfg, servertest.Options{Debug: true, GuestsDir: echoGuests(t),
		NotifierBackoff: 200 * time.Millisecond, NotifierMaxBackoff: 2 * time.Second})
	t0 := time.Now()
	if code, body := postJSON(t, srv.URL+"/debug/notifiers/test", map[string]any{"name": "phone"}); code != 200 || !strings.Contains(mustString(body), `"status":"success"`) {
		t.Fatalf("test notifier: %d %v", code, body)
	}
	time.Sleep(30*time.Second - time.Since(t0))
	sk := startSink(t, addr)
	bodies := sk.waitBodies(t, 1, 15*time.Second)
	time.Sleep(3 * time.Second) // a duplicate would arrive by now
	if got := sk.got(); len(got) != 1 || got[0] != "*: notifier_test.gcode" {
		t.Fatalf("sink got %q, want one \"*: notifier_test.gcode\"", got)
	}
	_ = bodies
	resp, _ := http.Get(srv.URL + "/server/notifiers/history?name=phone")
	var h struct {
		Result struct {
			History map[string][]struct {
				Result   string
				Attempts int
			}
		}
	}
	json.NewDecoder(resp.Body).Decode(&h)
	resp.Body.Close()
	if d := h.Result.History["phone"]; len(d) != 1 || d[0].Result != "sent" || d[0].Attempts < 5 {
		t.Errorf("history %+v, want one sent entry after several attempts", d)
	}
}

// TestNotifierSurvivesKill9: a notification queued while the service is down
// survives kill -9 of moonrelay and is delivered after the restart.
func TestNotifierSurvivesKill9(t *testing.T) {
	addr := reservePort(t)
	dir := t.TempDir()
	port := freePort(t)
	cfgPath := filepath.Join(dir, "moonrelay.toml")
	cfg := "[server]\nport = " + itoa(port) + "\ndata_path = \"data\"\n\n[notifier.phone]\nurl = \"echo://" + addr + "/hook?http=yes\"\nevents = [\"complete\"]\nbody = \"{event_name}: {event_args[1].filename}\"\n"
	os.WriteFile(cfgPath, []byte(cfg), 0o644)
	guests := echoGuests(t)
	base := "http://127.0.0.1:" + itoa(port)
	run := func() *execCmd {
		c := startProcess(t, binary, "-c", cfgPath, "--debug", "--guests", guests)
		waitHTTP(t, base, c)
		return c
	}
	first := run()
	if code, body := postJSON(t, base+"/debug/notifiers/test", map[string]any{"name": "phone"}); code != 200 {
		t.Fatalf("test notifier: %d %v", code, body)
	}
	first.kill9(t)
	sk := startSink(t, addr)
	time.Sleep(300 * time.Millisecond)
	if len(sk.got()) != 0 {
		t.Fatalf("delivered before the restart: %q", sk.got())
	}
	second := run()
	defer second.kill9(t)
	bodies := sk.waitBodies(t, 1, 20*time.Second)
	if bodies[0] != "complete: notifier_test.gcode" {
		t.Errorf("after restart the sink got %q", bodies)
	}
}

// TestNotifierProgressAndShortPauses: progress every 25 %, and a pause
// shorter than min_pause is not notified while a longer one is.
func TestNotifierProgressAndShortPauses(t *testing.T) {
	sk := startSink(t, "127.0.0.1:0")
	cfg := `
[notifier.progress]
url = "echo://` + sk.addr() + `/p?http=yes"
events = ["progress"]
progress_interval = 25
body = "{event_name} {progress}"

[notifier.pauses]
url = "echo://` + sk.addr() + `/q?http=yes"
events = ["paused", "resumed"]
min_pause = 1
body = "{event_name}"
`
	srv := servertest.Start(t, cfg, servertest.Options{Simulate: true, SimSpeed: 40, GuestsDir: echoGuests(t)})
	waitReady(t, srv.URL)
	uploadFile(t, srv.URL, filepath.Join(corpus, "superslicer-2.3.56_klipper-crlf.gcode"), map[string]string{"print": "true"})
	sk.waitBodies(t, 1, 30*time.Second) // 25 %
	gcode := func(s string) {
		if code, body := postJSON(t, srv.URL+"/printer/gcode/script", map[string]any{"script": s}); code != 200 {
			t.Fatalf("%s: %d %v", s, code, body)
		}
	}
	// A short pause: nothing is sent.
	gcode("PAUSE")
	time.Sleep(200 * time.Millisecond)
	gcode("RESUME")
	time.Sleep(1500 * time.Millisecond)
	for _, b := range sk.got() {
		if b == "paused" || b == "resumed" {
			t.Fatalf("a 0.2 s pause was notified: %q", sk.got())
		}
	}
	// A long pause: paused after min_pause, then resumed.
	gcode("PAUSE")
	time.Sleep(1500 * time.Millisecond)
	gcode("RESUME")
	deadline := time.Now().Add(60 * time.Second)
	for {
		got := strings.Join(sk.got(), "|")
		if strings.Contains(got, "paused|") && strings.Contains(got, "resumed") && strings.Contains(got, "progress 75") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sink got %q, want progress 25/50/75, paused and resumed", sk.got())
		}
		time.Sleep(50 * time.Millisecond)
	}
	var progress []string
	for _, b := range sk.got() {
		if strings.HasPrefix(b, "progress") {
			progress = append(progress, b)
		}
	}
	if strings.Join(progress, ",") != "progress 25,progress 50,progress 75" {
		t.Errorf("progress notifications %q, want 25, 50, 75", progress)
	}
}
