package apprise

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/moonrelay/moonrelay/guests/sdk"
)

// BasicAuth is the Authorization header value requests writes for
// auth=(user, password): credentials encoded as Latin-1 (as UTF-8 when
// they hold characters beyond it). Pass "None" as the password when
// Apprise has a user but no password, as requests then sends.
func BasicAuth(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString(latin1(user+":"+password))
}

func latin1(s string) []byte {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xff {
			return []byte(s)
		}
		b = append(b, byte(r))
	}
	return b
}

// ReadAttachment returns the bytes of an attachment the host fetched.
func ReadAttachment(a sdk.AttachmentInfo) ([]byte, error) {
	b, err := io.ReadAll(sdk.Attachment(a.ID))
	if err != nil {
		return nil, fmt.Errorf("attachment %s: %w", a.Name, err)
	}
	return b, nil
}

// AttachmentBase64 is Apprise's AttachBase.base64(): the whole file.
func AttachmentBase64(a sdk.AttachmentInfo) (string, error) {
	b, err := ReadAttachment(a)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// FormPart is one field of a multipart body as requests builds it: a text
// Value, or a file when Attachment is set. A file part carries a
// Content-Type only when ContentType is set, as requests does for a
// (name, file, type) tuple and not for a (name, file) one.
type FormPart struct {
	Name, Value           string
	Filename, ContentType string
	Attachment            *sdk.AttachmentInfo
}

// Multipart builds the body urllib3's encode_multipart_formdata writes
// (a random 32-hex-digit boundary), reading attachment bytes through the
// host, and returns it with its Content-Type.
func Multipart(parts []FormPart) ([]byte, string, error) {
	var rnd [16]byte
	_, _ = rand.Read(rnd[:])
	boundary := hex.EncodeToString(rnd[:])
	var b []byte
	for _, p := range parts {
		b = append(b, "--"+boundary+"\r\n"...)
		b = append(b, `Content-Disposition: form-data; name="`+HeaderParam(p.Name)+`"`...)
		if p.Attachment != nil {
			b = append(b, `; filename="`+HeaderParam(p.Filename)+`"`...)
			if p.ContentType != "" {
				b = append(b, "\r\nContent-Type: "+p.ContentType...)
			}
		}
		b = append(b, "\r\n\r\n"...)
		if p.Attachment != nil {
			data, err := ReadAttachment(*p.Attachment)
			if err != nil {
				return nil, "", err
			}
			b = append(b, data...)
		} else {
			b = append(b, p.Value...)
		}
		b = append(b, "\r\n"...)
	}
	b = append(b, "--"+boundary+"--\r\n"...)
	return b, "multipart/form-data; boundary=" + boundary, nil
}

// HeaderParam escapes a multipart header parameter (name, filename) as
// urllib3 2 does.
func HeaderParam(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return strings.NewReplacer("\n", "%0A", "\r", "%0D", `"`, "%22").Replace(s)
}

// HostFailure maps an error from sdk.HTTP to a result: timeouts and
// network failures are retried, anything the host refused (policy, bad
// request, missing capability) is permanent, anything else fails. The
// message is what: error.
func HostFailure(what string, err error) sdk.SendResult {
	var he *sdk.HostError
	if errors.As(err, &he) {
		switch he.Code {
		case sdk.CodeTimeout, sdk.CodeNetwork:
			return sdk.Retry(0, what+": "+he.Message)
		case sdk.CodePolicyDenied, sdk.CodeBadRequest, sdk.CodeNoCapability:
			return sdk.FailPermanent(what + ": " + he.Message)
		}
	}
	return sdk.Fail(what + ": " + err.Error())
}

// Outcome maps a service's answer to a result: the statuses in ok count as
// sent (Apprise checks for specific codes), another 2xx is a failure a
// retry would not fix, and anything else follows sdk.ResultForStatus with
// [RetryAfter].
func Outcome(resp *sdk.HTTPResponse, msg string, ok ...int) sdk.SendResult {
	for _, s := range ok {
		if resp.Status == s {
			return sdk.Sent()
		}
	}
	if resp.Status >= 200 && resp.Status < 300 {
		return sdk.FailPermanent(msg)
	}
	return sdk.ResultForStatus(resp.Status, RetryAfter(resp), msg)
}

// RetryAfter reads a Retry-After header in seconds or as an HTTP date; 0
// when absent, unreadable or past.
func RetryAfter(resp *sdk.HTTPResponse) time.Duration {
	v := strings.TrimSpace(resp.Headers["retry-after"])
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := time.Parse(time.RFC1123, v); err == nil {
		if d := t.Sub(sdk.Now()); d > 0 {
			return d
		}
	}
	return 0
}

// HTTPText is "HTTP 400: detail" for an error message, with the start of
// the response body when the service gave no detail.
func HTTPText(resp *sdk.HTTPResponse, detail string) string {
	if detail == "" {
		detail = Snippet(resp.Body)
	}
	if detail == "" {
		return fmt.Sprintf("HTTP %d", resp.Status)
	}
	return fmt.Sprintf("HTTP %d: %s", resp.Status, detail)
}

// Snippet shortens a response body for an error message: trimmed, invalid
// UTF-8 as '?', at most 300 bytes and an ellipsis.
func Snippet(b []byte) string {
	s := strings.TrimSpace(strings.ToValidUTF8(string(b), "?"))
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// OrNone is s when ok, else "None": what Python's str() makes of a value
// Apprise left unset, e.g. the password requests puts into basic auth for a
// user without one.
func OrNone(s string, ok bool) string {
	if !ok {
		return "None"
	}
	return s
}
