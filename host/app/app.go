package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/moonrelay/moonrelay/host/config"
	"github.com/moonrelay/moonrelay/host/files"
	"github.com/moonrelay/moonrelay/host/jobstate"
	"github.com/moonrelay/moonrelay/host/klippy/sim"
	"github.com/moonrelay/moonrelay/host/notifier"
	"github.com/moonrelay/moonrelay/host/printer"
	"github.com/moonrelay/moonrelay/host/server"
	"github.com/moonrelay/moonrelay/host/store"
	"github.com/moonrelay/moonrelay/runtime"
)

// Component is a part of moonrelay with a life cycle: built from its config
// section, it registers endpoints on the server, then Start launches its
// goroutines (ended by ctx) and Close waits for them. Close must work after
// a failed Start and when called twice.
type Component interface {
	// Name is the component's name in server.info and logs.
	Name() string
	// Start begins the component's work.
	Start(ctx context.Context) error
	// Close stops it and releases what it holds.
	Close() error
}

// Options are the command-line choices that override the config.
type Options struct {
	// Version is reported as moonraker_version.
	Version string
	// DataPath, when set, replaces [server] data_path (-d).
	DataPath string
	// Debug enables debug endpoints and debug logging (--debug).
	Debug bool
	// Simulate runs the built-in printer simulator (--simulate).
	Simulate bool
	// SimSpeed is the simulator's speed: simulated seconds per real second.
	SimSpeed float64
	// Port, when non-zero, replaces [server] port; -1 picks a free port.
	Port int
	// LogFormat is "text" or "json" for stderr.
	LogFormat string
	// Stderr receives terminal logs (default os.Stderr).
	Stderr io.Writer
	// Logger, when set, is used instead of building one (tests).
	Logger *slog.Logger
	// GuestsDir is the folder of the built-in plugins (build/guests).
	GuestsDir string
	// WasmCacheDir replaces <data_path>/cache/wasm as the plugins'
	// compilation and manifest cache, so that many short-lived servers
	// (tests) compile each guest once. Writes to it are atomic.
	WasmCacheDir string
	// NotifierExtraHosts may be reached by every notifier transport
	// (tests: loopback capture servers).
	NotifierExtraHosts []string
	// NotifierBackoff and NotifierMaxBackoff bound the retry delays of
	// notifications (tests shorten them).
	NotifierBackoff, NotifierMaxBackoff time.Duration
}

// App is a running moonrelay.
type App struct {
	cfg     *config.Config
	opts    Options
	Folders Folders
	Log     *slog.Logger
	Server  *server.Server
	Store   *store.Store
	// Files is the file manager (gcodes and config roots).
	Files *files.Manager
	// Printer is the Klippy link and the printer endpoints.
	Printer *printer.Printer
	// Jobs derives job events from print_stats.
	Jobs *jobstate.Tracker
	// Sim is the simulated printer with --simulate, else nil.
	Sim *sim.Printer
	// Runtime runs the WebAssembly plugins.
	Runtime *runtime.Engine
	// Notifier is the notifier component, nil without [notifier.*] sections.
	Notifier *notifier.Manager

	logFile    io.Closer
	components []Component
	started    []Component
	cancel     context.CancelFunc
	closed     bool
}

// New prepares moonrelay from cfg: folders, logging, API key, store, server
// and components. Nothing listens until Start. On error everything opened
// is released.
func New(cfg *config.Config, opts Options) (a *App, err error) {
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	dataPath := cfg.Server.DataPath
	if opts.DataPath != "" {
		abs, aerr := filepath.Abs(opts.DataPath)
		if aerr != nil {
			return nil, aerr
		}
		// The klippy socket follows the data folder unless it was set.
		if cfg.Klippy.UDSAddress == filepath.Join(dataPath, "comms", "klippy.sock") {
			cfg.Klippy.UDSAddress = filepath.Join(abs, "comms", "klippy.sock")
		}
		dataPath = abs
	}
	a = &App{cfg: cfg, opts: opts, Folders: NewFolders(dataPath)}
	defer func() {
		if err != nil {
			_ = a.Close()
			a = nil
		}
	}()
	if err := a.Folders.Create(); err != nil {
		return a, err
	}
	a.Log = opts.Logger
	if a.Log == nil {
		a.Log, a.logFile = NewLogger(a.Folders, LogOptions{Format: opts.LogFormat, Debug: opts.Debug, Stderr: opts.Stderr})
	}
	key, err := a.Folders.LoadOrCreateAPIKey()
	if err != nil {
		return a, err
	}
	if a.Store, err = store.Open(filepath.Join(a.Folders.Database, "moonrelay.db")); err != nil {
		return a, err
	}
	port := cfg.Server.Port
	if opts.Port != 0 {
		port = opts.Port
	}
	a.Server = server.New(server.Options{
		Host:                cfg.Server.Host,
		Port:                port,
		Logger:              a.Log,
		Version:             opts.Version,
		APIKey:              key,
		TrustedClients:      cfg.Authorization.TrustedClients,
		CorsDomains:         cfg.Authorization.CORSDomains,
		Debug:               cfg.Server.EnableDebugEndpoints || opts.Debug,
		MaxUploadSize:       cfg.Server.MaxUploadSize,
		MaxWebsocketMessage: cfg.Server.MaxWebsocketMessageSize,
	})
	a.Server.SetConfigView(func() any { return cfg.Redacted() })
	if err := a.buildComponents(); err != nil {
		return a, err
	}
	return a, nil
}

// Config returns the loaded configuration.
func (a *App) Config() *config.Config { return a.cfg }

// Start starts the components front to back, then the server. If one fails,
// those already started are closed.
func (a *App) Start(ctx context.Context) error {
	ctx, a.cancel = context.WithCancel(ctx)
	for _, c := range a.components {
		if err := c.Start(ctx); err != nil {
			a.Server.FailComponent(c.Name(), fmt.Sprintf("%s failed to start: %v", c.Name(), err))
			a.Log.Error("component failed to start", "component", c.Name(), "err", err)
			continue
		}
		a.started = append(a.started, c)
		a.Server.AddComponent(c.Name())
	}
	if err := a.Server.Start(ctx); err != nil {
		return err
	}
	names := make([]string, 0, len(a.started))
	for _, c := range a.started {
		names = append(names, c.Name())
	}
	a.Log.Info("moonrelay started", "version", a.opts.Version, "config", a.cfg.File, "data_path", a.Folders.Root,
		"components", names, "listen", "http://"+a.Server.Addr())
	return nil
}

// Close shuts moonrelay down within 5 seconds: server first, then the
// components back to front, then the store.
func (a *App) Close() error {
	if a == nil || a.closed {
		return nil
	}
	a.closed = true
	var errs []error
	if a.Server != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
		errs = append(errs, a.Server.Shutdown(ctx))
		cancel()
	}
	if a.cancel != nil {
		a.cancel()
	}
	for i := len(a.components) - 1; i >= 0; i-- {
		if err := a.components[i].Close(); err != nil {
			errs = append(errs, fmt.Errorf("close %s: %w", a.components[i].Name(), err))
		}
	}
	if a.Store != nil {
		errs = append(errs, a.Store.Close())
	}
	if a.Log != nil {
		a.Log.Info("moonrelay stopped")
	}
	if a.logFile != nil {
		errs = append(errs, a.logFile.Close())
	}
	return errors.Join(errs...)
}
