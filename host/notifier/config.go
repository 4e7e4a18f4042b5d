package notifier

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/moonrelay/moonrelay/host/config"
)

// Job events a notifier can subscribe to; "*" means all of these.
var jobEvents = []string{"started", "paused", "resumed", "complete", "error", "cancelled"}

// Events beyond Moonraker's that must be named explicitly.
var extraEvents = []string{"progress", "layer", "klippy_shutdown", "klippy_disconnected"}

// knownEvents are every word allowed in events.
var knownEvents = append(append(append([]string{}, jobEvents...), extraEvents...), "*", "gcode", "standby")

// Config is one [notifier.NAME] section.
type Config struct {
	// URL is the destination, a template rendered once at load with only
	// secrets available (url).
	URL string `toml:"url"`
	// Events lists the events that trigger it (events): a list or a comma
	// separated string; "*" for every job event; "gcode" for a notifier
	// used only by the NOTIFY macro.
	Events any `toml:"events"`
	// Body, Title and Attach are templates rendered per event; nil when not
	// set (body defaults to the event name, title to empty).
	Body   *string `toml:"body"`
	Title  *string `toml:"title"`
	Attach *string `toml:"attach"`
	// BodyFormat is text, markdown or html (body_format), default text.
	BodyFormat *string `toml:"body_format"`
	// Template = "default" uses the message templates shipped in
	// templates/ for a body or title that is not set.
	Template string `toml:"template"`
	// ProgressInterval fires a "progress" event every N percent of a print
	// (progress_interval, 0 = off).
	ProgressInterval int `toml:"progress_interval"`
	// LayerInterval fires a "layer" event every N layers (layer_interval,
	// 0 = off).
	LayerInterval int `toml:"layer_interval"`
	// MinPause suppresses paused/resumed for pauses shorter than this
	// (min_pause, seconds; 0 = notify every pause), e.g. timelapse parking.
	MinPause time.Duration `toml:"min_pause"`
	// MaxAttempts bounds delivery attempts (max_attempts, default 0: no
	// limit, max_age decides).
	MaxAttempts int `toml:"max_attempts"`
	// MaxAge drops a notification still undelivered after this long
	// (max_age, default 24h).
	MaxAge time.Duration `toml:"max_age"`
}

// settings is a validated Config.
type settings struct {
	Config
	events     []string
	bodyFormat string
}

var urlRe = regexp.MustCompile(`^\w+?://`)

// decode reads and checks a section: every problem is returned, positioned
// on its key.
func decode(sec *config.Section) (*settings, error) {
	c := Config{MaxAge: 24 * time.Hour}
	if err := sec.Decode(&c); err != nil {
		return nil, err
	}
	var errs config.Errors
	s := &settings{Config: c, bodyFormat: "text"}
	if strings.TrimSpace(c.URL) == "" {
		errs = append(errs, sec.Errorf("url", "missing: give the destination, e.g. url = \"ntfy://ntfy.sh/my-printer\""))
	}
	events, eerrs := eventList(sec, c.Events)
	errs = append(errs, eerrs...)
	s.events = events
	if c.BodyFormat != nil {
		f := strings.ToLower(strings.TrimSpace(*c.BodyFormat))
		if !slices.Contains([]string{"text", "markdown", "html"}, f) {
			errs = append(errs, sec.Errorf("body_format", "must be text, markdown or html, got %q", *c.BodyFormat))
		}
		s.bodyFormat = f
	}
	if c.Template != "" && c.Template != "default" {
		errs = append(errs, sec.Errorf("template", "must be \"default\" (the messages in templates/), got %q", c.Template))
	}
	if c.ProgressInterval < 0 || c.ProgressInterval > 100 {
		errs = append(errs, sec.Errorf("progress_interval", "must be a percentage from 1 to 100, or 0 for off"))
	}
	if c.LayerInterval < 0 {
		errs = append(errs, sec.Errorf("layer_interval", "must be a number of layers, or 0 for off"))
	}
	if c.MinPause < 0 {
		errs = append(errs, sec.Errorf("min_pause", "must not be negative"))
	}
	if c.MaxAttempts < 0 {
		errs = append(errs, sec.Errorf("max_attempts", "must be 0 (no limit) or more"))
	}
	if c.MaxAge <= 0 {
		errs = append(errs, sec.Errorf("max_age", "must be more than 0"))
	}
	if slices.Contains(s.events, "progress") && c.ProgressInterval == 0 {
		errs = append(errs, sec.Errorf("progress_interval", "events has \"progress\": set progress_interval, e.g. 25 for every 25 %%"))
	}
	if slices.Contains(s.events, "layer") && c.LayerInterval == 0 {
		errs = append(errs, sec.Errorf("layer_interval", "events has \"layer\": set layer_interval, e.g. 10 for every 10 layers"))
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return s, nil
}

// eventList reads events as a list or a comma-separated string, naming
// unknown words by position with a suggestion.
func eventList(sec *config.Section, raw any) ([]string, config.Errors) {
	var words []string
	switch v := raw.(type) {
	case nil:
		return nil, config.Errors{sec.Errorf("events", "missing: list the events, e.g. events = [\"complete\", \"error\"], or \"*\" for all")}
	case string:
		for _, w := range strings.Split(v, ",") {
			if w = strings.TrimSpace(w); w != "" {
				words = append(words, w)
			}
		}
	case []any:
		for i, item := range v {
			s, ok := item.(string)
			if !ok {
				return nil, config.Errors{sec.Errorf(fmt.Sprintf("events[%d]", i), "must be an event name in quotes")}
			}
			words = append(words, strings.TrimSpace(s))
		}
	default:
		return nil, config.Errors{sec.Errorf("events", "must be a list of event names or a comma-separated string")}
	}
	var errs config.Errors
	for i, w := range words {
		lw := strings.ToLower(w)
		if slices.Contains(knownEvents, lw) {
			words[i] = lw
			continue
		}
		key := "events"
		if _, isList := raw.([]any); isList {
			key = fmt.Sprintf("events[%d]", i)
		}
		msg := fmt.Sprintf("unknown event %q", w)
		if s := suggest(lw, knownEvents); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		} else {
			msg += "; use " + strings.Join(append(append([]string{}, jobEvents...), extraEvents...), ", ") + ", * or gcode"
		}
		errs = append(errs, sec.Errorf(key, "%s", msg))
	}
	if len(words) == 0 && len(errs) == 0 {
		errs = append(errs, sec.Errorf("events", "is empty: list at least one event, or \"gcode\" for a notifier used only by the NOTIFY macro"))
	}
	return words, errs
}

// suggest returns the known word closest to w (edit distance ≤ 2, or a
// common spelling variant such as "completed" → "complete").
func suggest(w string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if strings.HasPrefix(w, k) || strings.HasPrefix(k, w) {
			if d := abs(len(w) - len(k)); d <= 2 && d < bestD {
				best, bestD = k, d
				continue
			}
		}
		if d := levenshtein(w, k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// subscribed reports whether the notifier fires for event.
func (s *settings) subscribed(event string) bool {
	if event == "standby" {
		return false // never notified, as in Moonraker
	}
	for _, e := range s.events {
		if e == event || (e == "*" && slices.Contains(jobEvents, event)) {
			return true
		}
	}
	return false
}
