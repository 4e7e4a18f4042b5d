package notifier_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moonrelay/moonrelay/host/config"
	"github.com/moonrelay/moonrelay/host/jobstate"
	"github.com/moonrelay/moonrelay/host/notifier"
	"github.com/moonrelay/moonrelay/host/store"
	"github.com/moonrelay/moonrelay/host/template"
	"github.com/moonrelay/moonrelay/runtime/transporttest"
)

// stampSink records when each notification body arrived.
type stampSink struct {
	mu sync.Mutex
	at map[string][]time.Time
	ln net.Listener
}

func newStampSink(tb testing.TB) *stampSink {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s := &stampSink{at: map[string][]time.Time{}, ln: ln}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		now := time.Now()
		s.mu.Lock()
		s.at[string(body)] = append(s.at[string(body)], now)
		s.mu.Unlock()
	})}
	go srv.Serve(ln)
	tb.Cleanup(func() { srv.Close() })
	return s
}

func (s *stampSink) wait(tb testing.TB, body string, n int) []time.Time {
	tb.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		s.mu.Lock()
		got := append([]time.Time(nil), s.at[body]...)
		s.mu.Unlock()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%d of %d notifications %q arrived", len(got), n, body)
		}
		time.Sleep(50 * time.Microsecond)
	}
}

// rig is a notifier manager with n echo notifiers posting to a sink, fed by
// its own job tracker.
func rig(tb testing.TB, n int) (*jobstate.Tracker, *stampSink) {
	sk := newStampSink(tb)
	var sb strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&sb, "[notifier.n%02d]\nurl = \"echo://%s/n%02d?http=yes\"\nevents = [\"started\", \"complete\"]\nbody = \"{event_name} {event_args[1].filename}\"\n\n", i, sk.ln.Addr(), i)
	}
	cfg, err := config.Parse("bench.toml", []byte(sb.String()))
	if err != nil {
		tb.Fatal(err)
	}
	st, err := store.Open(filepath.Join(tb.TempDir(), "db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	eng := transporttest.Engine(tb, nil, transporttest.Guest(tb, "../../guests/examples/echo"))
	jobs := jobstate.New(slog.New(slog.NewTextHandler(io.Discard, nil)))
	m, warnings := notifier.New(context.Background(), cfg.SectionsOf("notifier"), notifier.Deps{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Guests: eng, Store: st,
		Templates: template.New(nil), Jobs: jobs,
	})
	if len(warnings) > 0 {
		tb.Fatalf("warnings: %v", warnings[0].Err)
	}
	if err := m.Start(context.Background()); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { m.Close(); jobs.Close() })
	jobs.Init(map[string]any{"state": "standby", "filename": ""})
	return jobs, sk
}

// BenchmarkNotifyLatency measures a job event → the request at a loopback
// sink: template rendering, the durable outbox (an fsync'd write), the
// echo guest and host HTTP, for 1 and 20 notifiers.
func BenchmarkNotifyLatency(b *testing.B) {
	for _, n := range []int{1, 20} {
		b.Run(fmt.Sprintf("notifiers=%d", n), func(b *testing.B) {
			jobs, sk := rig(b, n)
			job := func(file string) []time.Duration {
				t0 := time.Now()
				jobs.Update(map[string]any{"state": "printing", "filename": file})
				var lat []time.Duration
				for _, at := range sk.wait(b, "started "+file, n) {
					lat = append(lat, at.Sub(t0))
				}
				jobs.Update(map[string]any{"state": "complete"})
				sk.wait(b, "complete "+file, n)
				return lat
			}
			job("warm.gcode")
			var lat []time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				lat = append(lat, job(fmt.Sprintf("job%d.gcode", i))...)
			}
			b.StopTimer()
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}
