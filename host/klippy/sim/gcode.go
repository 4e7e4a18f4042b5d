package sim

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// runScript runs a G-code script (lines separated by '\n') while holding
// the gcode mutex, stopping at the first error, as gcode.run_script does.
func (p *Printer) runScript(script string) error {
	if strings.TrimSpace(strings.ToUpper(script)) == "M112" {
		p.shutdown("Shutdown due to M112 command")
		return nil
	}
	p.gcodeMu <- struct{}{}
	defer func() { <-p.gcodeMu }()
	for _, line := range strings.Split(script, "\n") {
		if err := p.exec(line, false); err != nil {
			return err
		}
	}
	return nil
}

// baseCommands still run when the printer is not ready, as in gcode.py.
var baseCommands = map[string]bool{"M110": true, "M112": true, "M115": true, "RESTART": true,
	"FIRMWARE_RESTART": true, "ECHO": true, "STATUS": true, "HELP": true, "M105": true, "M21": true}

// exec runs one line; the caller holds the gcode mutex. fromSD is true for
// lines read by the print loop.
func (p *Printer) exec(line string, fromSD bool) error {
	c, ok := parseLine(line)
	if !ok {
		return nil
	}
	p.mu.Lock()
	now := p.now()
	s := &p.st
	s.lastActive = now
	if s.klState != "ready" && !baseCommands[c.name] {
		msg := s.stateMsg
		p.mu.Unlock()
		return &cmdError{msg}
	}
	wait, err := p.dispatchLocked(c, now, fromSD)
	if err != nil {
		p.respondLocked("!! " + firstLine(err.Error()))
	}
	p.mu.Unlock()
	if err != nil {
		return err
	}
	if wait != nil {
		return wait()
	}
	return nil
}

