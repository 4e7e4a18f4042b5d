package apprise

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moonrelay/moonrelay/guests/sdk"
)

// The expected values are what Python 3 (json, urllib.parse, requests) and
// Apprise 1.9.8 give for the same input.

func TestDumps(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want string
	}{
		{"escapes", Object{{"a", "é<&>\"\\\n\u2603😀\x7f"}, {"n", 5}, {"o", Object{{"k", "v"}}}},
			`{"a": "\u00e9<&>\"\\\n\u2603\ud83d\ude00\u007f", "n": 5, "o": {"k": "v"}}`},
		{"nested", Object{{"a", "é<&>\"\\\n"}, {"b", Object{{"c", 1}, {"d", []any{true, nil}}}}, {"e", "😀"}},
			`{"a": "\u00e9<&>\"\\\n", "b": {"c": 1, "d": [true, null]}, "e": "\ud83d\ude00"}`},
		{"controls", "\t\r\b\f\x00\x1f", `"\t\r\b\f\u0000\u001f"`},
		{"invalid utf-8", "a\xffb", `"a\ufffdb"`},
		{"numbers", []any{int64(-3), 1.5, 2.0, RawNumber("1e400"), false}, `[-3, 1.5, 2.0, 1e400, false]`},
		{"strings", []string{"x", "y"}, `["x", "y"]`},
		{"empty", []any{Object{}, []string{}}, `[{}, []]`},
		{"pointer", Obj("b", 1, "a", 2, "b", 3), `{"b": 3, "a": 2}`},
	}
	for _, tc := range tests {
		if got := string(Dumps(tc.in)); got != tc.want {
			t.Errorf("%s: Dumps = %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestDumpsPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Dumps(map) did not panic")
		}
	}()
	Dumps(map[string]string{})
}

