package config_test

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moonrelay/moonrelay/host/config"
)

// mustParse parses text as /etc/moonrelay/moonrelay.toml with HOME set to
// /home/pi, and fails the test on any error.
func mustParse(t *testing.T, text string) *config.Config {
	t.Helper()
	t.Setenv("HOME", "/home/pi")
	c, err := config.Parse("/etc/moonrelay/moonrelay.toml", []byte(text))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

func TestDefaults(t *testing.T) {
	c := mustParse(t, "")
	want := config.Config{
		File: "/etc/moonrelay/moonrelay.toml",
		Server: config.Server{
			Host:                    "127.0.0.1",
			Port:                    7125,
			DataPath:                "/home/pi/printer_data",
			MaxUploadSize:           1 << 30,
			MaxWebsocketMessageSize: 4 << 20,
		},
		Secrets: config.Secrets{Values: map[string]any{}},
		Klippy: config.Klippy{
			UDSAddress:     "/home/pi/printer_data/comms/klippy.sock",
			RequestTimeout: 30 * time.Second,
		},
	}
	if !reflect.DeepEqual(c.Server, want.Server) {
		t.Errorf("Server = %+v, want %+v", c.Server, want.Server)
	}
	if !reflect.DeepEqual(c.Klippy, want.Klippy) {
		t.Errorf("Klippy = %+v, want %+v", c.Klippy, want.Klippy)
	}
	if !reflect.DeepEqual(c.Secrets, want.Secrets) {
		t.Errorf("Secrets = %+v, want %+v", c.Secrets, want.Secrets)
	}
	if c.Authorization.TrustedClients != nil || c.Authorization.CORSDomains != nil {
		t.Errorf("Authorization = %+v, want empty", c.Authorization)
	}
	if len(c.Sections) != 0 {
		t.Errorf("Sections = %v, want none", c.Sections)
	}
	if c.File != want.File {
		t.Errorf("File = %q, want %q", c.File, want.File)
	}
}

func TestPaths(t *testing.T) {
	tests := []struct {
		name     string
		dataPath string
		uds      string
		wantData string
		wantUDS  string
	}{
		{"home", "~/printer_data", "", "/home/pi/printer_data", "/home/pi/printer_data/comms/klippy.sock"},
		{"bare tilde", "~", "", "/home/pi", "/home/pi/comms/klippy.sock"},
		{"relative to the config folder", "data", "", "/etc/moonrelay/data", "/etc/moonrelay/data/comms/klippy.sock"},
		{"dot relative", "./data/../pd", "", "/etc/moonrelay/pd", "/etc/moonrelay/pd/comms/klippy.sock"},
		{"absolute", "/var/lib/moonrelay/", "", "/var/lib/moonrelay", "/var/lib/moonrelay/comms/klippy.sock"},
		{"socket set apart", "/srv/pd", "/tmp/klippy_uds", "/srv/pd", "/tmp/klippy_uds"},
		{"socket relative and home", "/srv/pd", "~/klippy.sock", "/srv/pd", "/home/pi/klippy.sock"},
		{"socket relative", "/srv/pd", "run/klippy.sock", "/srv/pd", "/etc/moonrelay/run/klippy.sock"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := "[server]\ndata_path = " + quote(tt.dataPath) + "\n"
			if tt.uds != "" {
				text += "[klippy]\nuds_address = " + quote(tt.uds) + "\n"
			}
			c := mustParse(t, text)
			if c.Server.DataPath != tt.wantData {
				t.Errorf("DataPath = %q, want %q", c.Server.DataPath, tt.wantData)
			}
			if c.Klippy.UDSAddress != tt.wantUDS {
				t.Errorf("UDSAddress = %q, want %q", c.Klippy.UDSAddress, tt.wantUDS)
			}
		})
	}
}

func TestPathErrors(t *testing.T) {
	t.Setenv("HOME", "/home/pi")
	_, err := config.Parse("moonrelay.toml", []byte("[server]\ndata_path = \"~klipper/pd\"\n[secrets]\npath = \"~bob/s.json\"\n"))
	want := `moonrelay.toml:2: [server] data_path: ~user is not supported; write the full path, got "~klipper/pd"
moonrelay.toml:4: [secrets] path: ~user is not supported; write the full path, got "~bob/s.json"`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %v", err, want)
	}
}

