package transporttest

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/moonrelay/moonrelay/guests/sdk"
	"github.com/moonrelay/moonrelay/runtime"
)

// Case is one golden delivery: a notifier URL ("HOST" is replaced by the
// capture server's host:port), the message and its attachments.
type Case struct {
	Name                                string
	URL                                 string
	Title, Body, BodyFormat, NotifyType string
	Attachments                         []runtime.Attachment
}

// GoldenOption changes how RunGolden checks each case.
type GoldenOption func(*goldenRun)

type goldenRun struct {
	oneRequest bool
	masks      []func([]byte) []byte
}

// OneRequestEach makes RunGolden fail a case that caused any number of
// requests other than one.
func OneRequestEach() GoldenOption { return func(r *goldenRun) { r.oneRequest = true } }

// Mask rewrites the dump before it is compared, e.g. to hide a random
// multipart boundary.
func Mask(f func([]byte) []byte) GoldenOption {
	return func(r *goldenRun) { r.masks = append(r.masks, f) }
}

// RunGolden validates and sends each case through guest, and compares the
// requests the capture server received for it, in order, with
// testdata/<Name>.golden. NotifyType defaults to "info".
func RunGolden(t *testing.T, eng *runtime.Engine, cap *Capture, guest string, cases []Case, opts ...GoldenOption) {
	t.Helper()
	var run goldenRun
	for _, o := range opts {
		o(&run)
	}
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			seen := len(cap.Requests())
			url := strings.ReplaceAll(tc.URL, "HOST", cap.Host())
			vr, err := eng.Validate(context.Background(), guest, url)
			if err != nil || !vr.OK {
				t.Fatalf("validate: %v %+v", err, vr)
			}
			nt := tc.NotifyType
			if nt == "" {
				nt = "info"
			}
			res, err := Send(t, eng, guest, sdk.SendRequest{URL: url, Title: tc.Title, Body: tc.Body, BodyFormat: tc.BodyFormat, NotifyType: nt}, tc.Attachments...)
			if err != nil || !res.OK {
				t.Fatalf("send: %v %+v", err, res)
			}
			if n := len(cap.Requests()) - seen; run.oneRequest && n != 1 {
				t.Fatalf("%d requests, want 1", n)
			}
			dump := cap.DumpSince(seen)
			for _, m := range run.masks {
				dump = m(dump)
			}
			Golden(t, "testdata/"+tc.Name+".golden", dump)
		})
	}
}

// ExportOracleCases writes cases as JSON to $APPRISE_ORACLE_CASES, for
// replaying them through Apprise itself and comparing its requests with
// testdata/; it skips the test when the variable is unset. Cases naming
// .example hosts (redirected here, not reachable by Apprise) or unnamed
// attachments are left out.
func ExportOracleCases(t *testing.T, cases []Case) {
	path := os.Getenv("APPRISE_ORACLE_CASES")
	if path == "" {
		t.Skip("requires APPRISE_ORACLE_CASES=<file> to export the cases for the Apprise oracle")
	}
	type att struct {
		Name string `json:"name"`
		Data string `json:"data"` // one rune per byte (Latin-1)
	}
	type exported struct {
		Name  string `json:"name"`
		URL   string `json:"url"`
		Title string `json:"title"`
		Body  string `json:"body"`
		Atts  []att  `json:"atts,omitempty"`
	}
	var out []exported
	for _, c := range cases {
		if strings.Contains(c.URL, ".example") || slices.ContainsFunc(c.Attachments, func(a runtime.Attachment) bool { return a.Name == "" }) {
			continue
		}
		e := exported{Name: c.Name, URL: c.URL, Title: c.Title, Body: c.Body}
		for _, a := range c.Attachments {
			r := make([]rune, len(a.Data))
			for i, b := range a.Data {
				r[i] = rune(b)
			}
			e.Atts = append(e.Atts, att{Name: a.Name, Data: string(r)})
		}
		out = append(out, e)
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// DumpSince dumps the requests received after the first seen ones, in
// order, separated by "----" lines.
func (c *Capture) DumpSince(seen int) []byte {
	var b bytes.Buffer
	for i, r := range c.Requests()[seen:] {
		if i > 0 {
			b.WriteString("----\n")
		}
		b.Write(c.Dump(r))
	}
	return b.Bytes()
}

// Failure is one answer of the service and the result the guest must give
// for it.
type Failure struct {
	Name      string
	Reply     Response
	Status    string // sdk.StatusFailed or sdk.StatusRetry
	Permanent bool
	RetryS    int
	ErrText   string // the result's error must contain it
}

// RunFailures sends one message to url ("HOST" replaced as in RunGolden)
// per case, with the capture server answering the case's Reply, and checks
// the result's status, permanence, retry delay and error text.
func RunFailures(t *testing.T, eng *runtime.Engine, cap *Capture, guest, url string, cases []Failure) {
	t.Helper()
	url = strings.ReplaceAll(url, "HOST", cap.Host())
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			cap.Reply(tc.Reply)
			res, err := Send(t, eng, guest, sdk.SendRequest{URL: url, Body: "x"})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tc.Status || res.Permanent != tc.Permanent || res.RetryAfterS != tc.RetryS || !strings.Contains(res.Error, tc.ErrText) {
				t.Errorf("result = %+v, want status %s permanent %v retry %d error containing %q", res, tc.Status, tc.Permanent, tc.RetryS, tc.ErrText)
			}
		})
	}
}

