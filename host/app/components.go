package app

import (
	"fmt"
	"path/filepath"

	"github.com/moonrelay/moonrelay/host/files"
)

// buildComponents builds the components, in start order: the core ones
// every moonrelay has, then those enabled by their config sections. This
// list is the one place that says which components exist.
func (a *App) buildComponents() error {
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
	a.Files = fm
	a.components = append(a.components, fm)

	for _, sec := range a.cfg.Sections {
		// Component sections whose components are not part of this build
		// yet are reported, never silently ignored.
		msg := fmt.Sprintf("[%s]: this moonrelay version does not implement the %s component yet; the section is ignored", sec.Name, sec.Kind)
		a.Server.FailComponent(sec.Kind, msg)
		a.Log.Warn("component not available", "section", sec.Name)
	}
	return nil
}