// dispatchLocked runs a command with p.mu held. A command that must block
// (M109, M400, PAUSE) returns a wait function that runs after p.mu is released.
func (p *Printer) dispatchLocked(c command, now float64, fromSD bool) (func() error, error) {
	s := &p.st
	switch c.name {
	case "G0", "G1":
		return nil, p.moveLocked(c, now, fromSD, false, false)
	case "G2", "G3":
		return nil, p.moveLocked(c, now, fromSD, true, c.name == "G2")
	case "G4":
		ms, err := c.floatDefault("P", 0)
		if err != nil {
			return nil, err
		}
		if sec, ok, _ := c.float("S"); ok {
			ms = sec * 1000
		}
		p.queueLocked(now, ms/1000)
		return nil, nil
	case "G28":
		axes := [3]bool{}
		any := false
		for i, a := range []string{"X", "Y", "Z"} {
			if _, ok := c.param[a]; ok {
				axes[i], any = true, true
			}
		}
		for i := range axes {
			if !any || axes[i] {
				s.homed[i] = true
				s.pos[i] = 0
				s.base[i] = 0
			}
		}
		p.queueLocked(now, 4)
		return nil, nil
	case "G90":
		s.absCoord = true
	case "G91":
		s.absCoord = false
	case "M82":
		s.absExtrude = true
	case "M83":
		s.absExtrude = false
	case "G92":
		set := false
		for i, a := range []string{"X", "Y", "Z", "E"} {
			v, ok, err := c.float(a)
			if err != nil {
				return nil, err
			}
			if ok {
				set = true
				if i == 3 {
					v *= s.extrudeFactor
				}
				s.base[i] = s.pos[i] - v
			}
		}
		if !set {
			s.base = s.pos
		}
	case "M84", "M18":
		s.homed = [3]bool{}
	case "M104", "M109", "M140", "M190":
		h := &s.extruder
		if c.name == "M140" || c.name == "M190" {
			h = &s.bed
		}
		t, err := c.floatDefault("S", 0)
		if err != nil {
			return nil, err
		}
		if err := p.setTempLocked(h, t, now); err != nil {
			return nil, err
		}
		if c.name == "M109" || c.name == "M190" {
			return p.heaterWait(h), nil
		}
	case "SET_HEATER_TEMPERATURE":
		h := &s.extruder
		switch strings.ToLower(c.param["HEATER"]) {
		case "extruder":
		case "heater_bed":
			h = &s.bed
		default:
			return nil, cmdErrorf("The value '%s' is not valid for HEATER", c.param["HEATER"])
		}
		t, err := c.floatDefault("TARGET", 0)
		if err != nil {
			return nil, err
		}
		return nil, p.setTempLocked(h, t, now)
	case "TURN_OFF_HEATERS":
		s.extruder.setTarget(now, 0)
		s.bed.setTarget(now, 0)
	case "M106":
		v, err := c.floatDefault("S", 255)
		if err != nil {
			return nil, err
		}
		s.fanSpeed = math.Max(0, math.Min(1, v/255))
	case "M107":
		s.fanSpeed = 0
	case "M220":
		v, err := c.floatDefault("S", 100)
		if err != nil {
			return nil, err
		}
		if v <= 0 {
			return nil, cmdErrorf("Error on 'M220': S must be above 0.0")
		}
		s.speedFactor = v / 100
	case "M221":
		v, err := c.floatDefault("S", 100)
		if err != nil {
			return nil, err
		}
		if v <= 0 {
			return nil, cmdErrorf("Error on 'M221': S must be above 0.0")
		}
		// Account filament at the old factor before it changes, as
		// print_stats would if it were queried at this instant.
		if s.ps.started && !s.ps.pausedNow {
			s.ps.updateFilament(s.pos[3], s.extrudeFactor)
		}
		nf := v / 100
		e := (s.pos[3] - s.base[3]) / s.extrudeFactor
		s.base[3] = s.pos[3] - e*nf
		s.extrudeFactor = nf
	case "M204":
		accel, ok, err := c.float("S")
		if err != nil {
			return nil, err
		}
		if !ok {
			pv, pok, _ := c.float("P")
			tv, tok, _ := c.float("T")
			if !pok || !tok {
				p.respondLocked(fmt.Sprintf("// Invalid M204 command \"%s\"", c.raw))
				return nil, nil
			}
			accel = math.Min(pv, tv)
		}
		if accel > 0 {
			s.maxAccel = accel
		}
	case "SET_VELOCITY_LIMIT":
		for key, dst := range map[string]*float64{"VELOCITY": &s.maxVelocity, "ACCEL": &s.maxAccel,
			"SQUARE_CORNER_VELOCITY": &s.squareCornerVel, "MINIMUM_CRUISE_RATIO": &s.minCruiseRatio} {
			v, ok, err := c.float(key)
			if err != nil {
				return nil, err
			}
			if ok {
				*dst = v
			}
		}
	case "M400":
		return p.waitMoves(), nil
	case "M105":
		p.respondLocked(fmt.Sprintf("ok B:%.1f /%.1f T0:%.1f /%.1f", s.bed.temp(now), s.bed.target, s.extruder.temp(now), s.extruder.target))
	case "M114":
		gp := s.gcodePosition()
		p.respondLocked(fmt.Sprintf("X:%.3f Y:%.3f Z:%.3f E:%.3f", gp[0], gp[1], gp[2], gp[3]))
	case "M115":
		p.respondLocked("FIRMWARE_NAME:Klipper FIRMWARE_VERSION:v0.13.0-moonrelay-sim")
	case "M117":
		msg := strings.TrimSpace(c.args)
		if msg == "" {
			s.displayMsg = nil
		} else {
			s.displayMsg = msg
		}
	case "M73":
		if v, ok, _ := c.float("P"); ok {
			s.m73Progress = math.Max(0, math.Min(100, v)) / 100
		}
	case "M110", "M21", "ECHO", "HELP":
	case "STATUS":
		p.respondLocked("// Klipper state: " + strings.Title(s.klState))
	case "RESPOND":
		p.respondLocked("echo: " + c.param["MSG"])
	case "M112":
		p.shutdownLocked("Shutdown due to M112 command")
	case "RESTART", "FIRMWARE_RESTART":
		go p.Restart()
	case "SAVE_GCODE_STATE":
		name := c.param["NAME"]
		if name == "" {
			name = "default"
		}
		s.saved[strings.ToUpper(name)] = savedState{s.absCoord, s.absExtrude, s.base, s.pos, s.speed, s.speedFactor, s.extrudeFactor}
	case "RESTORE_GCODE_STATE":
		name := c.param["NAME"]
		if name == "" {
			name = "default"
		}
		sv, ok := s.saved[strings.ToUpper(name)]
		if !ok {
			return nil, cmdErrorf("Unknown g-code state: %s", name)
		}
		s.absCoord, s.absExtrude, s.speed, s.speedFactor, s.extrudeFactor = sv.absCoord, sv.absExtrude, sv.speed, sv.speedFactor, sv.extrude
		// Klipper keeps the current E position but restores its offset.
		s.base = sv.base
		s.base[3] += s.pos[3] - sv.pos[3]
		if c.param["MOVE"] == "1" {
			for i := 0; i < 3; i++ {
				s.pos[i] = sv.pos[i]
			}
		}
	case "SET_PRINT_STATS_INFO":
		return nil, p.setPrintStatsInfoLocked(c)
	case "SDCARD_PRINT_FILE":
		return nil, p.printFileLocked(c.param["FILENAME"], now)
	case "SDCARD_RESET_FILE":
		if fromSD {
			return nil, cmdErrorf("SDCARD_RESET_FILE cannot be run from the sdcard")
		}
		return p.resetFileWait(), nil
	case "M24":
		return nil, p.resumeSDLocked(now)
	case "M25", "PAUSE":
		return p.pauseLocked(fromSD, c.name == "PAUSE"), nil
	case "RESUME":
		if !s.isPaused {
			p.respondLocked("// Print is not paused, resume aborted")
			return nil, nil
		}
		if s.sdPaused {
			if err := p.resumeSDLocked(now); err != nil {
				return nil, err
			}
			s.sdPaused = false
		} else {
			p.respondLocked("// action:resumed")
		}
		s.pauseSent = false
		s.isPaused = false
	case "CLEAR_PAUSE":
		s.isPaused, s.pauseSent = false, false
	case "CANCEL_PRINT":
		return p.cancelWait(fromSD), nil
	case "EXCLUDE_OBJECT_DEFINE", "EXCLUDE_OBJECT_START", "EXCLUDE_OBJECT_END", "EXCLUDE_OBJECT":
	case "START_PRINT", "PRINT_START":
		bedKey, extKey := "BED_TEMP", "EXTRUDER_TEMP"
		if c.name == "PRINT_START" {
			bedKey, extKey = "BED", "EXTRUDER"
		}
		bed, err := c.floatDefault(bedKey, 60)
		if err != nil {
			return nil, err
		}
		ext, err := c.floatDefault(extKey, 200)
		if err != nil {
			return nil, err
		}
		s.homed = [3]bool{true, true, true}
		s.pos[0], s.pos[1], s.pos[2] = 0, 0, 0
		s.base[0], s.base[1], s.base[2] = 0, 0, 0
		p.queueLocked(now, 4)
		if err := p.setTempLocked(&s.bed, bed, now); err != nil {
			return nil, err
		}
		if err := p.setTempLocked(&s.extruder, ext, now); err != nil {
			return nil, err
		}
		bw, ew := p.heaterWait(&s.bed), p.heaterWait(&s.extruder)
		return func() error {
			if err := bw(); err != nil {
				return err
			}
			return ew()
		}, nil
	case "END_PRINT":
		s.extruder.setTarget(now, 0)
		s.bed.setTarget(now, 0)
		s.fanSpeed = 0
	case "NOTIFY":
		p.remoteMacroLocked("notify", map[string]any{"name": c.param["NAME"], "message": c.param["MESSAGE"]})
	case "SET_ACTIVE_SPOOL":
		raw, ok := c.param["ID"]
		if !ok || raw == "" {
			p.respondLocked("// Parameter 'ID' is required")
			return nil, nil
		}
		id, err := strconv.Atoi(raw)
		if err != nil {
			return nil, cmdErrorf("Error evaluating 'gcode_macro SET_ACTIVE_SPOOL:gcode': ValueError: invalid literal for int() with base 10: '%s'", raw)
		}
		p.remoteMacroLocked("spoolman_set_active_spool", map[string]any{"spool_id": id})
	case "CLEAR_ACTIVE_SPOOL":
		p.remoteMacroLocked("spoolman_set_active_spool", map[string]any{"spool_id": nil})
	default:
		p.respondLocked(fmt.Sprintf("// Unknown command:\"%s\"", c.name))
	}
	return nil, nil
}

