package sim

import (
	"fmt"
	"strings"
)

// objectNames is what objects/list returns when the printer is ready.
var objectNames = []string{
	"webhooks", "configfile", "mcu", "gcode_move", "print_stats", "virtual_sdcard",
	"pause_resume", "display_status", "gcode_macro START_PRINT", "gcode_macro PRINT_START",
	"gcode_macro END_PRINT", "gcode_macro NOTIFY", "gcode_macro SET_ACTIVE_SPOOL",
	"gcode_macro CLEAR_ACTIVE_SPOOL", "exclude_object", "heaters", "heater_bed", "fan",
	"idle_timeout", "toolhead", "extruder", "stepper_enable", "system_stats",
}

func (p *Printer) statusLocked(name string, now float64) map[string]any {
	s := &p.st
	if s.klState != "ready" && s.klState != "shutdown" && name != "webhooks" {
		return map[string]any{}
	}
	p.checkIdleLocked(now)
	switch name {
	case "webhooks":
		return map[string]any{"state": s.klState, "state_message": s.stateMsg}
	case "print_stats":
		return s.ps.status(now, s.pos[3], s.extrudeFactor)
	case "virtual_sdcard":
		var fp any
		if s.sd.file != nil {
			fp = s.sd.path
		}
		return map[string]any{"file_path": fp, "progress": s.sd.progress(), "is_active": s.sd.run != nil,
			"file_position": s.sd.pos, "file_size": s.sd.size}
	case "pause_resume":
		return map[string]any{"is_paused": s.isPaused}
	case "display_status":
		prog := s.sd.progress()
		if v, ok := s.m73Progress.(float64); ok {
			prog = v
		}
		return map[string]any{"progress": prog, "message": s.displayMsg}
	case "toolhead":
		est := s.printTime
		if busy := s.moveEnd - now; busy > 0 {
			est -= busy
		}
		return map[string]any{
			"homed_axes": s.homedAxes(), "axis_minimum": []float64{-60, -60, -5, 0}, "axis_maximum": []float64{500, 500, 500, 0},
			"print_time": s.printTime, "stalls": 0, "estimated_print_time": est, "extruder": "extruder",
			"position": floats(s.pos), "max_velocity": s.maxVelocity, "max_accel": s.maxAccel,
			"minimum_cruise_ratio": s.minCruiseRatio, "square_corner_velocity": s.squareCornerVel,
		}
	case "gcode_move":
		gp := s.gcodePosition()
		return map[string]any{
			"speed_factor": s.speedFactor, "speed": s.speed, "extrude_factor": s.extrudeFactor,
			"absolute_coordinates": s.absCoord, "absolute_extrude": s.absExtrude,
			"homing_origin": []float64{0, 0, 0, 0}, "position": floats(s.pos), "gcode_position": floats(gp),
		}
	case "extruder":
		st := s.extruder.status(now)
		st["can_extrude"] = true
		st["pressure_advance"] = 0.0
		st["smooth_time"] = 0.04
		st["motion_queue"] = nil
		return st
	case "heater_bed":
		return s.bed.status(now)
	case "heaters":
		return map[string]any{"available_heaters": []string{"heater_bed", "extruder"},
			"available_sensors": []string{"heater_bed", "extruder"}, "available_monitors": []string{}}
	case "fan":
		return map[string]any{"speed": s.fanSpeed, "rpm": nil}
	case "idle_timeout":
		pt := 0.0
		if s.idleState == "Printing" {
			pt = now - s.lastPrintStart
		}
		return map[string]any{"state": s.idleState, "printing_time": pt, "idle_timeout": idleTimeout}
	case "configfile":
		return map[string]any{"config": rawConfig(), "settings": settings(p.opts.GcodesDir),
			"save_config_pending": false, "save_config_pending_items": map[string]any{}, "warnings": []any{}}
	case "mcu":
		return map[string]any{"mcu_version": "v0.13.0-moonrelay-sim", "mcu_build_versions": "sim",
			"mcu_constants": map[string]any{"MCU": "linux"}, "last_stats": map[string]any{}}
	case "exclude_object":
		return map[string]any{"objects": []any{}, "excluded_objects": []any{}, "current_object": nil}
	case "stepper_enable":
		en := s.homed[0] || s.homed[1] || s.homed[2]
		return map[string]any{"steppers": map[string]any{"stepper_x": en, "stepper_y": en, "stepper_z": en, "extruder": en}}
	case "system_stats":
		return map[string]any{"sysload": 0.1, "cputime": now - p.vbase, "memavail": 1 << 20}
	}
	if strings.HasPrefix(name, "gcode_macro ") {
		for _, n := range objectNames {
			if n == name {
				return map[string]any{}
			}
		}
	}
	return map[string]any{}
}