func TestServerValues(t *testing.T) {
	c := mustParse(t, `
[server]
host = "0.0.0.0"
port = 8080
max_upload_size = "512MiB"
enable_debug_endpoints = true
max_websocket_message_size = 16

[authorization]
trusted_clients = ["192.168.1.7/24", "10.0.0.5", "fd00::1"]
cors_domains = ["http://*.local"]

[klippy]
request_timeout = 2.5
`)
	s := c.Server
	if s.Host != "0.0.0.0" || s.Port != 8080 || s.MaxUploadSize != 512<<20 || !s.EnableDebugEndpoints || s.MaxWebsocketMessageSize != 16<<20 {
		t.Errorf("Server = %+v", s)
	}
	wantClients := []netip.Prefix{
		netip.MustParsePrefix("192.168.1.0/24"),
		netip.MustParsePrefix("10.0.0.5/32"),
		netip.MustParsePrefix("fd00::1/128"),
	}
	if !slices.Equal(c.Authorization.TrustedClients, wantClients) {
		t.Errorf("TrustedClients = %v, want %v", c.Authorization.TrustedClients, wantClients)
	}
	if !slices.Equal(c.Authorization.CORSDomains, []string{"http://*.local"}) {
		t.Errorf("CORSDomains = %v", c.Authorization.CORSDomains)
	}
	if c.Klippy.RequestTimeout != 2500*time.Millisecond {
		t.Errorf("RequestTimeout = %v, want 2.5s", c.Klippy.RequestTimeout)
	}
}

func TestSections(t *testing.T) {
	c := mustParse(t, `
[notifier.b]
url = "b"

[spoolman]
server = "http://spoolman.local:7912"

[notifier.a]
url = "a"

[notifier."my phone"]
url = "c"

[plugins]
`)
	var got []string
	for _, s := range c.Sections {
		got = append(got, s.Name+"|"+s.Kind+"|"+s.Instance)
	}
	want := []string{"notifier.b|notifier|b", "spoolman|spoolman|", "notifier.a|notifier|a", "notifier.my phone|notifier|my phone", "plugins|plugins|"}
	if !slices.Equal(got, want) {
		t.Errorf("sections = %q, want %q", got, want)
	}
	var names []string
	for _, s := range c.SectionsOf("notifier") {
		names = append(names, s.Instance)
	}
	if !slices.Equal(names, []string{"b", "a", "my phone"}) {
		t.Errorf("SectionsOf(notifier) = %q", names)
	}
	if s := c.Section("notifier.a"); s == nil || s.Line != 8 {
		t.Errorf("Section(notifier.a) = %+v, want line 8", s)
	}
	if s := c.Section("spoolman"); s == nil || s.Raw()["server"] != "http://spoolman.local:7912" {
		t.Errorf("Section(spoolman) = %+v", s)
	}
	if s := c.Section("analysis"); s != nil {
		t.Errorf("Section(analysis) = %+v, want nil", s)
	}
	if got := c.SectionsOf("analysis"); got != nil {
		t.Errorf("SectionsOf(analysis) = %v, want nil", got)
	}
}

func TestRawIsACopy(t *testing.T) {
	c := mustParse(t, "[spoolman]\nserver = \"x\"\nlist = [1, 2]\n")
	s := c.Section("spoolman")
	raw := s.Raw()
	raw["server"] = "changed"
	raw["list"].([]any)[0] = int64(9)
	if again := s.Raw(); again["server"] != "x" || again["list"].([]any)[0] != int64(1) {
		t.Errorf("Raw after change = %v, want the file's values", again)
	}
}

func TestSecretsValues(t *testing.T) {
	tests := []struct {
		name, file, body string
	}{
		{"json", "secrets.json", `{"telegram": {"token": "123:abc", "chat_id": 123456789, "ratio": 0.5}, "list": [1]}`},
		{"toml", "secrets.toml", "list = [1]\n[telegram]\ntoken = \"123:abc\"\nchat_id = 123456789\nratio = 0.5\n"},
	}
	want := map[string]any{
		"telegram": map[string]any{"token": "123:abc", "chat_id": int64(123456789), "ratio": 0.5},
		"list":     []any{int64(1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "private", tt.file), tt.body)
			path := writeFile(t, filepath.Join(dir, "moonrelay.toml"), "[secrets]\npath = \"private/"+tt.file+"\"\n")
			c, err := config.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if c.Secrets.Path != filepath.Join(dir, "private", tt.file) {
				t.Errorf("Path = %q", c.Secrets.Path)
			}
			if !reflect.DeepEqual(c.Secrets.Values, want) {
				t.Errorf("Values = %#v\nwant %#v", c.Secrets.Values, want)
			}
		})
	}
}