// remoteMacroLocked is action_call_remote_method: a missing registration is
// logged, never a G-code error, as in gcode_macro.py.
func (p *Printer) remoteMacroLocked(method string, kwargs map[string]any) {
	if err := p.callRemoteLocked(method, kwargs); err != nil {
		p.log.Info("remote call error", "method", method, "err", err)
	}
}

func (p *Printer) setTempLocked(h *heater, t, now float64) error {
	if t != 0 && (t < 0 || t > h.maxTemp) {
		return cmdErrorf("Requested temperature (%.1f) out of range (%.1f:%.1f)", t, 0.0, h.maxTemp)
	}
	h.setTarget(now, t)
	return nil
}

// sleepVirtual waits d simulated seconds, or less if the printer shuts down
// or closes. It reports false when interrupted.
func (p *Printer) sleepVirtual(d float64, stop <-chan struct{}) bool {
	if d <= 0 {
		return true
	}
	real := time.Duration(d / p.opts.Speed * float64(time.Second))
	t := time.NewTimer(real)
	defer t.Stop()
	p.mu.Lock()
	ctx := p.ctx
	p.mu.Unlock()
	var done <-chan struct{}
	if ctx != nil {
		done = ctx.Done()
	}
	select {
	case <-t.C:
		return true
	case <-stop:
	case <-done:
	}
	return false
}

