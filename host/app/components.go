package app

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/moonrelay/moonrelay/host/files"
	"github.com/moonrelay/moonrelay/host/jobstate"
	"github.com/moonrelay/moonrelay/host/klippy"
	"github.com/moonrelay/moonrelay/host/klippy/sim"
	"github.com/moonrelay/moonrelay/host/notifier"
	"github.com/moonrelay/moonrelay/host/printer"
	"github.com/moonrelay/moonrelay/host/template"
)

// buildComponents builds the components, in start order: the core ones
// every moonrelay has, then those enabled by their config sections. This
// list is the one place that says which components exist.
func (a *App) buildComponents() error {
	if a.opts.Simulate {
		a.Sim = sim.New(sim.Options{GcodesDir: a.Folders.Gcodes, Speed: a.opts.SimSpeed, Logger: a.Log})
		a.components = append(a.components, &simulator{sim: a.Sim, socket: a.cfg.Klippy.UDSAddress})
	}
	client := klippy.New(klippy.Options{
		SocketPath:     a.cfg.Klippy.UDSAddress,
		RequestTimeout: a.cfg.Klippy.RequestTimeout,
		Program:        "moonrelay",
		Version:        a.opts.Version,
		Logger:         a.Log,
	})
	a.Printer = printer.New(client, a.Server, a.Log)
	if err := a.Printer.Register(a.Server); err != nil {
		return err
	}
	a.components = append(a.components, a.Printer)
	a.Jobs = jobstate.New(a.Log)
	a.components = append(a.components, &jobFollower{tracker: a.Jobs, client: client})

	fm, err := files.New(files.Options{
		Gcodes:        a.Folders.Gcodes,
		Config:        a.Folders.Config,
		Staging:       filepath.Join(a.Folders.Cache, "uploads"),
		MaxUploadSize: a.cfg.Server.MaxUploadSize,
		Logger:        a.Log,
		Broadcaster:   a.Server,
	})
	if err != nil {
		return err
	}
	if err := fm.Register(a.Server); err != nil {
		return err
	}
	fm.SetPrinter(a.Printer)
	a.Printer.SetFileCheck(fm.CheckGcode)
	a.Files = fm
	a.components = append(a.components, fm)

	if err := a.buildRuntime(); err != nil {
		return err
	}
	if a.cfg.Server.EnableDebugEndpoints || a.opts.Debug {
		sink := &notificationSink{log: a.Log.With("component", "notification_sink")}
		if err := sink.register(a.Server); err != nil {
			return err
		}
	}
	if secs := a.cfg.SectionsOf("notifier"); len(secs) > 0 {
		nm, warnings := notifier.New(context.Background(), secs, notifier.Deps{
			Logger:      a.Log,
			Guests:      a.Runtime,
			Store:       a.Store,
			Templates:   template.New(a.cfg.Secrets.Values),
			Printer:     client,
			Jobs:        a.Jobs,
			Attachments: fm,
			ExtraHosts:  a.opts.NotifierExtraHosts,
			Backoff:     a.opts.NotifierBackoff,
			MaxBackoff:  a.opts.NotifierMaxBackoff,
		})
		for _, w := range warnings {
			a.Server.FailComponent("notifier", fmt.Sprintf("[%s] not loaded: %v", w.Section, w.Err))
		}
		if err := nm.Register(a.Server); err != nil {
			return err
		}
		a.Notifier = nm
		a.components = append(a.components, nm)
	}

	for _, sec := range a.cfg.Sections {
		if sec.Kind == "notifier" || sec.Kind == "plugins" {
			continue
		}
		// Component sections whose components are not part of this build
		// yet are reported, never silently ignored.
		msg := fmt.Sprintf("[%s]: this moonrelay version does not implement the %s component yet; the section is ignored", sec.Name, sec.Kind)
		a.Server.FailComponent(sec.Kind, msg)
		a.Log.Warn("component not available", "section", sec.Name)
	}
	return nil
}

// simulator runs the built-in simulated printer on the Klippy socket path
// (--simulate), started before the client so that it connects at once.
type simulator struct {
	sim    *sim.Printer
	socket string
}

func (s *simulator) Name() string                    { return "simulator" }
func (s *simulator) Start(ctx context.Context) error { return s.sim.Start(ctx, s.socket) }
func (s *simulator) Close() error                    { return s.sim.Close() }

// jobFollower feeds the job-state tracker from Klippy's print_stats.
type jobFollower struct {
	tracker *jobstate.Tracker
	client  *klippy.Client
	cancel  context.CancelFunc
	done    chan struct{}
}

func (j *jobFollower) Name() string { return "job_state" }

func (j *jobFollower) Start(ctx context.Context) error {
	ctx, j.cancel = context.WithCancel(ctx)
	j.done = make(chan struct{})
	go func() {
		defer close(j.done)
		_ = jobstate.Follow(ctx, j.client, j.tracker)
	}()
	return nil
}

func (j *jobFollower) Close() error {
	if j.cancel != nil {
		j.cancel()
		<-j.done
	}
	j.tracker.Close()
	return nil
}
