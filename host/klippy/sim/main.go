package sim

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// Main runs a simulator from command-line arguments until ctx ends, for a
// `moonrelay sim` subcommand:
//
//	--socket PATH          API socket to serve (required)
//	--gcodes DIR           virtual_sdcard directory
//	--speed N              simulated seconds per real second (default 1)
//	--status-interval D    status push interval (default 250ms)
//	--startup-delay D      time spent in "startup" (default 1s)
//
// Usage errors are returned; flag output goes to stderr.
func Main(ctx context.Context, args []string, stderr io.Writer, logger *slog.Logger) error {
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	socket := fs.String("socket", "", "Klippy API socket to serve")
	var opts Options
	fs.StringVar(&opts.GcodesDir, "gcodes", "", "directory SDCARD_PRINT_FILE reads from")
	fs.Float64Var(&opts.Speed, "speed", 1, "simulated seconds per real second")
	fs.DurationVar(&opts.StatusInterval, "status-interval", 0, "status push interval (default 250ms)")
	fs.DurationVar(&opts.StartupDelay, "startup-delay", defaultStartupDelay, "time spent in the startup state")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *socket == "" {
		return fmt.Errorf("sim: --socket is required")
	}
	opts.Logger = logger
	p := New(opts)
	defer p.Close()
	if logger != nil {
		logger.Info("simulated printer listening", "socket", *socket, "gcodes", opts.GcodesDir, "speed", opts.Speed)
	}
	return p.Serve(ctx, *socket)
}

const defaultStartupDelay = time.Second