func (s *state) homedAxes() string {
	out := ""
	for i, a := range "xyz" {
		if s.homed[i] {
			out += string(a)
		}
	}
	return out
}

func (s *state) gcodePosition() [4]float64 {
	var gp [4]float64
	for i := range gp {
		gp[i] = s.pos[i] - s.base[i]
	}
	gp[3] /= s.extrudeFactor
	return gp
}

// checkIdleLocked advances idle_timeout the way Klipper's does: "Printing"
// while moves are queued, "Ready" once they finish, "Idle" (heaters and
// motors off) after idle_timeout seconds without activity and no print.
func (p *Printer) checkIdleLocked(now float64) {
	s := &p.st
	switch {
	case s.sd.run != nil || now < s.moveEnd:
		if s.idleState != "Printing" {
			s.idleState, s.lastPrintStart = "Printing", now
		}
	case s.idleState == "Printing":
		s.idleState = "Ready"
	case s.idleState == "Ready" && now-math64max(s.lastActive, s.moveEnd) > idleTimeout && !s.isPaused:
		s.idleState = "Idle"
		s.extruder.setTarget(now, 0)
		s.bed.setTarget(now, 0)
		s.homed = [3]bool{}
	}
}

func math64max(a, b float64) float64 {
	if a > b {
		return a
	}
	return b
}

