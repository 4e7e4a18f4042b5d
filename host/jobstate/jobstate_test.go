package jobstate_test

import (
	"fmt"
	"slices"
	"testing"
	"testing/synctest"

	"github.com/moonrelay/moonrelay/host/jobstate"
)

type ps = map[string]any

// replay feeds init then updates to a fresh tracker inside a synctest
// bubble and returns the events in the order a subscriber received them.
func replay(t *testing.T, init ps, updates []ps, lost ...string) []jobstate.Event {
	t.Helper()
	var got []jobstate.Event
	synctest.Test(t, func(t *testing.T) {
		tr := jobstate.New(nil)
		defer tr.Close()
		sub := tr.Subscribe()
		if init != nil {
			tr.Init(init)
		}
		for _, u := range updates {
			if u == nil { // marks where Klippy is lost
				tr.KlippyLost(lost[0], lost[1])
				continue
			}
			tr.Update(u)
		}
		for {
			synctest.Wait()
			select {
			case ev := <-sub.Events():
				got = append(got, ev)
				continue
			default:
			}
			break
		}
	})
	return got
}

func names(evs []jobstate.Event) []string {
	out := []string{}
	for _, e := range evs {
		out = append(out, e.Name)
	}
	return out
}

// TestEventsTable replays every row of ../shared/spec/job-events.md.
func TestEventsTable(t *testing.T) {
	job := func(state string) ps { return ps{"state": state, "filename": "benchy.gcode", "total_duration": 100.0} }
	tests := []struct {
		name    string
		init    ps
		updates []ps
		want    []string
	}{
		// idle → printing: started
		{"standby to printing", ps{"state": "standby", "filename": "", "total_duration": 0.0}, []ps{{"state": "printing", "filename": "benchy.gcode"}}, []string{"started"}},
		{"complete to printing", job("complete"), []ps{{"state": "printing", "total_duration": 0.5}}, []string{"started"}},
		{"cancelled to printing", job("cancelled"), []ps{{"state": "printing"}}, []string{"started"}},
		{"error to printing", job("error"), []ps{{"state": "printing"}}, []string{"started"}},
		// idle → standby: standby
		{"complete to standby", job("complete"), []ps{{"state": "standby", "filename": ""}}, []string{"standby"}},
		{"error to standby", job("error"), []ps{{"state": "standby"}}, []string{"standby"}},
		{"cancelled to standby", job("cancelled"), []ps{{"state": "standby"}}, []string{"standby"}},
		// idle → paused, complete, cancelled or error: inferred started, then the state
		{"standby to paused", job("standby"), []ps{{"state": "paused"}}, []string{"started", "paused"}},
		{"standby to complete", job("standby"), []ps{{"state": "complete"}}, []string{"started", "complete"}},
		{"standby to cancelled", job("standby"), []ps{{"state": "cancelled"}}, []string{"started", "cancelled"}},
		{"standby to error", job("standby"), []ps{{"state": "error", "message": "Move out of range"}}, []string{"started", "error"}},
		{"complete to error", job("complete"), []ps{{"state": "error"}}, []string{"started", "error"}},
		{"error to complete", job("error"), []ps{{"state": "complete"}}, []string{"started", "complete"}},
		// printing → paused
		{"printing to paused", job("printing"), []ps{{"state": "paused"}}, []string{"paused"}},
		// paused → printing, same filename and total_duration grew: resumed
		{"resume", job("printing"), []ps{{"state": "paused", "total_duration": 120.0}, {"state": "printing", "total_duration": 150.0}}, []string{"paused", "resumed"}},
		// paused → printing otherwise: started
		{"paused then new file", job("paused"), []ps{{"state": "printing", "filename": "other.gcode", "total_duration": 200.0}}, []string{"started"}},
		{"paused then same file restarted", job("paused"), []ps{{"state": "printing", "total_duration": 0.0}}, []string{"started"}},
		{"paused then no duration change", job("paused"), []ps{{"state": "printing"}}, []string{"started"}},
		// printing or paused → complete, cancelled or error: that state
		{"printing to complete", job("printing"), []ps{{"state": "complete"}}, []string{"complete"}},
		{"printing to cancelled", job("printing"), []ps{{"state": "cancelled"}}, []string{"cancelled"}},
		{"printing to error", job("printing"), []ps{{"state": "error", "message": "Heater extruder not heating at expected rate"}}, []string{"error"}},
		{"paused to complete", job("paused"), []ps{{"state": "complete"}}, []string{"complete"}},
		{"paused to cancelled", job("paused"), []ps{{"state": "cancelled"}}, []string{"cancelled"}},
		{"paused to error", job("paused"), []ps{{"state": "error"}}, []string{"error"}},
		// printing or paused → standby: standby
		{"printing to standby", job("printing"), []ps{{"state": "standby"}}, []string{"standby"}},
		{"paused to standby", job("paused"), []ps{{"state": "standby"}}, []string{"standby"}},
		// no event
		{"same state", job("printing"), []ps{{"state": "printing", "total_duration": 101.0}}, []string{}},
		{"no state field", job("printing"), []ps{{"filament_used": 12.5}, {"print_duration": 80.0}}, []string{}},
		{"initial state is silent", nil, []ps{{"state": "printing", "filename": "benchy.gcode"}}, []string{}},
		{"whole job", ps{"state": "standby", "filename": "", "total_duration": 0.0}, []ps{
			{"state": "printing", "filename": "benchy.gcode"}, {"total_duration": 10.0}, {"state": "paused"},
			{"total_duration": 20.0}, {"state": "printing", "total_duration": 30.0}, {"state": "complete", "total_duration": 40.0},
			{"state": "standby", "filename": ""},
		}, []string{"started", "paused", "resumed", "complete", "standby"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := replay(t, tt.init, tt.updates)
			if !slices.Equal(names(got), tt.want) {
				t.Errorf("events = %v, want %v", names(got), tt.want)
			}
		})
	}
}

