package integration

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// stampSink records when each notification arrived, by body.
type stampSink struct {
	mu  sync.Mutex
	at  map[string][]time.Time
	ln  net.Listener
	srv *http.Server
}

func newStampSink(b testing.TB) *stampSink {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	s := &stampSink{at: map[string][]time.Time{}, ln: ln}
	s.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		now := time.Now()
		s.mu.Lock()
		s.at[string(body)] = append(s.at[string(body)], now)
		s.mu.Unlock()
	})}
	go s.srv.Serve(ln)
	b.Cleanup(func() { s.srv.Close() })
	return s
}

func (s *stampSink) wait(b testing.TB, body string, n int) []time.Time {
	deadline := time.Now().Add(30 * time.Second)
	for {
		s.mu.Lock()
		got := append([]time.Time(nil), s.at[body]...)
		s.mu.Unlock()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			s.mu.Lock()
			var keys []string
			for k := range s.at {
				keys = append(keys, k)
			}
			s.mu.Unlock()
			b.Fatalf("%d of %d notifications %q arrived; the sink has %q", len(got), n, body, keys)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

func notifiersConfig(addr string, n int) string {
	var sb strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&sb, "[notifier.n%02d]\nurl = \"echo://%s/n%02d?http=yes\"\nevents = [\"started\", \"complete\"]\nbody = \"{event_name} {event_args[1].filename}\"\n\n", i, addr, i)
	}
	return sb.String()
}

// BenchmarkRSSWithNotifiers reports the binary's resident memory with 1 and
// 20 notifiers loaded, after each has sent once.
func BenchmarkRSSWithNotifiers(b *testing.B) {
	for _, n := range []int{1, 20} {
		b.Run(fmt.Sprintf("notifiers=%d", n), func(b *testing.B) { rssWithNotifiers(b, n) })
	}
}

func rssWithNotifiers(b *testing.B, n int) {
	sk := newStampSink(b)
	dir := b.TempDir()
	port := freePort(b)
	cfg := fmt.Sprintf("[server]\nport = %d\ndata_path = \"data\"\n\n", port) + notifiersConfig(sk.ln.Addr().String(), n)
	cfgPath := filepath.Join(dir, "moonrelay.toml")
	os.WriteFile(cfgPath, []byte(cfg), 0o644)
	guests := echoGuests(b)
	for i := 0; i < b.N; i++ {
		c := startProcess(b, binary, "-c", cfgPath, "--debug", "--guests", guests)
		base := fmt.Sprintf("http://127.0.0.1:%d", port)
		waitHTTP(b, base, c)
		for j := 0; j < n; j++ {
			resp, err := http.Post(base+"/debug/notifiers/test", "application/json", strings.NewReader(fmt.Sprintf(`{"name":"n%02d"}`, j)))
			if err != nil {
				b.Fatal(err)
			}
			resp.Body.Close()
		}
		sk.wait(b, "started notifier_test.gcode", n*(i+1))
		time.Sleep(200 * time.Millisecond)
		b.ReportMetric(float64(rssKiB(b, c.cmd.Process.Pid))/1024, "RSS-MiB")
		c.kill9(b)
	}
}
