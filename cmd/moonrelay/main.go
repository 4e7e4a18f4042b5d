// Command moonrelay is a Moonraker-compatible integration server for Klipper
// printers: notifications, Spoolman, print-time analysis and OctoPrint-style
// uploads.
//
// Usage:
//
//	moonrelay [-c config.toml] [-d data_dir] [--debug] [--simulate [--sim-speed N]] [--log-format text|json]
//	moonrelay check-config -c config.toml
//	moonrelay show-api-key [-c config.toml] [-d data_dir]
//	moonrelay sim --socket PATH [--gcodes DIR] [--speed N]
//	moonrelay version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/moonrelay/moonrelay/host/app"
	"github.com/moonrelay/moonrelay/host/config"
	"github.com/moonrelay/moonrelay/host/klippy/sim"
	"github.com/moonrelay/moonrelay/runtime"
)

// version is set at link time by the Makefile (-X main.version=...).
var version = "v0.1.0-dev"

// defaultMemoryLimit is the Go runtime's soft memory limit unless
// GOMEMLIMIT says otherwise: printers' hosts are small, and without it Go
// keeps freed plugin memory from the OS for minutes.
const defaultMemoryLimit = 48 << 20

func main() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without os.Exit, returning the exit status: 0 ok, 1 runtime
// failure, 2 bad usage or config.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "version":
			fmt.Fprintf(stdout, "moonrelay %s\n", version)
			return 0
		case "check-config":
			return checkConfig(args[1:], stdout, stderr)
		case "show-api-key":
			return showAPIKey(args[1:], stdout, stderr)
		case "sim":
			return runSim(args[1:], stderr)
		case "plugins":
			return pluginsCmd(args[1:], stdout, stderr)
		case "help", "-h", "--help":
			usage(stdout)
			return 0
		}
	}
	return serve(args, stderr)
}

func usage(w io.Writer) {
	fmt.Fprint(w, `moonrelay: Moonraker-compatible integrations for Klipper printers

  moonrelay [-c config.toml] [-d data_dir] [--debug] [--simulate] [--log-format text|json]
        start the server
  moonrelay check-config -c config.toml
        check a config file and list every problem (exit 0 ok, 2 problems)
  moonrelay show-api-key [-c config.toml] [-d data_dir]
        print the API key that clients outside trusted_clients must send
  moonrelay sim --socket PATH [--gcodes DIR] [--speed N]
        run only the simulated printer on a Klippy API socket
  moonrelay plugins list [--guests DIR] [-c config.toml] [-d data_dir]
        list the WebAssembly plugins: name, kind, schemes or events, hosts, file, size
  moonrelay version
        print the version
`)
}

// commonFlags are the flags every command that reads the config shares.
type commonFlags struct {
	config  string
	dataDir string
	guests  string
}

func (c *commonFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.config, "c", "", "config file (default ~/printer_data/config/moonrelay.toml)")
	fs.StringVar(&c.dataDir, "d", "", "data folder, overrides [server] data_path")
	fs.StringVar(&c.guests, "guests", defaultGuestsDir(), "folder of the built-in WebAssembly plugins")
}

// defaultGuestsDir finds the built-in plugins: $MOONRELAY_GUESTS, else
// build/guests beside the bin/ folder of the executable (a source
// checkout), else guests/ beside the executable (an install).
func defaultGuestsDir() string {
	if d := os.Getenv("MOONRELAY_GUESTS"); d != "" {
		return d
	}
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	exe, _ = filepath.EvalSymlinks(exe)
	for _, d := range []string{filepath.Join(filepath.Dir(exe), "..", "build", "guests"), filepath.Join(filepath.Dir(exe), "guests")} {
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			abs, _ := filepath.Abs(d)
			return abs
		}
	}
	return ""
}

// defaultConfigPath is where moonrelay looks when -c is not given.
func defaultConfigPath() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, "printer_data", "config", "moonrelay.toml")
}

// loadConfig loads -c, or the default file, or built-in defaults when no
// file was named and the default file does not exist.
func loadConfig(path string) (*config.Config, string, error) {
	if path != "" {
		cfg, err := config.Load(path)
		return cfg, "", err
	}
	def := defaultConfigPath()
	cfg, err := config.Load(def)
	if err != nil && errors.Is(err, fs.ErrNotExist) {
		cfg, err = config.Parse("(built-in defaults)", nil)
		return cfg, fmt.Sprintf("no config file at %s; running with built-in defaults (use -c to name one)", def), err
	}
	return cfg, "", err
}

func checkConfig(args []string, stdout, stderr io.Writer) int {
	fset := flag.NewFlagSet("check-config", flag.ContinueOnError)
	fset.SetOutput(stderr)
	var cf commonFlags
	cf.register(fset)
	if err := fset.Parse(args); err != nil {
		return 2
	}
	if cf.config == "" {
		fmt.Fprintln(stderr, "check-config: name the file with -c, e.g. moonrelay check-config -c ~/printer_data/config/moonrelay.toml")
		return 2
	}
	cfg, err := config.Load(cf.config)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	fmt.Fprintf(stdout, "%s: ok (%d component sections)\n", cfg.File, len(cfg.Sections))
	return 0
}

