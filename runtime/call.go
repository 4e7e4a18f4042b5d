package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/tetratelabs/wazero/sys"

	"github.com/moonrelay/moonrelay/guests/sdk"
)

// Call carries what the host knows about one call besides its input.
type Call struct {
	// Scope names who the call serves, e.g. "notifier.phone"; the guest's
	// KV keys are prefixed with it, so each notifier has its own store.
	// (Instances need no scope: each is restored to its state after
	// _initialize before it serves another call.)
	Scope string
	// URL is the notifier URL whose host the guest may reach when its
	// manifest sets user_host. Send sets it from the request.
	URL string
	// Attachments are readable by the guest with ids 1, 2, … in order.
	Attachments []Attachment
	// ExtraHosts may be reached in this call at any address (tests).
	ExtraHosts []string
	// Logger receives the guest's logs for this call; nil means the
	// engine's logger. "guest" is added.
	Logger *slog.Logger
}

// Attachment is a file the host fetched before the call: Data, or Reader
// with Size.
type Attachment struct {
	Name string
	MIME string
	Data []byte
	// Reader and Size are used when Data is nil, e.g. for a file on disk.
	Reader io.ReaderAt
	Size   int64
}

func (a *Attachment) reader() io.ReaderAt {
	if a.Data != nil || a.Reader == nil {
		return bytes.NewReader(a.Data)
	}
	return a.Reader
}

func (a *Attachment) size() int64 {
	if a.Data != nil || a.Reader == nil {
		return int64(len(a.Data))
	}
	return a.Size
}

// Send calls a transport's mr_send to deliver one message. The request's
// Attachments, Now and DeadlineMS are filled in from c and the call's
// deadline. A non-nil error is an *Error (or ErrUnknownGuest): the guest
// misbehaved or broke the policy; a delivery the service refused is a
// result with OK false.
func (e *Engine) Send(ctx context.Context, guest string, req sdk.SendRequest, c Call) (*sdk.SendResult, error) {
	c.URL = req.URL
	req.Attachments = make([]sdk.AttachmentInfo, len(c.Attachments))
	for i := range c.Attachments {
		a := &c.Attachments[i]
		req.Attachments[i] = sdk.AttachmentInfo{ID: uint32(i + 1), Name: a.Name, MIME: a.MIME, Size: a.size()}
	}
	req.Now = e.clock().Unix()
	var res sdk.SendResult
	err := e.call(ctx, guest, "mr_send", c, func(deadline time.Duration) any {
		req.DeadlineMS = deadline.Milliseconds()
		return req
	}, &res)
	if err != nil {
		return nil, err
	}
	switch res.Status {
	case sdk.StatusSent, sdk.StatusFailed, sdk.StatusRetry:
	default:
		return nil, e.errorFor(guest, "mr_send", nil, fmt.Sprintf("result status %q is not sent, failed or retry", res.Status))
	}
	return &res, nil
}

// Validate calls a transport's mr_validate to check a notifier URL when the
// configuration is loaded.
func (e *Engine) Validate(ctx context.Context, guest, rawURL string) (*sdk.ValidateResult, error) {
	var res sdk.ValidateResult
	err := e.call(ctx, guest, "mr_validate", Call{Scope: "validate"}, func(time.Duration) any {
		return sdk.ValidateRequest{URL: rawURL}
	}, &res)
	if err != nil {
		return nil, err
	}
	return &res, nil
}

// Hook calls a Spoolman hook's mr_hook with one event.
func (e *Engine) Hook(ctx context.Context, guest string, req sdk.HookRequest, c Call) (*sdk.HookResult, error) {
	req.Now = e.clock().Unix()
	var res sdk.HookResult
	err := e.call(ctx, guest, "mr_hook", c, func(time.Duration) any { return req }, &res)
	if err != nil {
		return nil, err
	}
	return &res, nil
}

func (e *Engine) errorFor(name, export string, err error, reason string) error {
	e.mu.Lock()
	g := e.guests[name]
	e.mu.Unlock()
	if g == nil {
		return &Error{Guest: name, File: name, Export: export, Reason: reason, Err: err}
	}
	return g.errorf(export, err, "%s", reason)
}

