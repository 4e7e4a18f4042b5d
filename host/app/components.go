package app

import "fmt"

// buildComponents builds the components enabled by the config, in start
// order. This list is the one place that says which components exist.
func (a *App) buildComponents() {
	for _, sec := range a.cfg.Sections {
		// Component sections whose components are not part of this build
		// yet are reported, never silently ignored.
		msg := fmt.Sprintf("[%s]: this moonrelay version does not implement the %s component yet; the section is ignored", sec.Name, sec.Kind)
		a.Server.FailComponent(sec.Kind, msg)
		a.Log.Warn("component not available", "section", sec.Name)
	}
}
