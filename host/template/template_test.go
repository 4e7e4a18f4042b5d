package template_test

import (
	"strings"
	"testing"

	"github.com/moonrelay/moonrelay/host/template"
)

// jobContext is what a notifier passes for a job event, as Moonraker does.
func jobContext(event string) map[string]any {
	prev := map[string]any{"filename": "benchy.gcode", "state": "printing", "print_duration": 100.0}
	curr := map[string]any{"filename": "benchy.gcode", "state": event, "print_duration": 3725.4, "filament_used": 1234.5,
		"message": "Move out of range: 250.000 0.000 0.300 [12.345]", "info": map[string]any{"total_layer": 120, "current_layer": 120}}
	return map[string]any{"event_name": event, "event_args": []any{prev, curr}, "event_message": ""}
}

func TestRenderMoonrakerConfigs(t *testing.T) {
	eng := template.New(map[string]any{"telegram": map[string]any{"token": "123:ABC", "chat": 4242}})
	tests := []struct {
		name, src string
		vars      map[string]any
		want      string
	}{
		{"docs body", "Your printer started printing '{event_args[1].filename}'", jobContext("started"), "Your printer started printing 'benchy.gcode'"},
		{"error message", "{event_args[1].message}", jobContext("error"), "Move out of range: 250.000 0.000 0.300 [12.345]"},
		{"wire title", "Moonraker {event_name}", jobContext("started"), "Moonraker started"},
		{"secrets in url", "tgram://{secrets.telegram.token}/{secrets.telegram.chat}", nil, "tgram://123:ABC/4242"},
		{"filters", "{event_name|upper}: {(event_args[1].print_duration / 60)|round(1)} min", jobContext("complete"), "COMPLETE: 62.1 min"},
		{"int and format", "{'{:.1f}'.format(event_args[1].filament_used / 1000)} m in {(event_args[1].print_duration // 3600)|int}h", jobContext("complete"), "1.2 m in 1h"},
		{"default", "{event_args[1].nope | default('n/a')}", jobContext("complete"), "n/a"},
		{"replace", "{event_args[1].filename | replace('.gcode', '')}", jobContext("complete"), "benchy"},
		{"if block and comment", "{% if event_name == 'error' %}FAILED{% else %}ok{% endif %}{# note #}", jobContext("error"), "FAILED"},
		{"do statement", "{% set parts = [] %}{% do parts.append(event_name) %}{parts|join(',')}", jobContext("paused"), "paused"},
		{"fromjson", "{ ('{\"a\": [1, 2]}' | fromjson).a[1] }", nil, "2"},
		{"remote action message", "{event_message}", map[string]any{"event_name": "remote_action", "event_args": []any{}, "event_message": "Filament runout"}, "Filament runout"},
		{"stripped", "\n  {event_name}  \n", jobContext("started"), "started"},
		{"static text", "  Print done  ", nil, "Print done"},
		{"undefined renders empty", "x{bottoken}y", nil, "xy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tpl, err := eng.Compile(tt.name, tt.src)
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			got, err := tpl.Render(tt.vars)
			if err != nil {
				t.Fatalf("render: %v", err)
			}
			if got != tt.want {
				t.Errorf("render(%q) = %q, want %q", tt.src, got, tt.want)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	eng := template.New(nil)
	tests := []struct {
		src       string
		line, col int
		msg       string
	}{
		{"{event_name", 1, 12, "'}' expected"},
		{"first line\nsecond {% if %}", 2, 8, "if"},
		{"{% for x in y %}never closed", 1, 0, "endfor"},
	}
	for _, tt := range tests {
		_, err := eng.Compile("t", tt.src)
		var te *template.Error
		if err == nil || !asErr(err, &te) {
			t.Fatalf("Compile(%q) = %v, want *template.Error", tt.src, err)
		}
		if te.Line != tt.line || (tt.col != 0 && te.Column != tt.col) || !strings.Contains(te.Msg, tt.msg) {
			t.Errorf("Compile(%q) error = line %d col %d %q, want line %d col %d containing %q", tt.src, te.Line, te.Column, te.Msg, tt.line, tt.col, tt.msg)
		}
	}
}

func TestRenderErrors(t *testing.T) {
	eng := template.New(nil)
	tests := []struct {
		src  string
		vars map[string]any
		msg  string
	}{
		// A remote_action has no event_args: Moonraker fails the same way.
		{"{event_args[1].filename}", map[string]any{"event_args": []any{}}, "event_args[1]"},
		{"{raise_error('printer on fire')}", nil, "raise_error: printer on fire"},
	}
	for _, tt := range tests {
		tpl, err := eng.Compile("t", tt.src)
		if err != nil {
			t.Fatal(err)
		}
		_, err = tpl.Render(tt.vars)
		if err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("Render(%q) error %v, want containing %q", tt.src, err, tt.msg)
		}
	}
}

func TestConcurrentRender(t *testing.T) {
	eng := template.New(nil)
	tpl, err := eng.Compile("t", "{event_name}:{event_args[1].filename}")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan string, 8)
	for i := 0; i < 8; i++ {
		go func() {
			out := ""
			for j := 0; j < 200; j++ {
				s, err := tpl.Render(jobContext("complete"))
				if err != nil || s != "complete:benchy.gcode" {
					out = s
				}
			}
			done <- out
		}()
	}
	for i := 0; i < 8; i++ {
		if bad := <-done; bad != "" {
			t.Fatalf("concurrent render gave %q", bad)
		}
	}
}
