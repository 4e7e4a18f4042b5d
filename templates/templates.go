// Package templates holds moonrelay's default notification messages, used by
// a [notifier.NAME] section with template = "default" for the title or body
// it does not set. They are Jinja2 templates with Moonraker's delimiters and
// see the same context as a notifier's own templates.
package templates

import _ "embed"

// Title is the default notification title.
//
//go:embed title.jinja
var Title string

// Body is the default notification body.
//
//go:embed body.jinja
var Body string
