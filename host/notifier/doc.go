// Package notifier sends push notifications for print events, configured as
// Moonraker's [notifier NAME] sections are, through sandboxed WebAssembly
// transport guests (one per URL scheme: ntfy://, tgram://, json:// …).
//
// # Syntax
//
//	[notifier.phone]
//	url = "ntfy://ntfy.sh/{secrets.ntfy.topic}"   # rendered once, secrets only
//	events = ["complete", "error"]                # or "*", or "gcode" for macro-only
//	title = "Printer {event_name}"                # templates, { expr } and {% stmt %}
//	body = "{event_args[1].filename}: {event_name}"
//	attach = "http://127.0.0.1/webcam/?action=snapshot"   # one item per line
//	body_format = "text"                          # text | markdown | html
//	template = "default"                          # shipped messages for unset title/body
//	progress_interval = 25                        # with events "progress": every 25 %
//	layer_interval = 10                           # with events "layer": every 10 layers
//	min_pause = 30                                # ignore pauses shorter than 30 s
//	max_attempts = 0                              # attempts before giving up (0: no limit)
//	max_age = "24h"                               # give up on older notifications
//
// The template context is Moonraker's — event_name, event_args
// ([previous, current] print_stats), event_message — plus secrets,
// thumbnail (absolute path of the print's largest embedded thumbnail, or
// "") and, for progress and layer events, progress (percent).
//
// # Events
//
// started, paused, resumed, complete, error, cancelled (the job events; "*"
// is all of them), plus progress, layer, klippy_shutdown and
// klippy_disconnected when named. standby is never notified. An error event
// is also sent when Klippy disconnects or shuts down mid-print. The Klipper
// macro remote method notify(name, message, title, attach) fires a notifier
// regardless of its events, with event_name "remote_action".
//
// # Endpoints
//
//	GET  /server/notifiers/list     server.notifiers.list
//	GET  /server/notifiers/history  server.notifiers.history  {name?, limit?}
//	POST /server/notifiers/render   server.notifiers.render   {name, event?, print_stats?}
//	POST /debug/notifiers/test      debug.notifiers.test      {name}   (debug only)
//
// # Delivery guarantees
//
//   - A notification is written to the durable outbox before any attempt;
//     a restart, even after kill -9, sends what was not delivered.
//   - Each notifier delivers from its own queue, in order, so a slow or
//     failing service delays only itself, never job-event handling.
//   - Timeouts, 429 and 5xx are retried with back-off (honouring
//     Retry-After) up to max_attempts and max_age; a 4xx other than 429
//     fails at once with the service's error text in the history and log.
//   - Every outcome — sent, failed, dropped, template error, attachment
//     problem — is recorded in the history and logged once.
package notifier
