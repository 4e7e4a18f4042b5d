package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/moonrelay/moonrelay/host/jobstate"
	"github.com/moonrelay/moonrelay/host/servertest"
)

// corpus is the shared G-code folder beside the repository.
const corpus = "../../shared/gcode"

func postJSON(t *testing.T, url string, body any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func uploadFile(t *testing.T, base, path string, fields map[string]string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (the G-code corpus lives in ../shared/gcode beside the repository)", err)
	}
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, v := range fields {
		w.WriteField(k, v)
	}
	part, _ := w.CreateFormFile("file", filepath.Base(path))
	part.Write(data)
	w.Close()
	resp, err := http.Post(base+"/server/files/upload", w.FormDataContentType(), &buf)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	raw, _ := io.ReadAll(resp.Body)
	json.Unmarshal(raw, &m)
	if resp.StatusCode != 201 {
		t.Fatalf("upload %s: %d %s", path, resp.StatusCode, raw)
	}
	return m
}

func waitReady(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(base + "/server/info")
		if err == nil {
			var m struct {
				Result struct {
					KlippyState string `json:"klippy_state"`
				}
			}
			json.NewDecoder(resp.Body).Decode(&m)
			resp.Body.Close()
			if m.Result.KlippyState == "ready" {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("klippy not ready within 15s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// slicerFilament reads Cura's ";Filament used: 1.67714m" header, in mm.
func slicerFilament(t *testing.T, path string) float64 {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data[:4096]), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), ";Filament used:"); ok {
			var m float64
			if _, err := fmt.Sscanf(strings.TrimSuffix(strings.TrimSpace(v), "m"), "%g", &m); err == nil {
				return m * 1000
			}
		}
	}
	t.Fatalf("%s has no ;Filament used: header", path)
	return 0
}

// TestSimulatedPrintThroughAPI uploads a real sliced file, starts it with
// printer.print.start over HTTP and follows it to the end: job events
// started → complete, and print_stats.filament_used equal to the slicer's
// stated total within 0.1 %.
func TestSimulatedPrintThroughAPI(t *testing.T) {
	srv := servertest.Start(t, "", servertest.Options{Simulate: true})
	events := srv.App.Jobs.Subscribe()
	defer events.Close()
	ws, _, err := websocket.DefaultDialer.Dial(srv.WS, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	waitReady(t, srv.URL)

	file := filepath.Join(corpus, "cura-5.9.1_k1max.gcode")
	uploadFile(t, srv.URL, file, nil)
	// A websocket subscription receives status pushes during the print.
	ws.WriteMessage(websocket.TextMessage, []byte(`{"jsonrpc":"2.0","method":"printer.objects.subscribe","params":{"objects":{"print_stats":["state","filament_used"]}},"id":1}`))

	if code, body := postJSON(t, srv.URL+"/printer/print/start", map[string]any{"filename": "cura-5.9.1_k1max.gcode"}); code != 200 || body["result"] != "ok" {
		t.Fatalf("print start: %d %v", code, body)
	}
	var names []string
	timeout := time.After(60 * time.Second)
	for len(names) < 2 {
		select {
		case ev := <-events.Events():
			names = append(names, ev.Name)
		case <-timeout:
			t.Fatalf("events so far %v; no complete within 60s", names)
		}
	}
	if names[0] != jobstate.EventStarted || names[1] != jobstate.EventComplete {
		t.Fatalf("events %v, want [started complete]", names)
	}
	resp, err := http.Get(srv.URL + "/printer/objects/query?print_stats=filament_used,state,filename")
	if err != nil {
		t.Fatal(err)
	}
	var q struct {
		Result struct {
			Status struct {
				PrintStats struct {
					FilamentUsed float64 `json:"filament_used"`
					State        string
					Filename     string
				} `json:"print_stats"`
			}
		}
	}
	json.NewDecoder(resp.Body).Decode(&q)
	resp.Body.Close()
	ps := q.Result.Status.PrintStats
	want := slicerFilament(t, file)
	if ps.State != "complete" || ps.Filename != "cura-5.9.1_k1max.gcode" || math.Abs(ps.FilamentUsed-want)/want > 0.001 {
		t.Errorf("print_stats %+v, want complete with filament_used %.2f ±0.1%%", ps, want)
	}
	// The subscriber saw the print progress.
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	sawUpdate := false
	for !sawUpdate {
		_, data, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("no notify_status_update reached the websocket: %v", err)
		}
		sawUpdate = strings.Contains(string(data), `"notify_status_update"`)
	}
}

