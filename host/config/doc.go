// Package config loads moonrelay.toml, fills in defaults and checks it,
// reporting problems in words a printer's owner can act on.
//
// # Job
//
// Load reads the file, Parse checks it and fills [server],
// [authorization], [secrets] and [klippy] with their defaults; Load then
// reads the secrets file that [secrets] names. Component sections
// ([notifier.NAME], [spoolman], [analysis], [octoprint_compat], [plugins])
// are enabled by being present, as in Moonraker: this package keeps each one
// as a *Section, in file order, and the component decodes its own keys with
// Section.Decode and reports its own checks with Section.Errorf.
//
// # Guarantees
//
//   - Every problem at once: the whole file is decoded and checked before
//     Load or Parse return, and the result is an Errors holding every
//     problem, sorted by line. Only a TOML syntax error stops early, since
//     nothing after it can be read.
//   - Every message has the shape
//     "moonrelay.toml:42: [notifier.phone] events: what is wrong; what to
//     write instead": file and line (right for keys in [a.b] tables, dotted
//     keys and entries of lists spread over several lines), section, key
//     (list entries by position, "trusted_clients[2]"), never a Go type.
//     Typos in section and key names get a "did you mean" suggestion.
//   - Unknown sections and keys are errors, never silently ignored; so are
//     unknown keys of component sections, once the component calls Decode.
//   - A Config and its Sections are not changed after Load or Parse return
//     and may be read from many goroutines; Raw and Redacted return copies.
//   - Secret values are never part of a message or of Redacted.
//   - Parse does no I/O; the package holds no global state.
package config
