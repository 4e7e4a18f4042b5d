package config_test

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/moonrelay/moonrelay/host/config"
)

// kitchenSink uses every kind of field Decode supports.
type kitchenSink struct {
	Name     string            `toml:"name"`
	Enabled  bool              `toml:"enabled"`
	Count    int               `toml:"count"`
	Small    int8              `toml:"small"`
	Unsigned uint16            `toml:"unsigned"`
	Ratio    float64           `toml:"ratio"`
	Wait     time.Duration     `toml:"wait"`
	When     time.Time         `toml:"when"`
	Network  netip.Prefix      `toml:"network"`
	Tags     []string          `toml:"tags"`
	Pair     [2]int            `toml:"pair"`
	Headers  map[string]string `toml:"headers"`
	Extra    any               `toml:"extra"`
	Optional *int              `toml:"optional"`
	Retry    struct {
		Attempts int `toml:"attempts"`
	} `toml:"retry"`
	Servers []struct {
		URL string `toml:"url"`
	} `toml:"servers"`
	Untagged string
	Skipped  string `toml:"-"`
	embedded
}

type embedded struct {
	Inherited string `toml:"inherited"`
}

func TestSectionDecode(t *testing.T) {
	c := mustParse(t, `
[spoolman]
name = "shelf"
enabled = true
count = 3.0
small = -5
unsigned = 65535
ratio = 2
wait = 1.5
when = 2024-05-27T07:32:00Z
network = "10.0.0.0/8"
tags = ["a", "b"]
pair = [1, 2]
headers = { Title = "hi" }
extra = { any = [1, "x"] }
optional = 7
retry.attempts = 4
untagged = "case-insensitive"
inherited = "from embedded"

[[spoolman.servers]]
url = "http://a"

[[spoolman.servers]]
url = "http://b"
`)
	var got kitchenSink
	got.Name = "default, overwritten"
	got.Skipped = "kept"
	if err := c.Section("spoolman").Decode(&got); err != nil {
		t.Fatalf("Decode: %v", err)
	}
	seven := 7
	want := kitchenSink{
		Name: "shelf", Enabled: true, Count: 3, Small: -5, Unsigned: 65535, Ratio: 2,
		Wait:     1500 * time.Millisecond,
		When:     time.Date(2024, 5, 27, 7, 32, 0, 0, time.UTC),
		Network:  netip.MustParsePrefix("10.0.0.0/8"),
		Tags:     []string{"a", "b"},
		Pair:     [2]int{1, 2},
		Headers:  map[string]string{"Title": "hi"},
		Extra:    map[string]any{"any": []any{int64(1), "x"}},
		Optional: &seven,
		Untagged: "case-insensitive",
		Skipped:  "kept",
		embedded: embedded{Inherited: "from embedded"},
	}
	want.Retry.Attempts = 4
	want.Servers = []struct {
		URL string `toml:"url"`
	}{{"http://a"}, {"http://b"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Decode =\n%+v\nwant\n%+v", got, want)
	}
}

// TestSectionDecodeErrors checks wording and, above all, lines: in [a.b]
// tables, dotted keys, inline tables, lists over several lines and arrays
// of tables.
func TestSectionDecodeErrors(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"unknown key with suggestion", "[spoolman]\nnmae = 1\n",
			`m.toml:2: [spoolman] nmae: unknown key; did you mean "name"?`},
		{"unknown key far from all", "[spoolman]\nzzz = 1\n",
			`m.toml:2: [spoolman] zzz: unknown key`},
		{"wrong types", "[spoolman]\nname = 1\nenabled = \"yes\"\ncount = 1.5\nratio = \"x\"\n",
			`m.toml:2: [spoolman] name: expected text in quotes, got the number 1
m.toml:3: [spoolman] enabled: expected true or false, got text "yes"
m.toml:4: [spoolman] count: expected a whole number, got the number 1.5
m.toml:5: [spoolman] ratio: expected a number, got text "x"`},
		{"ranges", "[spoolman]\nsmall = 300\nunsigned = -1\n",
			`m.toml:2: [spoolman] small: must be a whole number from -128 to 127, got 300
m.toml:3: [spoolman] unsigned: must be a whole number from 0 to 65535, got -1`},
		{"subtable", "[spoolman]\nname = \"x\"\n\n[spoolman.retry]\n\nattemps = 1\n",
			`m.toml:6: [spoolman] retry.attemps: unknown key; did you mean "attempts"?`},
		{"dotted key", "[spoolman]\nname = \"x\"\nretry.attempts = \"two\"\n",
			`m.toml:3: [spoolman] retry.attempts: expected a whole number, got text "two"`},
		{"dotted key from the top", "spoolman.retry.attempts = true\n",
			`m.toml:1: [spoolman] retry.attempts: expected a whole number, got true`},
		{"inline table over lines", "[spoolman]\nheaders = {\n  A = \"x\",\n  B = 2,\n}\n",
			`m.toml:4: [spoolman] headers.B: expected text in quotes, got the number 2`},
		{"list over lines", "[spoolman]\ntags = [\n  \"a\",\n  # a comment\n  3,\n]\n",
			`m.toml:5: [spoolman] tags[1]: expected text in quotes, got the number 3`},
		{"array too long", "[spoolman]\npair = [1, 2, 3]\n",
			`m.toml:2: [spoolman] pair: must have at most 2 entries, got 3`},
		{"array of tables", "[[spoolman.servers]]\nurl = \"a\"\n[[spoolman.servers]]\nurl = 5\nuri = \"b\"\n",
			`m.toml:4: [spoolman] servers[1].url: expected text in quotes, got the number 5
m.toml:5: [spoolman] servers[1].uri: unknown key; did you mean "url"?`},
		{"table for a scalar", "[spoolman.name]\nx = 1\n",
			`m.toml:1: [spoolman] name: expected text in quotes, got a table`},
		{"text unmarshaler", "[spoolman]\nnetwork = \"lan\"\n",
			`m.toml:2: [spoolman] network: "lan" is not valid: netip.ParsePrefix("lan"): no '/'`},
		{"duration", "[spoolman]\nwait = \"soon\"\n",
			`m.toml:2: [spoolman] wait: expected a number of seconds or a duration like "1m30s", got text "soon"`},
		{"date", "[spoolman]\nwhen = \"today\"\n",
			`m.toml:2: [spoolman] when: expected a date and time like 2024-05-27T07:32:00Z, got text "today"`},
		{"list for a scalar and scalar for a list", "[spoolman]\nname = [\"a\"]\ntags = \"a\"\n",
			`m.toml:2: [spoolman] name: expected text in quotes, got a list
m.toml:3: [spoolman] tags: expected a list in [brackets], got text "a"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := config.Parse("m.toml", []byte(tt.text))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			var v kitchenSink
			err = c.Section("spoolman").Decode(&v)
			if err == nil {
				t.Fatalf("Decode: no error, want\n%s", tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("Decode error\n%s\nwant\n%s", err, tt.want)
			}
		})
	}
}

func TestSectionDecodeNeedsPointer(t *testing.T) {
	c := mustParse(t, "[spoolman]\n")
	var v kitchenSink
	if err := c.Section("spoolman").Decode(v); err == nil {
		t.Error("Decode(struct value): no error")
	}
	if err := c.Section("spoolman").Decode((*kitchenSink)(nil)); err == nil {
		t.Error("Decode(nil pointer): no error")
	}
}

func TestSectionDecodeIntoMap(t *testing.T) {
	c := mustParse(t, "[notifier.phone]\nurl = \"x\"\nevents = [\"complete\"]\n")
	var m map[string]any
	if err := c.Section("notifier.phone").Decode(&m); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"url": "x", "events": []any{"complete"}}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("Decode(&map) = %v, want %v", m, want)
	}
}

func TestSectionErrorf(t *testing.T) {
	c, err := config.Parse("m.toml", []byte(`
[notifier.phone]
url = "x"
events = [
  "started",
  "completed",
]

[notifier.phone.headers]
Title = "t"

[notifier.empty]
`))
	if err != nil {
		t.Fatal(err)
	}
	phone, empty := c.Section("notifier.phone"), c.Section("notifier.empty")
	tests := []struct {
		got  *config.Error
		want string
	}{
		{phone.Errorf("url", "bad scheme %q", "x"), `m.toml:3: [notifier.phone] url: bad scheme "x"`},
		{phone.Errorf("events[1]", "unknown event"), `m.toml:6: [notifier.phone] events[1]: unknown event`},
		{phone.Errorf("headers.Title", "too long"), `m.toml:10: [notifier.phone] headers.Title: too long`},
		{phone.Errorf("headers.Missing", "required"), `m.toml:9: [notifier.phone] headers.Missing: required`},
		{phone.Errorf("body", "required"), `m.toml:2: [notifier.phone] body: required`},
		{phone.Errorf("", "needs a url or a body"), `m.toml:2: [notifier.phone]: needs a url or a body`},
		{empty.Errorf("url", "required"), `m.toml:12: [notifier.empty] url: required`},
	}
	for _, tt := range tests {
		if tt.got.Error() != tt.want {
			t.Errorf("Errorf = %q, want %q", tt.got.Error(), tt.want)
		}
	}
}

// TestConcurrentReads reads one Config from many goroutines; -race checks
// that nothing is written.
func TestConcurrentReads(t *testing.T) {
	c := mustParse(t, "[notifier.a]\nurl = \"mqtt://u:p@h\"\nextra = { list = [1] }\n[spoolman]\nname = \"x\"\n")
	done := make(chan struct{})
	for range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for range 50 {
				var n struct {
					URL   string `toml:"url"`
					Extra any    `toml:"extra"`
				}
				if err := c.Section("notifier.a").Decode(&n); err != nil {
					t.Error(err)
					return
				}
				n.Extra.(map[string]any)["list"] = nil
				_ = c.Redacted()
				c.SectionsOf("notifier")[0].Raw()["url"] = "changed"
			}
		}()
	}
	for range 8 {
		<-done
	}
	if got := c.Section("notifier.a").Raw()["url"]; got != "mqtt://u:p@h" {
		t.Errorf("url = %v after concurrent use", got)
	}
}
