package config_test

import (
	"fmt"

	"github.com/moonrelay/moonrelay/host/config"
)

// Parse reports every problem at once, each with its line.
func ExampleParse() {
	_, err := config.Parse("moonrelay.toml", []byte(`
[server]
prot = 7125
port = "abc"

[authorization]
trusted_clients = ["192.168.1.0/24", "10.0.0.5", "192.168.1.300"]
`))
	fmt.Println(err)
	// Output:
	// moonrelay.toml:3: [server] prot: unknown key; did you mean "port"?
	// moonrelay.toml:4: [server] port: must be a whole number from 1 to 65535, got "abc"
	// moonrelay.toml:7: [authorization] trusted_clients[2]: must be an address like "192.168.1.20" or a network like "192.168.1.0/24", got "192.168.1.300"
}

// A component decodes its own section, then checks what Decode cannot and
// positions its messages with Errorf.
func ExampleSection_Decode() {
	cfg, err := config.Parse("moonrelay.toml", []byte(`
[notifier.phone]
url = "ntfy://ntfy.sh/my-printer"
events = ["started", "completed"]
retries = "3"
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range cfg.SectionsOf("notifier") {
		section := struct {
			URL     string   `toml:"url"`
			Events  []string `toml:"events"`
			Retries int      `toml:"retries"`
		}{Retries: 5} // defaults first: absent keys keep them
		if err := s.Decode(&section); err != nil {
			fmt.Println(err)
		}
		for i, ev := range section.Events {
			if ev == "completed" {
				fmt.Println(s.Errorf(fmt.Sprintf("events[%d]", i), "unknown event %q; did you mean %q?", ev, "complete"))
			}
		}
	}
	// Output:
	// moonrelay.toml:5: [notifier.phone] retries: expected a whole number, got text "3"
	// moonrelay.toml:4: [notifier.phone] events[1]: unknown event "completed"; did you mean "complete"?
}

// ParseSize reads sizes the way [server] max_upload_size does.
func ExampleParseSize() {
	for _, v := range []any{int64(1024), "512MiB", "200MB", "lots"} {
		n, err := config.ParseSize(v)
		fmt.Println(n, err)
	}
	// Output:
	// 1073741824 <nil>
	// 536870912 <nil>
	// 200000000 <nil>
	// 0 must be a size such as "512MiB", "1GiB" or "200MB", or a number of MiB, got "lots"
}
