package templates_test

import (
	"testing"

	"github.com/moonrelay/moonrelay/host/template"
	"github.com/moonrelay/moonrelay/templates"
)

// TestDefaultMessages renders the shipped templates for every event.
func TestDefaultMessages(t *testing.T) {
	eng := template.New(nil)
	title, err := eng.Compile("title", templates.Title)
	if err != nil {
		t.Fatalf("title.jinja: %v", err)
	}
	body, err := eng.Compile("body", templates.Body)
	if err != nil {
		t.Fatalf("body.jinja: %v", err)
	}
	ps := func(state string) map[string]any {
		return map[string]any{"filename": "benchy.gcode", "state": state, "print_duration": 3725.0, "filament_used": 1234.5,
			"message": "Move out of range", "info": map[string]any{"total_layer": 120, "current_layer": 60}}
	}
	tests := []struct {
		vars        map[string]any
		title, body string
	}{
		{map[string]any{"event_name": "started", "event_args": []any{ps("standby"), ps("printing")}}, "Print started", "Started printing benchy.gcode."},
		{map[string]any{"event_name": "complete", "event_args": []any{ps("printing"), ps("complete")}}, "Print complete", "Finished benchy.gcode in 1h 2m, using 1.23 m of filament."},
		{map[string]any{"event_name": "error", "event_args": []any{ps("printing"), ps("error")}}, "Print failed", "benchy.gcode failed after 1h 2m: Move out of range"},
		{map[string]any{"event_name": "progress", "progress": 50, "event_args": []any{ps("printing"), ps("printing")}}, "Print progress", "benchy.gcode: 50 % done, layer 60 of 120."},
		{map[string]any{"event_name": "remote_action", "event_args": []any{}, "event_message": "Filament runout"}, "Printer message", "Filament runout"},
	}
	for _, tt := range tests {
		gotT, err := title.Render(tt.vars)
		if err != nil {
			t.Fatalf("%v: title: %v", tt.vars["event_name"], err)
		}
		gotB, err := body.Render(tt.vars)
		if err != nil {
			t.Fatalf("%v: body: %v", tt.vars["event_name"], err)
		}
		if gotT != tt.title || gotB != tt.body {
			t.Errorf("%v: got %q / %q, want %q / %q", tt.vars["event_name"], gotT, gotB, tt.title, tt.body)
		}
	}
}
