package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
)

// freePort returns a TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startBinary runs moonrelay with a config naming port and data folder and
// waits until it answers.
func startBinary(t *testing.T, extraTOML string, args ...string) (cmd *exec.Cmd, base string, dataDir string, logs *logBuffer) {
	t.Helper()
	dir := t.TempDir()
	port := freePort(t)
	cfg := fmt.Sprintf("[server]\nport = %d\ndata_path = \"data\"\n%s", port, extraTOML)
	path := filepath.Join(dir, "moonrelay.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	c := startProcess(t, binary, append([]string{"-c", path}, args...)...)
	base = fmt.Sprintf("http://127.0.0.1:%d", port)
	waitHTTP(t, base, c)
	return c.cmd, base, filepath.Join(dir, "data"), c.logs
}

func TestCheckConfigExitCodes(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("[server]\nprot = 7125\nport = \"abc\"\n\n[spoolmann]\n"), 0o644)
	out, err := exec.Command(binary, "check-config", "-c", bad).CombinedOutput()
	if code := exitCode(err); code != 2 {
		t.Fatalf("exit %d, want 2; output:\n%s", code, out)
	}
	for _, want := range []string{
		`bad.toml:2: [server] prot: unknown key; did you mean "port"?`,
		`bad.toml:3: [server] port:`,
		`bad.toml:5: [spoolmann]`,
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	out, err = exec.Command(binary, "check-config", "-c", "../configs/moonrelay.example.toml").CombinedOutput()
	if exitCode(err) != 0 {
		t.Fatalf("example config: %v\n%s", err, out)
	}
	out, err = exec.Command(binary, "check-config", "-c", "../configs/demo.toml").CombinedOutput()
	if exitCode(err) != 0 {
		t.Fatalf("demo config: %v\n%s", err, out)
	}
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}

func TestGracefulShutdown(t *testing.T) {
	cmd, base, _, logs := startBinary(t, "")
	ws, _, err := websocket.DefaultDialer.Dial(strings.Replace(base, "http", "ws", 1)+"/websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	t0 := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err = ws.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Errorf("websocket close = %v, want 1001", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit: %v; logs:\n%s", err, logs)
		}
	case <-time.After(6 * time.Second):
		t.Fatalf("moonrelay still running 6s after SIGTERM")
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Errorf("shutdown took %v, want <= 5s", d)
	}
	if !strings.Contains(logs.String(), "moonrelay stopped") {
		t.Errorf("no stop line in logs:\n%s", logs)
	}
}

func TestStartupLogAndAPIKey(t *testing.T) {
	cmd, base, dataDir, logs := startBinary(t, "[notifier.phone]\nurl = \"ntfy://x/y\"\n")
	_ = cmd
	// The start line names version, config, components and listen address.
	if !regexp.MustCompile(`msg="moonrelay started" version=\S+ config=\S+moonrelay.toml data_path=\S+ components=("[^"]*"|\S*) listen=http://127\.0\.0\.1:\d+`).MatchString(logs.String()) {
		t.Errorf("start line missing fields:\n%s", logs)
	}
	st, err := os.Stat(filepath.Join(dataDir, "database", "api_key"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("api_key mode %v, want 0600", st.Mode().Perm())
	}
	for _, d := range []string{"gcodes", "config", "database", "logs", "cache", "plugins"} {
		if _, err := os.Stat(filepath.Join(dataDir, d)); err != nil {
			t.Errorf("data folder %s: %v", d, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dataDir, "logs", "moonrelay.log")); err != nil {
		t.Errorf("log file: %v", err)
	}
	resp, err := http.Get(base + "/access/api_key")
	if err != nil {
		t.Fatal(err)
	}
	var body struct{ Result string }
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	out, err := exec.Command(binary, "show-api-key", "-d", dataDir).Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(out)); got != body.Result || len(got) != 32 {
		t.Errorf("show-api-key %q, endpoint %q", got, body.Result)
	}
	// A section whose component is not built yet is reported, not ignored.
	resp, err = http.Get(base + "/server/info")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(raw), `[notifier.phone]`) {
		t.Errorf("server.info does not warn about [notifier.phone]: %s", raw)
	}
}

// logBuffer collects a child's stderr; the copier goroutine writes while
// the test reads.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
