package sim

import (
	"bufio"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

const (
	messageReady   = "Printer is ready"
	messageStartup = "Printer is not ready\nThe klippy host software is attempting to connect.  Please\nretry in a few moments."
	shutdownSuffix = "\nOnce the underlying issue is corrected, use the\n\"FIRMWARE_RESTART\" command to reset the firmware, reload the\nconfig, and restart the host software.\nPrinter is shutdown"
	ambient        = 25.0
	idleTimeout    = 600.0
)

// state is everything the simulated Klippy knows; guarded by Printer.mu.
type state struct {
	klState, stateMsg string
	gcodesDir         string

	// gcode_move: positions in toolhead coordinates, offsets per G92.
	pos, base                  [4]float64
	absCoord, absExtrude       bool
	speed                      float64 // mm/s, from F
	speedFactor, extrudeFactor float64
	saved                      map[string]savedState

	// toolhead
	homed                           [3]bool
	maxVelocity, maxAccel           float64
	minCruiseRatio, squareCornerVel float64
	moveEnd                         float64 // eventtime at which queued moves finish
	printTime                       float64

	extruder, bed heater
	fanSpeed      float64

	ps printStats
	sd sdcard

	isPaused, sdPaused, pauseSent bool

	idleState      string
	lastActive     float64
	lastPrintStart float64

	displayMsg  any // string or nil
	m73Progress any // float or nil

	failAt  float64
	failMsg string
	dropAt  float64
}

type savedState struct {
	absCoord, absExtrude bool
	base, pos            [4]float64
	speed                float64
	speedFactor, extrude float64
}

func newState(gcodesDir string) state {
	return state{
		klState: "startup", stateMsg: messageStartup, gcodesDir: gcodesDir,
		absCoord: true, absExtrude: true, speed: 25, speedFactor: 1, extrudeFactor: 1,
		saved:       map[string]savedState{},
		maxVelocity: 300, maxAccel: 3000, minCruiseRatio: 0.5, squareCornerVel: 5,
		extruder:  heater{temp0: ambient, tau: 8, maxTemp: 300},
		bed:       heater{temp0: ambient, tau: 40, maxTemp: 130},
		ps:        printStats{state: "standby"},
		idleState: "Idle",
	}
}

func (s *state) setReady() { s.klState, s.stateMsg = "ready", messageReady }

// heater follows a first-order thermal model: the temperature approaches
// the target (or ambient when off) exponentially with time constant tau.
type heater struct {
	t0, temp0, target, tau, maxTemp float64
}

func (h *heater) temp(now float64) float64 {
	goal := ambient
	if h.target > 0 {
		goal = h.target
	}
	return goal + (h.temp0-goal)*math.Exp(-(now-h.t0)/h.tau)
}

func (h *heater) setTarget(now, target float64) {
	h.temp0, h.t0, h.target = h.temp(now), now, target
}

func (h *heater) power(now float64) float64 {
	if h.target <= 0 {
		return 0
	}
	p := 0.25 + (h.target-h.temp(now))/20
	return math.Round(math.Max(0, math.Min(1, p))*1000) / 1000
}

// settleTime is how many simulated seconds until the temperature is within
// 1 °C of the target, Klippy's condition for M109/M190 to return.
func (h *heater) settleTime(now float64) float64 {
	if h.target <= 0 {
		return 0
	}
	d := math.Abs(h.temp(now) - h.target)
	if d <= 1 {
		return 0
	}
	return h.tau * math.Log(d/0.99)
}

func (h *heater) status(now float64) map[string]any {
	return map[string]any{"temperature": round2(h.temp(now)), "target": h.target, "power": h.power(now)}
}

// printStats mirrors Klipper's extras/print_stats.py.
type printStats struct {
	filename, errMsg, state       string
	prevPause, lastEpos, filament float64
	total, initDuration           float64
	started, pausedNow            bool
	startTime, lastPauseTime      float64
	totalLayer, currentLayer      any // int or nil
}

func (ps *printStats) reset() { *ps = printStats{state: "standby"} }

func (ps *printStats) updateFilament(epos, extrudeFactor float64) {
	ps.filament += (epos - ps.lastEpos) / extrudeFactor
	ps.lastEpos = epos
}

func (ps *printStats) noteStart(now, epos float64) {
	if !ps.started {
		ps.started, ps.startTime = true, now
	} else if ps.pausedNow {
		ps.prevPause += now - ps.lastPauseTime
		ps.pausedNow = false
	}
	ps.lastEpos = epos
	ps.state = "printing"
	ps.errMsg = ""
}

func (ps *printStats) notePause(now, epos, ef float64) {
	if !ps.pausedNow {
		ps.pausedNow, ps.lastPauseTime = true, now
		ps.updateFilament(epos, ef)
	}
	if ps.state != "error" {
		ps.state = "paused"
	}
}

func (ps *printStats) noteFinish(now float64, state, msg string, epos, ef float64) {
	if !ps.started {
		return
	}
	if !ps.pausedNow {
		ps.updateFilament(epos, ef)
	}
	ps.state, ps.errMsg = state, msg
	ps.total = now - ps.startTime
	if ps.filament < 0.0000001 {
		ps.initDuration = ps.total - ps.prevPause
	}
	ps.started = false
}

func (ps *printStats) status(now, epos, ef float64) map[string]any {
	timePaused := ps.prevPause
	if ps.started {
		if ps.pausedNow {
			timePaused += now - ps.lastPauseTime
		} else {
			ps.updateFilament(epos, ef)
		}
		ps.total = now - ps.startTime
		if ps.filament < 0.0000001 {
			ps.initDuration = ps.total - timePaused
		}
	}
	return map[string]any{
		"filename":       ps.filename,
		"total_duration": ps.total,
		"print_duration": ps.total - ps.initDuration - timePaused,
		"filament_used":  ps.filament,
		"state":          ps.state,
		"message":        ps.errMsg,
		"info":           map[string]any{"total_layer": ps.totalLayer, "current_layer": ps.currentLayer},
	}
}

// sdcard mirrors virtual_sdcard: the loaded file and the print loop.
type sdcard struct {
	file      *os.File
	reader    *bufio.Reader
	path      string
	size, pos int64
	run       *sdRun
}

// sdRun is one activation of the print loop (virtual_sdcard's work timer).
type sdRun struct {
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
	// mustPause is set when PAUSE runs from the file itself.
	mustPause bool
	// end is what happens to the file when the loop stops early.
	end loopEnd
}

func (r *sdRun) requestStop() { r.stopOnce.Do(func() { close(r.stop) }) }

func (sd *sdcard) progress() float64 {
	if sd.size == 0 {
		return 0
	}
	return math.Min(1, float64(sd.pos)/float64(sd.size))
}

func (sd *sdcard) closeFile() {
	if sd.file != nil {
		sd.file.Close()
	}
	sd.file, sd.reader = nil, nil
}

// resolveGcode finds a file in the gcodes directory the way virtual_sdcard
// does: exact match first, then case-insensitive, subdirectories allowed,
// never outside the directory.
func resolveGcode(dir, name string) (string, bool) {
	if dir == "" || name == "" {
		return "", false
	}
	clean := filepath.Clean("/" + name)[1:]
	if clean == "" || strings.Contains(name, "\x00") {
		return "", false
	}
	full := filepath.Join(dir, clean)
	if fi, err := os.Stat(full); err == nil && fi.Mode().IsRegular() {
		return full, true
	}
	var found string
	_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || found != "" {
			return nil
		}
		rel, _ := filepath.Rel(dir, path)
		if !d.IsDir() && strings.EqualFold(rel, clean) {
			found = path
		}
		return nil
	})
	return found, found != ""
}
