// Package sim is a simulated Klippy: it serves Klipper's API socket
// protocol on a Unix socket so that moonrelay, its tests and `make run`
// work without a printer. It runs in-process (Start/Serve) or as its own
// process through Main.
//
// # What it simulates
//
// Endpoints: info, list_endpoints, emergency_stop, register_remote_method,
// gcode/script, gcode/help, gcode/restart, gcode/firmware_restart,
// gcode/subscribe_output, objects/list, objects/query, objects/subscribe,
// pause_resume/pause, pause_resume/resume and pause_resume/cancel, with
// Klippy's reply and error shapes ("webhooks: No registered callback for
// path '…'", G-code errors as WebRequestError messages).
//
// Objects: webhooks, print_stats (Klipper's own duration and filament
// accounting: filament_used is the E travel since the print started,
// G92-aware, divided by the extrude factor), virtual_sdcard, pause_resume,
// display_status, toolhead, gcode_move, extruder, heater_bed (first-order
// thermal model), heaters, fan, idle_timeout, configfile (config and
// settings for a cartesian printer: max_velocity 300, max_accel 3000,
// minimum_cruise_ratio 0.5, square_corner_velocity 5, nozzle 0.4 mm,
// filament 1.75 mm — the printer of ../shared/gcode/reference), mcu,
// exclude_object, stepper_enable, system_stats and gcode_macro objects.
// Status pushes are batched every StatusInterval and carry only changed
// fields, per connection, like Klippy's QueryStatusHelper.
//
// G-code: G0/G1/G2/G3 (position, E with M82/M83, G90/G91, G92, M221
// extrude factor; homing and range checks with Klipper's messages), G4,
// G28, M84, M104/M109/M140/M190, SET_HEATER_TEMPERATURE,
// TURN_OFF_HEATERS, M106/M107, M220, M221, M204, SET_VELOCITY_LIMIT,
// M400, M105, M114, M115, M117, M73, SAVE/RESTORE_GCODE_STATE,
// SET_PRINT_STATS_INFO, SDCARD_PRINT_FILE, SDCARD_RESET_FILE, M24/M25,
// PAUSE, RESUME, CLEAR_PAUSE, CANCEL_PRINT, M112, RESTART,
// FIRMWARE_RESTART, EXCLUDE_OBJECT_*, and macros START_PRINT /
// PRINT_START (home, heat and wait), END_PRINT, NOTIFY NAME= MESSAGE=,
// SET_ACTIVE_SPOOL ID= and CLEAR_ACTIVE_SPOOL, which call the remote
// methods notify and spoolman_set_active_spool exactly as Klipper's
// action_call_remote_method does (no error when nobody registered them).
// Other commands answer `// Unknown command:"X"` on the G-code output, as
// Klipper does, without failing.
//
// Time: a simulated clock runs Speed times faster than real time. Moves
// take their trapezoid-profile time; the print loop sleeps whenever the
// queued motion runs more than 2 ms of real time ahead, so a print of a
// slicer file takes its simulated duration divided by Speed.
//
// Faults: FailPrintAt (print error with a message), DropConnections and
// DropConnectionsAt (socket breaks, the print goes on), RefuseConnections
// (socket gone for a while), Restart (Klippy restarts: the print is lost),
// and M112 / emergency_stop (shutdown; print_stats ends "paused", as in
// Klipper).
//
// # Guarantees
//
// All methods are safe for concurrent use. Close stops the print loop,
// closes every connection, removes the socket and waits for the
// simulator's goroutines.
package sim