func (p *Printer) heaterWait(h *heater) func() error {
	return func() error {
		for {
			p.mu.Lock()
			if p.st.klState != "ready" {
				msg := p.st.stateMsg
				p.mu.Unlock()
				return &cmdError{msg}
			}
			d := h.settleTime(p.now())
			p.mu.Unlock()
			if d <= 0 {
				return nil
			}
			if !p.sleepVirtual(d+0.01, nil) {
				return cmdErrorf("wait interrupted")
			}
		}
	}
}

func (p *Printer) waitMoves() func() error {
	return func() error {
		p.mu.Lock()
		d := p.st.moveEnd - p.now()
		p.mu.Unlock()
		p.sleepVirtual(d, nil)
		return nil
	}
}

// queueLocked adds d simulated seconds of motion to the toolhead queue.
func (p *Printer) queueLocked(now, d float64) {
	s := &p.st
	if s.moveEnd < now {
		s.moveEnd = now
	}
	if s.printTime < s.moveEnd-now {
		s.printTime = s.moveEnd - now
	}
	s.moveEnd += d
	s.printTime += d
}

// moveLocked is gcode_move's G0/G1 (and G2/G3 for their end point and
// extrusion), with the toolhead's homing and range checks.
func (p *Printer) moveLocked(c command, now float64, fromSD, arc, clockwise bool) error {
	s := &p.st
	np := s.pos
	for i, a := range []string{"X", "Y", "Z"} {
		v, ok, err := c.float(a)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if s.absCoord {
			np[i] = v + s.base[i]
		} else {
			np[i] += v
		}
	}
	if v, ok, err := c.float("E"); err != nil {
		return err
	} else if ok {
		v *= s.extrudeFactor
		if !s.absCoord || !s.absExtrude {
			np[3] += v
		} else {
			np[3] = v + s.base[3]
		}
	}
	if f, ok, err := c.float("F"); err != nil {
		return err
	} else if ok {
		if f <= 0 {
			return cmdErrorf("Invalid speed in '%s'", c.raw)
		}
		s.speed = f / 60
	}
	limits := [3][2]float64{{-60, 500}, {-60, 500}, {-5, 500}}
	for i := 0; i < 3; i++ {
		if np[i] == s.pos[i] {
			continue
		}
		if !s.homed[i] {
			return cmdErrorf("Must home axis first: %.3f %.3f %.3f [%.3f]", np[0], np[1], np[2], np[3])
		}
		if np[i] < limits[i][0] || np[i] > limits[i][1] {
			return cmdErrorf("Move out of range: %.3f %.3f %.3f [%.3f]", np[0], np[1], np[2], np[3])
		}
	}
	dist := math.Sqrt(sq(np[0]-s.pos[0]) + sq(np[1]-s.pos[1]) + sq(np[2]-s.pos[2]))
	if arc {
		dist = arcLength(c, s.pos, np, clockwise, dist)
	}
	speed := math.Min(s.speed*s.speedFactor, s.maxVelocity)
	accel := s.maxAccel
	if dist == 0 {
		dist = math.Abs(np[3] - s.pos[3])
		speed, accel = math.Min(speed, 120), 1250
	} else if np[2] != s.pos[2] && np[0] == s.pos[0] && np[1] == s.pos[1] {
		speed, accel = math.Min(speed, 15), 200
	}
	s.pos = np
	if dist > 0 && speed > 0 {
		p.queueLocked(now, moveTime(dist, speed, accel))
	}
	return nil
}

