package app

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/moonrelay/moonrelay/host/server"
	"github.com/moonrelay/moonrelay/host/store"
	"github.com/moonrelay/moonrelay/runtime"
)

// pluginsConfig is the [plugins] section.
type pluginsConfig struct {
	// Path is the folder of the owner's own .wasm plugins (default
	// <data_path>/plugins).
	Path string `toml:"path"`
	// ExtraHosts are hosts every plugin may reach besides its own (e.g. a
	// LAN service), by name or address.
	ExtraHosts []string `toml:"extra_hosts"`
	// IdleUnload releases a plugin's machine code and instances after it
	// has not been used for this long (default 10m; 0 never).
	IdleUnload *time.Duration `toml:"idle_unload"`
	// IdleTrim lets the kernel take back the memory a plugin's calls
	// wrote after it has not been used for this long (default 1m; 0 never).
	IdleTrim *time.Duration `toml:"idle_trim"`
	// CodeFiles runs plugins' machine code from files in
	// <data_path>/cache/wasm/code, so only the part in use stays in memory
	// (default true; Linux only).
	CodeFiles *bool `toml:"code_files"`
}

// idleUnload maps idle_unload or idle_trim to runtime.Options.IdleUnload
// or IdleTrim: unset is the default, 0 is never.
func idleUnload(d *time.Duration) time.Duration {
	switch {
	case d == nil:
		return 0
	case *d <= 0:
		return -1
	}
	return *d
}

// keepCodeAnonymous maps code_files to runtime.Options.KeepCodeAnonymous:
// unset means code files are used.
func keepCodeAnonymous(codeFiles *bool) bool { return codeFiles != nil && !*codeFiles }

// storeKV keeps each guest's key/value data in its own store namespace.
type storeKV struct{ st *store.Store }

func (k storeKV) Get(_ context.Context, guest, key string) ([]byte, bool, error) {
	return k.st.Namespace("guest/" + guest).Get(key)
}

func (k storeKV) Set(_ context.Context, guest, key string, val []byte) error {
	return k.st.Namespace("guest/"+guest).Put(key, val)
}

// plugins is the WebAssembly runtime as a component.
type plugins struct {
	eng *runtime.Engine
}

func (p *plugins) Name() string { return "plugins" }

// Start returns to the OS what loading and checking the guests left
// behind. Guests are not compiled ahead of use: each costs ~8 MiB once
// used (~20 MiB without code files), and only those a notifier uses are
// needed (they compiled when the notifiers validated their URLs).
func (p *plugins) Start(context.Context) error {
	debug.FreeOSMemory()
	return nil
}

func (p *plugins) Close() error { return p.eng.Close(context.Background()) }

// buildRuntime creates the engine and loads the built-in and the owner's
// guests. A guest that fails to load is a warning naming its file.
func (a *App) buildRuntime() error {
	var pc pluginsConfig
	if sec := a.cfg.Section("plugins"); sec != nil {
		if err := sec.Decode(&pc); err != nil {
			return err
		}
	}
	userDir := a.Folders.Plugins
	if pc.Path != "" {
		userDir = pc.Path
		if !filepath.IsAbs(userDir) {
			userDir = filepath.Join(filepath.Dir(a.cfg.File), userDir)
		}
	}
	cacheDir := filepath.Join(a.Folders.Cache, "wasm")
	if a.opts.WasmCacheDir != "" {
		cacheDir = a.opts.WasmCacheDir
	}
	eng, err := runtime.New(context.Background(), runtime.Options{
		CacheDir:          cacheDir,
		Logger:            a.Log,
		KV:                storeKV{a.Store},
		UserAgent:         "Apprise",
		Limits:            runtime.Limits{ExtraHosts: pc.ExtraHosts},
		IdleUnload:        idleUnload(pc.IdleUnload),
		IdleTrim:          idleUnload(pc.IdleTrim),
		KeepCodeAnonymous: keepCodeAnonymous(pc.CodeFiles),
	})
	if err != nil {
		return fmt.Errorf("start the plugin runtime: %w", err)
	}
	a.Runtime = eng
	a.components = append(a.components, &plugins{eng: eng})
	var dirs []string
	if a.opts.GuestsDir != "" {
		dirs = append(dirs, a.opts.GuestsDir)
	} else {
		a.Server.Warn("no built-in plugins folder: run 'make guests', or start moonrelay with --guests DIR; notification transports are missing")
	}
	dirs = append(dirs, userDir)
	if err := eng.LoadDir(context.Background(), dirs...); err != nil {
		for _, e := range joined(err) {
			a.Server.Warn("plugin not loaded: " + e.Error())
			a.Log.Warn("plugin not loaded", "err", e)
		}
	}
	names := []string{}
	for _, g := range eng.Guests() {
		names = append(names, g.Name)
	}
	a.Log.Info("plugins loaded", "count", len(names), "plugins", strings.Join(names, ","), "builtin", a.opts.GuestsDir, "user", userDir)
	return a.Server.Register(server.Endpoint{Path: "/server/plugins/list", Handler: func(context.Context, *server.Request) (any, error) {
		return map[string]any{"plugins": eng.Guests()}, nil
	}})
}

// joined splits an errors.Join result.
func joined(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