func TestObject(t *testing.T) {
	o := Obj("a", 1, "b", 2, "c", 3)
	c := o.Copy()
	o.Set("b", "x")
	o.Del("a")
	o.Del("missing")
	o.Set("d", true)
	tests := []struct {
		name string
		got  any
		want string
	}{
		{"edited", o, `{"b": "x", "c": 3, "d": true}`},
		{"copy untouched", c, `{"a": 1, "b": 2, "c": 3}`},
	}
	for _, tc := range tests {
		if got := string(Dumps(tc.got)); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
	if v, ok := o.Get("c"); !ok || v != 3 {
		t.Errorf("Get(c) = %v, %v", v, ok)
	}
	if _, ok := o.Get("a"); ok || o.Index("a") != -1 {
		t.Error("a still present")
	}
	if got := (*o).Strings(); !slices.Equal(got, [][2]string{{"b", "x"}, {"c", "3"}, {"d", "True"}}) {
		t.Errorf("Strings = %q", got)
	}
}

func TestPyStr(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{{true, "True"}, {false, "False"}, {42, "42"}, {RawNumber("-100123"), "-100123"}, {"s", "s"}, {nil, ""}}
	for _, tc := range tests {
		if got := PyStr(tc.in); got != tc.want {
			t.Errorf("PyStr(%#v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestQuoting(t *testing.T) {
	tests := []struct {
		name, got, want string
	}{
		{"quote", Quote("a b/c~é", "/"), "a%20b/c~%C3%A9"},
		{"quote safe", Quote("!$&'()*+,:;=@", "!$&'()*+,:;=@"), "!$&'()*+,:;=@"},
		{"quote_plus", QuotePlus("a b+c&d"), "a+b%2Bc%26d"},
		{"urlencode", URLEncode([][2]string{{"filename", "a b/c.jpg"}, {"message", "100% ✓ ~x_y.z-"}}),
			"filename=a+b%2Fc.jpg&message=100%25+%E2%9C%93+~x_y.z-"},
		{"with query", WithQuery("http://h/p", [][2]string{{"a", "1"}, {"b", ""}}), "http://h/p?a=1&b="},
		{"without query", WithQuery("http://h/p", nil), "http://h/p"},
		{"requote", Requote("/a b/é?x=[1]#%41"), "/a%20b/%C3%A9?x=[1]#%41"},
		{"unquote", Unquote("a%20b%zz%"), "a b%zz%"},
		{"unquote utf-8", Unquote("%C3%A9%FF"), "é\uFFFD"},
		{"unquote plain", Unquote("a+b"), "a+b"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}

func TestParseBool(t *testing.T) {
	tests := []struct {
		in       string
		def, out bool
	}{
		{"yes", false, true}, {"no", true, false}, {"n", true, false}, {"never", true, false},
		{"true", false, true}, {"1", false, true}, {"0", true, false}, {"", false, false}, {"", true, true},
		{"maybe", false, false}, {"maybe", true, true}, {"ON", false, true}, {"off", true, false},
		{"enable", false, true}, {"disable", true, false}, {"always", false, true}, {"yé", true, true},
	}
	for _, tc := range tests {
		if got := ParseBool(tc.in, tc.def); got != tc.out {
			t.Errorf("ParseBool(%q, %v) = %v, want %v", tc.in, tc.def, got, tc.out)
		}
	}
}

func TestParseList(t *testing.T) {
	tests := []struct {
		in   []string
		want string
	}{
		{[]string{"b, a;c [d] a"}, "a|b|c|d"},
		{[]string{"x", "y\tx", ""}, "x|y"},
		{nil, ""},
	}
	for _, tc := range tests {
		if got := strings.Join(ParseList(tc.in...), "|"); got != tc.want {
			t.Errorf("ParseList(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestIsHostname(t *testing.T) {
	tests := map[string]bool{
		"localhost": true, "ntfy.example.com": true, "example.com.": true, "10.0.0.2": true,
		"1.2.3.999": false, "0001.1.1.1": false, "a_b": true, "a-": false, "x": true, "-": false, "_": false,
		"fe80::1": true, "::ffff:1.2.3.4": true, "fe80::g": false, "bad!": false, "": false,
		strings.Repeat("a.", 127): false,
	}
	for in, want := range tests {
		if got := IsHostname(in); got != want {
			t.Errorf("IsHostname(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestIsPySpace(t *testing.T) {
	for r, want := range map[rune]bool{' ': true, '\v': true, 0x1c: true, 0x1f: true, 0x85: true, 0x3000: true, 'a': false, 0x1b: false} {
		if got := IsPySpace(r); got != want {
			t.Errorf("IsPySpace(%U) = %v", r, got)
		}
	}
}

func TestParseURL(t *testing.T) {
	tests := []struct {
		raw     string
		path    []string
		options map[string]string
		err     string
	}{
		{raw: "tgram://bot/#chan?to=#x;silent=yes", path: []string{"#chan"}, options: map[string]string{"to": "#x", "silent": "yes"}},
		{raw: "slack://a/b?format= markdown ", path: []string{"b"}, options: map[string]string{"format": "markdown"}},
	}
	for _, tc := range tests {
		u, err := ParseURL(tc.raw)
		if err != nil {
			t.Errorf("%s: %v", tc.raw, err)
			continue
		}
		if !slices.Equal(u.Path, tc.path) {
			t.Errorf("%s: path %q, want %q", tc.raw, u.Path, tc.path)
		}
		for k, v := range tc.options {
			if u.Options[k] != v {
				t.Errorf("%s: option %s = %q, want %q", tc.raw, k, u.Options[k], v)
			}
		}
	}
	if _, err := ParseURL("nope"); err == nil || strings.Contains(err.Error(), "nope") {
		t.Errorf("ParseURL(nope) error = %v; want one that does not quote the URL", err)
	}
}

func TestOptions(t *testing.T) {
	u, err := ParseURL("x://h/?a=%20v%20&b=no&format=HTML&bad=1")
	if err != nil {
		t.Fatal(err)
	}
	if got := Opt(u, "a"); got != "v" {
		t.Errorf("Opt(a) = %q", got)
	}
	if OptBool(u, "b", true) || !OptBool(u, "missing", true) {
		t.Error("OptBool")
	}
	if f, err := Format(u); f != "html" || err != nil {
		t.Errorf("Format = %q, %v", f, err)
	}
	u, _ = ParseURL("x://h/?format=rtf")
	if _, err := Format(u); err == nil {
		t.Error("Format(rtf) accepted")
	}
}

func TestCredentials(t *testing.T) {
	tests := []struct {
		raw, user, password string
		auth                bool
	}{
		{"x://h/", "", "", false},
		{"x://u@h/", "u", "None", true},
		{"x://u:@h/", "u", "", true},
		{"x://u:p@h/", "u", "p", true},
		{"x://u@h/?user=v", "v", "u", true},
		{"x://u:p@h/?user=v", "v", "p", true},
		{"x://h/?user=v&pass=q", "v", "q", true},
		{"x://u:p@h/?password=q", "u", "q", true},
	}
	for _, tc := range tests {
		u, err := ParseURL(tc.raw)
		if err != nil {
			t.Fatal(err)
		}
		user, password, auth := Credentials(tc.raw, u)
		if user != tc.user || password != tc.password || auth != tc.auth {
			t.Errorf("Credentials(%s) = %q, %q, %v; want %q, %q, %v", tc.raw, user, password, auth, tc.user, tc.password, tc.auth)
		}
	}
}

func TestSmallHelpers(t *testing.T) {
	tests := []struct {
		name, got, want string
	}{
		{"basic auth", BasicAuth("user", "pass"), "Basic dXNlcjpwYXNz"},
		{"basic auth latin-1", BasicAuth("é", ""), "Basic 6To="},
		{"basic auth utf-8", BasicAuth("☃", ""), "Basic 4piDOg=="},
		{"or none", OrNone("p", false), "None"},
		{"or none set", OrNone("", true), ""},
		{"redacted user", RedactedUser("u", true), "u:****@"},
		{"redacted user no password", RedactedUser("u", false), "u@"},
		{"redacted no user", RedactedUser("", true), ""},
		{"header param", HeaderParam("a\"b\r\n\xff"), "a%22b%0D%0A\uFFFD"},
		{"snippet", Snippet([]byte("  ok \xff ")), "ok ?"},
		{"snippet long", Snippet([]byte(strings.Repeat("x", 301))), strings.Repeat("x", 300) + "…"},
		{"http text", HTTPText(&sdk.HTTPResponse{Status: 400, Body: []byte("bad")}, ""), "HTTP 400: bad"},
		{"http text detail", HTTPText(&sdk.HTTPResponse{Status: 400, Body: []byte("bad")}, "why"), "HTTP 400: why"},
		{"http text empty", HTTPText(&sdk.HTTPResponse{Status: 502}, ""), "HTTP 502"},
		{"attachment name", AttachmentName(sdk.AttachmentInfo{}, 7) + AttachmentName(sdk.AttachmentInfo{Name: "a.png"}, 1), "file007.data.png"},
		{"attachment mime", AttachmentMIME(sdk.AttachmentInfo{}) + " " + AttachmentMIME(sdk.AttachmentInfo{MIME: "image/png"}), "application/octet-stream image/png"},
		{"has password", map[bool]string{true: "y", false: "n"}[HasPassword("x://u:@h/a:b@c")], "y"},
		{"has no password", map[bool]string{true: "y", false: "n"}[HasPassword("u@h/a:b@c")], "n"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	future := sdk.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	tests := []struct {
		header string
		min    time.Duration
		max    time.Duration
	}{
		{"", 0, 0}, {"7", 7 * time.Second, 7 * time.Second}, {" 7 ", 7 * time.Second, 7 * time.Second},
		{"0", 0, 0}, {"-3", 0, 0}, {"soon", 0, 0},
		{future, 58 * time.Minute, time.Hour}, {"Mon, 02 Jan 2006 15:04:05 GMT", 0, 0},
	}
	for _, tc := range tests {
		got := RetryAfter(&sdk.HTTPResponse{Headers: map[string]string{"retry-after": tc.header}})
		if got < tc.min || got > tc.max {
			t.Errorf("RetryAfter(%q) = %v, want %v..%v", tc.header, got, tc.min, tc.max)
		}
	}
}

func TestOutcome(t *testing.T) {
	tests := []struct {
		status int
		ok     []int
		want   string
	}{
		{200, []int{200}, sdk.StatusSent},
		{204, []int{200, 204}, sdk.StatusSent},
		{201, []int{200}, sdk.StatusFailed},
		{429, []int{200}, sdk.StatusRetry},
		{503, []int{200}, sdk.StatusRetry},
		{400, []int{200}, sdk.StatusFailed},
	}
	for _, tc := range tests {
		if got := Outcome(&sdk.HTTPResponse{Status: tc.status}, "m", tc.ok...); got.Status != tc.want {
			t.Errorf("Outcome(%d, %v) = %s, want %s", tc.status, tc.ok, got.Status, tc.want)
		}
	}
}

func TestHostFailure(t *testing.T) {
	tests := []struct {
		err       error
		status    string
		permanent bool
		msg       string
	}{
		{&sdk.HostError{Code: sdk.CodeTimeout, Message: "slow"}, sdk.StatusRetry, false, "svc: slow"},
		{&sdk.HostError{Code: sdk.CodeNetwork, Message: "down"}, sdk.StatusRetry, false, "svc: down"},
		{&sdk.HostError{Code: sdk.CodePolicyDenied, Message: "no"}, sdk.StatusFailed, true, "svc: no"},
		{&sdk.HostError{Code: sdk.CodeNoCapability, Message: "cap"}, sdk.StatusFailed, true, "svc: cap"},
		{errors.New("odd"), sdk.StatusFailed, false, "svc: odd"},
	}
	for _, tc := range tests {
		got := HostFailure("svc", tc.err)
		if got.Status != tc.status || got.Permanent != tc.permanent || got.Error != tc.msg {
			t.Errorf("HostFailure(%v) = %+v", tc.err, got)
		}
	}
}

func TestMultipartText(t *testing.T) {
	body, ctype, err := Multipart([]FormPart{{Name: "a", Value: "1"}, {Name: `b"c`, Value: "x\r\ny"}})
	if err != nil {
		t.Fatal(err)
	}
	boundary, ok := strings.CutPrefix(ctype, "multipart/form-data; boundary=")
	if !ok || len(boundary) != 32 {
		t.Fatalf("Content-Type %q", ctype)
	}
	want := "--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n" +
		"--B\r\nContent-Disposition: form-data; name=\"b%22c\"\r\n\r\nx\r\ny\r\n--B--\r\n"
	if got := strings.ReplaceAll(string(body), boundary, "B"); got != want {
		t.Errorf("body\n%q\nwant\n%q", got, want)
	}
	// Outside WebAssembly an attachment cannot be read.
	if _, _, err := Multipart([]FormPart{{Name: "f", Filename: "x", Attachment: &sdk.AttachmentInfo{ID: 1, Name: "x"}}}); err == nil {
		t.Error("attachment read without a host")
	}
}