// call runs one export: takes an instance for the pool key, encodes the
// input (made by input once the deadline is known), invokes, decodes the
// result into out, and returns the instance to the pool or discards it.
func (e *Engine) call(ctx context.Context, name, export string, c Call, input func(time.Duration) any, out any) error {
	e.mu.Lock()
	g, ok := e.guests[name]
	closed := e.closed
	if !closed {
		e.calls.Add(1)
	}
	e.mu.Unlock()
	if closed {
		return ErrClosed
	}
	defer e.calls.Done()
	if !ok {
		return fmt.Errorf("runtime: %w %q", ErrUnknownGuest, name)
	}
	if g.info.Kind != kindOf(export) {
		return g.errorf(export, nil, "guest is a %s", g.info.Kind)
	}
	lim := g.limits
	callerDeadline, hasCaller := ctx.Deadline()
	ctx, cancel := context.WithTimeout(ctx, lim.CallTimeout)
	defer cancel()
	defer context.AfterFunc(e.bgCtx, cancel)() // Close stops the call
	ours := !hasCaller || time.Until(callerDeadline) > lim.CallTimeout
	deadline, _ := ctx.Deadline()

	in, err := json.Marshal(input(time.Until(deadline)))
	if err != nil {
		return g.errorf(export, err, "encoding the input: %v", err)
	}
	inst, err := g.pool.get(ctx, export)
	if err != nil {
		var ge *Error
		if errors.As(err, &ge) || errors.Is(err, ErrClosed) {
			return err
		}
		return g.errorf(export, err, "preparing an instance: %v", err)
	}
	logger := c.Logger
	if logger == nil {
		logger = e.logger
	}
	cs := &callState{e: e, g: g, export: export, lim: lim, kvScope: c.Scope, attachments: c.Attachments,
		logger: logger.With("guest", g.info.Name)}
	cs.allowHosts(c.URL, c.ExtraHosts)
	cs.smtpAllowHosts(c.URL)
	inst.out.begin(cs)
	res, err := inst.invoke(withCallState(ctx, cs), g, export, in, lim.MaxResult)
	inst.out.end()
	cs.closeHTTP()
	if err == nil && cs.violation != "" {
		err = g.errorf(export, nil, "policy violation: %s", cs.violation)
	}
	if err == nil {
		dec := json.NewDecoder(bytes.NewReader(res))
		if derr := dec.Decode(out); derr != nil {
			err = g.errorf(export, derr, "result is not valid JSON: %q", truncate(res, 64))
		}
	}
	if err != nil {
		g.pool.discard(context.Background(), inst)
		var ge *Error
		if errors.As(err, &ge) {
			return err
		}
		return g.callError(export, err, inst.out, cs, lim, ours)
	}
	g.pool.put(context.Background(), inst)
	return nil
}

func kindOf(export string) sdk.Kind {
	if export == "mr_hook" {
		return sdk.KindSpoolmanHook
	}
	return sdk.KindTransport
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// callError turns what wazero returned into an *Error saying what the guest
// did: ran past its deadline, ran out of memory, panicked, exited, misused
// an import or trapped (with wazero's wasm stack trace).
func (g *guest) callError(export string, err error, out *outputSink, cs *callState, lim Limits, ours ...bool) error {
	stderr := out.stderr()
	var exit *sys.ExitError
	var fault *hostFault
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		if len(ours) > 0 && !ours[0] {
			return g.errorf(export, err, "caller's deadline exceeded; module closed")
		}
		return g.errorf(export, err, "did not finish within %s; module closed", lim.CallTimeout)
	case errors.Is(err, context.Canceled):
		return g.errorf(export, err, "canceled by the caller; module closed")
	case strings.Contains(stderr, "out of memory"):
		return g.errorf(export, err, "ran out of memory (limit %d MiB)", (lim.Memory+(1<<20)-1)>>20)
	case strings.Contains(stderr, "panic: "):
		return g.errorf(export, err, "panicked: %s", firstLine(stderr[strings.Index(stderr, "panic: "):]))
	case strings.Contains(stderr, "fatal error: "):
		return g.errorf(export, err, "crashed: %s", firstLine(stderr[strings.Index(stderr, "fatal error: "):]))
	case errors.As(err, &fault):
		return g.errorf(export, err, "%s", fault.msg)
	case errors.As(err, &exit):
		return g.errorf(export, err, "exited with code %d", exit.ExitCode())
	default:
		return g.errorf(export, err, "trapped: %v", err)
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return strings.TrimSpace(line)
}
