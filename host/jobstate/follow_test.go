package jobstate_test

import (
	"bufio"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moonrelay/moonrelay/host/jobstate"
	"github.com/moonrelay/moonrelay/host/klippy"
	"github.com/moonrelay/moonrelay/host/klippy/sim"
)

const corpus = "../../../shared/gcode"

// rig is a simulator, a client and a tracker following it.
type rig struct {
	p   *sim.Printer
	c   *klippy.Client
	tr  *jobstate.Tracker
	sub *jobstate.Subscription
}

func newRig(t *testing.T, opts sim.Options) *rig {
	t.Helper()
	dir, err := os.MkdirTemp("", "mr")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "k.sock")
	if opts.StatusInterval == 0 {
		opts.StatusInterval = 10 * time.Millisecond
	}
	p := sim.New(opts)
	if err := p.Start(context.Background(), path); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	c := klippy.New(klippy.Options{SocketPath: path, ReconnectMin: 20 * time.Millisecond, ReconnectMax: 50 * time.Millisecond, PollInterval: 20 * time.Millisecond})
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	tr := jobstate.New(nil)
	t.Cleanup(tr.Close)
	sub := tr.Subscribe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- jobstate.Follow(ctx, c, tr) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Follow returned %v, want context.Canceled", err)
		}
	})
	wctx, wcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer wcancel()
	if err := c.WaitReady(wctx); err != nil {
		t.Fatal(err)
	}
	// Wait for the tracker's baseline before starting anything.
	for deadline := time.Now().Add(5 * time.Second); tr.Last()["state"] == nil; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("tracker never got its print_stats baseline")
		}
	}
	return &rig{p, c, tr, sub}
}

// event waits for the next job event.
func (r *rig) event(t *testing.T, timeout time.Duration) jobstate.Event {
	t.Helper()
	select {
	case ev := <-r.sub.Events():
		return ev
	case <-time.After(timeout):
		t.Fatalf("no job event within %v (last print_stats %v)", timeout, r.tr.Last())
	}
	return jobstate.Event{}
}

func (r *rig) gcode(t *testing.T, script string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.c.GcodeScript(ctx, script); err != nil {
		t.Fatalf("%s: %v", script, err)
	}
}

// totalExtrusion computes a file's net extrusion independently of the
// simulator: the sum of E moves in G-code units, honouring M82/M83,
// G90/G91 and G92 E resets.
func totalExtrusion(t *testing.T, path string) float64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	absE, absXYZ := true, true
	var e, total float64 // e: position in G-code coordinates
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), ";")
		fields := strings.Fields(strings.ToUpper(line))
		if len(fields) == 0 {
			continue
		}
		switch fields[0] {
		case "M82":
			absE = true
		case "M83":
			absE = false
		case "G90":
			absXYZ = true
		case "G91":
			absXYZ = false
		case "G92":
			for _, a := range fields[1:] {
				if a[0] == 'E' {
					e, _ = strconv.ParseFloat(a[1:], 64)
				}
			}
		case "G0", "G1", "G2", "G3":
			for _, a := range fields[1:] {
				if a[0] != 'E' {
					continue
				}
				v, err := strconv.ParseFloat(a[1:], 64)
				if err != nil {
					t.Fatalf("%s: bad E in %q", path, line)
				}
				if absE && absXYZ {
					total += v - e
					e = v
				} else {
					total += v
					e += v
				}
			}
		}
	}
	return total
}