func sq(v float64) float64 { return v * v }

// moveTime is a trapezoid profile's duration: accelerate, cruise, decelerate.
func moveTime(dist, v, a float64) float64 {
	if dist >= v*v/a {
		return dist/v + v/a
	}
	return 2 * math.Sqrt(dist/a)
}

// arcLength measures a G2/G3 arc in the XY plane from its I/J centre
// offsets; without them it falls back to the chord.
func arcLength(c command, from, to [4]float64, clockwise bool, chord float64) float64 {
	i, iok, _ := c.float("I")
	j, jok, _ := c.float("J")
	if !iok && !jok {
		return chord
	}
	cx, cy := from[0]+i, from[1]+j
	r := math.Hypot(i, j)
	a0 := math.Atan2(from[1]-cy, from[0]-cx)
	a1 := math.Atan2(to[1]-cy, to[0]-cx)
	ang := a1 - a0
	if clockwise {
		ang = -ang
	}
	for ang <= 1e-9 {
		ang += 2 * math.Pi
	}
	return math.Hypot(r*ang, to[2]-from[2])
}

func (p *Printer) setPrintStatsInfoLocked(c command) error {
	ps := &p.st.ps
	get := func(key string, cur any) (any, error) {
		raw, ok := c.param[key]
		if !ok {
			return cur, nil
		}
		v, err := strconv.Atoi(raw)
		if err != nil {
			return nil, cmdErrorf("Error on '%s': unable to parse %s", c.raw, raw)
		}
		if v < 0 {
			return nil, cmdErrorf("Error on '%s': %s must have minimum of 0", c.raw, key)
		}
		return v, nil
	}
	total, err := get("TOTAL_LAYER", ps.totalLayer)
	if err != nil {
		return err
	}
	current, err := get("CURRENT_LAYER", ps.currentLayer)
	if err != nil {
		return err
	}
	if t, ok := total.(int); ok && t == 0 {
		ps.totalLayer, ps.currentLayer = nil, nil
	} else if total != ps.totalLayer {
		ps.totalLayer, ps.currentLayer = total, 0
	}
	if t, ok := ps.totalLayer.(int); ok && current != nil && current != ps.currentLayer {
		cur := current.(int)
		if cur > t {
			cur = t
		}
		ps.currentLayer = cur
	}
	return nil
}

// ---- virtual_sdcard ---------------------------------------------------

