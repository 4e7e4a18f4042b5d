package sdk

import (
	"reflect"
	"testing"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		raw  string
		want URL
	}{
		{"ntfys://user:p%40ss@ntfy.example.com:8443/alerts/printer?priority=high&Tags=a,b",
			URL{Scheme: "ntfys", User: "user", Password: "p@ss", Host: "ntfy.example.com", Port: 8443, Path: []string{"alerts", "printer"},
				Options: map[string]string{"priority": "high", "tags": "a,b"}}},
		{"tgram://123456789:ABCdef/-100200300", // a bot token is host:"port"
			URL{Scheme: "tgram", Host: "123456789:ABCdef", Path: []string{"-100200300"}}},
		{"json://[::1]:8080/hook?+X-Token=abc+def&-since=now&:message=text&format",
			URL{Scheme: "json", Host: "::1", Port: 8080, Path: []string{"hook"},
				Options: map[string]string{"format": ""}, Headers: map[string]string{"X-Token": "abc+def"},
				Params: map[string]string{"since": "now"}, Fields: map[string]string{"message": "text"}}},
		{"mailto://a@b:pw@example.com#frag", // the last '@' ends the user info
			URL{Scheme: "mailto", User: "a@b", Password: "pw", Host: "example.com", Fragment: "frag"}},
		{"gotify://host", URL{Scheme: "gotify", Host: "host"}},
	}
	for _, tc := range tests {
		t.Run(tc.raw, func(t *testing.T) {
			got, err := ParseURL(tc.raw)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range []*map[string]string{&tc.want.Options, &tc.want.Headers, &tc.want.Params, &tc.want.Fields} {
				if *m == nil {
					*m = map[string]string{}
				}
			}
			if !reflect.DeepEqual(*got, tc.want) {
				t.Errorf("ParseURL = %+v\nwant %+v", *got, tc.want)
			}
		})
	}
}

func TestParseURLErrors(t *testing.T) {
	tests := []struct{ raw, want string }{
		{"no-scheme", `url "no-scheme": want scheme://…`},
		{"1x://host", `url "1x://host": bad scheme "1x"`},
		{"json://user:secret@[::1/x", `url "json://user:****@[::1/x": unclosed '[' in host`},
		{"json://host/%zz", `url "json://host/%zz": path: invalid URL escape "%zz"`},
	}
	for _, tc := range tests {
		if _, err := ParseURL(tc.raw); err == nil || err.Error() != tc.want {
			t.Errorf("ParseURL(%q) error = %v, want %s", tc.raw, err, tc.want)
		}
	}
}

func TestOptions(t *testing.T) {
	u, err := ParseURL("x://h?a=yes&b=0&n=12&bad=x&empty")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"Bool yes", u.Bool("a", false), true},
		{"Bool 0", u.Bool("B", true), false},
		{"Bool empty", u.Bool("empty", false), true},
		{"Bool default", u.Bool("missing", true), true},
		{"Option default", u.Option("missing", "d"), "d"},
		{"HostPort default", u.HostPort(443), "h:443"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	if n, err := u.Int("n", 0); n != 12 || err != nil {
		t.Errorf("Int(n) = %d, %v", n, err)
	}
	if _, err := u.Int("bad", 5); err == nil || err.Error() != `option bad: "x" is not a number` {
		t.Errorf("Int(bad) error = %v", err)
	}
}

func TestHandlers(t *testing.T) {
	registration.transport = nil
	defer func() { registration.transport = nil; registration.hook = nil }()
	RegisterTransport(Manifest{Name: "t", Version: "1", Schemes: []string{"t"}, UserHost: true}, TransportFunc(func(r *SendRequest) SendResult {
		if r.Title == "" {
			return Fail("no title")
		}
		return Sent()
	}))
	tests := []struct {
		name string
		fn   func([]byte) []byte
		in   string
		want string
	}{
		{"describe", func([]byte) []byte { return describe() }, "",
			`{"name":"t","version":"1","kind":"transport","schemes":["t"],"user_host":true,"capabilities":["http"]}`},
		{"send", handleSend, `{"url":"t://h","title":"x","body":"b"}`, `{"ok":true,"status":"sent"}`},
		{"send fails", handleSend, `{"url":"t://h","body":"b"}`, `{"ok":false,"status":"failed","error":"no title"}`},
		{"send bad input", handleSend, `{`, `{"ok":false,"status":"failed","error":"guest could not decode the send request","permanent":true}`},
		{"validate", handleValidate, `{"url":"t://u:pw@h.example/x"}`, `{"ok":true,"hosts":["h.example"],"redacted_url":"t://u:****@h.example/x"}`},
		{"validate wrong scheme", handleValidate, `{"url":"q://h"}`, `{"ok":false,"error":"scheme \"q\" is not handled by t"}`},
		{"hook on a transport", handleHook, `{"event":"x"}`, `{"ok":false,"error":"guest is not a spoolman hook"}`},
	}
	for _, tc := range tests {
		if got := string(tc.fn([]byte(tc.in))); got != tc.want {
			t.Errorf("%s = %s\nwant %s", tc.name, got, tc.want)
		}
	}
}

func TestHostCallsOutsideWasm(t *testing.T) {
	if _, err := HTTP(HTTPRequest{Method: "GET", URL: "https://example.com"}); err != ErrNoHost {
		t.Errorf("HTTP outside wasm: err = %v, want ErrNoHost", err)
	}
	if _, err := KV.Get("k"); err != ErrNoHost {
		t.Errorf("KV.Get outside wasm: err = %v, want ErrNoHost", err)
	}
}
