package sdk

import (
	"encoding/json"
	"time"
)

// ABIVersion is the guest ABI version this SDK implements, returned by the
// mr_abi export. The host refuses a guest whose version it does not know.
const ABIVersion = 1

// Kind says which role a guest plays.
type Kind string

// The guest kinds the host knows.
const (
	// KindTransport delivers notifications for one or more URL schemes.
	KindTransport Kind = "transport"
	// KindSpoolmanHook receives Spoolman events.
	KindSpoolmanHook Kind = "spoolman_hook"
)

// Manifest describes a guest to the host. It is returned by the mr_describe
// export and checked when the guest is loaded.
type Manifest struct {
	// Name identifies the guest; unique among loaded guests. Lower case
	// letters, digits, '-' and '_'.
	Name string `json:"name"`
	// Version is the guest's own version, e.g. "1.2.0".
	Version string `json:"version"`
	// Kind is KindTransport or KindSpoolmanHook. RegisterTransport and
	// RegisterHook fill it in.
	Kind Kind `json:"kind"`
	// Schemes lists the URL schemes a transport handles, e.g. "ntfy", "ntfys".
	Schemes []string `json:"schemes,omitempty"`
	// NativeURLs lists URL prefixes of the service's own web addresses that
	// the host may route to this transport, e.g. "https://ntfy.sh/".
	NativeURLs []string `json:"native_urls,omitempty"`
	// Events lists the events a hook wants.
	Events []string `json:"events,omitempty"`
	// Hosts lists fixed service hosts the guest may contact, e.g.
	// "api.telegram.org". They must resolve to public addresses.
	Hosts []string `json:"hosts,omitempty"`
	// UserHost allows requests to the host named in the notifier's own URL
	// (true for self-hosted services such as ntfy or gotify).
	UserHost bool `json:"user_host,omitempty"`
	// Format is the body format the service renders natively: "text",
	// "markdown" or "html". The host converts bodies to it.
	Format string `json:"format,omitempty"`
	// NoTitle says the service has no title field (Telegram, Signal): the
	// host merges the title into the body as Apprise does, and Send gets
	// an empty Title.
	NoTitle bool `json:"no_title,omitempty"`
	// TitleMaxLen and BodyMaxLen are the service's limits; 0 means none.
	TitleMaxLen int `json:"title_maxlen,omitempty"`
	BodyMaxLen  int `json:"body_maxlen,omitempty"`
	// Attachments is "none", "images" or "any".
	Attachments string `json:"attachments,omitempty"`
	// Capabilities lists host features the guest uses: "http", "kv", "smtp".
	Capabilities []string `json:"capabilities,omitempty"`
}

// AttachmentInfo describes one attachment the host fetched before the call.
// Its bytes are read with [Attachment].
type AttachmentInfo struct {
	ID   uint32 `json:"id"`
	Name string `json:"name"`
	MIME string `json:"mime,omitempty"`
	Size int64  `json:"size"`
}

// SendRequest is the input of a transport's Send: one message to deliver.
// The host has already rendered templates, converted the body to the
// manifest's format and applied title merging and overflow.
type SendRequest struct {
	// URL is the notifier's rendered URL, secrets included.
	URL string `json:"url"`
	// Title and Body are the message.
	Title string `json:"title,omitempty"`
	Body  string `json:"body"`
	// BodyFormat is the format the body was written in: text, markdown, html.
	BodyFormat string `json:"body_format,omitempty"`
	// NotifyType is Apprise's type: info, success, warning, failure.
	NotifyType string `json:"notify_type,omitempty"`
	// Attachments lists attachments readable with [Attachment].
	Attachments []AttachmentInfo `json:"attachments,omitempty"`
	// Notifier is the name of the notifier section, for logs only.
	Notifier string `json:"notifier,omitempty"`
	// Event is the job event that triggered the message, for context only.
	Event string `json:"event,omitempty"`
	// Now is the host's time in unix seconds.
	Now int64 `json:"now,omitempty"`
	// DeadlineMS is the time left for the call, in milliseconds.
	DeadlineMS int64 `json:"deadline_ms,omitempty"`
	// Extra carries fields added by later hosts; guests may ignore it.
	Extra json.RawMessage `json:"extra,omitempty"`
}

// Status values of a SendResult.
const (
	StatusSent   = "sent"
	StatusFailed = "failed"
	StatusRetry  = "retry"
)

// SendResult is the output of Send. Build it with [Sent], [Retry], [Fail] or
// [FailPermanent].
type SendResult struct {
	OK     bool   `json:"ok"`
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
	// RetryAfterS asks the host to retry after this many seconds (429, 5xx).
	RetryAfterS int `json:"retry_after_s,omitempty"`
	// Permanent marks a failure retrying cannot fix (400, 401, 403, 404).
	Permanent bool `json:"permanent,omitempty"`
	// Info is a short note for the delivery history, such as the service's
	// message id.
	Info string `json:"info,omitempty"`
}

// ValidateRequest is the input of Validate: a notifier URL to check when the
// configuration is loaded.
type ValidateRequest struct {
	URL string `json:"url"`
}

// ValidateResult is the output of Validate.
type ValidateResult struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
	// Hosts lists hosts the notifier will contact, for display.
	Hosts []string `json:"hosts,omitempty"`
	// RedactedURL is the URL with secrets replaced, safe to log.
	RedactedURL string `json:"redacted_url,omitempty"`
	// Options lists the URL options the guest understood, with defaults.
	Options map[string]string `json:"options,omitempty"`
}

// HookRequest is the input of a Spoolman hook.
type HookRequest struct {
	Event string          `json:"event"`
	Data  json.RawMessage `json:"data,omitempty"`
	Now   int64           `json:"now,omitempty"`
}