func TestEventCarriesPreviousAndCurrent(t *testing.T) {
	init := ps{"state": "standby", "filename": "", "total_duration": 0.0, "filament_used": 0.0}
	got := replay(t, init, []ps{{"state": "complete", "filename": "cube.gcode", "filament_used": 812.5}})
	if len(got) != 2 {
		t.Fatalf("events = %v, want started and complete", names(got))
	}
	for _, ev := range got {
		if ev.Prev["state"] != "standby" || ev.Prev["filename"] != "" {
			t.Errorf("%s: prev = %v, want the stored standby print_stats", ev.Name, ev.Prev)
		}
		// For the inferred started, current.state is the real new state.
		if ev.Curr["state"] != "complete" || ev.Curr["filename"] != "cube.gcode" || ev.Curr["filament_used"] != 812.5 || ev.Curr["total_duration"] != 0.0 {
			t.Errorf("%s: curr = %v, want prev merged with the update", ev.Name, ev.Curr)
		}
	}
}

func TestKlippyLost(t *testing.T) {
	printing := ps{"state": "printing", "filename": "benchy.gcode", "total_duration": 60.0, "message": ""}
	tests := []struct {
		name           string
		init           ps
		updates        []ps
		reason, detail string
		want           []string
		wantMsg        string
	}{
		{"disconnect while printing", printing, []ps{nil}, "Klippy disconnected", "",
			[]string{"error"}, "Klippy disconnected during the print of benchy.gcode"},
		{"shutdown while paused", printing, []ps{{"state": "paused"}, nil}, "Klippy shut down", "Shutdown due to M112 command",
			[]string{"paused", "error"}, "Klippy shut down during the print of benchy.gcode: Shutdown due to M112 command"},
		{"disconnect while idle", ps{"state": "complete", "filename": "benchy.gcode"}, []ps{nil}, "Klippy disconnected", "",
			[]string{}, ""},
		{"updates after the loss are silent", printing, []ps{nil, {"state": "paused"}, {"state": "standby"}}, "Klippy shut down", "MCU 'mcu' shutdown: Timer too close",
			[]string{"error"}, "Klippy shut down during the print of benchy.gcode: MCU 'mcu' shutdown: Timer too close"},
		{"lost twice reports once", printing, []ps{nil, nil}, "Klippy disconnected", "",
			[]string{"error"}, "Klippy disconnected during the print of benchy.gcode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := replay(t, tt.init, tt.updates, tt.reason, tt.detail)
			if !slices.Equal(names(got), tt.want) {
				t.Fatalf("events = %v, want %v", names(got), tt.want)
			}
			if tt.wantMsg == "" {
				return
			}
			last := got[len(got)-1]
			if last.Curr["state"] != "error" || last.Curr["message"] != tt.wantMsg {
				t.Errorf("error event curr = %v, want state error and message %q", last.Curr, tt.wantMsg)
			}
			if last.Prev["state"] == "error" {
				t.Errorf("error event prev = %v, want the state before the loss", last.Prev)
			}
		})
	}
}

func TestInitAfterLossResumesEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := jobstate.New(nil)
		sub := tr.Subscribe()
		defer sub.Close()
		tr.Init(ps{"state": "printing", "filename": "a.gcode"})
		tr.KlippyLost("Klippy disconnected", "")
		tr.Update(ps{"state": "complete"}) // silent: no baseline from the new connection yet
		tr.Init(ps{"state": "printing", "filename": "a.gcode"})
		tr.Update(ps{"state": "complete"})
		var got []string
		for range 2 {
			got = append(got, (<-sub.Events()).Name)
		}
		synctest.Wait()
		select {
		case ev := <-sub.Events():
			got = append(got, ev.Name)
		default:
		}
		if want := []string{"error", "complete"}; !slices.Equal(got, want) {
			t.Errorf("events = %v, want %v", got, want)
		}
	})
}

func TestSubscribersSeeTheSameOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := jobstate.New(nil)
		subs := []*jobstate.Subscription{tr.Subscribe(), tr.Subscribe(), tr.Subscribe()}
		tr.Init(ps{"state": "standby", "filename": "", "total_duration": 0.0})
		for i := range 50 {
			tr.Update(ps{"state": "printing", "filename": fmt.Sprintf("f%d.gcode", i), "total_duration": 0.0})
			tr.Update(ps{"state": "complete", "total_duration": 1.0})
		}
		// Subscriber 0 reads nothing until the end; the others are not held up.
		for _, s := range subs[1:] {
			for i := range 100 {
				ev := <-s.Events()
				want := "started"
				if i%2 == 1 {
					want = "complete"
				}
				if ev.Name != want || ev.Curr["filename"] != fmt.Sprintf("f%d.gcode", i/2) {
					t.Fatalf("event %d = %s %v, want %s of f%d.gcode", i, ev.Name, ev.Curr["filename"], want, i/2)
				}
			}
		}
		for i := range 100 {
			if ev := <-subs[0].Events(); ev.Curr["filename"] != fmt.Sprintf("f%d.gcode", i/2) {
				t.Fatalf("slow subscriber: event %d is for %v", i, ev.Curr["filename"])
			}
		}
		tr.Close()
		if _, ok := <-subs[0].Events(); ok {
			t.Error("channel still open after Tracker.Close")
		}
	})
}