func showAPIKey(args []string, stdout, stderr io.Writer) int {
	fset := flag.NewFlagSet("show-api-key", flag.ContinueOnError)
	fset.SetOutput(stderr)
	var cf commonFlags
	cf.register(fset)
	if err := fset.Parse(args); err != nil {
		return 2
	}
	cfg, _, err := loadConfig(cf.config)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	root := cfg.Server.DataPath
	if cf.dataDir != "" {
		root = cf.dataDir
	}
	key, err := app.NewFolders(root).ReadAPIKey()
	if err != nil {
		fmt.Fprintf(stderr, "no API key yet in %s: start moonrelay once to create it (%v)\n", root, err)
		return 1
	}
	fmt.Fprintln(stdout, key)
	return 0
}

// pluginsCmd serves "moonrelay plugins list".
func pluginsCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "list" {
		fmt.Fprintln(stderr, "usage: moonrelay plugins list [--guests DIR] [-c config.toml] [-d data_dir]")
		return 2
	}
	fset := flag.NewFlagSet("plugins list", flag.ContinueOnError)
	fset.SetOutput(stderr)
	var cf commonFlags
	cf.register(fset)
	if err := fset.Parse(args[1:]); err != nil {
		return 2
	}
	cfg, _, err := loadConfig(cf.config)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	root := cfg.Server.DataPath
	if cf.dataDir != "" {
		root = cf.dataDir
	}
	folders := app.NewFolders(root)
	ctx := context.Background()
	cacheDir := filepath.Join(folders.Cache, "wasm")
	if d := os.Getenv("MOONRELAY_WASM_CACHE"); d != "" {
		cacheDir = d
	}
	eng, err := runtime.New(ctx, runtime.Options{CacheDir: cacheDir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer eng.Close(ctx)
	dirs := []string{folders.Plugins}
	if cf.guests != "" {
		dirs = append([]string{cf.guests}, dirs...)
	}
	loadErr := eng.LoadDir(ctx, dirs...)
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tKIND\tSCHEMES/EVENTS\tHOSTS\tFILE\tSIZE")
	for _, g := range eng.Guests() {
		claims := append(append([]string{}, g.Schemes...), g.Events...)
		hosts := append([]string{}, g.Hosts...)
		if g.UserHost {
			hosts = append(hosts, "(url host)")
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d KiB\n", g.Name, g.Kind, strings.Join(claims, ","), strings.Join(hosts, ","), g.File, g.Size>>10)
	}
	w.Flush()
	if loadErr != nil {
		fmt.Fprintln(stderr, loadErr)
		return 1
	}
	return 0
}

// runSim runs the simulated printer alone until SIGINT or SIGTERM.
func runSim(args []string, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	if err := sim.Main(ctx, args, stderr, logger); err != nil {
		fmt.Fprintf(stderr, "moonrelay sim: %v\n", err)
		return 2
	}
	return 0
}

func serve(args []string, stderr io.Writer) int {
	fset := flag.NewFlagSet("moonrelay", flag.ContinueOnError)
	fset.SetOutput(stderr)
	var cf commonFlags
	cf.register(fset)
	debug := fset.Bool("debug", false, "debug logging and /debug endpoints")
	simulate := fset.Bool("simulate", false, "run the built-in simulated printer")
	simSpeed := fset.Float64("sim-speed", 10, "with --simulate: simulated seconds per real second")
	logFormat := fset.String("log-format", "text", "log format on stderr: text or json")
	fset.Usage = func() { usage(stderr) }
	if err := fset.Parse(args); err != nil {
		return 2
	}
	if *logFormat != "text" && *logFormat != "json" {
		fmt.Fprintf(stderr, "--log-format must be text or json, got %q\n", *logFormat)
		return 2
	}
	cfg, note, err := loadConfig(cf.config)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	a, err := app.New(cfg, app.Options{
		Version:   version,
		DataPath:  cf.dataDir,
		Debug:     *debug,
		Simulate:  *simulate,
		SimSpeed:  *simSpeed,
		GuestsDir: cf.guests,
		// Shared by every moonrelay a test suite starts (make test sets it).
		WasmCacheDir: os.Getenv("MOONRELAY_WASM_CACHE"),
		LogFormat:    *logFormat,
		Stderr:       stderr,
	})
	if err != nil {
		fmt.Fprintf(stderr, "moonrelay cannot start: %v\n", err)
		return 1
	}
	if note != "" {
		a.Log.Warn(note)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := a.Start(ctx); err != nil {
		a.Log.Error("moonrelay cannot start", "err", err)
		_ = a.Close()
		return 1
	}
	<-ctx.Done()
	stop() // a second signal now kills the process at once
	a.Log.Info("shutting down")
	done := make(chan error, 1)
	go func() { done <- a.Close() }()
	select {
	case err := <-done:
		if err != nil {
			fmt.Fprintf(stderr, "shutdown: %v\n", err)
			return 1
		}
	case <-time.After(5 * time.Second):
		fmt.Fprintln(stderr, "shutdown took longer than 5s; exiting anyway")
		return 1
	}
	return 0
}