func (p *Printer) printFileLocked(name string, now float64) error {
	s := &p.st
	if s.sd.run != nil {
		return cmdErrorf("SD busy")
	}
	if name == "" {
		return cmdErrorf("Error on 'SDCARD_PRINT_FILE': missing FILENAME")
	}
	name = strings.TrimPrefix(name, "/")
	full, ok := resolveGcode(s.gcodesDir, name)
	if !ok {
		return cmdErrorf("Unable to open file")
	}
	f, err := os.Open(full)
	if err != nil {
		return cmdErrorf("Unable to open file")
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return cmdErrorf("Unable to open file")
	}
	// _reset_file: the loop is not running (checked above), so no wait.
	s.sd.closeFile()
	s.ps.reset()
	p.respondLocked(fmt.Sprintf("File opened:%s Size:%d", name, fi.Size()))
	p.respondLocked("File selected")
	s.sd = sdcard{file: f, reader: bufio.NewReaderSize(f, 64*1024), path: full, size: fi.Size()}
	s.ps.filename = name
	return p.resumeSDLocked(now)
}

func (p *Printer) resumeSDLocked(now float64) error {
	s := &p.st
	if s.sd.run != nil {
		return cmdErrorf("SD busy")
	}
	if s.sd.file == nil {
		return nil
	}
	run := &sdRun{stop: make(chan struct{}), done: make(chan struct{})}
	s.sd.run = run
	s.ps.noteStart(now, s.pos[3])
	go p.work(run)
	return nil
}

// pauseLocked is PAUSE (pause_resume) or M25 (virtual_sdcard do_pause).
// From the API it waits for the print loop to stop, like Klippy; from the
// file itself it only asks the loop to stop after the current line.
func (p *Printer) pauseLocked(fromSD, isPauseCmd bool) func() error {
	s := &p.st
	if isPauseCmd {
		if s.isPaused {
			p.respondLocked("// Print already paused")
			return nil
		}
		s.isPaused = true
		if s.pauseSent {
			return nil
		}
		s.pauseSent = true
		if s.sd.run == nil {
			s.sdPaused = false
			p.respondLocked("// action:paused")
			return nil
		}
		s.sdPaused = true
	}
	run := s.sd.run
	if run == nil {
		return nil
	}
	if fromSD {
		run.mustPause = true
		return nil
	}
	run.requestStop()
	return func() error { <-run.done; return nil }
}

func (p *Printer) cancelWait(fromSD bool) func() error {
	s := &p.st
	active := s.sd.run != nil || s.sdPaused
	s.isPaused, s.pauseSent, s.sdPaused = false, false, false
	if !active {
		p.respondLocked("// action:cancel")
		return nil
	}
	return p.stopLoopLocked(fromSD, endCancel)
}

func (p *Printer) resetFileWait() func() error {
	return p.stopLoopLocked(false, endReset)
}

// loopEnd says what the print loop does with the file when it stops.
type loopEnd int

const (
	endPause  loopEnd = iota // keep the file: print_stats "paused"
	endCancel                // close it: print_stats "cancelled"
	endReset                 // close it: print_stats back to "standby"
)

// stopLoopLocked ends the print with end. With the loop running, the loop
// applies end itself, so that no status push sees a "paused" in between.
func (p *Printer) stopLoopLocked(fromSD bool, end loopEnd) func() error {
	s := &p.st
	run := s.sd.run
	if run == nil {
		p.finishLocked(end, p.now())
		return nil
	}
	run.end = end
	if fromSD {
		run.mustPause = true
		return nil
	}
	run.requestStop()
	return func() error { <-run.done; return nil }
}

func (p *Printer) finishLocked(end loopEnd, now float64) {
	s := &p.st
	switch end {
	case endCancel:
		if s.sd.file != nil {
			s.sd.closeFile()
			s.ps.noteFinish(now, "cancelled", "", s.pos[3], s.extrudeFactor)
		}
		s.sd.pos, s.sd.size = 0, 0
	case endReset:
		s.sd.closeFile()
		s.sd.pos, s.sd.size = 0, 0
		s.ps.reset()
	default:
		s.ps.notePause(now, s.pos[3], s.extrudeFactor)
	}
}

