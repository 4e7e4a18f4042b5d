package notifier

import (
	"strings"
	"testing"
	"time"

	"github.com/moonrelay/moonrelay/host/config"
)

func sections(t *testing.T, toml string) []*config.Section {
	t.Helper()
	cfg, err := config.Parse("moonrelay.toml", []byte(toml))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return cfg.SectionsOf("notifier")
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name, toml string
		want       []string
	}{
		{"ok list", "[notifier.a]\nurl = \"json://x\"\nevents = [\"complete\", \"error\"]\n", nil},
		{"ok comma string and star", "[notifier.a]\nurl = \"json://x\"\nevents = \"*, progress\"\nprogress_interval = 25\n", nil},
		{"typo in list", "[notifier.a]\nurl = \"json://x\"\nevents = [\n  \"started\",\n  \"completed\",\n]\n",
			[]string{`moonrelay.toml:5: [notifier.a] events[1]: unknown event "completed"; did you mean "complete"?`}},
		{"typo in string", "[notifier.a]\nurl = \"json://x\"\nevents = \"canceled\"\n",
			[]string{`moonrelay.toml:3: [notifier.a] events: unknown event "canceled"; did you mean "cancelled"?`}},
		{"nonsense event", "[notifier.a]\nurl = \"json://x\"\nevents = \"banana\"\n",
			[]string{`[notifier.a] events: unknown event "banana"; use started, paused, resumed, complete, error, cancelled, progress, layer, klippy_shutdown, klippy_disconnected, * or gcode`}},
		{"missing url and events", "[notifier.a]\nbody = \"x\"\n",
			[]string{`moonrelay.toml:1: [notifier.a] url: missing`, `moonrelay.toml:1: [notifier.a] events: missing`}},
		{"bad body_format", "[notifier.a]\nurl = \"json://x\"\nevents = \"*\"\nbody_format = \"rtf\"\n",
			[]string{`moonrelay.toml:4: [notifier.a] body_format: must be text, markdown or html, got "rtf"`}},
		{"progress without interval", "[notifier.a]\nurl = \"json://x\"\nevents = [\"progress\"]\n",
			[]string{`[notifier.a] progress_interval: events has "progress": set progress_interval`}},
		{"unknown key", "[notifier.a]\nurl = \"json://x\"\nevents = \"*\"\nboddy = \"x\"\n",
			[]string{`moonrelay.toml:4: [notifier.a] boddy: unknown key; did you mean "body"?`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decode(sections(t, tt.toml)[0])
			if tt.want == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\nlacks %q", err, w)
				}
			}
		})
	}
}

func TestSubscribed(t *testing.T) {
	s, err := decode(sections(t, "[notifier.a]\nurl = \"json://x\"\nevents = \"*\"\n")[0])
	if err != nil {
		t.Fatal(err)
	}
	for ev, want := range map[string]bool{"started": true, "complete": true, "cancelled": true, "standby": false, "progress": false, "remote_action": false} {
		if got := s.subscribed(ev); got != want {
			t.Errorf("* subscribed(%s) = %v, want %v", ev, got, want)
		}
	}
	if s.MaxAttempts != 0 || s.MaxAge != 24*time.Hour || s.bodyFormat != "text" {
		t.Errorf("defaults %+v", s)
	}
}

func TestConvert(t *testing.T) {
	tests := []struct{ in, from, to, want string }{
		{"a < b & c\nline 2", "text", "html", "a&nbsp;&lt;&nbsp;b&nbsp;&amp;&nbsp;c<br/>line&nbsp;2"},
		{"**done** in 1h\nnext line", "markdown", "html", "<p><strong>done</strong> in 1h<br />\nnext line</p>"},
		{"<b>Print</b> done<br/>ok &amp; fine", "html", "text", "Print done\nok & fine"},
		{"**bold**", "markdown", "text", "**bold**"},
		{"plain", "text", "markdown", "plain"},
	}
	for _, tt := range tests {
		if got := convert(tt.in, tt.from, tt.to); got != tt.want {
			t.Errorf("convert(%q, %s→%s) = %q, want %q", tt.in, tt.from, tt.to, got, tt.want)
		}
	}
}

func TestMergeTitle(t *testing.T) {
	tests := []struct{ title, body, in, native, want string }{
		{"Done", "benchy", "text", "html", "<b>Done</b><br />\r\nbenchy"},
		{"Done", "benchy", "text", "markdown", "# Done\r\nbenchy"},
		{"Done", "benchy", "text", "text", "Done\r\nbenchy"},
		{"", "benchy", "text", "html", "benchy"},
	}
	for _, tt := range tests {
		if got := mergeTitle(tt.title, tt.body, tt.in, tt.native); got != tt.want {
			t.Errorf("mergeTitle(%q,%q,%s,%s) = %q, want %q", tt.title, tt.body, tt.in, tt.native, got, tt.want)
		}
	}
}

func TestMaskURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"tgram://123456789:ABCdefGHI/-100123456", "tgram://12****/-1****"},
		{"gotify://192.168.1.5:8080/AbCdEf123456", "gotify://192.168.1.5:8080/Ab****"},
		{"json://user:secret@host:8080/path", "json://user:****@host:8080/path"},
		{"ntfy://ntfy.sh/topic?token=tk_abcdefghijkl", "ntfy://ntfy.sh/topic?token=****"},
	}
	for _, tt := range tests {
		if got := maskURL(tt.in); got != tt.want {
			t.Errorf("maskURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
