// Package servertest starts a real moonrelay (config, store, server and
// components) on a free loopback port for tests, in the manner of
// net/http/httptest. Everything is shut down in t.Cleanup.
package servertest

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/moonrelay/moonrelay/host/app"
	"github.com/moonrelay/moonrelay/host/config"
)

// Instance is a running moonrelay.
type Instance struct {
	// App is the running application.
	App *app.App
	// URL is the HTTP base, e.g. http://127.0.0.1:34567.
	URL string
	// WS is the websocket URL, e.g. ws://127.0.0.1:34567/websocket.
	WS string
	// Dir is the temporary folder holding the config file and data folder.
	Dir string
}

// Options tune Start.
type Options struct {
	// Logger receives the server's logs (default: discarded unless -v).
	Logger *slog.Logger
	// Debug enables debug endpoints as --debug does.
	Debug bool
	// Simulate runs the simulated printer (as --simulate) at SimSpeed
	// (default 1000: a sliced file prints in about a second).
	Simulate bool
	SimSpeed float64
	// GuestsDir is the built-in plugins folder (default: none).
	GuestsDir string
	// NotifierExtraHosts and NotifierBackoff are passed to app.Options.
	NotifierExtraHosts []string
	NotifierBackoff    time.Duration
	NotifierMaxBackoff time.Duration
	// DataDir reuses a data folder (a restart); default a fresh one.
	DataDir string
}

// Start writes toml to moonrelay.toml in a temporary folder (data_path
// defaults to a "data" folder beside it), loads it and starts moonrelay on a
// free port.
func Start(t testing.TB, toml string, opts ...Options) *Instance {
	t.Helper()
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.SimSpeed == 0 {
		o.SimSpeed = 1000
	}
	// Unix socket paths are limited to 108 bytes: keep the folder short.
	dir, err := os.MkdirTemp("", "mr")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "moonrelay.toml")
	if err := os.WriteFile(path, []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	dataDir := o.DataDir
	if dataDir == "" {
		dataDir = filepath.Join(dir, "data")
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	logger := o.Logger
	if logger == nil {
		if testing.Verbose() {
			logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
		} else {
			logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		}
	}
	a, err := app.New(cfg, app.Options{
		Version:            "v-test",
		DataPath:           dataDir,
		Port:               -1,
		Debug:              o.Debug,
		Simulate:           o.Simulate,
		SimSpeed:           o.SimSpeed,
		GuestsDir:          o.GuestsDir,
		WasmCacheDir:       os.Getenv("MOONRELAY_WASM_CACHE"),
		NotifierExtraHosts: o.NotifierExtraHosts,
		NotifierBackoff:    o.NotifierBackoff,
		NotifierMaxBackoff: o.NotifierMaxBackoff,
		Logger:             logger,
	})
	if err != nil {
		t.Fatalf("app: %v", err)
	}
	t.Cleanup(func() { _ = a.Close() })
	if err := a.Start(context.Background()); err != nil {
		t.Fatalf("start: %v", err)
	}
	addr := a.Server.Addr()
	return &Instance{App: a, URL: "http://" + addr, WS: "ws://" + addr + "/websocket", Dir: dir}
}