// Validation is a notifier URL and what mr_validate must answer: an error
// containing Err and beginning with ErrPrefix, or OK with this redacted URL,
// these hosts (joined with ","), this format option (unset or empty when
// Format is) and the Options.
type Validation struct {
	URL, Err, Redacted, Hosts, Format string
	// ErrPrefix, when set, makes the case an error case like Err does, and
	// the error must begin with it.
	ErrPrefix string
	// Secret, when set, is a part of URL that must not show: neither in the
	// error nor in the redacted URL.
	Secret string
	// Options are more options the OK answer must have: each one's value
	// must equal the answer's (an empty value wants the option unset or
	// empty). The format option is Format's, not theirs.
	Options map[string]string
}

// RunValidate checks mr_validate of guest for each case.
func RunValidate(t *testing.T, eng *runtime.Engine, guest string, cases []Validation) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.URL, func(t *testing.T) {
			if _, ok := tc.Options["format"]; ok {
				t.Fatal(`want the format option in Format, not in Options`)
			}
			vr, err := eng.Validate(context.Background(), guest, tc.URL)
			if err != nil {
				t.Fatal(err)
			}
			if tc.Secret != "" && strings.Contains(vr.Error, tc.Secret) {
				t.Errorf("error %q shows the secret %q", vr.Error, tc.Secret)
			}
			if tc.Err != "" || tc.ErrPrefix != "" {
				if vr.OK || !strings.Contains(vr.Error, tc.Err) {
					t.Errorf("validate = %+v, want error containing %q", vr, tc.Err)
				}
				if !strings.HasPrefix(vr.Error, tc.ErrPrefix) {
					t.Errorf("validate = %+v, want error beginning with %q", vr, tc.ErrPrefix)
				}
				return
			}
			if !vr.OK || vr.RedactedURL != tc.Redacted || strings.Join(vr.Hosts, ",") != tc.Hosts || vr.Options["format"] != tc.Format {
				t.Errorf("validate = %+v, want redacted %q hosts %q format %q", vr, tc.Redacted, tc.Hosts, tc.Format)
			}
			if tc.Secret != "" && strings.Contains(vr.RedactedURL, tc.Secret) {
				t.Errorf("redacted URL %q shows the secret %q", vr.RedactedURL, tc.Secret)
			}
			for k, v := range tc.Options {
				if vr.Options[k] != v {
					t.Errorf("option %s = %q, want %q", k, vr.Options[k], v)
				}
			}
		})
	}
}
