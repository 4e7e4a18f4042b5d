package sdk

import (
	"errors"
	"fmt"
	"io"
	"time"
)

// ErrNoHost is returned by host calls in a build that is not a wasip1 guest,
// such as the unit tests of a guest's pure code.
var ErrNoHost = errors.New("sdk: no moonrelay host (not running as a wasip1 guest)")

// ErrNotFound is returned by KV.Get for a missing key and by Attachment
// reads for an unknown attachment id.
var ErrNotFound = errors.New("sdk: not found")

// Log writes one line to the server log at the given level (LevelDebug …
// LevelError); the host prefixes it with the guest and notifier names and
// may truncate or rate-limit it. Never log secrets: the URL holds tokens.
func Log(level int, msg string) { hostLog(level, msg) }

// Logf is Log with fmt.Sprintf formatting.
func Logf(level int, format string, args ...any) { hostLog(level, fmt.Sprintf(format, args...)) }

// Now returns the host's wall clock. time.Now inside a guest also works, but
// Now is the clock the host uses for retries and logs.
func Now() time.Time { return hostNow() }

// HTTP performs one request through the host. A response with any HTTP
// status is returned without error; a *HostError reports a request the host
// refused or could not complete (policy, timeout, size, network), with its
// Code one of the Code… constants.
func HTTP(req HTTPRequest) (*HTTPResponse, error) { return hostHTTP(req) }

// SMTP sends one e-mail through the host, which connects to req.Host (the
// notifier URL's own host or its ?smtp= host when the manifest sets
// UserHost, or a Manifest.Hosts entry such as smtp.gmail.com) and speaks
// SMTP with the TLS mode asked. The manifest must list the "smtp"
// capability. Any SMTP answer is returned without error: Code 250 means
// accepted, 4xx a temporary and 5xx a permanent refusal. A *HostError
// reports a message the host refused or could not deliver to the server
// (policy, timeout, network, bad request).
func SMTP(req SMTPRequest) (*SMTPReply, error) { return hostSMTP(req) }

// KVStore is the guest's small persistent store, scoped by the host to this
// guest and the notifier being served. Values are size-capped (64 KiB each by
// default). Use the [KV] value.
type KVStore struct{}

// KV is the guest's persistent key-value store.
var KV KVStore

// Get returns the value of key, or ErrNotFound.
func (KVStore) Get(key string) ([]byte, error) { return hostKVGet(key) }

// Set stores val under key.
func (KVStore) Set(key string, val []byte) error { return hostKVSet(key, val) }

// AttachmentReader reads the bytes of one attachment the host fetched before
// the call. It implements io.Reader and io.ReaderAt.
type AttachmentReader struct {
	id  uint32
	off int64
}

// Attachment returns a reader for the attachment with the given id, as
// listed in SendRequest.Attachments.
func Attachment(id uint32) *AttachmentReader { return &AttachmentReader{id: id} }

// Read implements io.Reader.
func (a *AttachmentReader) Read(p []byte) (int, error) {
	n, err := a.ReadAt(p, a.off)
	a.off += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

// ReadAt implements io.ReaderAt.
func (a *AttachmentReader) ReadAt(p []byte, off int64) (int, error) {
	total := 0
	for total < len(p) {
		n, err := hostAttachmentRead(a.id, off+int64(total), p[total:])
		total += n
		if err != nil {
			return total, err
		}
		if n == 0 {
			return total, io.EOF
		}
	}
	return total, nil
}
