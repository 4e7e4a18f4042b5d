package sim

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseLine(t *testing.T) {
	tests := []struct {
		line, name string
		params     map[string]string
		ok         bool
	}{
		{"G1 X10 Y-5.5 E.5 F1200 ; move", "G1", map[string]string{"X": "10", "Y": "-5.5", "E": ".5", "F": "1200"}, true},
		{"G1X10Y20E-.8", "G1", map[string]string{"X": "10", "Y": "20", "E": "-.8"}, true},
		{"g92 e0", "G92", map[string]string{"E": "0"}, true},
		{"N12 G28*54", "G28", map[string]string{}, true},
		{"; only a comment", "", nil, false},
		{"   ", "", nil, false},
		{`SDCARD_PRINT_FILE FILENAME="my \"best\" part.gcode"`, "SDCARD_PRINT_FILE", map[string]string{"FILENAME": `my "best" part.gcode`}, true},
		{"set_print_stats_info total_layer=120 current_layer=1", "SET_PRINT_STATS_INFO", map[string]string{"TOTAL_LAYER": "120", "CURRENT_LAYER": "1"}, true},
		{"NOTIFY NAME=phone MESSAGE='Filament runout'", "NOTIFY", map[string]string{"NAME": "phone", "MESSAGE": "Filament runout"}, true},
		{"START_PRINT EXTRUDER_TEMP=220 BED_TEMP=60", "START_PRINT", map[string]string{"EXTRUDER_TEMP": "220", "BED_TEMP": "60"}, true},
		{"M117 Printing part 1", "M117", map[string]string{"P": "rinting", "A": "rt"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			c, ok := parseLine(tt.line)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if !ok {
				return
			}
			if c.name != tt.name {
				t.Errorf("name = %q, want %q", c.name, tt.name)
			}
			if tt.name == "M117" {
				if c.args != "Printing part 1" {
					t.Errorf("M117 args = %q", c.args)
				}
				return
			}
			if fmt.Sprint(c.param) != fmt.Sprint(tt.params) {
				t.Errorf("params = %v, want %v", c.param, tt.params)
			}
		})
	}
}

func TestHeaterModel(t *testing.T) {
	h := heater{temp0: ambient, tau: 8, maxTemp: 300}
	h.setTarget(0, 200)
	d := h.settleTime(0)
	if got := h.temp(d); got < 199 || got > 200 {
		t.Errorf("temperature after settleTime %.1f s = %.2f, want within 1 °C of 200", d, got)
	}
	if h.power(0) != 1 || h.power(1000) >= 0.5 {
		t.Errorf("power cold = %v, at temperature = %v", h.power(0), h.power(1000))
	}
}

func TestMainServesUntilCancelled(t *testing.T) {
	dir, err := os.MkdirTemp("", "mr")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "k.sock")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Main(ctx, []string{"--socket", sock, "--startup-delay", "0s"}, &bytes.Buffer{}, nil) }()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("socket never appeared")
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Main = %v", err)
	}
	var stderr bytes.Buffer
	if err := Main(context.Background(), nil, &stderr, nil); err == nil || !strings.Contains(err.Error(), "--socket is required") {
		t.Errorf("Main without --socket = %v", err)
	}
}
