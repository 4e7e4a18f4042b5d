package klippy_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moonrelay/moonrelay/host/klippy"
	"github.com/moonrelay/moonrelay/host/klippy/sim"
)

func TestSubscribeReceivesSnapshotThenPushes(t *testing.T) {
	_, path := startSim(t, sim.Options{})
	c := startClient(t, path, nil)
	sub := c.Subscribe(map[string][]string{"extruder": {"target", "temperature"}, "print_stats": nil})
	defer sub.Close()

	first := next(t, sub, nil)
	if first.Kind != klippy.StateChange || first.State != klippy.StateReady {
		t.Fatalf("first update = %v %v, want state_change ready", first.Kind, first.State)
	}
	snap := next(t, sub, nil)
	if snap.Kind != klippy.Snapshot {
		t.Fatalf("second update kind = %v, want snapshot", snap.Kind)
	}
	if got := snap.Status["print_stats"]["state"]; got != "standby" {
		t.Errorf("snapshot print_stats.state = %v, want standby", got)
	}
	if _, ok := snap.Status["extruder"]["power"]; ok {
		t.Errorf("snapshot has extruder.power, which was not asked for: %v", snap.Status["extruder"])
	}
	if err := c.GcodeScript(ctxT(t), "M104 S210"); err != nil {
		t.Fatal(err)
	}
	u := next(t, sub, func(u klippy.Update) bool { _, ok := u.Status["extruder"]["target"]; return ok })
	if u.Kind != klippy.Changes || u.Status["extruder"]["target"] != 210.0 {
		t.Fatalf("update = %v %v, want changes with extruder.target 210", u.Kind, u.Status)
	}
}

func TestOverlappingSubscribersGetTheirOwnFields(t *testing.T) {
	_, path := startSim(t, sim.Options{})
	c := startClient(t, path, nil)
	a := c.Subscribe(map[string][]string{"toolhead": {"position"}, "extruder": {"target"}})
	defer a.Close()
	b := c.Subscribe(map[string][]string{"toolhead": {"homed_axes"}, "extruder": nil})
	defer b.Close()
	isSnap := func(u klippy.Update) bool { return u.Kind == klippy.Snapshot }
	sa, sb := next(t, a, isSnap), next(t, b, isSnap)
	if keys(sa.Status["toolhead"]) != "position" || keys(sa.Status["extruder"]) != "target" {
		t.Errorf("a's snapshot = %v, want toolhead.position and extruder.target only", sa.Status)
	}
	if keys(sb.Status["toolhead"]) != "homed_axes" || !strings.Contains(keys(sb.Status["extruder"]), "power") {
		t.Errorf("b's snapshot = %v, want toolhead.homed_axes and all extruder fields", sb.Status)
	}
	if err := c.GcodeScript(ctxT(t), "G28\nG1 X10 Y20 F6000"); err != nil {
		t.Fatal(err)
	}
	ua := next(t, a, func(u klippy.Update) bool { return u.Status["toolhead"] != nil })
	if keys(ua.Status["toolhead"]) != "position" {
		t.Errorf("a got toolhead fields %q, want only position", keys(ua.Status["toolhead"]))
	}
	ub := next(t, b, func(u klippy.Update) bool { return u.Status["toolhead"] != nil })
	if ub.Status["toolhead"]["homed_axes"] != "xyz" || keys(ub.Status["toolhead"]) != "homed_axes" {
		t.Errorf("b got toolhead %v, want only homed_axes=xyz", ub.Status["toolhead"])
	}
}

func keys(m map[string]any) string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}

func TestGcodeErrors(t *testing.T) {
	_, path := startSim(t, sim.Options{})
	c := startClient(t, path, nil)
	out := c.SubscribeGcodeOutput()
	defer out.Close()
	tests := []struct {
		name, script, want string
	}{
		{"move before homing", "G1 X10", "Must home axis first: 10.000 0.000 0.000 [0.000]"},
		{"move out of range", "G28\nG1 X1000", "Move out of range: 1000.000 0.000 0.000 [0.000]"},
		{"temperature out of range", "M104 S400", "Requested temperature (400.0) out of range (0.0:300.0)"},
		{"missing file", `SDCARD_PRINT_FILE FILENAME="nope.gcode"`, "Unable to open file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := c.GcodeScript(ctxT(t), tt.script)
			var kerr *klippy.Error
			if !errors.As(err, &kerr) {
				t.Fatalf("err = %v, want *klippy.Error", err)
			}
			if kerr.Message != tt.want || kerr.Method != "gcode/script" {
				t.Errorf("error = %q (method %s), want %q", kerr.Message, kerr.Method, tt.want)
			}
			if errors.Is(err, klippy.ErrNotReady) {
				t.Errorf("errors.Is(err, ErrNotReady) = true while Klippy is ready")
			}
		})
	}
	// An unknown command is not an error in Klipper, only output.
	if err := c.GcodeScript(ctxT(t), "FROBNICATE"); err != nil {
		t.Fatalf("unknown command: %v, want no error", err)
	}
	u := next(t, out, func(u klippy.Update) bool { return strings.Contains(u.Response, "FROBNICATE") })
	if u.Response != `// Unknown command:"FROBNICATE"` {
		t.Errorf("output = %q", u.Response)
	}
	// An unknown endpoint is Klippy's webhooks error.
	_, err := c.Request(ctxT(t), "no/such/endpoint", nil)
	if err == nil || err.Error() != "klippy: no/such/endpoint: webhooks: No registered callback for path 'no/such/endpoint'" {
		t.Errorf("unknown endpoint: %v", err)
	}
}

