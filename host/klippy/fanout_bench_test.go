package klippy_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moonrelay/moonrelay/host/klippy"
	"github.com/moonrelay/moonrelay/host/klippy/sim"
)

// BenchmarkFanout measures the simulator's status pushes at 100 per second
// fanned out by one client to 50 subscribers while a print runs. One op is
// one push received by every subscriber, so ns/op stays at 10 ms while the
// client keeps up; the lag metrics are from Klippy's eventtime of a push to
// its receipt by a subscriber.
func BenchmarkFanout(b *testing.B) {
	const subscribers = 50
	var file strings.Builder
	file.WriteString("G28\nM83\n")
	for i := range 5000 {
		fmt.Fprintf(&file, "G1 X%d Y10 E0.5 F3000\n", 10+(i%2)*100)
	}
	dir := gcodesDir(b, map[string]string{"bench.gcode": file.String()})
	p, path := startSim(b, sim.Options{GcodesDir: dir, Speed: 1, StatusInterval: 10 * time.Millisecond})
	c := startClient(b, path, nil)

	objects := []map[string][]string{
		{"print_stats": nil},
		{"print_stats": {"total_duration", "filament_used"}, "toolhead": {"position"}},
		{"print_stats": {"state", "total_duration"}, "virtual_sdcard": nil, "extruder": nil},
	}
	var (
		mu     sync.Mutex
		lags   []time.Duration
		counts = make([]int, subscribers)
		wg     sync.WaitGroup
	)
	subs := make([]*klippy.Subscription, subscribers)
	for i := range subs {
		subs[i] = c.Subscribe(objects[i%len(objects)])
	}
	for i, s := range subs {
		next(b, s, func(u klippy.Update) bool { return u.Kind == klippy.Snapshot })
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range s.Updates() {
				if u.Kind != klippy.Changes {
					continue
				}
				lag := time.Duration((p.EventTime() - u.EventTime) * float64(time.Second))
				mu.Lock()
				lags = append(lags, lag)
				counts[i]++
				mu.Unlock()
			}
		}()
	}
	if err := c.StartPrint(ctxT(b), "bench.gcode"); err != nil {
		b.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	mu.Lock()
	lags = lags[:0]
	clear(counts)
	mu.Unlock()

	b.ResetTimer()
	start := time.Now()
	for {
		mu.Lock()
		least := slices.Min(counts)
		mu.Unlock()
		if least >= b.N {
			break
		}
		if time.Since(start) > time.Duration(b.N)*20*time.Millisecond+time.Second {
			b.Fatalf("subscribers fell behind: slowest got %d of %d pushes", least, b.N)
		}
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	for _, s := range subs {
		s.Close()
	}
	wg.Wait()

	slices.Sort(lags)
	pct := func(q float64) float64 {
		return float64(lags[int(q*float64(len(lags)-1))]) / float64(time.Millisecond)
	}
	b.ReportMetric(pct(0.50), "p50-lag-ms")
	b.ReportMetric(pct(0.99), "p99-lag-ms")
	b.ReportMetric(pct(1), "max-lag-ms")
	b.ReportMetric(float64(len(lags))/elapsed.Seconds(), "deliveries/s")
}