func TestParseDoesNotReadSecrets(t *testing.T) {
	c := mustParse(t, "[secrets]\npath = \"does-not-exist.json\"\n")
	if c.Secrets.Path != "/etc/moonrelay/does-not-exist.json" || c.Secrets.Values == nil || len(c.Secrets.Values) != 0 {
		t.Errorf("Secrets = %+v, want the path and no values", c.Secrets)
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "moonrelay.toml")
	_, err := config.Load(path)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("errors.Is(err, fs.ErrNotExist) = false for %v", err)
	}
	if want := path + ": cannot read the config file: file does not exist"; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
	var e *config.Error
	if !errors.As(err, &e) || e.File != path {
		t.Errorf("errors.As *Error = %+v", e)
	}
}

func TestRedacted(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	writeFile(t, filepath.Join(dir, "secrets.json"), `{"telegram": {"token": "SECRET-VALUE-123"}}`)
	path := writeFile(t, filepath.Join(dir, "moonrelay.toml"), `
[secrets]
path = "secrets.json"

[authorization]
trusted_clients = ["10.0.0.5", "192.168.1.0/24"]

[notifier.token_bot]
url = "mqtt://printer:hunter2@broker.local:1883/topic"
plain = "https://example.com/a@b"
api_key = "k-123"
events = ["complete"]
headers = { Authorization = "Bearer x", X-Api-Token = "t-456", nested = ["https://u:pw@h/"] }

[spoolman]
server = "http://spoolman.local:7912"
Password = 42
client_secret = { a = 1 }
`)
	c, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	got := c.Redacted()
	want := map[string]any{
		"server": map[string]any{
			"host": "127.0.0.1", "port": int64(7125), "data_path": filepath.Join(dir, "printer_data"),
			"max_upload_size": int64(1 << 30), "enable_debug_endpoints": false, "max_websocket_message_size": int64(4 << 20),
		},
		"authorization": map[string]any{
			"trusted_clients": []any{"10.0.0.5", "192.168.1.0/24"},
			"cors_domains":    []any{},
		},
		"secrets": map[string]any{"path": filepath.Join(dir, "secrets.json")},
		"klippy": map[string]any{
			"uds_address":     filepath.Join(dir, "printer_data", "comms", "klippy.sock"),
			"request_timeout": 30.0,
		},
		"notifier": map[string]any{
			"token_bot": map[string]any{
				"url":     "mqtt://printer:<redacted>@broker.local:1883/topic",
				"plain":   "https://example.com/a@b",
				"api_key": "<redacted>",
				"events":  []any{"complete"},
				"headers": map[string]any{
					"Authorization": "Bearer x",
					"X-Api-Token":   "<redacted>",
					"nested":        []any{"https://u:<redacted>@h/"},
				},
			},
		},
		"spoolman": map[string]any{
			"server":        "http://spoolman.local:7912",
			"Password":      "<redacted>",
			"client_secret": "<redacted>",
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Redacted() =\n%#v\nwant\n%#v", got, want)
	}
	if s := flatten(got); strings.Contains(s, "SECRET-VALUE-123") {
		t.Errorf("a secret value leaked: %s", s)
	}
	// The result is the caller's: changing it leaves the config alone.
	got["notifier"].(map[string]any)["token_bot"].(map[string]any)["url"] = "x"
	if c.Section("notifier.token_bot").Raw()["url"] != "mqtt://printer:hunter2@broker.local:1883/topic" {
		t.Error("changing Redacted() changed the section")
	}
}

// TestExampleConfig keeps configs/moonrelay.example.toml loadable and
// complete: it must document every key of the sections this package reads.
func TestExampleConfig(t *testing.T) {
	const path = "../../configs/moonrelay.example.toml"
	c, err := config.Load(path)
	if err != nil {
		t.Fatalf("Load(%s): %v", path, err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for _, section := range []string{"server", "authorization", "secrets", "klippy"} {
		if !regexp.MustCompile(`(?m)^(# )?\[` + section + `\]$`).MatchString(text) {
			t.Errorf("example lacks [%s]", section)
		}
		for key := range c.Redacted()[section].(map[string]any) {
			if !regexp.MustCompile(`(?m)^(# )?` + key + ` = `).MatchString(text) {
				t.Errorf("example does not document [%s] %s", section, key)
			}
		}
	}
	for _, section := range []string{"notifier.phone", "spoolman", "analysis", "octoprint_compat", "plugins"} {
		if !strings.Contains(text, "# ["+section+"]") {
			t.Errorf("example lacks a commented [%s]", section)
		}
	}
	// The defaults written in the example are the defaults in the code.
	defaults := mustParse(t, "")
	example := mustParse(t, text)
	if !reflect.DeepEqual(defaults.Server, example.Server) || !reflect.DeepEqual(defaults.Klippy, example.Klippy) {
		t.Errorf("example values differ from the defaults:\n%+v\n%+v", example, defaults)
	}
}

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		err  config.Error
		want string
	}{
		{config.Error{File: "moonrelay.toml", Line: 42, Section: "notifier.phone", Key: "events", Msg: `unknown event "completed"`},
			`moonrelay.toml:42: [notifier.phone] events: unknown event "completed"`},
		{config.Error{File: "moonrelay.toml", Section: "server", Key: "port", Msg: "m"}, "moonrelay.toml: [server] port: m"},
		{config.Error{File: "moonrelay.toml", Line: 3, Section: "sever", Msg: "m"}, "moonrelay.toml:3: [sever]: m"},
		{config.Error{File: "moonrelay.toml", Line: 3, Key: "port", Msg: "m"}, "moonrelay.toml:3: port: m"},
		{config.Error{Line: 3, Msg: "m"}, "line 3: m"},
		{config.Error{Msg: "m"}, "m"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestErrorsSortedAndUnwrapped(t *testing.T) {
	_, err := config.Parse("m.toml", []byte("[klippy]\nrequest_timeout = 0\n[server]\nport = 0\nhost = \"\"\n"))
	var errs config.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("err is %T, want config.Errors", err)
	}
	var lines []int
	for _, e := range errs {
		lines = append(lines, e.Line)
	}
	if !slices.Equal(lines, []int{2, 4, 5}) {
		t.Errorf("lines = %v, want [2 4 5]", lines)
	}
	var first *config.Error
	if !errors.As(err, &first) || first.Key != "request_timeout" {
		t.Errorf("errors.As *Error = %+v", first)
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in      any
		want    int64
		wantErr string
	}{
		{int64(1024), 1 << 30, ""},
		{1, 1 << 20, ""},
		{0.5, 512 << 10, ""},
		{"512MiB", 512 << 20, ""},
		{"1GiB", 1 << 30, ""},
		{"200MB", 200e6, ""},
		{"64 KiB", 64 << 10, ""},
		{"1.5G", 3 << 29, ""},
		{"4096B", 4096, ""},
		{"2tb", 2e12, ""},
		{"1_024", 1 << 30, ""},
		{"16", 16 << 20, ""},
		{int64(0), 0, ""},
		{"12 parsecs", 0, `must be a size such as "512MiB", "1GiB" or "200MB", or a number of MiB, got "12 parsecs"`},
		{"MiB", 0, `must be a size such as "512MiB", "1GiB" or "200MB", or a number of MiB, got "MiB"`},
		{"", 0, `must be a size such as "512MiB", "1GiB" or "200MB", or a number of MiB, got ""`},
		{true, 0, `must be a size such as "512MiB", "1GiB" or "200MB", or a number of MiB, got true`},
		{[]any{}, 0, `must be a size such as "512MiB", "1GiB" or "200MB", or a number of MiB, got a list`},
		{int64(-1), 0, "must not be negative, got -1"},
		{"-1GiB", 0, `must not be negative, got "-1GiB"`},
		{"99999999999TiB", 0, `is too large, got "99999999999TiB"`},
	}
	for _, tt := range tests {
		got, err := config.ParseSize(tt.in)
		gotErr := ""
		if err != nil {
			gotErr = err.Error()
		}
		if got != tt.want || gotErr != tt.wantErr {
			t.Errorf("ParseSize(%#v) = %d, %q; want %d, %q", tt.in, got, gotErr, tt.want, tt.wantErr)
		}
	}
}

func quote(s string) string { return `"` + s + `"` }

func writeFile(t *testing.T, path, body string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// flatten renders a value for a substring search.
func flatten(v any) string {
	var b strings.Builder
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				b.WriteString(k + "=")
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		default:
			b.WriteString(fmt.Sprint(v) + ";")
		}
	}
	walk(v)
	return b.String()
}