// slicerTotal reads the slicer's own filament length in mm, if stated.
func slicerTotal(path string) (float64, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	for _, re := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^;Filament used: ([0-9.]+)m\r?$`),                   // Cura, metres
		regexp.MustCompile(`(?m)^; filament used \[mm\] = (?:[0-9.]+, )*([0-9.]+)`), // Prusa/Orca/Creality
		regexp.MustCompile(`(?m)^; total filament length \[mm\] : ([0-9.]+)`),       // Bambu
	} {
		if m := re.FindSubmatch(data); m != nil {
			v, _ := strconv.ParseFloat(string(m[1]), 64)
			if strings.Contains(re.String(), "Filament used") {
				v *= 1000
			}
			return v, true
		}
	}
	return 0, false
}

// TestFullPrintOfCorpusFiles prints real slicer output in the simulator and
// checks the job events and print_stats.filament_used.
func TestFullPrintOfCorpusFiles(t *testing.T) {
	tests := []struct {
		file  string
		speed float64 // simulated seconds per real second
	}{
		{"cura-5.9.1_k1max.gcode", 6000},                // M82, START_PRINT macro, slicer total stated
		{"bambustudio-01.10.02.76_k1max.gcode", 3000},   // M83, G2/G3 arcs
		{"superslicer-2.3.56_klipper-crlf.gcode", 2000}, // CRLF, klipper flavour, arcs
		{"prusaslicer-2.5.0_shape-m82-g91.gcode", 3000}, // M82 with a G91 end sequence
	}
	if testing.Short() {
		tests = tests[:1]
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			src := filepath.Join(corpus, tt.file)
			if _, err := os.Stat(src); err != nil {
				t.Skipf("corpus file missing: %v", err)
			}
			dir := t.TempDir()
			if err := os.Symlink(mustAbs(t, src), filepath.Join(dir, tt.file)); err != nil {
				t.Fatal(err)
			}
			r := newRig(t, sim.Options{GcodesDir: dir, Speed: tt.speed})
			start := time.Now()
			if err := r.c.StartPrint(context.Background(), tt.file); err != nil {
				t.Fatal(err)
			}
			ev := r.event(t, 5*time.Second)
			if ev.Name != jobstate.EventStarted || ev.Curr["filename"] != tt.file {
				t.Fatalf("first event = %s %v, want started for %s", ev.Name, ev.Curr["filename"], tt.file)
			}
			ev = r.event(t, 30*time.Second)
			if ev.Name != jobstate.EventComplete {
				t.Fatalf("second event = %s (message %v), want complete", ev.Name, ev.Curr["message"])
			}
			got := ev.Curr["filament_used"].(float64)
			want := totalExtrusion(t, src)
			if rel := math.Abs(got-want) / want; rel > 0.001 {
				t.Errorf("filament_used = %.2f mm, file's total extrusion %.2f mm (off by %.3f%%, want ≤ 0.1%%)", got, want, rel*100)
			}
			slicer, ok := slicerTotal(src)
			t.Logf("%s: filament_used %.2f mm, file total %.2f mm, slicer says %.2f mm (%v); print_duration %.0f s simulated in %v",
				tt.file, got, want, slicer, ok, ev.Curr["print_duration"], time.Since(start).Round(time.Millisecond))
			if ok && math.Abs(got-slicer)/slicer > 0.001 && tt.file == "cura-5.9.1_k1max.gcode" {
				t.Errorf("filament_used = %.2f mm, slicer's total %.2f mm: off by more than 0.1%%", got, slicer)
			}
			if pd := ev.Curr["print_duration"].(float64); pd <= 0 || pd > ev.Curr["total_duration"].(float64) {
				t.Errorf("print_duration = %v, total_duration = %v", pd, ev.Curr["total_duration"])
			}
			st, _, err := r.c.QueryObjects(context.Background(), map[string][]string{"virtual_sdcard": nil, "toolhead": {"position"}})
			if err != nil {
				t.Fatal(err)
			}
			if st["virtual_sdcard"]["is_active"] != false || st["virtual_sdcard"]["file_path"] != nil {
				t.Errorf("virtual_sdcard after the print = %v", st["virtual_sdcard"])
			}
		})
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// slowFile is a small print that takes 20 simulated seconds per line.
func slowFile(lines int) string {
	var b strings.Builder
	b.WriteString("G28\nG90\nM83\nSET_PRINT_STATS_INFO TOTAL_LAYER=3\n")
	for i := range lines {
		x := 10 + float64(i%2)*100
		b.WriteString("G1 X" + strconv.FormatFloat(x, 'f', 1, 64) + " Y10 E1 F3000\n")
		if i%10 == 9 {
			b.WriteString("SET_PRINT_STATS_INFO CURRENT_LAYER=" + strconv.Itoa(i/10+1) + "\n")
		}
	}
	return b.String()
}

func TestJobLifecycleThroughTheSimulator(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "cube.gcode"), []byte(slowFile(400)), 0o644); err != nil {
		t.Fatal(err)
	}
	type step struct {
		do   func(r *rig)
		want string // event
	}
	start := func(r *rig) {
		if err := r.c.StartPrint(context.Background(), "/cube.gcode"); err != nil {
			t.Fatal(err)
		}
	}
	gc := func(script string) func(r *rig) { return func(r *rig) { r.gcode(t, script) } }
	tests := []struct {
		name  string
		fault func(p *sim.Printer)
		steps []step
		check func(t *testing.T, ev jobstate.Event)
	}{
		{"pause resume cancel", nil, []step{
			{start, "started"},
			{func(r *rig) { r.c.PausePrint(context.Background()) }, "paused"},
			{func(r *rig) { r.c.ResumePrint(context.Background()) }, "resumed"},
			{func(r *rig) { r.c.CancelPrint(context.Background()) }, "cancelled"},
			{gc("SDCARD_RESET_FILE"), "standby"},
		}, nil},
		{"new print while paused is a new job", nil, []step{
			{start, "started"},
			{gc("PAUSE"), "paused"},
			{start, "started"},
			{gc("CANCEL_PRINT"), "cancelled"},
		}, nil},
		{"error in the file", func(p *sim.Printer) { p.FailPrintAt(0.3, "Heater extruder not heating at expected rate") }, []step{
			{start, "started"},
			{nil, "error"},
		}, func(t *testing.T, ev jobstate.Event) {
			if ev.Curr["message"] != "Heater extruder not heating at expected rate" {
				t.Errorf("message = %v", ev.Curr["message"])
			}
		}},
		{"emergency stop", nil, []step{
			{start, "started"},
			{gc("M112"), "error"},
		}, func(t *testing.T, ev jobstate.Event) {
			if ev.Curr["state"] != "error" || ev.Curr["message"] != "Klippy shut down during the print of cube.gcode: Shutdown due to M112 command" {
				t.Errorf("curr = %v", ev.Curr)
			}
		}},
		{"klippy restarts mid-print", nil, []step{
			{start, "started"},
			{func(r *rig) { r.p.Restart() }, "error"},
		}, func(t *testing.T, ev jobstate.Event) {
			if ev.Curr["message"] != "Klippy disconnected during the print of cube.gcode" {
				t.Errorf("message = %v", ev.Curr["message"])
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, sim.Options{GcodesDir: dir, Speed: 200})
			if tt.fault != nil {
				tt.fault(r.p)
			}
			var last jobstate.Event
			for i, s := range tt.steps {
				if s.do != nil {
					s.do(r)
				}
				last = r.event(t, 10*time.Second)
				if last.Name != s.want {
					t.Fatalf("step %d: event %s (curr %v), want %s", i, last.Name, last.Curr, s.want)
				}
			}
			if tt.check != nil {
				tt.check(t, last)
			}
			select {
			case ev := <-r.sub.Events():
				t.Errorf("unexpected extra event %s %v", ev.Name, ev.Curr)
			case <-time.After(100 * time.Millisecond):
			}
		})
	}
}

func TestSocketDropMidPrint(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "part.gcode"), []byte(slowFile(300)), 0o644); err != nil {
		t.Fatal(err)
	}
	r := newRig(t, sim.Options{GcodesDir: dir, Speed: 2000})
	r.p.DropConnectionsAt(0.4)
	if err := r.c.StartPrint(context.Background(), "part.gcode"); err != nil {
		t.Fatal(err)
	}
	var got []string
	for len(got) < 3 {
		ev := r.event(t, 10*time.Second)
		got = append(got, ev.Name)
		if ev.Name == "error" && ev.Curr["message"] != "Klippy disconnected during the print of part.gcode" {
			t.Errorf("error message = %v", ev.Curr["message"])
		}
	}
	// The socket broke but Klippy kept printing: the owner is told about
	// the disconnect, and then about the completion once reconnected.
	if want := []string{"started", "error", "complete"}; !slices.Equal(got, want) {
		t.Errorf("events = %v, want %v", got, want)
	}
}
