package config_test

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moonrelay/moonrelay/host/config"
)

var update = flag.Bool("update", false, "rewrite the want part of testdata/*.txt from the current output")

// TestGolden loads each testdata/*.txt and compares the messages.
//
// A case file holds the config, then optional extra files, each introduced
// by a line "-- name --" (a secrets file, say), then "-- want --" and the
// exact messages, one per line, or "ok". The files are written to a fresh
// folder and the config is loaded from there as moonrelay.toml, so that
// secrets files are read by the real Load; the folder is removed from the
// messages.
//
// Component sections are decoded with the stand-in schemas below, so the
// cases also cover Section.Decode and Section.Errorf.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no testdata/*.txt")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			c, err := parseCase(string(data))
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			dir := t.TempDir()
			t.Setenv("HOME", filepath.Join(dir, "home"))
			for _, f := range c.files {
				if err := os.WriteFile(filepath.Join(dir, f.name), []byte(f.body), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			path := filepath.Join(dir, "moonrelay.toml")
			if err := os.WriteFile(path, []byte(c.config), 0o600); err != nil {
				t.Fatal(err)
			}
			got := strings.ReplaceAll(run(path), dir+string(filepath.Separator), "")
			if *update {
				if err := os.WriteFile(file, []byte(c.format(got)), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if got != c.want {
				t.Errorf("messages differ (go test ./host/config -update to accept)\n--- got:\n%s\n--- want:\n%s", got, c.want)
			}
		})
	}
}

// run loads the config and decodes its component sections, returning the
// messages or "ok".
func run(path string) string {
	cfg, err := config.Load(path)
	if err != nil {
		return err.Error()
	}
	var errs config.Errors
	for _, s := range cfg.Sections {
		errs = append(errs, decodeComponent(s)...)
	}
	if len(errs) == 0 {
		return "ok"
	}
	return errs.Error()
}

// testNotifier stands in for host/notifier's section.
type testNotifier struct {
	URL     string            `toml:"url"`
	Events  []string          `toml:"events"`
	Body    string            `toml:"body"`
	Headers map[string]string `toml:"headers"`
	Retry   struct {
		Attempts int           `toml:"attempts"`
		Delay    time.Duration `toml:"delay"`
	} `toml:"retry"`
}

// testSpoolman stands in for host/spoolman's section.
type testSpoolman struct {
	Server   string `toml:"server"`
	SyncRate int    `toml:"sync_rate"`
}

// decodeComponent decodes a section the way a component would: Decode,
// then its own checks through Errorf.
func decodeComponent(s *config.Section) config.Errors {
	var errs config.Errors
	collect := func(err error) {
		if e, ok := err.(config.Errors); ok {
			errs = append(errs, e...)
		} else if err != nil {
			errs = append(errs, &config.Error{Msg: err.Error()})
		}
	}
	switch s.Kind {
	case "notifier":
		var n testNotifier
		collect(s.Decode(&n))
		known := []string{"started", "paused", "resumed", "complete", "error", "cancelled", "standby"}
		for i, ev := range n.Events {
			if !slices.Contains(known, ev) {
				msg := "unknown event %q"
				if ev == "completed" {
					msg += `; did you mean "complete"?`
				}
				errs = append(errs, s.Errorf("events["+strconv.Itoa(i)+"]", msg, ev))
			}
		}
		if n.URL == "" {
			errs = append(errs, s.Errorf("url", "is required"))
		}
	case "spoolman":
		var sp testSpoolman
		collect(s.Decode(&sp))
	}
	return errs
}

// goldenCase is one parsed testdata file.
type goldenCase struct {
	config string
	files  []goldenFile
	want   string
}

type goldenFile struct{ name, body string }

// parseCase splits a case file at its "-- name --" lines.
func parseCase(s string) (goldenCase, error) {
	var c goldenCase
	name, body := "", []string{}
	flush := func() {
		text := strings.Join(body, "")
		switch name {
		case "":
			c.config = text
		case "want":
			c.want = strings.TrimSuffix(text, "\n")
		default:
			c.files = append(c.files, goldenFile{name, text})
		}
	}
	sawWant := false
	for _, line := range strings.SplitAfter(s, "\n") {
		trimmed := strings.TrimRight(line, "\r\n")
		if strings.HasPrefix(trimmed, "-- ") && strings.HasSuffix(trimmed, " --") && len(trimmed) > 6 {
			flush()
			name, body = trimmed[3:len(trimmed)-3], nil
			sawWant = sawWant || name == "want"
			continue
		}
		body = append(body, line)
	}
	flush()
	if !sawWant {
		return c, errors.New(`no "-- want --" line`)
	}
	return c, nil
}

// format writes the case back with a new want part.
func (c goldenCase) format(want string) string {
	var b strings.Builder
	b.WriteString(c.config)
	for _, f := range c.files {
		b.WriteString("-- " + f.name + " --\n" + f.body)
	}
	b.WriteString("-- want --\n" + want + "\n")
	return b.String()
}