// settings is configfile.settings: the parsed config with Klipper's
// defaults filled in, the printer described in
// ../shared/gcode/reference/klipper_printer.cfg.
func settings(gcodesDir string) map[string]any {
	if gcodesDir == "" {
		gcodesDir = "~/printer_data/gcodes"
	}
	stepper := func(pin int, rot, endstop, min, max, homing float64) map[string]any {
		return map[string]any{
			"step_pin": fmt.Sprintf("gpio%d", pin), "dir_pin": fmt.Sprintf("gpio%d", pin+1),
			"enable_pin": fmt.Sprintf("!gpio%d", pin+2), "endstop_pin": fmt.Sprintf("^gpio%d", pin+3),
			"microsteps": 16, "rotation_distance": rot, "full_steps_per_rotation": 200, "gear_ratio": []any{},
			"position_endstop": endstop, "position_min": min, "position_max": max,
			"homing_speed": homing, "second_homing_speed": homing / 2, "homing_retract_speed": homing,
			"homing_retract_dist": 5.0, "homing_positive_dir": false,
		}
	}
	return map[string]any{
		"mcu": map[string]any{"serial": "/tmp/klipper_host_mcu", "baud": 250000, "max_stepper_error": 0.000025},
		"printer": map[string]any{
			"kinematics": "cartesian", "max_velocity": 300.0, "max_accel": 3000.0, "minimum_cruise_ratio": 0.5,
			"square_corner_velocity": 5.0, "max_z_velocity": 15.0, "max_z_accel": 200.0,
		},
		"stepper_x": stepper(1, 40, 0, -60, 500, 50),
		"stepper_y": stepper(5, 40, 0, -60, 500, 50),
		"stepper_z": stepper(9, 8, 0, -5, 500, 10),
		"extruder": map[string]any{
			"step_pin": "gpio13", "dir_pin": "gpio14", "enable_pin": "!gpio15", "microsteps": 16,
			"rotation_distance": 33.5, "full_steps_per_rotation": 200, "gear_ratio": []any{},
			"nozzle_diameter": 0.4, "filament_diameter": 1.75, "max_extrude_cross_section": 1000.0,
			"instantaneous_corner_velocity": 1.0, "max_extrude_only_distance": 1000.0,
			"max_extrude_only_velocity": 120.0, "max_extrude_only_accel": 1250.0,
			"pressure_advance": 0.0, "pressure_advance_smooth_time": 0.04,
			"heater_pin": "gpio16", "max_power": 1.0, "sensor_type": "EPCOS 100K B57560G104F",
			"sensor_pin": "analog0", "pullup_resistor": 4700.0, "smooth_time": 1.0, "control": "watermark",
			"max_delta": 2.0, "min_temp": 0.0, "max_temp": 300.0, "min_extrude_temp": 0.0,
		},
		"heater_bed": map[string]any{
			"heater_pin": "gpio17", "max_power": 1.0, "sensor_type": "EPCOS 100K B57560G104F",
			"sensor_pin": "analog1", "pullup_resistor": 4700.0, "smooth_time": 1.0, "control": "watermark",
			"max_delta": 2.0, "min_temp": 0.0, "max_temp": 130.0,
		},
		"fan":            map[string]any{"pin": "gpio18", "max_power": 1.0, "kick_start_time": 0.1, "off_below": 0.0, "cycle_time": 0.01, "hardware_pwm": false, "shutdown_speed": 0.0},
		"gcode_arcs":     map[string]any{"resolution": 0.1},
		"virtual_sdcard": map[string]any{"path": gcodesDir, "on_error_gcode": "\n{% if 'heaters' in printer %}\n   TURN_OFF_HEATERS\n{% endif %}"},
		"pause_resume":   map[string]any{"recover_velocity": 50.0},
		"display_status": map[string]any{},
		"exclude_object": map[string]any{},
		"idle_timeout":   map[string]any{"timeout": idleTimeout, "gcode": "\nTURN_OFF_HEATERS\nM84"},
		"gcode_macro notify": map[string]any{"gcode": "\n{% set name = params.NAME|default(\"\") %}\n{% set message = params.MESSAGE|default(\"\") %}\n{action_call_remote_method(\"notify\", name=name, message=message)}",
			"description": "G-Code macro"},
		"gcode_macro set_active_spool": map[string]any{"gcode": "\n{% if params.ID %}\n{% set id = params.ID|int %}\n{action_call_remote_method(\"spoolman_set_active_spool\", spool_id=id)}\n{% else %}\n{action_respond_info(\"Parameter 'ID' is required\")}\n{% endif %}",
			"description": "G-Code macro"},
		"gcode_macro clear_active_spool": map[string]any{"gcode": "\n{action_call_remote_method(\"spoolman_set_active_spool\", spool_id=None)}", "description": "G-Code macro"},
		"gcode_macro start_print":        map[string]any{"gcode": "\nG28\nM190 S{params.BED_TEMP|default(60)}\nM109 S{params.EXTRUDER_TEMP|default(200)}", "description": "G-Code macro"},
		"gcode_macro print_start":        map[string]any{"gcode": "\nG28\nM190 S{params.BED|default(60)}\nM109 S{params.EXTRUDER|default(200)}", "description": "G-Code macro"},
		"gcode_macro end_print":          map[string]any{"gcode": "\nTURN_OFF_HEATERS\nM84", "description": "G-Code macro"},
	}
}

// rawConfig is configfile.config: every option as the string written in
// printer.cfg.
func rawConfig() map[string]any {
	out := map[string]any{}
	for sec, opts := range settings("~/printer_data/gcodes") {
		m := map[string]any{}
		for k, v := range opts.(map[string]any) {
			switch v := v.(type) {
			case []any:
				continue
			case bool:
				if v {
					m[k] = "True"
				} else {
					m[k] = "False"
				}
			default:
				m[k] = fmt.Sprint(v)
			}
		}
		out[sec] = m
	}
	return out
}

// floats copies a position so that a status value never aliases live state.
func floats(v [4]float64) []float64 { return []float64{v[0], v[1], v[2], v[3]} }