func TestRemoteMethodsFromMacros(t *testing.T) {
	_, path := startSim(t, sim.Options{})
	type callRec struct {
		method string
		params map[string]any
	}
	calls := make(chan callRec, 10)
	rec := func(name string) klippy.RemoteMethod {
		return func(ctx context.Context, params map[string]any) error {
			calls <- callRec{name, params}
			return nil
		}
	}
	c := startClient(t, path, func(c *klippy.Client) {
		if err := c.RegisterRemoteMethod("notify", rec("notify")); err != nil {
			t.Fatal(err)
		}
	})
	// Registered after Klippy is ready: registered at once.
	if err := c.RegisterRemoteMethod("spoolman_set_active_spool", rec("spoolman_set_active_spool")); err != nil {
		t.Fatal(err)
	}
	if err := c.RegisterRemoteMethod("notify", rec("x")); err == nil {
		t.Error("registering notify twice: no error")
	}
	// The late registration reaches Klippy asynchronously: until it does,
	// Klippy drops the call (action_call_remote_method only logs).
	for deadline := time.Now().Add(5 * time.Second); ; {
		if err := c.GcodeScript(ctxT(t), "SET_ACTIVE_SPOOL ID=1"); err != nil {
			t.Fatal(err)
		}
		select {
		case <-calls:
		case <-time.After(100 * time.Millisecond):
			if time.Now().Before(deadline) {
				continue
			}
			t.Fatal("the late registration never reached Klippy")
		}
		break
	}
	tests := []struct {
		script, method string
		params         map[string]any
	}{
		{`NOTIFY NAME=phone MESSAGE="Filament change needed!"`, "notify", map[string]any{"name": "phone", "message": "Filament change needed!"}},
		{"SET_ACTIVE_SPOOL ID=7", "spoolman_set_active_spool", map[string]any{"spool_id": 7.0}},
		{"CLEAR_ACTIVE_SPOOL", "spoolman_set_active_spool", map[string]any{"spool_id": nil}},
	}
	for _, tt := range tests {
		if err := c.GcodeScript(ctxT(t), tt.script); err != nil {
			t.Fatalf("%s: %v", tt.script, err)
		}
		select {
		case got := <-calls:
			if got.method != tt.method || fmt.Sprint(got.params) != fmt.Sprint(tt.params) {
				t.Errorf("%s: call = %s %v, want %s %v", tt.script, got.method, got.params, tt.method, tt.params)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: no remote method call", tt.script)
		}
	}
}

func TestDropMidRequestThenReconnectAndResubscribe(t *testing.T) {
	p, path := startSim(t, sim.Options{Speed: 1})
	c := startClient(t, path, nil)
	sub := c.Subscribe(map[string][]string{"heater_bed": {"target", "temperature"}})
	defer sub.Close()
	next(t, sub, func(u klippy.Update) bool { return u.Kind == klippy.Snapshot })

	// M190 waits for the bed to heat (tens of simulated seconds at real
	// time), so the request is in flight when the socket drops.
	errc := make(chan error, 1)
	go func() { errc <- c.GcodeScript(context.Background(), "M190 S100") }()
	next(t, sub, func(u klippy.Update) bool { return u.Status["heater_bed"]["target"] == 100.0 })
	start := time.Now()
	p.DropConnections()
	select {
	case err := <-errc:
		if !errors.Is(err, klippy.ErrNotConnected) {
			t.Fatalf("in-flight request: err = %v, want ErrNotConnected", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("in-flight request failed after %v, want at once", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("in-flight request did not fail when the socket dropped")
	}
	u := next(t, sub, func(u klippy.Update) bool { return u.Kind == klippy.StateChange })
	if u.State != klippy.StateDisconnected {
		t.Fatalf("state after drop = %v, want disconnected", u.State)
	}
	u = next(t, sub, func(u klippy.Update) bool { return u.Kind == klippy.StateChange && u.State == klippy.StateReady })
	snap := next(t, sub, func(u klippy.Update) bool { return u.Kind == klippy.Snapshot })
	if snap.Status["heater_bed"]["target"] != 100.0 {
		t.Errorf("snapshot after reconnect = %v, want heater_bed.target 100", snap.Status)
	}
	// Pushes flow again on the new connection: the bed keeps heating.
	u = next(t, sub, func(u klippy.Update) bool { return u.Kind == klippy.Changes })
	if _, ok := u.Status["heater_bed"]["temperature"]; !ok {
		t.Errorf("push after reconnect = %v, want heater_bed.temperature", u.Status)
	}
}

func TestRefusedConnectionsRecover(t *testing.T) {
	p, path := startSim(t, sim.Options{})
	c := startClient(t, path, nil)
	sub := c.Subscribe(nil)
	defer sub.Close()
	p.RefuseConnections(300 * time.Millisecond)
	next(t, sub, func(u klippy.Update) bool { return u.State == klippy.StateDisconnected })
	time.Sleep(100 * time.Millisecond)
	_, msg := c.State()
	if !strings.Contains(msg, "cannot connect to "+path+": no such file — is Klipper running") {
		t.Errorf("state message while refused = %q", msg)
	}
	if err := c.GcodeScript(ctxT(t), "M105"); !errors.Is(err, klippy.ErrNotConnected) {
		t.Errorf("request while disconnected: %v, want ErrNotConnected", err)
	}
	next(t, sub, func(u klippy.Update) bool { return u.State == klippy.StateReady })
}

func TestStartupIsPolledUntilReady(t *testing.T) {
	_, path := startSim(t, sim.Options{StartupDelay: 200 * time.Millisecond})
	c := klippy.New(klippy.Options{SocketPath: path, PollInterval: 20 * time.Millisecond})
	sub := c.Subscribe(nil)
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var states []klippy.State
	for {
		u := next(t, sub, nil)
		states = append(states, u.State)
		if u.State == klippy.StateReady {
			break
		}
	}
	want := []klippy.State{klippy.StateDisconnected, klippy.StateStartup, klippy.StateReady}
	if !slices.Equal(states, want) {
		t.Errorf("states = %v, want %v", states, want)
	}
	if info := c.KlippyInfo(); info.State != klippy.StateReady || info.SoftwareVersion == "" {
		t.Errorf("info = %+v", info)
	}
}

func TestShutdownAndFirmwareRestart(t *testing.T) {
	_, path := startSim(t, sim.Options{})
	c := startClient(t, path, nil)
	sub := c.Subscribe(map[string][]string{"webhooks": nil})
	defer sub.Close()
	next(t, sub, func(u klippy.Update) bool { return u.Kind == klippy.Snapshot })
	if err := c.GcodeScript(ctxT(t), "M112"); err != nil {
		t.Fatal(err)
	}
	u := next(t, sub, func(u klippy.Update) bool { return u.Kind == klippy.StateChange })
	if u.State != klippy.StateShutdown || !strings.HasPrefix(u.Message, "Shutdown due to M112 command") {
		t.Fatalf("after M112: %v %q", u.State, u.Message)
	}
	err := c.GcodeScript(ctxT(t), "G28")
	if !errors.Is(err, klippy.ErrNotReady) || !strings.Contains(err.Error(), "Shutdown due to M112 command") {
		t.Errorf("G28 in shutdown: %v, want an ErrNotReady with the shutdown message", err)
	}
	if err := c.GcodeScript(ctxT(t), "FIRMWARE_RESTART"); err != nil && !errors.Is(err, klippy.ErrNotConnected) {
		t.Fatal(err)
	}
	next(t, sub, func(u klippy.Update) bool { return u.State == klippy.StateReady })
}

func TestQueryAndListObjects(t *testing.T) {
	_, path := startSim(t, sim.Options{})
	c := startClient(t, path, nil)
	objs, err := c.ListObjects(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"print_stats", "virtual_sdcard", "pause_resume", "display_status", "toolhead", "configfile", "heaters"} {
		if !slices.Contains(objs, want) {
			t.Errorf("objects/list lacks %s: %v", want, objs)
		}
	}
	st, et, err := c.QueryObjects(ctxT(t), map[string][]string{"configfile": {"settings"}, "toolhead": nil, "nope": nil})
	if err != nil {
		t.Fatal(err)
	}
	if et <= 0 {
		t.Errorf("eventtime = %v", et)
	}
	printer := st["configfile"]["settings"].(map[string]any)["printer"].(map[string]any)
	if printer["max_velocity"] != 300.0 || printer["max_accel"] != 3000.0 || printer["kinematics"] != "cartesian" {
		t.Errorf("configfile.settings.printer = %v", printer)
	}
	if st["toolhead"]["max_velocity"] != 300.0 || len(st["nope"]) != 0 {
		t.Errorf("toolhead = %v, nope = %v", st["toolhead"], st["nope"])
	}
}

func TestConcurrentRequests(t *testing.T) {
	_, path := startSim(t, sim.Options{})
	c := startClient(t, path, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, _, err := c.QueryObjects(ctxT(t), map[string][]string{"heaters": nil})
			if err == nil && st["heaters"]["available_heaters"] == nil {
				err = fmt.Errorf("request %d: empty reply", i)
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