// work is the print loop (virtual_sdcard.work_handler): read a line, run it
// under the gcode mutex, advance file_position, and keep simulated time
// from running ahead of the queued motion.
func (p *Printer) work(run *sdRun) {
	defer close(run.done)
	var errMsg string
	var eof, stopped bool
	p.mu.Lock()
	reader := p.st.sd.reader
	p.mu.Unlock()
loop:
	for {
		select {
		case <-run.stop:
			stopped = true
			break loop
		default:
		}
		line, rerr := reader.ReadString('\n')
		if line == "" && rerr != nil {
			if !errors.Is(rerr, io.EOF) {
				errMsg = "Error on virtual sdcard read"
			}
			eof = errMsg == ""
			break
		}
		select {
		case p.gcodeMu <- struct{}{}:
		case <-run.stop:
			stopped = true
			break loop
		}
		p.mu.Lock()
		frac := float64(p.st.sd.pos) / math.Max(1, float64(p.st.sd.size))
		if p.st.failMsg != "" && frac >= p.st.failAt {
			errMsg = p.st.failMsg
			p.st.failMsg = ""
			p.respondLocked("!! " + firstLine(errMsg))
		}
		drop := p.st.dropAt > 0 && frac >= p.st.dropAt
		if drop {
			p.st.dropAt = 0
		}
		p.mu.Unlock()
		if drop {
			p.DropConnections()
		}
		if errMsg != "" {
			<-p.gcodeMu
			break
		}
		err := p.exec(strings.TrimRight(line, "\r\n"), true)
		<-p.gcodeMu
		p.mu.Lock()
		p.st.sd.pos += int64(len(line))
		if !strings.HasSuffix(line, "\n") {
			p.st.sd.pos++
		}
		if p.st.sd.pos > p.st.sd.size {
			p.st.sd.pos = p.st.sd.size
		}
		ahead := p.st.moveEnd - p.now()
		p.mu.Unlock()
		if err != nil {
			errMsg = err.Error()
			break
		}
		if run.mustPause {
			stopped = true
			break
		}
		// Let queued motion run ahead by up to 2 ms of real time.
		if ahead > 0.002*p.opts.Speed && !p.sleepVirtual(ahead, run.stop) {
			stopped = true
			break
		}
	}
	if eof && !stopped {
		// The last moves finish before the print counts as complete.
		p.mu.Lock()
		ahead := p.st.moveEnd - p.now()
		p.mu.Unlock()
		if !p.sleepVirtual(ahead, run.stop) {
			eof = false
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	s := &p.st
	now := p.now()
	s.sd.run = nil
	switch {
	case errMsg != "":
		s.ps.noteFinish(now, "error", errMsg, s.pos[3], s.extrudeFactor)
		s.extruder.setTarget(now, 0) // on_error_gcode: TURN_OFF_HEATERS
		s.bed.setTarget(now, 0)
	case eof:
		s.sd.closeFile()
		p.respondLocked("Done printing file")
		s.ps.noteFinish(now, "complete", "", s.pos[3], s.extrudeFactor)
	default:
		p.finishLocked(run.end, now)
	}
}

// shutdown is Klippy's invoke_shutdown: the printer halts, heaters go off
// and the print loop stops (print_stats ends up "paused", as in Klipper).
func (p *Printer) shutdown(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.shutdownLocked(msg)
}

func (p *Printer) shutdownLocked(msg string) {
	s := &p.st
	if s.klState == "shutdown" {
		return
	}
	now := p.now()
	s.klState, s.stateMsg = "shutdown", msg+shutdownSuffix
	s.extruder.setTarget(now, 0)
	s.bed.setTarget(now, 0)
	s.moveEnd = now
	if s.sd.run != nil {
		s.sd.run.requestStop()
	}
	p.respondLocked("// Klipper state: Shutdown")
	p.respondLocked("!! " + msg)
}

// stopPrintForClose stops the print loop and waits for it.
func (p *Printer) stopPrintForClose() {
	p.mu.Lock()
	run := p.st.sd.run
	p.mu.Unlock()
	if run != nil {
		run.requestStop()
		<-run.done
	}
	p.mu.Lock()
	p.st.sd.closeFile()
	p.mu.Unlock()
}