// TestPrinterEndpointErrors checks the errors a frontend sees from the
// printer endpoints.
func TestPrinterEndpointErrors(t *testing.T) {
	srv := servertest.Start(t, "", servertest.Options{Simulate: true})
	waitReady(t, srv.URL)
	tests := []struct {
		path   string
		body   any
		status int
		msg    string
	}{
		{"/printer/gcode/script", map[string]any{}, 400, "No data for argument: script"},
		{"/printer/gcode/script", map[string]any{"script": "G1 X10"}, 400, "Must home axis first"},
		{"/printer/print/start", map[string]any{"filename": "missing.gcode"}, 400, "missing.gcode"},
	}
	for _, tt := range tests {
		code, body := postJSON(t, srv.URL+tt.path, tt.body)
		if code != tt.status || !strings.Contains(mustString(body), tt.msg) {
			t.Errorf("POST %s %v: %d %v, want %d containing %q", tt.path, tt.body, code, body, tt.status, tt.msg)
		}
	}
	if code, body := postJSON(t, srv.URL+"/printer/gcode/script", map[string]any{"script": "G28\nG1 X10 F3000"}); code != 200 || body["result"] != "ok" {
		t.Errorf("G28 + move: %d %v", code, body)
	}
}

// TestKlippyDisconnected checks 503 when no Klippy is running.
func TestKlippyDisconnected(t *testing.T) {
	srv := servertest.Start(t, "")
	code, body := postJSON(t, srv.URL+"/printer/gcode/script", map[string]any{"script": "G28"})
	if code != 503 || !strings.Contains(mustString(body), "Klippy Disconnected") {
		t.Errorf("gcode without klippy: %d %v", code, body)
	}
	resp, _ := http.Get(srv.URL + "/server/info")
	var m struct{ Result map[string]any }
	json.NewDecoder(resp.Body).Decode(&m)
	resp.Body.Close()
	if m.Result["klippy_connected"] != false || m.Result["klippy_state"] != "disconnected" {
		t.Errorf("server.info %v", m.Result)
	}
}

func mustString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// readUntil reads websocket messages until one contains want.
func readUntil(t *testing.T, ws *websocket.Conn, want string, d time.Duration) string {
	t.Helper()
	ws.SetReadDeadline(time.Now().Add(d))
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("waiting for %s: %v", want, err)
		}
		if strings.Contains(string(data), want) {
			return string(data)
		}
	}
}

// TestPrintingFileIsProtectedAndKlippyEvents re-uploads the file being
// printed (refused), then drops the Klippy socket and checks the
// notify_klippy_* broadcasts and the error job event.
func TestPrintingFileIsProtectedAndKlippyEvents(t *testing.T) {
	srv := servertest.Start(t, "", servertest.Options{Simulate: true, SimSpeed: 5})
	events := srv.App.Jobs.Subscribe()
	defer events.Close()
	ws, _, err := websocket.DefaultDialer.Dial(srv.WS, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	waitReady(t, srv.URL)
	uploadFile(t, srv.URL, filepath.Join(corpus, "superslicer-2.3.56_klipper-crlf.gcode"), map[string]string{"print": "true"})
	select {
	case ev := <-events.Events():
		if ev.Name != jobstate.EventStarted {
			t.Fatalf("first event %s", ev.Name)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("print did not start")
	}
	data, _ := os.ReadFile(filepath.Join(corpus, "superslicer-2.3.56_klipper-crlf.gcode"))
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	part, _ := w.CreateFormFile("file", "superslicer-2.3.56_klipper-crlf.gcode")
	part.Write([]byte("G28\n"))
	w.Close()
	resp, err := http.Post(srv.URL+"/server/files/upload", w.FormDataContentType(), &buf)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("re-upload of the printing file: %d, want 403", resp.StatusCode)
	}
	if got, _ := os.ReadFile(filepath.Join(srv.Dir, "data", "gcodes", "superslicer-2.3.56_klipper-crlf.gcode")); !bytes.Equal(got, data) {
		t.Errorf("the printing file was changed")
	}
	srv.App.Sim.DropConnections()
	readUntil(t, ws, "notify_klippy_disconnected", 10*time.Second)
	select {
	case ev := <-events.Events():
		msg, _ := ev.Curr["message"].(string)
		if ev.Name != jobstate.EventError || !strings.Contains(msg, "disconnected") {
			t.Errorf("event %s %q, want error saying Klippy disconnected", ev.Name, msg)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no error event after the disconnect")
	}
	readUntil(t, ws, "notify_klippy_ready", 15*time.Second)
}