// HookResult is the output of a Spoolman hook.
type HookResult struct {
	OK    bool            `json:"ok"`
	Error string          `json:"error,omitempty"`
	Data  json.RawMessage `json:"data,omitempty"`
}

// Sent reports a delivered message.
func Sent() SendResult { return SendResult{OK: true, Status: StatusSent} }

// Retry reports a transient failure (429, 5xx, network); the host retries
// after the given delay, or its own back-off when after is 0.
func Retry(after time.Duration, msg string) SendResult {
	return SendResult{Status: StatusRetry, Error: msg, RetryAfterS: int((after + time.Second - 1) / time.Second)}
}

// Fail reports a failure the host may retry with its own back-off.
func Fail(msg string) SendResult { return SendResult{Status: StatusFailed, Error: msg} }

// FailPermanent reports a failure retrying cannot fix, such as a rejected
// token (401/403) or an unknown chat (404).
func FailPermanent(msg string) SendResult {
	return SendResult{Status: StatusFailed, Error: msg, Permanent: true}
}

// ResultForStatus maps a service's HTTP status to a SendResult: 2xx sent,
// 429 and 5xx retry (honouring retryAfter), 400/401/403/404 permanent
// failures, anything else a failure.
func ResultForStatus(status int, retryAfter time.Duration, msg string) SendResult {
	switch {
	case status >= 200 && status < 300:
		return Sent()
	case status == 429 || status >= 500:
		return Retry(retryAfter, msg)
	case status == 400 || status == 401 || status == 403 || status == 404:
		return FailPermanent(msg)
	default:
		return Fail(msg)
	}
}

// HTTPRequest is one outbound request made through the host with [HTTP].
type HTTPRequest struct {
	Method string `json:"method"`
	URL    string `json:"url"`
	// Headers are sent in order; a name may repeat.
	Headers [][2]string `json:"headers,omitempty"`
	// Body is the raw request body; ignored when Multipart or
	// BodyAttachment is set.
	Body []byte `json:"-"`
	// TimeoutMS bounds this request; the host caps it at its own limit.
	TimeoutMS int `json:"timeout_ms,omitempty"`
	// BodyAttachment sends the bytes of an attachment as the body.
	BodyAttachment *uint32 `json:"body_attachment,omitempty"`
	// Multipart makes the host build a multipart/form-data body, streaming
	// attachments without copying them into the guest.
	Multipart []Part `json:"multipart,omitempty"`
}

// Part is one field of a multipart/form-data body: a Value, or a file whose
// bytes are the attachment with id Attachment.
type Part struct {
	Name        string  `json:"name"`
	Value       string  `json:"value,omitempty"`
	Filename    string  `json:"filename,omitempty"`
	ContentType string  `json:"content_type,omitempty"`
	Attachment  *uint32 `json:"attachment,omitempty"`
}

// HTTPResponse is the answer to an HTTPRequest.
type HTTPResponse struct {
	Status int `json:"status"`
	// Headers has lower-case names; repeated headers are joined with ", ".
	Headers map[string]string `json:"headers,omitempty"`
	Body    []byte            `json:"-"`
}

// TLS modes of an [SMTPRequest].
const (
	SMTPTLSNone     = "none"     // plain SMTP (port 25 by default)
	SMTPStartTLS    = "starttls" // plain connection upgraded with STARTTLS (587)
	SMTPImplicitTLS = "implicit" // TLS from the first byte, "SMTPS" (465)
)

// SMTPRequest is one e-mail handed to the host's SMTP client with [SMTP].
// The guest builds the whole message; the host only carries it.
type SMTPRequest struct {
	// Host and Port name the SMTP server; Port 0 means 25, 587 or 465 by
	// TLS. The host must be allowed for the call (see [SMTP]).
	Host string `json:"host"`
	Port int    `json:"port,omitempty"`
	// TLS is SMTPTLSNone, SMTPStartTLS or SMTPImplicitTLS.
	TLS string `json:"tls"`
	// Username and Password log in (AUTH) when both are set.
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	// From is the envelope sender (MAIL FROM), To the envelope recipients
	// (RCPT TO): To, Cc and Bcc addresses alike, bare addresses without
	// angle brackets.
	From string   `json:"from"`
	To   []string `json:"to"`
	// Message is the complete RFC 5322 message: headers, blank line, body,
	// with CRLF line ends. It is passed beside the JSON, not inside it.
	Message []byte `json:"-"`
	// TimeoutMS bounds the whole conversation; the host caps it at its own
	// limit.
	TimeoutMS int `json:"timeout_ms,omitempty"`
}

// SMTPReply is the server's answer to an [SMTPRequest]: Code 250 when the
// message was accepted, else the reply code that refused it with the
// step and the server's text in Message ("AUTH: 535 5.7.8 …").
type SMTPReply struct {
	Code    int
	Message string
}

// Host error codes returned by the host's http_request and smtp_send
// instead of an HTTP status or SMTP reply code. They appear in [HostError].
const (
	CodePolicyDenied    = 601 // host, scheme or address not allowed
	CodeTimeout         = 602 // the request took longer than allowed
	CodeTooLarge        = 603 // the response body is over the cap
	CodeNetwork         = 604 // DNS, connect, TLS or read failure
	CodeBadRequest      = 605 // malformed request JSON or body over the cap
	CodeBudgetExhausted = 606 // too many requests in one call
	CodeNoCapability    = 607 // the host offers no such service
)

// HostError is a failure reported by the host instead of an HTTP status.
type HostError struct {
	Code    int
	Message string
}

// Error implements error.
func (e *HostError) Error() string { return e.Message }

// Log levels for [Log].
const (
	LevelDebug = 0
	LevelInfo  = 1
	LevelWarn  = 2
	LevelError = 3
)
